"""The scheduler loop: bind every pending pod to a node (filter → score → bind) and say why.

It runs in the control plane on the controller machinery (:mod:`orchestrator.controllers.base`)
with a single work key, a *pass* over all pending pods. A pass reads nodes and pods from the
informer caches, builds a :mod:`snapshot <orchestrator.scheduler.snapshot>`, and takes the pending
pods in Kubernetes' queue order (higher ``spec.priority`` first, then oldest). Each is decided by
the pure :func:`~orchestrator.scheduler.plan.decide` and, once bound, added to the snapshot so the
next decision sees it. One worker, so decisions never race each other.

**Assumed pods.** A binding answers a ``Status``, not the pod, and the pod cache learns of it a
moment later; a pass starting in that moment would see the pod still pending and its node's
resources still free. Like kube-scheduler's cache, the scheduler *assumes* each pod it bound on
the node it chose until the cache shows the pod bound (or gone), and builds every snapshot as if
those bindings were already there.

For each pod:

* it fits → a Binding posted to ``pods/{name}/binding`` through the client seam, carrying the
  ``scheduler.dockyard.io/scores``
  annotation; then a ``Scheduled`` Event in Kubernetes' words
  (``Successfully assigned default/nginx-pod to node-2``) and a ``NodeScores`` Event with the
  scores, so ``kubectl describe pod`` shows the decision;
* it fits nowhere → it stays Pending with ``PodScheduled=False``, reason ``Unschedulable`` and
  Kubernetes' FitError message (written through the status subresource), and a Warning
  ``FailedScheduling`` Event with the same message, whose ``count`` grows on every retry.

When a pass runs: whenever something happens that could let a pending pod fit — a pod to
schedule appears or its spec changes, a pod frees its node (deleted or finished), a node appears
or changes in a way the filters read (labels, taints, cordon, allocatable, readiness; a heartbeat
alone does not count) — and every ``resync_seconds`` as a safety net. The scheduler's own writes
(bindings, the Unschedulable condition, Events) never trigger a pass, which is what keeps an
unschedulable pod from being retried in a tight loop.

A pod is ours when it has no node, is not being deleted, has not finished and names
``default-scheduler`` in ``spec.schedulerName`` (the default): a pod naming another scheduler
waits for that one, as in Kubernetes.
"""

from __future__ import annotations

import copy
import logging
import random
from enum import Enum
from typing import Iterable

from orchestrator.api import errors
from orchestrator.api.conditions import set_condition
from orchestrator.api.core import EventType
from orchestrator.api.defaults import DEFAULT_SCHEDULER_NAME
from orchestrator.api.meta import ConditionStatus
from orchestrator.api.pod import PodConditionReason, PodConditionType
from orchestrator.api.podstatus import holds_resources, is_finished, is_terminating, node_name
from orchestrator.api.registry import kind_for
from orchestrator.api.timestamps import now_rfc3339
from orchestrator.client.informer import Change, Informers
from orchestrator.client.protocol import Client, WatchEventType
from orchestrator.controllers.base import Controller
from orchestrator.controllers.events import EventRecorder
from orchestrator.scheduler.plan import SCORES_ANNOTATION, Placement, binding_for, decide, explain, scores_annotation
from orchestrator.scheduler.snapshot import NodeInfo, PodInfo, build_snapshot

log = logging.getLogger("dockyard.scheduler")

POD, NODE = kind_for("v1", "Pod"), kind_for("v1", "Node")
#: the one work key: "look at every pending pod"
PASS = "pending-pods"


class SchedulerReason(str, Enum):
    SCHEDULED = "Scheduled"
    FAILED_SCHEDULING = "FailedScheduling"
    NODE_SCORES = "NodeScores"


class PassIncomplete(Exception):
    """Some pods could not be bound or marked this pass; the runner retries the pass with back-off."""


