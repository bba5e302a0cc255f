"""What a ReplicaSet needs, decided from the pods it has: pure functions, no I/O.

The controller (:mod:`orchestrator.controllers.replicaset`) reads the ReplicaSet and its pods from
the informer caches, asks this module what to do, and applies the answer. Everything users argue about
lives here, with Kubernetes' rules (k8s.io/kubernetes/pkg/controller/replicaset and
pkg/controller/controller_utils.go):

* **Active pods** are the ones that count: not terminating (no ``deletionTimestamp``) and not
  finished (phase Succeeded or Failed). A pod being deleted is already replaced. Which pods a
  ReplicaSet owns is claimed first (:func:`orchestrator.controllers.owners.claim`).
* **Replicas**: ``diff = replicas - len(owned)``; more than that is never created in one pass, so a
  control plane restarted mid-scale counts what exists and cannot overshoot. Creations go in
  slow-start batches of 1, 2, 4, 8 … so a template the API refuses fails once, not a hundred
  times; at most :data:`BURST_REPLICAS` per pass, as Kubernetes does.
* **Scale-down order** (``ActivePodsWithRanks``): the pods least worth keeping go first —
  see :func:`deletion_order`.
* **Status**: replicas, fullyLabeledReplicas (pods that also carry every template label),
  readyReplicas, availableReplicas (ready for more than ``minReadySeconds``), observedGeneration,
  and the ``ReplicaFailure`` condition while creating or deleting pods fails.

Times are ``datetime`` in UTC; the caller passes ``now`` so the arithmetic is testable.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from functools import cmp_to_key

from orchestrator.api.apps import ReplicaSetConditionType
from orchestrator.api.conditions import set_condition
from orchestrator.api.meta import ConditionStatus
from orchestrator.api.pod import PodPhase
from orchestrator.api.podstatus import available_at, is_active, is_available, is_ready, max_restarts, phase, ready_since
from orchestrator.api.selectors import from_match_labels
from orchestrator.api.timestamps import parse_rfc3339
from orchestrator.controllers.owners import owner_reference

#: the most pods one pass creates or deletes (Kubernetes' ``BurstReplicas``)
BURST_REPLICAS = 500
#: the first slow-start batch (Kubernetes' ``SlowStartInitialBatchSize``)
SLOW_START_INITIAL_BATCH = 1
#: annotation that lets users say which pods to remove first (lower cost goes first)
POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
#: how long after a pod's availability boundary the controller looks again (seconds)
AVAILABILITY_MARGIN = 0.05

#: Pending < Unknown < Running: the earlier a pod is in life, the cheaper it is to delete
_PHASE_ORDINAL = {PodPhase.PENDING.value: 0, PodPhase.UNKNOWN.value: 1, PodPhase.RUNNING.value: 2}


class ReplicaFailureReason(str, Enum):
    FAILED_CREATE = "FailedCreate"
    FAILED_DELETE = "FailedDelete"


def deletion_cost(pod: dict) -> int:
    """The ``pod-deletion-cost`` annotation; absent or unparsable counts as 0, as in Kubernetes."""
    raw = (pod["metadata"].get("annotations") or {}).get(POD_DELETION_COST)
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


# ── creating ─────────────────────────────────────────────────────────────────────────────────


def pod_from_template(rs: dict) -> dict:
    """A new pod for ``rs``: the template's labels, annotations, finalizers and spec, named
    ``<rs-name>-<5 random chars>`` by the API server (``generateName``), controlled by ``rs``."""
    template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
    template_meta = template.get("metadata") or {}
    meta = {"generateName": f"{rs['metadata']['name']}-", "namespace": rs["metadata"].get("namespace"),
            "ownerReferences": [owner_reference(rs)]}
    for field_name in ("labels", "annotations", "finalizers"):
        if template_meta.get(field_name):
            meta[field_name] = template_meta[field_name]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template.get("spec") or {}}


def slow_start_batches(count: int, initial: int = SLOW_START_INITIAL_BATCH) -> list[int]:
    """Batch sizes for creating ``count`` pods: doubling from ``initial``, the last one trimmed.

    Example: 10 → [1, 2, 4, 3]. The caller stops at the first batch with a failure, so a template
    the API refuses costs one refused request, not ten.
    """
    batches, size = [], max(1, initial)
    while count > 0:
        batches.append(min(size, count))
        count -= batches[-1]
        size *= 2
    return batches


# ── deleting ─────────────────────────────────────────────────────────────────────────────────


def _log_rank(when: datetime | None, now: datetime) -> int:
    """Kubernetes' logarithmic age bucket (LogarithmicScaleDown): floor(log2(age in ns)), -1 if none."""
    if when is None:
        return -1
    age_ns = (now - when) / timedelta(microseconds=1) * 1000
    return int(math.log2(age_ns)) if age_ns > 0 else -1


