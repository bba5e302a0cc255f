"""The background processes of a local cluster: starting them detached, finding them, stopping them.

``dockyard up`` starts the server and the agents in their own sessions (so a Ctrl-C in the
terminal, or the terminal closing, does not reach them), with output appended to
``logs/<name>.log``, and records each in ``run/<name>.pid``. ``dockyard down`` and ``status``
only ever act on the processes named there.

A pid alone is a weak handle: once a process exits, the kernel may give its pid to an unrelated
process, and ``down`` must never signal that one. So a pid file records the process's start time
too (field 22 of ``/proc/<pid>/stat``, clock ticks since boot): the pid designates *our* process
only while that start time still matches. A process that has exited but not yet been reaped (a
zombie, which happens when its parent is gone and pid 1 is slow to reap) counts as gone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from orchestrator.cluster.statedir import SECRET_MODE, StateDir, atomic_write

SERVER = "server"
AGENT_PREFIX = "agent-"


def agent_process(node_name: str) -> str:
    return f"{AGENT_PREFIX}{node_name}"


@dataclass(frozen=True)
class ProcessRecord:
    """What ``run/<name>.pid`` says about one process we started."""

    name: str
    pid: int
    started: int  # start time in clock ticks since boot; tells our process from a later one with its pid
    argv: tuple[str, ...]

    def to_json(self) -> dict:
        return {"name": self.name, "pid": self.pid, "started": self.started, "argv": list(self.argv)}

    @classmethod
    def from_json(cls, raw: dict) -> ProcessRecord:
        return cls(raw["name"], int(raw["pid"]), int(raw["started"]), tuple(raw["argv"]))

    @property
    def node_name(self) -> str | None:
        return self.name.removeprefix(AGENT_PREFIX) if self.name.startswith(AGENT_PREFIX) else None


class Stopped(str, Enum):
    """How a process ended when :func:`stop` was asked to end it."""

    TERMINATED = "terminated"   # exited after SIGTERM
    KILLED = "killed"           # needed SIGKILL
    ALREADY_GONE = "not running"


def launch(state: StateDir, name: str, argv: list[str]) -> ProcessRecord:
    """Start ``argv`` detached, logging to ``logs/<name>.log``; record it in ``run/<name>.pid``."""
    log_path = state.log_file(name)
    with open(log_path, "ab") as log:
        log.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S%z')} starting: {' '.join(argv)}\n".encode())
        log.flush()
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, close_fds=True)
    started = start_time(process.pid)
    if started is None:  # it died before we could look at it: report that like any other exit
        started = 0
    record = ProcessRecord(name, process.pid, started, tuple(argv))
    atomic_write(state.pid_file(name), json.dumps(record.to_json()) + "\n", SECRET_MODE)
    return record


def records(state: StateDir) -> list[ProcessRecord]:
    """Every process recorded under ``run/``, the server first, then the agents by name."""
    found = []
    for path in sorted(state.run_dir.glob("*.pid")) if state.run_dir.is_dir() else ():
        try:
            found.append(ProcessRecord.from_json(json.loads(path.read_text())))
        except (ValueError, KeyError, TypeError):
            continue  # not one of ours (or torn by a crash): nothing we could safely signal
    return sorted(found, key=lambda r: (r.name != SERVER, r.name))


def forget(state: StateDir, record: ProcessRecord) -> None:
    state.pid_file(record.name).unlink(missing_ok=True)


def alive(record: ProcessRecord) -> bool:
    return record.started != 0 and start_time(record.pid) == record.started


def start_time(pid: int) -> int | None:
    """The start time of a live (non-zombie) process ``pid``, or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself contain ") ", so split at the last.
    fields = stat[stat.rindex(")") + 2:].split()
    state, started = fields[0], fields[19]
    return None if state in ("Z", "X") else int(started)


def stop(targets: list[ProcessRecord], grace: float) -> dict[str, Stopped]:
    """SIGTERM every live target (its whole process group), wait up to ``grace`` seconds, SIGKILL
    what is left; return how each one ended."""
    outcome = {r.name: Stopped.ALREADY_GONE for r in targets}
    running = [r for r in targets if alive(r)]
    for record in running:
        _signal(record, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(alive(r) for r in running) and time.monotonic() < deadline:
        time.sleep(0.05)
    for record in running:
        if alive(record):
            _signal(record, signal.SIGKILL)
            outcome[record.name] = Stopped.KILLED
        else:
            outcome[record.name] = Stopped.TERMINATED
    deadline = time.monotonic() + 5
    while any(alive(r) for r in running) and time.monotonic() < deadline:
        time.sleep(0.05)
    return outcome


def log_tail(state: StateDir, name: str, lines: int = 20) -> str:
    try:
        text = state.log_file(name).read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def _signal(record: ProcessRecord, sig: signal.Signals) -> None:
    try:
        # launch() made each process the leader of its own session and group; signalling the group
        # also reaches anything it started. Only if that is still so: never someone else's group.
        if os.getpgid(record.pid) == record.pid:
            os.killpg(record.pid, sig)
        else:
            os.kill(record.pid, sig)
    except ProcessLookupError:
        pass  # exited between the check and the signal
