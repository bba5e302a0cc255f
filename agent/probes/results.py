"""Probe bookkeeping as pure functions: what a result means, and when to probe next.

The rules are the kubelet's (``pkg/kubelet/prober/worker.go``):

* A worker starts from its kind's *initial result*: readiness **Failure** (a container is not
  ready until a probe says so), liveness **Success**, startup **Unknown** (not yet started).
* A check's outcome changes the published result only after ``successThreshold`` successes or
  ``failureThreshold`` failures *in a row*; a warning counts as a success, and a check that could
  not be run is thrown away (it neither resets nor extends the run).
* When liveness or startup publishes Failure the worker *gives up*: it stops probing, and the
  container is killed and restarted. The next instance (a new container id) gets fresh workers.
* Liveness and readiness wait until the startup probe has succeeded; startup stops probing once
  it has.
* The first check runs ``initialDelaySeconds`` after the container started, then one every
  ``periodSeconds`` from the start of the previous one.

Worked example — readiness with period 10 s, successThreshold 1, failureThreshold 3, container
started at t=0: check at 0 s succeeds → Ready; checks at 10, 20 s fail → still Ready (run of 2);
check at 30 s fails → not Ready; check at 40 s succeeds → Ready again.

Times are plain seconds on one monotonic clock, so all of this is tested without threads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from agent.events import EventReason
from agent.handlers import CheckResult, ProbeOutcome


class ProbeKind(str, Enum):
    LIVENESS = "Liveness"
    READINESS = "Readiness"
    STARTUP = "Startup"

    @property
    def spec_field(self) -> str:
        """Where the probe sits in a container spec."""
        return f"{self.value.lower()}Probe"

    @property
    def restarts(self) -> bool:
        """A final failure of this kind kills the container."""
        return self is not ProbeKind.READINESS


_INITIAL = {ProbeKind.READINESS: ProbeOutcome.FAILURE, ProbeKind.LIVENESS: ProbeOutcome.SUCCESS,
            ProbeKind.STARTUP: ProbeOutcome.UNKNOWN}


@dataclass(frozen=True)
class ProbeTiming:
    initial_delay: float
    period: float
    success_threshold: int
    failure_threshold: int

    @classmethod
    def from_spec(cls, probe: dict) -> ProbeTiming:
        """From a probe as the API server defaulted it. Fractions of a second are honoured, which
        lets tests run probes every few milliseconds."""
        return cls(initial_delay=float(probe.get("initialDelaySeconds") or 0), period=float(probe["periodSeconds"]),
                   success_threshold=int(probe["successThreshold"]), failure_threshold=int(probe["failureThreshold"]))


@dataclass(frozen=True)
class ProbeState:
    result: ProbeOutcome                  # what is published: SUCCESS, FAILURE or UNKNOWN
    last: ProbeOutcome | None = None      # the latest counted outcome, and how many in a row
    run: int = 0
    gave_up: bool = False                 # liveness/startup failed: wait for the container to be replaced
    unsupported: bool = False             # the action cannot be run here (grpc): never probe again
    last_probe_at: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.result is ProbeOutcome.SUCCESS


def initial_state(kind: ProbeKind) -> ProbeState:
    return ProbeState(result=_INITIAL[kind])


def advance(state: ProbeState, kind: ProbeKind, timing: ProbeTiming, outcome: ProbeOutcome, at: float) -> ProbeState:
    """The state after a check that started at ``at`` came back with ``outcome``."""
    state = replace(state, last_probe_at=at)
    if outcome is ProbeOutcome.UNSUPPORTED:
        return replace(state, unsupported=True)
    if outcome is ProbeOutcome.UNKNOWN:
        return state
    counted = ProbeOutcome.SUCCESS if outcome is ProbeOutcome.WARNING else outcome
    run = state.run + 1 if counted is state.last else 1
    threshold = timing.failure_threshold if counted is ProbeOutcome.FAILURE else timing.success_threshold
    if run < threshold:
        return replace(state, last=counted, run=run)
    gave_up = kind.restarts and counted is ProbeOutcome.FAILURE
    return replace(state, result=counted, last=counted, run=0 if gave_up else run, gave_up=gave_up)


def next_probe_in(state: ProbeState, kind: ProbeKind, timing: ProbeTiming, *, now: float, started_at: float,
                  startup_done: bool) -> float | None:
    """Seconds until the next check (0: now), or ``None`` when nothing is due until something
    changes (startup succeeds, the container is replaced)."""
    if state.gave_up or state.unsupported:
        return None
    if kind is ProbeKind.STARTUP:
        if state.succeeded:
            return None
    elif not startup_done:
        return None
    due = started_at + timing.initial_delay
    if state.last_probe_at is not None:
        due = max(due, state.last_probe_at + timing.period)
    return max(0.0, due - now)


def event_for(kind: ProbeKind, check: CheckResult) -> tuple[EventReason, str] | None:
    """The event the kubelet records for one check (every failed check, not only the last)."""
    output = check.output.rstrip()
    if check.outcome is ProbeOutcome.FAILURE:
        return EventReason.UNHEALTHY, f"{kind.value} probe failed: {output}"
    if check.outcome in (ProbeOutcome.UNKNOWN, ProbeOutcome.UNSUPPORTED):
        return EventReason.UNHEALTHY, f"{kind.value} probe errored: {output}"
    if check.outcome is ProbeOutcome.WARNING:
        return EventReason.PROBE_WARNING, f"{kind.value} probe warning: {output}"
    return None


def kill_message(kind: ProbeKind, container: str) -> str:
    """The ``Killing`` event's text when a liveness or startup probe gave up."""
    return f"Container {container} failed {kind.value.lower()} probe, will be restarted"
