"""One thread per (pod, container instance, probe kind): check on schedule, publish the result.

A worker sleeps until :func:`~agent.probes.results.next_probe_in` says a check is due, runs it
(:func:`~agent.handlers.run_probe`, bounded by ``timeoutSeconds``), folds the outcome into
its state with :func:`~agent.probes.results.advance`, and hands the check to ``on_check`` — the
manager records the event and wakes the pod's worker when the published result changed. Workers
never wait for each other: a readiness check stuck on a slow server does not delay the
liveness check of the same container, nor any other pod's.

A worker belongs to one container *instance*: when the container is replaced its workers are
stopped and new ones start from the initial results (the kubelet resets on a new container id).
:meth:`ProbeWorker.poke` makes a sleeping worker look again at once — used when the startup probe
succeeds, so readiness is checked right away instead of a period later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from agent.handlers import CheckResult, Exec, ProbeOutcome, Target, run_probe
from agent.probes.results import ProbeKind, ProbeState, ProbeTiming, advance, initial_state, next_probe_in

log = logging.getLogger("dockyard.agent.probes")


class ProbeWorker:
    """``started_at`` is the container's start on the :func:`time.monotonic` clock."""

    def __init__(self, kind: ProbeKind, probe: dict, target: Target, started_at: float, *, exec_in: Exec,
                 startup_done: Callable[[], bool], on_check: Callable[[ProbeWorker, CheckResult, bool], None],
                 label: str) -> None:
        self.kind, self.probe, self.target, self.started_at = kind, probe, target, started_at
        self.timing = ProbeTiming.from_spec(probe)
        self._exec_in, self._startup_done, self._on_check = exec_in, startup_done, on_check
        self._state = initial_state(kind)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self.thread = threading.Thread(target=self._run, name=f"probe-{kind.value.lower()}-{label}", daemon=True)

    @property
    def state(self) -> ProbeState:
        with self._lock:
            return self._state

    def start(self) -> None:
        self.thread.start()

    def poke(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Stop after the check in flight, if any (it ends within ``timeoutSeconds``); its result
        is dropped, since the container it was about is gone or being replaced."""
        self._stopped = True
        self._wake.set()

    def _run(self) -> None:
        while not self._stopped:
            self._wake.clear()  # before deciding, so a poke that lands meanwhile is not lost
            wait = next_probe_in(self.state, self.kind, self.timing, now=time.monotonic(), started_at=self.started_at,
                                 startup_done=self._startup_done())
            if wait is None or wait > 0:
                self._wake.wait(wait)
                continue
            at = time.monotonic()
            check = self._check()
            if self._stopped:
                return
            with self._lock:
                before = self._state
                self._state = advance(before, self.kind, self.timing, check.outcome, at)
                changed = (self._state.result, self._state.gave_up) != (before.result, before.gave_up)
            self._on_check(self, check, changed)

    def _check(self) -> CheckResult:
        try:
            return run_probe(self.probe, self.target, self._exec_in)
        except Exception as error:  # noqa: BLE001 - e.g. Docker unreachable mid-exec; the worker must live on
            log.exception("%s probe of container %s could not run", self.kind.value, self.target.container_id[:12])
            return CheckResult(ProbeOutcome.UNKNOWN, f"{type(error).__name__}: {error}")
