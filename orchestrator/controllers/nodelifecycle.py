"""The node lifecycle controller: silent nodes turn Unknown, get tainted, and lose their pods.

One work key per node. A reconcile reads the node and moves it one step, with the decisions
taken by the pure functions of :mod:`orchestrator.controllers.nodehealth`:

1. **Health.** A node whose heartbeats — its Ready condition's ``lastHeartbeatTime`` and its
   Lease's ``renewTime`` — have not moved for longer than the grace period
   (``--node-monitor-grace-period``, measured on our clock: the one piece of memory this
   controller keeps, as Kubernetes' does) becomes ``Unknown``/``NodeStatusUnknown``. The write is a
   compare-and-swap on the resourceVersion we read: the node's agent writes the same conditions
   on every heartbeat, and if one lands in between, our write fails with a conflict, the key is
   read again and the fresher heartbeat wins. We never touch a condition whose heartbeat is fresh.
2. **Taints.** ``not-ready`` / ``unreachable`` (NoSchedule and NoExecute) follow the health, also
   by compare-and-swap; they are removed when the agent reports Ready again. The taints are also
   how a transition is noticed (``NodeNotReady`` / ``NodeReady`` Events on the node), so a
   restarted control plane neither misses nor repeats one.
3. **Pods.** While the node is Unknown its pods are marked not Ready (their agent cannot say so
   any more; Services stop sending them traffic). When its agent reports the node NotReady (its
   Docker engine is down, say), they are marked once, on that transition, as Kubernetes'
   ``MarkPodsNotReady`` does: the agent cannot see its containers either, and keeps writing the
   pods' status itself, so it may set them Ready again without being overruled. Each pod whose toleration window for the
   NoExecute taints has run out is deleted, after a ``TaintManagerEviction`` Event
   "Marking for deletion Pod default/x".

**Why evicted pods are deleted with grace period 0 (force).** In Kubernetes the taint manager
deletes gracefully and the pod stays Terminating until its node comes back or is deleted: the
kubelet is the one that confirms the containers stopped. Here the agent of an Unknown node is
presumed dead (or cut off), so a graceful delete would leave the pod Terminating for as long as the
node is gone, and a learner would see ``kubectl get pods`` hold a ghost the lab never clears. We
remove the pod from the API at once instead, which also lets any ReplicaSet controller —
whether or not it counts terminating pods — replace it on a healthy node straight away. The cost
is Kubernetes' reason for caution: if the node was merely cut off, its containers keep running
until its agent is back; the agent then finds containers of pods that no longer exist and removes
them (it rebuilds its state from Docker labels). dockyard has no StatefulSets, whose
at-most-one guarantee is what that caution protects, so the lab story wins.

Timing: a node's key is looked at on every change to the node, its Lease or its pods, on a periodic resync,
and — since a silent node produces no events — again just after its heartbeat would go stale or
a pod's toleration window ends (``add_after``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable, Iterable

from orchestrator.api import errors
from orchestrator.api.coordination import NODE_LEASE_NAMESPACE
from orchestrator.api.conditions import set_condition
from orchestrator.api.core import EventType
from orchestrator.api.meta import ConditionStatus
from orchestrator.api.node import TaintEffect
from orchestrator.api.pod import PodConditionType
from orchestrator.api.options import DeleteOptions
from orchestrator.api.podstatus import is_terminating, node_name, ready_condition
from orchestrator.api.registry import kind_for
from orchestrator.client.cache import Index
from orchestrator.client.informer import Change, Informers
from orchestrator.client.protocol import Client, WatchEventType
from orchestrator.controllers.base import Controller
from orchestrator.controllers.events import EventRecorder
from orchestrator.controllers.nodehealth import (
    DEFAULT_GRACE_PERIOD_SECONDS, NodeHealth, NodeReason, Observation, eviction_delay, 
    had_unhealthy_taint, observe, plan_health, wanted_taints,
)
from orchestrator.api.timestamps import format_rfc3339, utc_now

log = logging.getLogger("dockyard.nodelifecycle")

NODE, POD = kind_for("v1", "Node"), kind_for("v1", "Pod")
LEASE = kind_for("coordination.k8s.io/v1", "Lease")
#: a re-check lands this long after the moment it waits for, so that moment has surely passed
#: (heartbeat times have one-second resolution)
_RECHECK_SLACK = 1.0


class NodeLifecycleController(Controller[str]):
    name = "node-lifecycle"
    resync_seconds = 10.0
    watches = (NODE, LEASE, POD)

    def __init__(self, client: Client, informers: Informers, *, grace_seconds: float = DEFAULT_GRACE_PERIOD_SECONDS,
                 clock: Callable[[], datetime] = utc_now) -> None:
        super().__init__(client, informers)
        self.grace_seconds = grace_seconds
        self._now = clock
        self.nodes, self.leases, self.pods = informers.cache(NODE), informers.cache(LEASE), informers.cache(POD)
        self.node_events = EventRecorder(self.client, "node-controller")
        self.pod_events = EventRecorder(self.client, "taint-eviction-controller")
        # node name -> its heartbeat as last seen; one worker, so only that thread touches it
        self._observed: dict[str, Observation] = {}

    def keys_for(self, change: Change) -> Iterable[str]:
        if change.type is WatchEventType.DELETED:
            return
        if change.kind == NODE:
            yield change.name
        elif change.kind == LEASE and change.namespace == NODE_LEASE_NAMESPACE:
            yield change.name  # a node's Lease is named after it
        elif change.kind == POD and (node := node_name(change.object)):
            # a pod bound to (or changing its tolerations on) a tainted node may be due for eviction
            yield node

    def resync_keys(self) -> Iterable[str]:
        return [node["metadata"]["name"] for node in self.nodes.list()]

    def reconcile(self, key: str) -> None:
        node = self.nodes.get(None, key)
        if node is None:
            self._observed.pop(key, None)
            return
        # A conflict (the agent or a user wrote the node meanwhile) fails the pass, retried with
        # back-off on what the cache holds by then.
        wake_after = self._sync(node, self._now())
        if wake_after is not None:
            self.queue.add_after(key, wake_after + _RECHECK_SLACK)

    def _sync(self, node: dict, now: datetime) -> float | None:
        """One step for one node; returns seconds until it must be looked at again (None: no need)."""
        name = node["metadata"]["name"]
        self._observed[name] = observation = observe(self._observed.get(name), node, now, self._lease(name))
        plan = plan_health(node, now, self.grace_seconds, observation.seen_at)
        if plan.conditions is not None:
            log.info("node %s: no heartbeat for more than %.0fs, marking it Unknown", name, self.grace_seconds)
            unknown = {**node, "status": {**node["status"], "conditions": plan.conditions}}
            node = self.client.update(NODE, None, name, unknown, subresource="status")
        taints = (node.get("spec") or {}).get("taints") or []
        wanted = wanted_taints(taints, plan.health, now)
        if wanted != taints:
            node = self.client.update(NODE, None, name,
                                      {**node, "spec": {**node.get("spec", {}), "taints": wanted or None}})
        was_unhealthy = had_unhealthy_taint(taints)
        turned_unhealthy = plan.health is not NodeHealth.READY and not was_unhealthy
        if turned_unhealthy:
            self._node_event(node, NodeReason.NODE_NOT_READY)
        elif plan.health is NodeHealth.READY and was_unhealthy:
            self._node_event(node, NodeReason.NODE_READY)
        evict_after = self._sync_pods(node, wanted, now, mark=plan.health is NodeHealth.UNKNOWN or turned_unhealthy)
        waits = [w for w in (plan.recheck_after, evict_after) if w is not None]
        return min(waits) if waits else None

    def _lease(self, name: str) -> dict | None:
        """The node's Lease; None for an agent that renews none, whose status heartbeat alone counts."""
        return self.leases.get(NODE_LEASE_NAMESPACE, name)

    def _node_event(self, node: dict, reason: NodeReason) -> None:
        self.node_events.record(node, EventType.NORMAL, reason,
                                f"Node {node['metadata']['name']} status is now: {reason.value}")

    def _sync_pods(self, node: dict, taints: list[dict], now: datetime, *, mark: bool) -> float | None:
        """Evict the node's pods whose toleration ran out, and (``mark``) mark the others not Ready;
        returns seconds until the next eviction falls due."""
        if not any(t.get("effect") == TaintEffect.NO_EXECUTE.value for t in taints):
            return None  # the common case, a healthy node: no need to read its pods
        next_due: float | None = None
        for pod in self.pods.by_index(Index.NODE, node["metadata"]["name"]):
            if is_terminating(pod):
                continue
            due = eviction_delay(pod, taints, now)
            if due == 0:
                self._evict(pod)
                continue
            if due is not None:
                next_due = due if next_due is None else min(next_due, due)
            if mark:
                self._mark_not_ready(pod, now)
        return next_due

    def _evict(self, pod: dict) -> None:
        meta = pod["metadata"]
        self.pod_events.record(pod, EventType.NORMAL, NodeReason.TAINT_MANAGER_EVICTION,
                               f"Marking for deletion Pod {meta['namespace']}/{meta['name']}")
        with errors.ignore_not_found():
            self.client.delete(POD, meta["namespace"], meta["name"],
                               DeleteOptions(grace_period_seconds=0, precondition_uid=meta["uid"]))

    def _mark_not_ready(self, pod: dict, now: datetime) -> None:
        """``MarkPodsNotReady``: the pod's Ready condition goes False, once."""
        status = pod.get("status") or {}
        ready = ready_condition(pod)
        if ready is None or ready.get("status") == ConditionStatus.FALSE.value:
            return
        conditions = set_condition(status.get("conditions"), PodConditionType.READY, ConditionStatus.FALSE,
                                   format_rfc3339(now))
        self.client.update(POD, pod["metadata"]["namespace"], pod["metadata"]["name"],
                           {**pod, "status": {**status, "conditions": conditions}}, subresource="status")
        self.node_events.record(pod, EventType.WARNING, NodeReason.NODE_NOT_READY, "Node is not ready")
