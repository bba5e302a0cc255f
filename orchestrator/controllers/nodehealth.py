"""Pure decisions of the node lifecycle controller: is a node healthy, which taints, which pods go.

Everything here is a function of what was read and the clock reading the caller passes, so the
tables in the unit tests are the specification. :mod:`orchestrator.controllers.nodelifecycle`
reads, calls these and writes.

**Health.** The agent shows it is alive in two ways every few seconds
(:class:`agent.node.Heartbeat`): a fresh ``lastHeartbeatTime`` on the node's conditions, and a
fresh ``renewTime`` on its Lease ``kube-node-lease/<node>``. As kube-controller-manager does, either
one moving counts as a heartbeat (since Kubernetes 1.17 the Lease is the kubelet's cheap, frequent
one), and the age of a heartbeat is measured on *our* clock: :func:`observe` remembers when we
first saw the current pair of values, so an agent whose clock is off (another machine) is judged
fairly, and a control plane that was down longer than the grace period gives every node a full
grace period after it starts instead of declaring them all lost at once. A node is

* ``READY`` when its Ready condition is True and the heartbeat moved within the grace period;
* ``NOT_READY`` when the agent says Ready=False (it is alive but, e.g., its runtime is down);
* ``UNKNOWN`` when the heartbeat has not moved for longer than the grace period — or when we
  already marked it so. Then every condition
  becomes ``Unknown``/``NodeStatusUnknown`` "Kubelet stopped posting node status.", keeping its
  ``lastHeartbeatTime`` (the last sign of life), as kube-controller-manager does.

Example, grace 40 s: a new heartbeat seen at 10:00:00, none since; checked at 10:00:39 → READY,
re-check in 1 s; checked at 10:00:41 → mark UNKNOWN.

**Taints.** READY carries none of the lifecycle taints; NOT_READY carries
``node.kubernetes.io/not-ready`` and UNKNOWN ``node.kubernetes.io/unreachable``, each as NoSchedule
(the scheduler keeps away) and NoExecute (running pods are evicted). A NoExecute taint records
``timeAdded``: toleration windows count from it. Taints anyone else put on the node are kept.

**Eviction** (Kubernetes' taint manager): a pod on a node with NoExecute taints is evicted at once
if one of them is not tolerated at all; if all are tolerated, when the shortest
``tolerationSeconds`` among the matching tolerations has passed since the taint's ``timeAdded``;
never if a matching toleration has no ``tolerationSeconds``. Admission gives every pod the 300 s
tolerations for both taints (:mod:`orchestrator.apiserver.admission`), hence Kubernetes' "pods go
5 minutes after their node".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from orchestrator.api.meta import ConditionStatus
from orchestrator.api.node import NodeConditionType, TaintEffect
from orchestrator.api.nodestatus import ready_condition
from orchestrator.api.taints import WellKnownTaint, taint, tolerates
from orchestrator.api.timestamps import format_rfc3339, parse_rfc3339

DEFAULT_GRACE_PERIOD_SECONDS = 40.0  # kube-controller-manager --node-monitor-grace-period
UNKNOWN_MESSAGE = "Kubelet stopped posting node status."


class NodeHealth(str, Enum):
    READY = "Ready"
    NOT_READY = "NotReady"
    UNKNOWN = "Unknown"


class NodeReason(str, Enum):
    """Reasons this controller writes: the conditions' and the Events'."""

    STATUS_UNKNOWN = "NodeStatusUnknown"
    NODE_NOT_READY = "NodeNotReady"
    NODE_READY = "NodeReady"
    TAINT_MANAGER_EVICTION = "TaintManagerEviction"


#: the taint each unhealthy state carries, with both effects
_TAINT_OF = {NodeHealth.NOT_READY: WellKnownTaint.NOT_READY, NodeHealth.UNKNOWN: WellKnownTaint.UNREACHABLE}
_LIFECYCLE_KEYS = frozenset(key.value for key in _TAINT_OF.values())
_EFFECTS = (TaintEffect.NO_SCHEDULE, TaintEffect.NO_EXECUTE)


@dataclass(frozen=True)
class Observation:
    """The node's signs of life as last seen — its Ready condition's ``lastHeartbeatTime`` and its
    Lease's ``renewTime`` — and when (on our clock) that pair was first seen."""

    heartbeat: str | None
    lease_renewed: str | None
    seen_at: datetime


def observe(previous: Observation | None, node: dict, now: datetime, lease: dict | None = None) -> Observation:
    """The observation after looking at ``node`` and its ``lease`` at ``now``: unchanged while both
    stay the same, restarted at ``now`` when either moved (or on first sight)."""
    beat = (ready_condition(node) or {}).get("lastHeartbeatTime")
    renewed = ((lease or {}).get("spec") or {}).get("renewTime")
    if previous is not None and (previous.heartbeat, previous.lease_renewed) == (beat, renewed):
        return previous
    return Observation(beat, renewed, now)