def _compare(a: dict, b: dict, ranks: dict[str, int], now: datetime) -> int:
    """Negative when ``a`` should be deleted before ``b`` (``ActivePodsWithRanks.Less``)."""
    node_a, node_b = (a.get("spec") or {}).get("nodeName") or "", (b.get("spec") or {}).get("nodeName") or ""
    # 1. unassigned before assigned
    if node_a != node_b and (not node_a or not node_b):
        return -1 if not node_a else 1
    # 2. Pending < Unknown < Running
    phase_a, phase_b = _PHASE_ORDINAL.get(phase(a) or "", 0), _PHASE_ORDINAL.get(phase(b) or "", 0)
    if phase_a != phase_b:
        return -1 if phase_a < phase_b else 1
    # 3. not ready before ready
    ready_a, ready_b = is_ready(a), is_ready(b)
    if ready_a != ready_b:
        return -1 if not ready_a else 1
    # 4. lower pod-deletion-cost first
    if deletion_cost(a) != deletion_cost(b):
        return -1 if deletion_cost(a) < deletion_cost(b) else 1
    # 5. the pod sharing its node with more related pods first (it spreads the rest)
    rank_a, rank_b = ranks[a["metadata"]["uid"]], ranks[b["metadata"]["uid"]]
    if rank_a != rank_b:
        return -1 if rank_a > rank_b else 1
    uid_order = -1 if a["metadata"]["uid"] < b["metadata"]["uid"] else 1
    # 6. the more recently ready first, by logarithmic bucket; same bucket → by uid, as Kubernetes
    if ready_a and ready_b and ready_since(a) != ready_since(b):
        diff = _log_rank(ready_since(a), now) - _log_rank(ready_since(b), now)
        return uid_order if diff == 0 else (-1 if diff < 0 else 1)
    # 7. more container restarts first
    if max_restarts(a) != max_restarts(b):
        return -1 if max_restarts(a) > max_restarts(b) else 1
    # 8. newer first, by logarithmic bucket; same bucket → by uid
    created_a, created_b = a["metadata"].get("creationTimestamp"), b["metadata"].get("creationTimestamp")
    if created_a != created_b:
        diff = _log_rank(parse_rfc3339(created_a), now) - _log_rank(parse_rfc3339(created_b), now)
        return uid_order if diff == 0 else (-1 if diff < 0 else 1)
    return 0


def deletion_order(pods: list[dict], related: list[dict], now: datetime) -> list[dict]:
    """``pods`` sorted so the ones to delete first come first (Kubernetes' ``getPodsToDelete``).

    1. not yet on a node; 2. Pending, then Unknown, then Running; 3. not ready; 4. lower
    ``pod-deletion-cost``; 5. more active ``related`` pods on the same node (related: the pods of
    every ReplicaSet with the same controller, so a Deployment's old and new pods spread together);
    6. ready more recently; 7. more restarts; 8. created more recently. Ages in 6 and 8 compare in
    powers of two (1 s and 1.5 s ago are alike, 1 s and 1 min are not), as Kubernetes' default
    LogarithmicScaleDown does, with the uid breaking ties so the choice looks random, not oldest-first.
    """
    on_node: dict[str, int] = {}
    for pod in related:
        if is_active(pod):
            node = (pod.get("spec") or {}).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranks = {p["metadata"]["uid"]: on_node.get((p.get("spec") or {}).get("nodeName") or "", 0) for p in pods}

    def compare(a: dict, b: dict) -> int:
        return _compare(a, b, ranks, now)

    return sorted(pods, key=cmp_to_key(compare))


