"""Reading a Pod's state: finished, terminating, active, ready, available (pure).

The ReplicaSet, Deployment and endpoints controllers, the scheduler and the CLI all ask these
questions of a pod; they are answered once, here, with Kubernetes' definitions
(``k8s.io/kubernetes/pkg/api/v1/pod`` and ``pkg/controller/controller_utils.go``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from orchestrator.api.meta import ConditionStatus
from orchestrator.api.pod import PodConditionType, PodPhase
from orchestrator.api.timestamps import parse_rfc3339

#: the phases a pod never leaves: its containers ran and none will run again
FINISHED_PHASES = frozenset({PodPhase.SUCCEEDED.value, PodPhase.FAILED.value})


def phase(pod: dict) -> str | None:
    return (pod.get("status") or {}).get("phase")


def is_finished(pod: dict) -> bool:
    """Succeeded or Failed: it holds no resources and will not run again."""
    return phase(pod) in FINISHED_PHASES


def is_terminating(pod: dict) -> bool:
    """Marked for deletion (``deletionTimestamp``); its containers may still be stopping."""
    return bool(pod["metadata"].get("deletionTimestamp"))


def is_active(pod: dict) -> bool:
    """Neither terminating nor finished (``IsPodActive``): the pods an owner counts."""
    return not is_terminating(pod) and not is_finished(pod)


def node_name(pod: dict) -> str:
    """The node the pod is bound to, or "" while it is not scheduled."""
    return (pod.get("spec") or {}).get("nodeName") or ""


def holds_resources(pod: dict) -> bool:
    """Bound to a node and not finished: its requests and host ports count against that node."""
    return bool(node_name(pod)) and not is_finished(pod)


def ready_condition(pod: dict) -> dict | None:
    return next((c for c in (pod.get("status") or {}).get("conditions") or []
                 if c.get("type") == PodConditionType.READY.value), None)


def is_ready(pod: dict) -> bool:
    condition = ready_condition(pod)
    return condition is not None and condition.get("status") == ConditionStatus.TRUE.value


def ready_since(pod: dict) -> datetime | None:
    """When a ready pod turned ready (its Ready condition's ``lastTransitionTime``)."""
    condition = ready_condition(pod)
    if condition is None or condition.get("status") != ConditionStatus.TRUE.value:
        return None
    return parse_rfc3339(condition.get("lastTransitionTime"))


def available_at(pod: dict, min_ready_seconds: int) -> datetime | None:
    """The instant after which a ready pod counts as available; None while it is not ready."""
    since = ready_since(pod)
    return None if since is None else since + timedelta(seconds=min_ready_seconds)


def is_available(pod: dict, min_ready_seconds: int, now: datetime) -> bool:
    """Kubernetes' ``IsPodAvailable``: ready, and (with minReadySeconds) ready for *more* than that.

    Example: minReadySeconds 10, Ready since 12:00:00 → not available at 12:00:10, available at 12:00:11.
    """
    if not is_ready(pod):
        return False
    if min_ready_seconds == 0:
        return True
    since = available_at(pod, min_ready_seconds)
    return since is not None and since < now


def max_restarts(pod: dict) -> int:
    """The highest restart count among the pod's containers."""
    return max((int(s.get("restartCount") or 0) for s in (pod.get("status") or {}).get("containerStatuses") or []),
               default=0)
