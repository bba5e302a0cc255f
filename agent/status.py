"""The pod status the agent reports, computed from what Docker shows (pure; the kubelet's
``generateAPIPodStatus`` and ``getPhase``).

Each container's ``state`` comes from its newest Docker instance, ``lastState`` from the one
before, ``restartCount`` from the attempt label; a container that is not running says why it is
waiting (the planner's reasons: ``ContainerCreating``, ``CrashLoopBackOff``, ``ErrImagePull`` …),
which is what ``kubectl get pods`` shows in its STATUS column.

Ephemeral containers (``kubectl debug``) get their own list, ``ephemeralContainerStatuses``, and
count for nothing else: neither the phase nor the Ready conditions look at them.

The phase follows the kubelet's rules: any container waiting without ever having run → Pending;
something running → Running; all stopped → Running again if they will restart, else Succeeded
(all exit 0) or Failed. Condition timestamps only move when the condition's status changes.

The ``Raw…`` TypedDicts give the status's JSON its checked shape as the agent writes it, without
wrapping it in classes (as kopf's ``structs/bodies.py`` does for raw Kubernetes objects); the
pydantic models of :mod:`orchestrator.api.pod` are the server's view of the same fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Required, TypedDict

from orchestrator.api.pod import (
    ContainerTerminatedReason, ContainerWaitingReason, PodConditionType, PodPhase, RestartPolicy,
)
from orchestrator.api.timestamps import format_rfc3339

from agent.observed import ObservedContainer, ObservedPod, RuntimeState
from agent.sync import Waiting, is_finished


class RawWaiting(TypedDict, total=False):
    reason: Required[str]
    message: str


class RawRunning(TypedDict, total=False):
    startedAt: str


class RawTerminated(TypedDict, total=False):
    exitCode: Required[int]
    reason: Required[str]
    containerID: Required[str]
    startedAt: str
    finishedAt: str


class RawContainerState(TypedDict, total=False):
    """At most one of the three; ``lastState`` is empty for a container that never stopped."""

    waiting: RawWaiting
    running: RawRunning
    terminated: RawTerminated


class RawContainerStatus(TypedDict, total=False):
    name: Required[str]
    state: Required[RawContainerState]
    lastState: Required[RawContainerState]
    ready: Required[bool]
    started: bool              # not for ephemeral containers, which have no startup probe
    restartCount: Required[int]
    image: Required[str]
    imageID: Required[str]
    containerID: str           # once the container exists in Docker


class RawPodCondition(TypedDict, total=False):
    type: Required[str]
    status: Required[str]      # "True" | "False"
    lastTransitionTime: Required[str]
    reason: str
    message: str


class RawPodIP(TypedDict):
    ip: str


class RawPodStatus(TypedDict, total=False):
    phase: Required[str]
    conditions: Required[list[RawPodCondition]]
    hostIP: Required[str]
    hostIPs: Required[list[RawPodIP]]
    startTime: Required[str]
    containerStatuses: Required[list[RawContainerStatus]]
    ephemeralContainerStatuses: list[RawContainerStatus]  # once kubectl debug added one
    qosClass: str              # the API server's, kept as it was
    podIP: str
    podIPs: list[RawPodIP]


def terminated_state(container: ObservedContainer) -> RawContainerState:
    if container.oom_killed:
        reason = ContainerTerminatedReason.OOM_KILLED
    elif container.exit_code == 0:
        reason = ContainerTerminatedReason.COMPLETED
    else:
        reason = ContainerTerminatedReason.ERROR
    state: RawTerminated = {"exitCode": container.exit_code if container.exit_code is not None else 0,
                            "reason": reason.value, "containerID": f"docker://{container.id}"}
    if container.started_at:
        state["startedAt"] = format_rfc3339(container.started_at)
    if container.finished_at:
        state["finishedAt"] = format_rfc3339(container.finished_at)
    return {"terminated": state}


def container_status(spec: dict, observed: ObservedPod, waiting: Waiting | None, ready: bool,
                     started: bool = True) -> RawContainerStatus:
    """One container's status. ``ready`` and ``started`` (its startup probe passed, or it has
    none) are the prober's view of the running instance."""
    name = spec["name"]
    latest, previous = observed.latest(name), observed.previous(name)
    earlier = terminated_state(previous) if previous is not None and previous.exited else RawContainerState()
    if latest is None or latest.state in (RuntimeState.CREATED, RuntimeState.UNKNOWN):
        why = waiting or Waiting(ContainerWaitingReason.CONTAINER_CREATING)
        return _status(spec, latest, {"waiting": _waiting(why)}, earlier)
    if latest.running:
        running = RawRunning(startedAt=format_rfc3339(latest.started_at)) if latest.started_at else RawRunning()
        return _status(spec, latest, {"running": running}, earlier, ready=ready, started=started)
    if waiting is not None:  # exited and about to be (or waiting to be) started again
        return _status(spec, latest, {"waiting": _waiting(waiting)}, terminated_state(latest))
    return _status(spec, latest, terminated_state(latest), earlier)


