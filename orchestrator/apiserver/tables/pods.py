"""The Pod table: NAME READY STATUS RESTARTS AGE, wide IP NODE NOMINATED NODE READINESS GATES.

STATUS is not a field of the pod: kubectl folds the phase, ``status.reason``, the init
containers' progress, the containers' waiting/terminated reasons and the deletion timestamp into
one word. The precedence below follows ``printPod`` in Kubernetes'
``pkg/printers/internalversion/printers.go`` (1.32) step by step, because users read that word
to debug (``CrashLoopBackOff``, ``Init:0/2``, ``Terminating``) and scripts grep for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field
from datetime import datetime

from .columns import AGE, NAME, NONE, STRING, Cell, Column, KindPrinter, or_none, wide
from .fields import Object, field, items, name_of, number, text
from orchestrator.api.podstatus import FINISHED_PHASES
from orchestrator.api.timestamps import parse_rfc3339

from .humanize import since

COLUMNS: tuple[Column, ...] = (
    NAME,
    Column("Ready", STRING, "The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", STRING, "The aggregate status of the containers in this pod."),
    Column(
        "Restarts",
        STRING,
        "The number of times the containers in this pod have been restarted and when the last "
        "container in this pod has restarted.",
    ),
    AGE,
    wide("IP", STRING, "IP address allocated to the pod. Routable at least within the cluster."),
    wide("Node", STRING, "NodeName is the name of the node this pod is scheduled onto."),
    wide("Nominated Node", STRING, "Name of the node the scheduler nominated for this pod while preempting."),
    wide("Readiness Gates", STRING, "Pod readiness gates: how many of the listed conditions are True."),
)

# Phases and reasons the status logic tests for.
PHASE_SUCCEEDED = "Succeeded"
PHASE_FAILED = "Failed"
NODE_LOST_REASON = "NodeLost"  # set by the node lifecycle controller on pods of unreachable nodes
SCHEDULING_GATED_REASON = "SchedulingGated"
POD_INITIALIZING_REASON = "PodInitializing"  # normal waiting reason while init containers run
COMPLETED_REASON = "Completed"
RESTART_POLICY_ALWAYS = "Always"  # on an init container: a sidecar that keeps running

TERMINATING = "Terminating"
UNKNOWN_STATUS = "Unknown"
RUNNING = "Running"
NOT_READY = "NotReady"

# kubectl marks finished pods' rows so clients may dim or filter them.
_SUCCEEDED_CONDITIONS = [
    {
        "type": "Completed",
        "status": "True",
        "reason": PHASE_SUCCEEDED,
        "message": "The pod has completed successfully.",
    }
]
_FAILED_CONDITIONS = [
    {"type": "Completed", "status": "True", "reason": PHASE_FAILED, "message": "The pod failed."}
]


@dataclass
class _Restarts:
    """A restart count and the latest ``lastState.terminated.finishedAt`` seen with it."""

    count: int = 0
    last: datetime | None = None

    def add(self, container_status: Object) -> None:
        self.count += number(container_status, "restartCount")
        finished = parse_rfc3339(field(container_status, "lastState", "terminated", "finishedAt"))
        if finished is not None and (self.last is None or finished > self.last):
            self.last = finished

    def copy(self) -> _Restarts:
        return _Restarts(self.count, self.last)


@dataclass
class PodSummary:
    """What the READY, STATUS and RESTARTS cells are computed from."""

    reason: str
    ready: int = 0
    total: int = 0
    restarts: _Restarts = dataclass_field(default_factory=_Restarts)


def summarize(pod: Object) -> PodSummary:
    """Fold a pod's status into kubectl's READY / STATUS / RESTARTS values."""
    summary = PodSummary(reason=_initial_reason(pod), total=len(items(pod, "spec", "containers")))
    sidecars = _restartable_init_containers(pod)
    summary.total += len(sidecars)
    sidecar_restarts = _Restarts()
    initializing = _walk_init_containers(pod, sidecars, summary, sidecar_restarts)
    if not initializing or _has_true_condition(pod, "Initialized"):
        # Once initialization is over, only sidecar restarts still count next to the app containers.
        summary.restarts = sidecar_restarts.copy()
        _walk_containers(pod, summary)
    summary.reason = _deletion_override(pod, summary.reason)
    return summary


def _initial_reason(pod: Object) -> str:
    reason = text(pod, "status", "reason") or text(pod, "status", "phase")
    for condition in items(pod, "status", "conditions"):
        if text(condition, "type") == "PodScheduled" and text(condition, "reason") == SCHEDULING_GATED_REASON:
            reason = SCHEDULING_GATED_REASON
    return reason


def _restartable_init_containers(pod: Object) -> frozenset[str]:
    return frozenset(
        text(c, "name")
        for c in items(pod, "spec", "initContainers")
        if text(c, "restartPolicy") == RESTART_POLICY_ALWAYS
    )


def _walk_init_containers(
    pod: Object, sidecars: frozenset[str], summary: PodSummary, sidecar_restarts: _Restarts
) -> bool:
    """Account for init containers up to the first unfinished one; True while initializing."""
    declared = len(items(pod, "spec", "initContainers"))
    for index, status in enumerate(items(pod, "status", "initContainerStatuses")):
        summary.restarts.add(status)
        is_sidecar = text(status, "name") in sidecars
        if is_sidecar:
            sidecar_restarts.add(status)
        terminated = field(status, "state", "terminated")
        if terminated is not None and number(terminated, "exitCode") == 0:
            continue
        if is_sidecar and field(status, "started") is True:
            if field(status, "ready") is True:
                summary.ready += 1
            continue
        summary.reason = _init_reason(status, index, declared)
        return True
    return False


def _init_reason(status: Object, index: int, declared: int) -> str:
    terminated = field(status, "state", "terminated")
    if terminated is not None:
        return "Init:" + (text(terminated, "reason") or _exit_description(terminated))
    waiting_reason = text(status, "state", "waiting", "reason")
    if waiting_reason and waiting_reason != POD_INITIALIZING_REASON:
        return "Init:" + waiting_reason
    return f"Init:{index}/{declared}"


def _exit_description(terminated: Object) -> str:
    signal = number(terminated, "signal")
    if signal != 0:
        return f"Signal:{signal}"
    return f"ExitCode:{number(terminated, 'exitCode')}"


def _walk_containers(pod: Object, summary: PodSummary) -> None:
    # Walked last to first so that the first container with a problem names the status.
    has_running = False
    for status in reversed(items(pod, "status", "containerStatuses")):
        summary.restarts.add(status)
        waiting_reason = text(status, "state", "waiting", "reason")
        terminated = field(status, "state", "terminated")
        if waiting_reason:
            summary.reason = waiting_reason
        elif terminated is not None:
            summary.reason = text(terminated, "reason") or _exit_description(terminated)
        elif field(status, "ready") is True and field(status, "state", "running") is not None:
            has_running = True
            summary.ready += 1
    if summary.reason == COMPLETED_REASON and has_running:
        # Some containers finished but others still run: the pod is not "Completed".
        summary.reason = RUNNING if _has_true_condition(pod, "Ready") else NOT_READY


def _has_true_condition(pod: Object, condition_type: str) -> bool:
    return any(
        text(c, "type") == condition_type and text(c, "status") == "True"
        for c in items(pod, "status", "conditions")
    )


def _deletion_override(pod: Object, reason: str) -> str:
    if not field(pod, "metadata", "deletionTimestamp"):
        return reason
    if text(pod, "status", "reason") == NODE_LOST_REASON:
        return UNKNOWN_STATUS
    if text(pod, "status", "phase") not in FINISHED_PHASES:
        return TERMINATING
    return reason


def restarts_cell(restarts: _Restarts, now: datetime) -> str:
    """``4``, or ``4 (29s ago)`` when a container's last termination time is known."""
    if restarts.count != 0 and restarts.last is not None:
        return f"{restarts.count} ({since(restarts.last, now)} ago)"
    return str(restarts.count)


