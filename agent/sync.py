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
  containers are all finished for good keeps no sandbox. When making the sandbox failed (the
  pause image cannot be pulled, a hostPort is taken, no pod IP is left), the containers wait as
  ``ContainerCreating`` with that failure's message until the sandbox back-off is over, counted
  from the last failure. With :data:`~agent.config.SANDBOX_BACKOFF` (2 s doubling to 30 s)::

      failures so far   last failure at   next try at
      1                 0 s               2 s
      2                 2 s               6 s     (4 s later)
      3                 6 s               14 s    (8 s later)
      4                 14 s              30 s    (16 s later)
      5                 30 s              60 s    (32 s, capped at 30 s)

* **restartPolicy** — ``Always`` restarts any exit, ``OnFailure`` a non-zero exit, ``Never``
  nothing; restarts wait out the back-off of :mod:`agent.backoff` (``CrashLoopBackOff``).
* **spec change** — a container whose spec hash label differs from the pod's spec is replaced at
  once; **liveness** — a container whose liveness (or startup) probe gave up is killed, and the
  restart policy and back-off take it from there.
* **start failures** — an image that could not be pulled, a config that cannot be built: retried
  with the image back-off; ``ErrImagePull`` first, then ``ImagePullBackOff`` while waiting.
* **garbage** — of each container the newest two instances are kept (the current one and the one
  ``kubectl logs --previous`` reads); older dead ones are removed.
* **ephemeral containers** (``kubectl debug``) — started once each, in the running sandbox, and
  never again whatever the restart policy: one that exited stays exited (its logs readable), one
  killed with its sandbox stays dead in the new one, as the kubelet does. With
  ``targetContainerName`` it joins that container's PID namespace (unless the whole pod shares
  one), so it waits, ``ContainerCreating``, until the target runs; a failed start is retried with
  the image back-off, like any container's. A finished pod's running ones are stopped with it.
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
    """The last failed attempt to start a container (pull, config, create or start) or to make the
    pod's sandbox."""

    reason: ContainerWaitingReason
    message: str
    failures: int          # consecutive failures so far
    at: datetime
    image: str = ""

    def retry_in(self, now: datetime, policy: BackoffPolicy) -> float:
        """Seconds from ``now`` until the next try (≤ 0: try now): the back-off after
        ``failures`` failures in a row, counted from the last."""
        return delay_for(self.failures, policy) - (now - self.at).total_seconds()


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
    ephemeral: bool = False
    #: Docker id of the running container whose PID namespace this one joins (an ephemeral
    #: container's ``targetContainerName``)
    pid_target: str | None = None


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
                        image_backoff: BackoffPolicy, sandbox_backoff: BackoffPolicy,
                        start_failures: Mapping[str, StartFailure], sandbox_failure: StartFailure | None,
                        unhealthy: Mapping[str, str]) -> PodActions:
    """The next steps for ``pod``. ``start_failures`` are the last failed starts by container
    name, ``sandbox_failure`` the last failed sandbox (each ``None``/absent once one worked), and
    ``unhealthy`` maps a container name to why its liveness or startup probe gave up on the
    *currently running* instance."""
    spec = pod["spec"]
    containers = spec.get("containers") or []
    ephemeral = spec.get("ephemeralContainers") or []
    sandbox = observed.sandbox
    garbage = _garbage(observed, [c["name"] for c in containers + ephemeral])

    if is_finished(pod, observed):
        debuggers = [observed.latest(c["name"]) for c in ephemeral]
        kills = tuple(Kill(c, KillReason.POD_COMPLETED, "pod completed") for c in debuggers if c and c.running)
        if sandbox and sandbox.running:
            kills += (Kill(sandbox, KillReason.POD_COMPLETED, "pod completed"),)
        return PodActions(kill=kills, remove=garbage)

    rules = _Rules(now, spec.get("restartPolicy", RestartPolicy.ALWAYS.value), backoff, image_backoff, start_failures)
    steps = _Steps(list(garbage))
    if sandbox is None or not sandbox.running or sandbox.spec_hash != sandbox_hash(pod):
        return _new_sandbox(pod, observed, steps, rules, sandbox_failure, sandbox_backoff)
    for container in containers:
        name = container["name"]
        latest = observed.latest(name)
        if latest is not None and latest.running:
            if latest.spec_hash != spec_hash(container):
                steps.kills.append(Kill(latest, KillReason.SPEC_CHANGED,
                                        f"Container {name} definition changed, will be restarted"))
                steps.starts.append(Start(name, latest.attempt + 1, latest.backoff_streak))
            elif name in unhealthy:
                steps.kills.append(Kill(latest, KillReason.UNHEALTHY, unhealthy[name]))
            continue
        steps.start_or_wait(container, latest, rules)
    for container in ephemeral:
        steps.start_ephemeral_or_wait(container, observed, rules, shared_pid=bool(spec.get("shareProcessNamespace")))
    return steps.actions()