def _status(spec: dict, latest: ObservedContainer | None, state: RawContainerState, last_state: RawContainerState,
            *, ready: bool = False, started: bool = False) -> RawContainerStatus:
    status = RawContainerStatus(name=spec["name"], state=state, lastState=last_state, ready=ready, started=started,
                                restartCount=latest.attempt if latest else 0, image=spec.get("image", ""),
                                imageID="")
    if latest is not None and latest.state not in (RuntimeState.CREATED, RuntimeState.UNKNOWN):
        status["imageID"] = f"docker://{latest.image_id}" if latest.image_id else ""
        status["containerID"] = f"docker://{latest.id}"
    return status


def ephemeral_container_status(spec: dict, observed: ObservedPod, waiting: Waiting | None) -> RawContainerStatus:
    """An ephemeral container's status: like any container's, but never ready and without
    ``started``, as the kubelet reports it (no probe ever looks at it)."""
    status = container_status(spec, observed, waiting, ready=False)
    del status["started"]
    return status


def _waiting(waiting: Waiting) -> RawWaiting:
    body = RawWaiting(reason=waiting.reason.value)
    if waiting.message:
        body["message"] = waiting.message
    return body


def pod_phase(pod: dict, statuses: list[RawContainerStatus]) -> PodPhase:
    policy = pod["spec"].get("restartPolicy", RestartPolicy.ALWAYS.value)
    waiting = running = stopped = succeeded = 0
    for status in statuses:
        state = status["state"]
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"]["exitCode"] == 0
        elif status.get("lastState", {}).get("terminated"):
            stopped += 1  # waiting to restart after having run
        else:
            waiting += 1
    if waiting:
        return PodPhase.PENDING
    if running:
        return PodPhase.RUNNING
    if policy == RestartPolicy.ALWAYS.value:
        return PodPhase.RUNNING
    if stopped == succeeded:
        return PodPhase.SUCCEEDED
    if policy == RestartPolicy.NEVER.value:
        return PodPhase.FAILED
    return PodPhase.RUNNING


def compute_pod_status(pod: dict, observed: ObservedPod, waiting: Mapping[str, Waiting], *,
                       ready: Callable[[str], bool], node_ip: str, now: datetime,
                       started: Callable[[str], bool] = lambda name: True) -> RawPodStatus:
    """The whole ``status`` to write. ``ready(name)`` is the readiness of the running container."""
    old = pod.get("status") or {}
    specs = pod["spec"].get("containers") or []
    statuses = [container_status(c, observed, waiting.get(c["name"]), ready(c["name"]), started(c["name"]))
                for c in specs]
    phase = pod_phase(pod, statuses)
    if phase is PodPhase.FAILED or phase is PodPhase.SUCCEEDED or is_finished(pod, observed):
        for finished in statuses:
            finished["ready"] = False
    sandbox = observed.sandbox
    sandbox_up = sandbox is not None and sandbox.running
    # a hostNetwork pod's address is its node's, as the kubelet reports it
    pod_ip = (node_ip if pod["spec"].get("hostNetwork") else sandbox.ip) if sandbox_up and sandbox else None
    unready = [s["name"] for s in statuses if not s["ready"]]
    status = RawPodStatus(
        phase=phase.value,
        conditions=_conditions(old, phase, sandbox_up, unready, now),
        hostIP=node_ip,
        hostIPs=[{"ip": node_ip}],
        startTime=old.get("startTime") or format_rfc3339(now),
        containerStatuses=statuses,
    )
    debuggers = pod["spec"].get("ephemeralContainers") or []
    if debuggers:
        status["ephemeralContainerStatuses"] = [ephemeral_container_status(c, observed, waiting.get(c["name"]))
                                                for c in debuggers]
    if old.get("qosClass") is not None:
        status["qosClass"] = old["qosClass"]
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    elif old.get("podIP") and phase in (PodPhase.SUCCEEDED, PodPhase.FAILED):
        status["podIP"] = old["podIP"]
        if old.get("podIPs") is not None:
            status["podIPs"] = old["podIPs"]
    return status


def _conditions(old: dict, phase: PodPhase, sandbox_up: bool, unready: list[str],
                now: datetime) -> list[RawPodCondition]:
    previous = {c.get("type"): c for c in old.get("conditions") or []}
    finished = phase in (PodPhase.SUCCEEDED, PodPhase.FAILED)

    def condition(kind: PodConditionType, ok: bool, reason: str = "", message: str = "") -> RawPodCondition:
        status = "True" if ok else "False"
        before = previous.get(kind.value) or {}
        moved = before.get("status") != status
        body = RawPodCondition(type=kind.value, status=status,
                               lastTransitionTime=format_rfc3339(now) if moved or not before.get("lastTransitionTime")
                               else before["lastTransitionTime"])
        if not ok and reason:
            body["reason"] = reason
            if message:
                body["message"] = message
        return body

    if finished:
        not_ready = ("PodCompleted" if phase is PodPhase.SUCCEEDED else "PodFailed", "")
    else:
        not_ready = ("ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]")
    scheduled = previous.get(PodConditionType.POD_SCHEDULED.value) or RawPodCondition(
        type=PodConditionType.POD_SCHEDULED.value, status="True", lastTransitionTime=format_rfc3339(now))
    return [
        condition(PodConditionType.POD_READY_TO_START_CONTAINERS, sandbox_up),
        condition(PodConditionType.INITIALIZED, True),
        condition(PodConditionType.READY, not unready and not finished, *not_ready),
        condition(PodConditionType.CONTAINERS_READY, not unready and not finished, *not_ready),
        scheduled,
    ]