def _pod_ip(pod: Object) -> str:
    # podIPs is authoritative (dual-stack); podIP is its first entry for older writers.
    pod_ips = items(pod, "status", "podIPs")
    if pod_ips:
        return or_none(text(pod_ips[0], "ip"))
    return or_none(text(pod, "status", "podIP"))


def _readiness_gates(pod: Object) -> str:
    gates = items(pod, "spec", "readinessGates")
    if not gates:
        return NONE
    statuses = {text(c, "type"): text(c, "status") for c in reversed(items(pod, "status", "conditions"))}
    true_count = sum(1 for gate in gates if statuses.get(text(gate, "conditionType")) == "True")
    return f"{true_count}/{len(gates)}"


def cells(pod: Object, now: datetime) -> list[Cell]:
    summary = summarize(pod)
    return [
        name_of(pod),
        f"{summary.ready}/{summary.total}",
        summary.reason,
        restarts_cell(summary.restarts, now),
        since(field(pod, "metadata", "creationTimestamp"), now),
        _pod_ip(pod),
        or_none(text(pod, "spec", "nodeName")),
        or_none(text(pod, "status", "nominatedNodeName")),
        _readiness_gates(pod),
    ]


def conditions(pod: Object) -> list[dict[str, str]]:
    phase = text(pod, "status", "phase")
    if phase == PHASE_SUCCEEDED:
        return [dict(c) for c in _SUCCEEDED_CONDITIONS]
    if phase == PHASE_FAILED:
        return [dict(c) for c in _FAILED_CONDITIONS]
    return []


PRINTER = KindPrinter(COLUMNS, cells, conditions)
