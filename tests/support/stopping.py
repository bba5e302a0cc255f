"""Stopping a long-running process with a signal, and what its ending looked like.

The processes a user runs for hours (``dockyard server``, ``dockyard agent``, and the same two as
``dockyard up`` starts them) must end promptly on SIGTERM (a service manager, ``dockyard down``)
and SIGINT (Ctrl-C), and leave nothing running behind them. Each is started as the leader of a
session of its own (``start_new_session``, as ``dockyard up`` does), so whatever it started and
did not end is still in that session after it is gone: an orphan, reparented to init.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Ending:
    """How a process ended after a signal."""

    seconds: float                  # from the signal until it was gone
    code: int | None                # its exit code, if it is our child; None for another's child
    orphans: tuple[str, ...]        # "PID COMMAND" of what it left running in its session

    def __str__(self) -> str:
        code = "" if self.code is None else f", exit code {self.code}"
        left = f", left {list(self.orphans)}" if self.orphans else ", nothing left running"
        return f"gone {self.seconds:.2f} s after the signal{code}{left}"


def stop_with(pid: int, signum: int, *, child: subprocess.Popen | None = None, timeout: float = 20) -> Ending:
    """Send ``signum`` to the process ``pid`` alone and time its exit. Not to its group, as
    ``dockyard down`` and a terminal's Ctrl-C do: that the process ends what it started itself
    is the stricter test."""
    sent = time.monotonic()
    os.kill(pid, signum)
    deadline = sent + timeout
    while time.monotonic() < deadline and running(pid):
        time.sleep(0.02)
    seconds = time.monotonic() - sent
    if running(pid):
        raise AssertionError(f"process {pid} still runs {timeout} s after signal {signum}")
    code = child.wait(timeout=5) if child is not None else None
    time.sleep(0.2)  # a child still starting when its parent went shows up now
    return Ending(seconds, code, tuple(f"{member} {command(member)}" for member in session_members(pid)))


def running(pid: int) -> bool:
    """Whether ``pid`` is alive (not a zombie: a child that exited but was not reaped yet is gone)."""
    state = _stat(pid)
    return state is not None and state[0] not in ("Z", "X")


def session_members(session: int) -> list[int]:
    """The live processes of session ``session``."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            state, sid = stat[0], int(stat[3])
            if sid == session and state not in ("Z", "X"):
                members.append(int(entry.name))
    return sorted(members)


def command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def _stat(pid: int) -> list[str] | None:
    """Fields 3 onwards of ``/proc/PID/stat`` (state, ppid, pgrp, session, …)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()
