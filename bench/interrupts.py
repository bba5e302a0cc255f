"""Benchmarks remove what they made whether they finish, fail, are stopped with Ctrl-C or are
killed with SIGTERM: SIGTERM is turned into the KeyboardInterrupt Ctrl-C raises, and once the
clean-up has begun both signals are ignored, so a second Ctrl-C cannot cut it short (nor reach
``dockyard down``, which inherits the ignored signal)."""

from __future__ import annotations

import signal


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def sigterm_interrupts() -> None:
    signal.signal(signal.SIGTERM, _interrupted)


def shield_cleanup() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