# ── the plan ─────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class ReplicaPlan:
    """One pass: how many pods to create (in slow-start batches) and which pods to delete, in order."""

    create: int = 0
    delete: tuple[dict, ...] = ()


def plan_replicas(rs: dict, owned: list[dict], related: list[dict], now: datetime) -> ReplicaPlan:
    """Kubernetes' ``manageReplicas``: bring ``owned`` (the claimed active pods) to ``spec.replicas``.

    Example: replicas 5 with 2 active pods and 1 terminating → create 3 (the terminating one is
    already gone as far as counting goes); replicas 1 with 3 active → delete the 2 first in
    :func:`deletion_order`. Never more than :data:`BURST_REPLICAS` either way in one pass.
    """
    if rs["metadata"].get("deletionTimestamp"):
        return ReplicaPlan()
    diff = len(owned) - int((rs.get("spec") or {}).get("replicas", 1))
    if diff < 0:
        return ReplicaPlan(create=min(-diff, BURST_REPLICAS))
    if diff > 0:
        return ReplicaPlan(delete=tuple(deletion_order(owned, related, now)[:min(diff, BURST_REPLICAS)]))
    return ReplicaPlan()


# ── status ───────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Failure:
    """Why this pass could not create or delete every pod it meant to (the ReplicaFailure condition)."""

    reason: ReplicaFailureReason
    message: str


def compute_status(rs: dict, owned: list[dict], now: datetime, now_text: str, failure: Failure | None) -> dict:
    """The ReplicaSet's next ``status`` (Kubernetes' ``calculateStatus``), counting ``owned`` pods.

    Counts that are zero are left out, as Kubernetes' JSON does (``omitempty``), except
    ``replicas``. The ``ReplicaFailure`` condition is set when a pass failed and removed after a
    pass that did not; while it stays set, its first message and transition time stay too.
    """
    spec = rs.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    template_labels = from_match_labels(((spec.get("template") or {}).get("metadata") or {}).get("labels"))
    status: dict = {
        "replicas": len(owned),
        "fullyLabeledReplicas": sum(template_labels.matches(p["metadata"].get("labels")) for p in owned),
        "readyReplicas": sum(is_ready(p) for p in owned),
        "availableReplicas": sum(is_available(p, min_ready, now) for p in owned),
        "observedGeneration": rs["metadata"].get("generation"),
    }
    status = {k: v for k, v in status.items() if v or k == "replicas"}
    conditions = [c for c in (rs.get("status") or {}).get("conditions") or []]
    kind = ReplicaSetConditionType.REPLICA_FAILURE
    present = any(c.get("type") == kind.value for c in conditions)
    if failure is not None and not present:
        conditions = set_condition(conditions, kind, ConditionStatus.TRUE, now_text, reason=failure.reason,
                                   message=failure.message)
    elif failure is None and present:
        conditions = [c for c in conditions if c.get("type") != kind.value]
    if conditions:
        status["conditions"] = conditions
    return status


def next_availability(rs: dict, owned: list[dict], now: datetime) -> float | None:
    """Seconds until the next ready-but-not-yet-available pod becomes available, if any.

    No event marks that moment (the pod does not change), so the controller looks again then.
    """
    min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
    if min_ready == 0:
        return None
    waits = [(at - now).total_seconds() for p in owned if (at := available_at(p, min_ready)) and at >= now]
    # available means ready for *more* than minReadySeconds: look just after the boundary
    return min(waits) + AVAILABILITY_MARGIN if waits else None
