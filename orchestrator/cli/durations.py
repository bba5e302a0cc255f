"""Durations on the command line, as kubectl writes them: ``90s``, ``5m``, ``1h30m``, ``24h``.

One parser for every flag that takes one (``--timeout`` of ``rollout status``, ``delete`` and
``drain``, ``--ttl`` of ``token create``), so ``--timeout=90s`` copied from a kubectl transcript
works everywhere. A bare number is seconds.
"""

from __future__ import annotations

import argparse
import re

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([hms])")
_UNIT = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> int | None:
    """Seconds in ``24h``, ``1h30m``, ``90s`` or a bare number of seconds; ``0`` gives None
    (no limit). ValueError saying what is wanted otherwise."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = round(float(text))
    else:
        parts = _DURATION.findall(text)
        if not parts or "".join(number + unit for number, unit in parts) != text:
            raise ValueError(f"{text!r} is not a duration: use one like 90s, 5m, 1h30m or 24h (0 for no limit)")
        seconds = round(sum(float(number) * _UNIT[unit] for number, unit in parts))
    return seconds or None


def duration_argument(text: str) -> float:
    """``type=`` for argparse: seconds, 0 meaning no limit."""
    try:
        return float(parse_duration(text) or 0)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