def _new_sandbox(pod: dict, observed: ObservedPod, steps: _Steps, rules: _Rules, failure: StartFailure | None,
                 sandbox_backoff: BackoffPolicy) -> PodActions:
    """The sandbox is missing, dead or outdated: kill what runs in it and start over in a new
    one, once the back-off of its last failure (if any) is over."""
    sandbox = observed.sandbox
    changed = "Pod sandbox changed, it will be killed and re-created."
    steps.kills = [Kill(c, KillReason.SANDBOX_CHANGED, changed) for c in observed.app_containers() if c.running]
    if sandbox is not None and sandbox.running:
        steps.kills.append(Kill(sandbox, KillReason.SANDBOX_CHANGED, changed))
    if rules.restart_policy == RestartPolicy.NEVER.value and observed.app_containers():
        # The kubelet never rebuilds the sandbox of a Never pod that already ran: it ends.
        return steps.actions()
    killed = {k.container.id for k in steps.kills}
    for container in pod["spec"].get("containers") or []:
        latest = observed.latest(container["name"])
        if latest is not None and latest.id in killed:
            steps.starts.append(Start(container["name"], latest.attempt + 1, latest.backoff_streak))
        else:
            steps.start_or_wait(container, latest, rules)
    if sandbox is not None:
        steps.removals += [c.id for c in observed.instances(sandbox.name)]
    if failure is not None and (retry_in := failure.retry_in(rules.now, sandbox_backoff)) > 0:
        # Nothing starts without a sandbox: what would start waits, saying why the last one failed.
        for start in steps.starts:
            steps.wait(start.name, Waiting(ContainerWaitingReason.CONTAINER_CREATING, failure.message), retry_in)
        steps.starts = []
        steps.wakes.append(retry_in)
        return steps.actions()
    return steps.actions(new_sandbox_attempt=sandbox.attempt + 1 if sandbox else 0)


@dataclass(frozen=True)
class _Rules:
    """What one pass decides starts by, besides the containers themselves."""

    now: datetime
    restart_policy: str
    backoff: BackoffPolicy
    image_backoff: BackoffPolicy
    start_failures: Mapping[str, StartFailure]


@dataclass(frozen=True)
class _Wait:
    waiting: Waiting
    wake_in: float      # seconds until the wait is over


