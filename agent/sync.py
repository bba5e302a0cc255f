"""What to do to one pod, decided by a pure function (the kubelet's ``computePodActions``).

:func:`compute_pod_actions` looks at the pod as the API wants it and at what Docker has for it
(:class:`~agent.observed.ObservedPod`, rebuilt from labels every time), and returns the one next
set of steps: build a new sandbox, kill these containers, start those, remove dead leftovers, and
why each container that is not running is waiting. It never touches Docker; the thin executor in
:mod:`agent.pod_worker` carries the steps out, and the next pass looks again (level-triggered).

The rules, in Kubernetes' terms:

* **sandbox** — the pause container holds the pod's network and IPC namespaces. If it is missing,
  dead, or made from an older sandbox spec (hostPorts, hostname…), every app container is killed
  and the pod starts over in a new sandbox (the kubelet's ``SandboxChanged``). A pod whose
  containers are all finished for good keeps no sandbox.
* **restartPolicy** — ``Always`` restarts any exit, ``OnFailure`` a non-zero exit, ``Never``
  nothing; restarts wait out the back-off of :mod:`agent.backoff` (``CrashLoopBackOff``).
* **spec change** — a container whose spec hash label differs from the pod's spec is replaced at
  once; **liveness** — a container whose liveness (or startup) probe gave up is killed, and the
  restart policy and back-off take it from there.
* **start failures** — an image that could not be pulled, a config that cannot be built: retried
  with the image back-off; ``ErrImagePull`` first, then ``ImagePullBackOff`` while waiting.
* **garbage** — of each container the newest two instances are kept (the current one and the one
  ``kubectl logs --previous`` reads); older dead ones are removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from orchestrator.api.pod import ContainerWaitingReason, RestartPolicy

from agent.backoff import delay_for, plan_restart
from agent.config import BackoffPolicy
from agent.container_config import sandbox_hash, spec_hash
from agent.observed import ObservedContainer, ObservedPod, RuntimeState

#: how long a fresh pull failure shows as ErrImagePull before it reads ImagePullBackOff
ERR_IMAGE_PULL_SHOWN_FOR = 2.0


class KillReason(str, Enum):
    SANDBOX_CHANGED = "SandboxChanged"
    SPEC_CHANGED = "SpecChanged"
    UNHEALTHY = "Unhealthy"
    POD_COMPLETED = "PodCompleted"


@dataclass(frozen=True)
class StartFailure:
    """The last failed attempt to start a container (pull, config, create or start)."""

    reason: ContainerWaitingReason
    message: str
    failures: int          # consecutive failures so far
    at: datetime
    image: str = ""


@dataclass(frozen=True)
class Waiting:
    reason: ContainerWaitingReason
    message: str = ""


@dataclass(frozen=True)
class Kill:
    container: ObservedContainer
    reason: KillReason
    message: str


@dataclass(frozen=True)
class Start:
    name: str
    attempt: int
    streak: int


@dataclass(frozen=True)
class PodActions:
    new_sandbox_attempt: int | None = None          # build a sandbox with this attempt number
    kill: tuple[Kill, ...] = ()
    start: tuple[Start, ...] = ()
    remove: tuple[str, ...] = ()                    # container ids of dead leftovers
    waiting: Mapping[str, Waiting] = field(default_factory=dict)
    wake_in: float | None = None                    # seconds until a back-off ends

    @property
    def idle(self) -> bool:
        return self.new_sandbox_attempt is None and not self.kill and not self.start and not self.remove


def should_restart(policy: str, container: ObservedContainer) -> bool:
    if policy == RestartPolicy.ALWAYS.value:
        return True
    if policy == RestartPolicy.ON_FAILURE.value:
        return (container.exit_code or 0) != 0
    return False


def is_finished(pod: dict, observed: ObservedPod) -> bool:
    """Every container ran and none will run again: the pod is Succeeded or Failed for good."""
    policy = pod["spec"].get("restartPolicy", RestartPolicy.ALWAYS.value)
    if policy == RestartPolicy.ALWAYS.value:
        return False
    for container in pod["spec"].get("containers") or []:
        latest = observed.latest(container["name"])
        if latest is None or not latest.exited or should_restart(policy, latest):
            return False
    return True


def compute_pod_actions(pod: dict, observed: ObservedPod, *, now: datetime, backoff: BackoffPolicy,
                        image_backoff: BackoffPolicy, start_failures: Mapping[str, StartFailure],
                        unhealthy: Mapping[str, str]) -> PodActions:
    """The next steps for ``pod``. ``unhealthy`` maps a container name to why its liveness or
    startup probe gave up on the *currently running* instance."""
    spec = pod["spec"]
    policy = spec.get("restartPolicy", RestartPolicy.ALWAYS.value)
    containers = spec.get("containers") or []
    sandbox = observed.sandbox
    garbage = _garbage(observed, [c["name"] for c in containers])

    if is_finished(pod, observed):
        kills = (Kill(sandbox, KillReason.POD_COMPLETED, "pod completed"),) if sandbox and sandbox.running else ()
        return PodActions(kill=kills, remove=garbage)

    sandbox_ok = sandbox is not None and sandbox.running and sandbox.spec_hash == sandbox_hash(pod)
    if not sandbox_ok:
        return _new_sandbox(pod, observed, sandbox, policy, garbage, now, backoff, image_backoff, start_failures)

    kills: list[Kill] = []
    starts: list[Start] = []
    waiting: dict[str, Waiting] = {}
    wakes: list[float] = []
    removals = list(garbage)
    for container in containers:
        name = container["name"]
        latest = observed.latest(name)
        if latest is not None and latest.running:
            if latest.spec_hash != spec_hash(container):
                kills.append(Kill(latest, KillReason.SPEC_CHANGED,
                                  f"Container {name} definition changed, will be restarted"))
                starts.append(Start(name, latest.attempt + 1, latest.backoff_streak))
            elif name in unhealthy:
                kills.append(Kill(latest, KillReason.UNHEALTHY, unhealthy[name]))
            continue
        decision = _start_or_wait(container, latest, policy, now, backoff, image_backoff, start_failures.get(name))
        if isinstance(decision, Start):
            if latest is not None and latest.state is RuntimeState.CREATED:
                removals.append(latest.id)  # never started (agent died mid-way): make it anew
            starts.append(decision)
        elif isinstance(decision, tuple):
            waiting[name], wake = decision
            if wake is not None:
                wakes.append(wake)
    return PodActions(None, tuple(kills), tuple(starts), tuple(removals), waiting, min(wakes) if wakes else None)


def _new_sandbox(pod, observed, sandbox, policy, garbage, now, backoff, image_backoff, start_failures) -> PodActions:
    changed = "Pod sandbox changed, it will be killed and re-created."
    kills = [Kill(c, KillReason.SANDBOX_CHANGED, changed) for c in observed.app_containers() if c.running]
    if sandbox is not None and sandbox.running:
        kills.append(Kill(sandbox, KillReason.SANDBOX_CHANGED, changed))
    if policy == RestartPolicy.NEVER.value and observed.app_containers():
        # The kubelet never rebuilds the sandbox of a Never pod that already ran: it ends.
        return PodActions(kill=tuple(kills), remove=garbage)
    killed = {k.container.id for k in kills}
    starts, waiting, wakes, removals = [], {}, [], list(garbage)
    for container in pod["spec"].get("containers") or []:
        name = container["name"]
        latest = observed.latest(name)
        if latest is not None and latest.id in killed:
            starts.append(Start(name, latest.attempt + 1, latest.backoff_streak))
            continue
        decision = _start_or_wait(container, latest, policy, now, backoff, image_backoff, start_failures.get(name))
        if isinstance(decision, Start):
            if latest is not None and latest.state is RuntimeState.CREATED:
                removals.append(latest.id)
            starts.append(decision)
        elif isinstance(decision, tuple):
            waiting[name], wake = decision
            if wake is not None:
                wakes.append(wake)
    old_sandboxes = [c.id for c in observed.instances(sandbox.name)] if sandbox else []
    attempt = sandbox.attempt + 1 if sandbox else 0
    return PodActions(attempt, tuple(kills), tuple(starts), tuple(dict.fromkeys(removals + old_sandboxes)), waiting,
                      min(wakes) if wakes else None)


def _start_or_wait(container: dict, latest: ObservedContainer | None, policy: str, now: datetime,
                   backoff: BackoffPolicy, image_backoff: BackoffPolicy, failure: StartFailure | None
                   ) -> Start | tuple[Waiting, float | None] | None:
    """Start the container now, wait (and why, and for how long), or leave it (finished)."""
    name = container["name"]
    if latest is None or latest.state is RuntimeState.CREATED:
        attempt = latest.attempt if latest else 0
        streak = latest.backoff_streak if latest else 0
        return _unless_start_failed(name, Start(name, attempt, streak), now, image_backoff, failure)
    if not latest.exited:
        return None  # paused or being removed: nothing of ours to do
    if not should_restart(policy, latest):
        return None
    if latest.spec_hash != spec_hash(container):
        # The kubelet keys its back-off by the container's spec hash: a fixed spec starts at once.
        return _unless_start_failed(name, Start(name, latest.attempt + 1, 0), now, image_backoff, failure)
    plan = plan_restart(latest.backoff_streak, latest.ran_for(), backoff)
    finished = latest.finished_at or now
    remaining = plan.delay - (now - finished).total_seconds()
    if remaining > 0:
        message = (f"back-off {go_duration(plan.delay)} restarting failed container={name} "
                   f"pod={latest.pod_name}_{latest.pod_namespace}({latest.pod_uid})")
        return Waiting(ContainerWaitingReason.CRASH_LOOP_BACK_OFF, message), remaining
    return _unless_start_failed(name, Start(name, latest.attempt + 1, plan.next_streak), now, image_backoff, failure)


def _unless_start_failed(name: str, start: Start, now: datetime, image_backoff: BackoffPolicy,
                         failure: StartFailure | None) -> Start | tuple[Waiting, float | None]:
    if failure is None:
        return start
    since = (now - failure.at).total_seconds()
    remaining = delay_for(failure.failures, image_backoff) - since
    if remaining <= 0:
        return start
    reason = failure.reason
    if reason is ContainerWaitingReason.ERR_IMAGE_PULL and since >= ERR_IMAGE_PULL_SHOWN_FOR:
        return Waiting(ContainerWaitingReason.IMAGE_PULL_BACK_OFF, f'Back-off pulling image "{failure.image}"'), \
            remaining
    wake = min(remaining, ERR_IMAGE_PULL_SHOWN_FOR - since) if reason is ContainerWaitingReason.ERR_IMAGE_PULL \
        else remaining
    return Waiting(reason, failure.message), max(wake, 0.05)


def _garbage(observed: ObservedPod, names: list[str]) -> tuple[str, ...]:
    """Dead instances beyond the newest two of each container, and of containers no longer in
    the spec (the sandbox is handled with the sandbox)."""
    doomed = []
    for container in observed.app_containers():
        if container.name not in names and not container.running:
            doomed.append(container.id)
    for name in names:
        for old in observed.instances(name)[2:]:
            if not old.running:
                doomed.append(old.id)
    return tuple(doomed)


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration`` text, as the kubelet prints back-offs: ``500ms``, ``1.5s``, ``10s``,
    ``2m40s``, ``5m0s``, ``2m0.5s``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{_trim(f'{seconds * 1000:.3f}')}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{_trim(f'{secs:.3f}')}s"
    if hours or minutes:
        text = f"{int(minutes)}m{text}"
    if hours:
        text = f"{int(hours)}h{text}"
    return text


def _trim(number: str) -> str:
    return number.rstrip("0").rstrip(".") if "." in number else number