def is_pending(pod: dict) -> bool:
    """A pod this scheduler should place now."""
    return (not node_name(pod) and not is_terminating(pod) and not is_finished(pod)
            and ((pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME) == DEFAULT_SCHEDULER_NAME)


def queue_order(pod: dict) -> tuple:
    """Kubernetes' PrioritySort: higher priority first, then the older pod."""
    meta = pod["metadata"]
    return (-int((pod.get("spec") or {}).get("priority") or 0), meta.get("creationTimestamp") or "",
            meta.get("namespace") or "", meta["name"])


def _spec_without_node(pod: dict) -> dict:
    return {k: v for k, v in (pod.get("spec") or {}).items() if k != "nodeName"}


def may_unblock(change: Change) -> bool:
    """Could this change let a pending pod fit (or bring a new one)? Our own writes answer no."""
    obj, before = change.object, change.previous
    if change.kind == POD:
        if change.type is WatchEventType.ADDED:
            return is_pending(obj)
        if change.type is WatchEventType.DELETED:
            return holds_resources(obj)
        if before is None:
            return True  # what changed is unknown: look, to be safe
        if holds_resources(before) and not holds_resources(obj):
            return True  # finished: its requests and ports are free again
        return is_pending(obj) and _spec_without_node(obj) != _spec_without_node(before)
    if change.kind == NODE:
        if change.type is WatchEventType.ADDED:
            return True
        if change.type is WatchEventType.DELETED:
            return False  # fewer nodes never make a pod fit
        return before is None or NodeInfo.of(before) != NodeInfo.of(obj)
    return False


class Scheduler(Controller[str]):
    name = "scheduler"
    workers = 1  # one decision at a time: each must see the ones before it
    watches = (POD, NODE)

    def __init__(self, client: Client, informers: Informers, *, rng: random.Random | None = None,
                 resync_seconds: float = 30.0) -> None:
        super().__init__(client, informers)
        self.pods, self.nodes = informers.cache(POD), informers.cache(NODE)
        self.rng = rng or random.Random()
        self.resync_seconds = resync_seconds
        self.events = EventRecorder(self.client, DEFAULT_SCHEDULER_NAME)
        #: pod uid → the node this scheduler bound it to, until the cache shows it bound; one
        #: worker, so only that thread touches it
        self._assumed: dict[str, str] = {}

    def keys_for(self, change: Change) -> Iterable[str]:
        if may_unblock(change):
            yield PASS

    def resync_keys(self) -> Iterable[str]:
        yield PASS

    def reconcile(self, key: str) -> None:
        self.schedule_pending()

    def schedule_pending(self) -> None:
        """One pass: every pending pod is bound, or marked Unschedulable with Kubernetes' reasons."""
        nodes = [node for node in self.nodes.list() if not node["metadata"].get("deletionTimestamp")]
        pods = self._as_assumed(self.pods.list())
        snapshot = build_snapshot(nodes, pods)
        failed: list[str] = []
        for pod in sorted(filter(is_pending, pods), key=queue_order):
            meta = pod["metadata"]
            try:
                self._schedule_one(pod, snapshot)
            except errors.ApiError as error:
                if error.code != 404:  # a pod deleted meanwhile needs nothing more
                    failed.append(f"{meta['namespace']}/{meta['name']}: {error}")
        if failed:
            raise PassIncomplete(f"{len(failed)} pod(s) not scheduled this pass, retrying: {'; '.join(failed)}")

    def _schedule_one(self, pod: dict, snapshot: dict[str, NodeInfo]) -> None:
        info = PodInfo.of(pod)
        decision = decide(info, snapshot, self.rng)
        if not isinstance(decision, Placement):
            self._mark_unschedulable(pod, decision.message)
            return
        meta = pod["metadata"]
        binding = binding_for(pod, decision.node, {SCORES_ANNOTATION: scores_annotation(decision)})
        try:
            self.client.create(POD, meta["namespace"], binding, name=meta["name"], subresource="binding")
        except errors.ApiError as error:
            if error.code not in (404, 409):  # refused outright (e.g. by admission): tell the user why
                self.events.record(pod, EventType.WARNING, SchedulerReason.FAILED_SCHEDULING,
                                   f"binding rejected: {error}")
            raise
        self._assumed[meta["uid"]] = decision.node
        snapshot[decision.node].add(info)
        why = explain(decision)
        log.info("bound %s/%s: %s", meta["namespace"], meta["name"], why)
        self.events.record(pod, EventType.NORMAL, SchedulerReason.SCHEDULED,
                           f"Successfully assigned {meta['namespace']}/{meta['name']} to {decision.node}")
        self.events.record(pod, EventType.NORMAL, SchedulerReason.NODE_SCORES, why)

    def _as_assumed(self, pods: list[dict]) -> list[dict]:
        """The cached pods, with those this scheduler bound but the cache does not show bound yet
        on their assumed node; an assumption ends once the cache shows the binding or the pod is gone."""
        present = {pod["metadata"]["uid"] for pod in pods}
        for uid in [uid for uid in self._assumed if uid not in present]:
            del self._assumed[uid]
        seen = []
        for pod in pods:
            node = self._assumed.get(pod["metadata"]["uid"])
            if node is not None and node_name(pod):
                del self._assumed[pod["metadata"]["uid"]]
            elif node is not None:
                pod = {**pod, "spec": {**(pod.get("spec") or {}), "nodeName": node}}
            seen.append(pod)
        return seen

    def _mark_unschedulable(self, pod: dict, message: str) -> None:
        status = copy.deepcopy(pod.get("status") or {})
        status["conditions"] = set_condition(status.get("conditions"), PodConditionType.POD_SCHEDULED,
                                             ConditionStatus.FALSE, now_rfc3339(),
                                             reason=PodConditionReason.UNSCHEDULABLE, message=message)
        meta = pod["metadata"]
        if status != pod.get("status"):
            # carries the resourceVersion we read: a pod that moved on meanwhile is retried, not clobbered
            pod = self.client.update(POD, meta["namespace"], meta["name"], {**pod, "status": status},
                                     subresource="status")
        self.events.record(pod, EventType.WARNING, SchedulerReason.FAILED_SCHEDULING, message)