@dataclass(frozen=True)
class HealthPlan:
    """What the node's status says now, and what (if anything) to write to it."""

    health: NodeHealth
    conditions: list[dict] | None  # the conditions to write (marking the node Unknown), else None
    recheck_after: float | None  # seconds until a silent READY/NOT_READY node turns UNKNOWN


def plan_health(node: dict, now: datetime, grace_seconds: float, last_seen: datetime) -> HealthPlan:
    """Decide the node's health; ``last_seen`` is when a heartbeat last moved (:func:`observe`)."""
    ready = ready_condition(node)
    if ready is not None and ready.get("status") == ConditionStatus.UNKNOWN.value:
        return HealthPlan(NodeHealth.UNKNOWN, None, None)
    silent_for = (now - last_seen).total_seconds()
    if silent_for <= grace_seconds:
        # a node that has not reported Ready yet is NotReady, not yet given up on
        is_ready = ready is not None and ready.get("status") == ConditionStatus.TRUE.value
        return HealthPlan(NodeHealth.READY if is_ready else NodeHealth.NOT_READY, None, grace_seconds - silent_for)
    return HealthPlan(NodeHealth.UNKNOWN, _unknown_conditions(node, now), None)


def _unknown_conditions(node: dict, now: datetime) -> list[dict]:
    """Every condition turned Unknown (Ready added if it was missing); heartbeats kept."""
    stamp = format_rfc3339(now)
    conditions = [dict(c) for c in (node.get("status") or {}).get("conditions") or []]
    if not any(c.get("type") == NodeConditionType.READY.value for c in conditions):
        conditions.append({"type": NodeConditionType.READY.value,
                           "lastHeartbeatTime": node["metadata"].get("creationTimestamp")})
    for condition in conditions:
        if condition.get("status") != ConditionStatus.UNKNOWN.value:
            condition["lastTransitionTime"] = stamp
        condition.update(status=ConditionStatus.UNKNOWN.value, reason=NodeReason.STATUS_UNKNOWN.value,
                         message=UNKNOWN_MESSAGE)
    return conditions


def is_lifecycle_taint(node_taint: dict) -> bool:
    return node_taint.get("key") in _LIFECYCLE_KEYS


def wanted_taints(current: list[dict] | None, health: NodeHealth, now: datetime) -> list[dict]:
    """The node's taints for ``health``: others' taints kept in place, ours added or removed.

    A NoExecute taint that stays keeps its ``timeAdded``, so a toleration window is not restarted
    by every reconcile.
    """
    current = list(current or [])
    keep = [t for t in current if not is_lifecycle_taint(t)]
    key = _TAINT_OF.get(health)
    if key is None:
        return keep
    wanted = []
    for effect in _EFFECTS:
        existing = next((t for t in current if t.get("key") == key.value and t.get("effect") == effect.value), None)
        if existing is not None:
            wanted.append(existing)
            continue
        added = taint(key, effect)
        if effect is TaintEffect.NO_EXECUTE:
            added["timeAdded"] = format_rfc3339(now)
        wanted.append(added)
    return keep + wanted


def had_unhealthy_taint(taints: list[dict] | None) -> bool:
    """Whether the node was already marked unhealthy: the taints are this controller's memory of
    the last state it saw, so a restarted control plane records transitions exactly once."""
    return any(is_lifecycle_taint(t) for t in taints or [])


def eviction_delay(pod: dict, taints: list[dict] | None, now: datetime) -> float | None:
    """Seconds until ``pod`` must go from a node with ``taints``: 0 = now, None = never.

    As the taint manager's ``getMinTolerationTime``: the window is the shortest
    ``tolerationSeconds`` among all tolerations that match a NoExecute taint (none with seconds:
    never), counted from the earliest ``timeAdded`` of those taints. Example: taints added at
    10:00:00, tolerations of 300 s and 60 s both match → the pod goes at 10:01:00.
    """
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    used: list[dict] = []
    since: datetime | None = None
    for node_taint in taints or []:
        if node_taint.get("effect") != TaintEffect.NO_EXECUTE.value:
            continue
        matching = [t for t in tolerations if tolerates(t, node_taint)]
        if not matching:
            return 0.0
        used += matching
        added = parse_rfc3339(node_taint.get("timeAdded")) or now
        since = added if since is None else min(since, added)
    windows = [t["tolerationSeconds"] for t in used if t.get("tolerationSeconds") is not None]
    if since is None or not windows:
        return None
    return max(0.0, min(windows) - (now - since).total_seconds())
