"""The Deployment controller: a pod template rolled out through ReplicaSets, one step per pass.

One work key per Deployment, ``(namespace, name)``. A pass reads the Deployment, the ReplicaSets
of its namespace and the pods its ReplicaSets control from the informer caches, asks the pure
planner (:func:`~orchestrator.controllers.deployment_steps.plan_pass`) what to do, and carries
the steps out in order. What each step means, and why, is documented with the planner; this
module only turns steps into API calls and Events.

The ReplicaSet controller turns the sizes into pods; its status writes wake this controller
(every ReplicaSet change is keyed to its controlling Deployment), which is how a rollout advances.

**Beyond Kubernetes**: with the annotation ``deployment.dockyard.io/auto-rollback: "true"``, the
pass that first records ``ProgressDeadlineExceeded`` also puts the previous revision's template
back, as ``rollout undo`` would, and says so in a ``DeploymentRollback`` event. The condition is
written first, so a pass that sees it already exceeded never rolls back a second time; the failed
ReplicaSet is marked ``deployment.dockyard.io/rolled-back``, so if the restored revision fails as
well the controller does not bounce back to it but stops with the condition saying why.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Callable

from orchestrator.api import errors
from orchestrator.api.core import EventType
from orchestrator.api.options import DeleteOptions, PatchType
from orchestrator.api.registry import kind_for
from orchestrator.api.timestamps import utc_now
from orchestrator.client.cache import Index
from orchestrator.client.informer import Informers
from orchestrator.client.protocol import Client
from orchestrator.controllers import deployment_plan as plan
from orchestrator.controllers.base import ObjectKey
from orchestrator.controllers.deployment_steps import (
    AdoptReplicaSet, CreateReplicaSet, LookAgain, PruneReplicaSet, ReleaseReplicaSet, RollBack, ScaleReplicaSet,
    SetRevision, Step, SyncReplicaSet, WriteStatus, plan_pass,
)
from orchestrator.controllers.ownercontroller import OwnerController

DEPLOYMENT, REPLICA_SET, POD = kind_for("apps/v1", "Deployment"), kind_for("apps/v1", "ReplicaSet"), kind_for("v1", "Pod")


class DeploymentReason(str, Enum):
    SCALING_REPLICA_SET = "ScalingReplicaSet"
    DEPLOYMENT_ROLLBACK = "DeploymentRollback"


class DeploymentController(OwnerController):
    owner, dependent = DEPLOYMENT, REPLICA_SET
    name = "deployment-controller"

    def __init__(self, client: Client, informers: Informers, *, clock: Callable[[], datetime] = utc_now) -> None:
        super().__init__(client, informers, clock=clock)
        self.pods = informers.cache(POD)

    def reconcile(self, key: ObjectKey) -> None:
        d = self.read_owner(key)
        if d is None:
            return  # gone: the garbage collector takes its ReplicaSets
        namespace = key[0]
        replica_sets = self.dependents.list(namespace)
        pods = [pod for rs in replica_sets for pod in self.pods.by_index(Index.OWNER, rs["metadata"]["uid"], namespace)]
        self.apply(key, d, plan_pass(d, replica_sets, pods, self._clock()))

    def apply(self, key: ObjectKey, d: dict, steps: list[Step]) -> None:
        """Carry out ``steps`` in order. Deployment writes after the first carry the
        resourceVersion the previous one got; any failure ends the pass, to be planned again."""
        namespace, name = key
        for step in steps:
            match step:
                case AdoptReplicaSet(rs, refs) | ReleaseReplicaSet(rs, refs):
                    meta = rs["metadata"]
                    self.client.patch(REPLICA_SET, namespace, meta["name"], PatchType.MERGE, {"metadata": {
                        "ownerReferences": refs or None, "resourceVersion": meta["resourceVersion"]}})
                case CreateReplicaSet(body, event):
                    self.client.create(REPLICA_SET, namespace, body)
                    self._record(d, DeploymentReason.SCALING_REPLICA_SET, event)
                case SyncReplicaSet(rs_name, annotations, min_ready):
                    self.client.patch(REPLICA_SET, namespace, rs_name, PatchType.MERGE, {
                        "metadata": {"annotations": annotations}, "spec": {"minReadySeconds": min_ready}})
                case ScaleReplicaSet(rs_name, replicas, annotations, event):
                    self.client.patch(REPLICA_SET, namespace, rs_name, PatchType.MERGE, {
                        "metadata": {"annotations": annotations}, "spec": {"replicas": replicas}})
                    self._record(d, DeploymentReason.SCALING_REPLICA_SET, event)
                case SetRevision(revision):
                    d = self.client.patch(DEPLOYMENT, namespace, name, PatchType.MERGE, {
                        "metadata": {"annotations": {plan.Annotation.REVISION.value: str(revision)}}})
                case PruneReplicaSet(rs):
                    with errors.ignore_not_found():
                        self.client.delete(REPLICA_SET, namespace, rs["metadata"]["name"],
                                           DeleteOptions(precondition_uid=rs["metadata"]["uid"]))
                case WriteStatus(status):
                    if status != (d.get("status") or {}):
                        d = self.client.update(DEPLOYMENT, namespace, name, {**d, "status": status},
                                               subresource="status")
                case RollBack(failed, template, annotations, event):
                    self.client.patch(REPLICA_SET, namespace, failed, PatchType.MERGE,
                                      {"metadata": {"annotations": {plan.Annotation.ROLLED_BACK.value: "true"}}})
                    self.client.patch(DEPLOYMENT, namespace, name, PatchType.JSON, [
                        {"op": "replace", "path": "/spec/template", "value": template},
                        {"op": "add", "path": "/metadata/annotations", "value": annotations}])
                    self._record(d, DeploymentReason.DEPLOYMENT_ROLLBACK, event)
                case LookAgain(after_seconds):
                    self.queue.add_after(key, after_seconds)

    def _record(self, d: dict, reason: DeploymentReason, message: str | None) -> None:
        if message is not None:
            self.events.record(d, EventType.NORMAL, reason, message)