@dataclass
class _Steps:
    """The steps for one pod, gathered container by container."""

    removals: list[str]
    kills: list[Kill] = field(default_factory=list)
    starts: list[Start] = field(default_factory=list)
    waiting: dict[str, Waiting] = field(default_factory=dict)
    wakes: list[float] = field(default_factory=list)

    def start_or_wait(self, container: dict, latest: ObservedContainer | None, rules: _Rules) -> None:
        """Start a container that is not running, or note why it waits and until when."""
        self._take(container["name"], _start_or_wait(container, latest, rules), latest)

    def start_ephemeral_or_wait(self, container: dict, observed: ObservedPod, rules: _Rules, *,
                                shared_pid: bool) -> None:
        """Start an ephemeral container that never ran; one that did is left as it is."""
        name = container["name"]
        latest = observed.latest(name)
        if latest is not None and latest.state is not RuntimeState.CREATED:
            return  # never restarted
        target_name = None if shared_pid else container.get("targetContainerName")
        target = observed.latest(target_name) if target_name else None
        if target_name and (target is None or not target.running):
            # its start (a Docker event) wakes the worker again
            self.waiting[name] = Waiting(ContainerWaitingReason.CONTAINER_CREATING,
                                         f'waiting for the target container "{target_name}" to run')
            return
        start = Start(name, 0, 0, ephemeral=True, pid_target=target.id if target else None)
        self._take(name, _unless_start_failed(start, rules.now, rules.image_backoff, rules.start_failures.get(name)),
                   latest)

    def _take(self, name: str, decision: Start | _Wait | None, latest: ObservedContainer | None) -> None:
        if isinstance(decision, Start):
            if latest is not None and latest.state is RuntimeState.CREATED:
                self.removals.append(latest.id)  # never started (agent died mid-way): make it anew
            self.starts.append(decision)
        elif decision is not None:
            self.wait(name, decision.waiting, decision.wake_in)

    def wait(self, name: str, waiting: Waiting, wake_in: float) -> None:
        self.waiting[name] = waiting
        self.wakes.append(wake_in)

    def actions(self, new_sandbox_attempt: int | None = None) -> PodActions:
        return PodActions(new_sandbox_attempt, tuple(self.kills), tuple(self.starts),
                          tuple(dict.fromkeys(self.removals)), self.waiting, min(self.wakes, default=None))


def _start_or_wait(container: dict, latest: ObservedContainer | None, rules: _Rules) -> Start | _Wait | None:
    """Start the container now, wait (and why, and for how long), or leave it (finished)."""
    name = container["name"]
    failure = rules.start_failures.get(name)
    if latest is None or latest.state is RuntimeState.CREATED:
        attempt = latest.attempt if latest else 0
        streak = latest.backoff_streak if latest else 0
        return _unless_start_failed(Start(name, attempt, streak), rules.now, rules.image_backoff, failure)
    if not latest.exited:
        return None  # paused or being removed: nothing of ours to do
    if not should_restart(rules.restart_policy, latest):
        return None
    if latest.spec_hash != spec_hash(container):
        # The kubelet keys its back-off by the container's spec hash: a fixed spec starts at once.
        return _unless_start_failed(Start(name, latest.attempt + 1, 0), rules.now, rules.image_backoff, failure)
    plan = plan_restart(latest.backoff_streak, latest.ran_for(), rules.backoff)
    finished = latest.finished_at or rules.now
    remaining = plan.delay - (rules.now - finished).total_seconds()
    if remaining > 0:
        message = (f"back-off {go_duration(plan.delay)} restarting failed container={name} "
                   f"pod={latest.pod_name}_{latest.pod_namespace}({latest.pod_uid})")
        return _Wait(Waiting(ContainerWaitingReason.CRASH_LOOP_BACK_OFF, message), remaining)
    return _unless_start_failed(Start(name, latest.attempt + 1, plan.next_streak), rules.now, rules.image_backoff,
                                failure)


def _unless_start_failed(start: Start, now: datetime, image_backoff: BackoffPolicy,
                         failure: StartFailure | None) -> Start | _Wait:
    if failure is None:
        return start
    remaining = failure.retry_in(now, image_backoff)
    if remaining <= 0:
        return start
    since = (now - failure.at).total_seconds()
    if failure.reason is not ContainerWaitingReason.ERR_IMAGE_PULL:
        return _Wait(Waiting(failure.reason, failure.message), max(remaining, 0.05))
    if since >= ERR_IMAGE_PULL_SHOWN_FOR:
        return _Wait(Waiting(ContainerWaitingReason.IMAGE_PULL_BACK_OFF, f'Back-off pulling image "{failure.image}"'),
                     remaining)
    # wake up when ErrImagePull turns into ImagePullBackOff
    return _Wait(Waiting(failure.reason, failure.message), max(min(remaining, ERR_IMAGE_PULL_SHOWN_FOR - since), 0.05))


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
