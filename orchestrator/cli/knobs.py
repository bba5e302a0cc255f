"""Lab knobs: flags declared once, taken by a foreground command and passed on by ``dockyard up``.

A :class:`Knob` is one flag. :func:`add_knobs` puts a set of them on a parser (unset means "keep
the default"), and :func:`knobs_argv` turns the ones a user set back into command-line words for
the process ``dockyard up`` starts — the node knobs for agents, the control-plane knobs for the
server.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Knob:
    flag: str
    type: Callable[[str], object]
    help: str

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


def add_knobs(parser: argparse.ArgumentParser, title: str, knobs: Iterable[Knob]) -> None:
    group = parser.add_argument_group(title)
    for knob in knobs:
        group.add_argument(knob.flag, type=knob.type, metavar="N", help=knob.help)


def knobs_argv(args: argparse.Namespace, knobs: Iterable[Knob]) -> list[str]:
    """The knobs that were set in ``args``, as the started process's command line takes them."""
    argv: list[str] = []
    for knob in knobs:
        value = getattr(args, knob.dest, None)
        if value is not None:
            argv += [knob.flag, str(value)]
    return argv
