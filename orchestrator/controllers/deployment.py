"""The Deployment controller: a pod template rolled out through ReplicaSets, one step per pass.

One work key per Deployment, ``(namespace, name)``. A pass is Kubernetes' ``syncDeployment``:

1. read the Deployment and the ReplicaSets it controls (adopting orphans its selector matches);
2. keep the ``Progressing`` condition in step with ``spec.paused`` (``DeploymentPaused`` /
   ``DeploymentResumed``);
3. paused, or only ``replicas`` changed (a *scaling event*: some active ReplicaSet's
   ``desired-replicas`` annotation disagrees) → resize the ReplicaSets proportionally and stop;
4. otherwise take one step of the strategy: **RollingUpdate** creates the new ReplicaSet
   ``NAME-HASH`` if needed, grows it within ``maxSurge``, shrinks old ones within
   ``maxUnavailable`` (:mod:`orchestrator.controllers.rollout` has the arithmetic);
   **Recreate** scales every old ReplicaSet to 0, waits until their pods are gone, then scales
   the new one up;
5. once complete, delete old ReplicaSets beyond ``revisionHistoryLimit``;
6. write the status (:func:`~orchestrator.controllers.deployment_plan.compute_status`) and, while
   a rollout is under way, look again when the progress deadline would run out.

The ReplicaSet controller turns the sizes into pods; its status writes wake this controller
(every ReplicaSet event is keyed to its controlling Deployment), which is how a rollout advances.

**Beyond Kubernetes**: with the annotation ``deployment.dockyard.io/auto-rollback: "true"``, the
pass that first records ``ProgressDeadlineExceeded`` also puts the previous revision's template
back, as ``rollout undo`` would, and says so in a ``DeploymentRollback`` event. The condition is
written first, so a pass that sees it already exceeded never rolls back a second time; the failed
ReplicaSet is marked ``deployment.dockyard.io/rolled-back``, so if the restored revision fails as
well the controller does not bounce back to it but stops with the condition saying why.
"""

from __future__ import annotations

from enum import Enum
from typing import Hashable

from orchestrator.api import errors
from orchestrator.api.apps import DeploymentConditionReason, DeploymentConditionType
from orchestrator.api.core import EventType
from orchestrator.api.pod import PodPhase
from orchestrator.api.registry import kind_for
from orchestrator.api.options import PatchType
from orchestrator.controllers import deployment_plan as plan
from orchestrator.controllers import rollout
from orchestrator.controllers.owners import OwnerController
from orchestrator.controllers.replicaset_plan import controller_ref, selector_of
from orchestrator.controllers.status import write_status

DEPLOYMENT, REPLICA_SET, POD = kind_for("apps/v1", "Deployment"), kind_for("apps/v1", "ReplicaSet"), kind_for("v1", "Pod")
#: how soon a Recreate rollout looks again while old pods are still terminating
RECREATE_POLL_SECONDS = 1.0
_FINISHED = (PodPhase.SUCCEEDED.value, PodPhase.FAILED.value)


class DeploymentReason(str, Enum):
    SCALING_REPLICA_SET = "ScalingReplicaSet"
    DEPLOYMENT_ROLLBACK = "DeploymentRollback"


class StepPending(Exception):
    """A pass could not finish its step (e.g. a hash collision); the key is retried with back-off."""


class DeploymentController(OwnerController):
    owner, dependent = DEPLOYMENT, REPLICA_SET
    name = "deployment-controller"

    # -- one pass -----------------------------------------------------------------------------

    def reconcile(self, key: Hashable) -> None:
        d = self.read_owner(key)
        if d is None:
            return  # gone: the garbage collector takes its ReplicaSets
        rss = self._replica_sets(d)
        if d["metadata"].get("deletionTimestamp"):
            self._write_status(d, rss, plan.find_new_rs(d, rss))
            return
        conditions = plan.pause_condition(d, self._clock())
        if conditions is not None:
            d = self._write_conditions(d, conditions)
        if d["spec"].get("paused") or self._scaling_event(d, rss):
            self._sync_sizes(d, rss)
        elif plan.is_recreate(d):
            self._recreate(d, rss)
        else:
            self._rolling(d, rss)

    def _replica_sets(self, d: dict) -> list[dict]:
        """The Deployment's ReplicaSets: those it controls, plus matching orphans it adopts now."""
        selector = selector_of(d)
        owned = []
        for rs in self.api.list(REPLICA_SET, d["metadata"]["namespace"])[0]:
            if plan.owned_by(rs, d):
                owned.append(rs)
            elif controller_ref(rs) is None and not selector.empty and not d["metadata"].get("deletionTimestamp") \
                    and selector.matches(rs["metadata"].get("labels")):
                owned.append(self._adopt(d, rs))
        return owned

    def _adopt(self, d: dict, rs: dict) -> dict:
        meta = d["metadata"]
        refs = [*(rs["metadata"].get("ownerReferences") or []),
                {"apiVersion": "apps/v1", "kind": "Deployment", "name": meta["name"], "uid": meta["uid"],
                 "controller": True, "blockOwnerDeletion": True}]
        return self.api.patch(REPLICA_SET, rs["metadata"]["namespace"], rs["metadata"]["name"], PatchType.MERGE,
                              {"metadata": {"ownerReferences": refs,
                                            "resourceVersion": rs["metadata"]["resourceVersion"]}}).object

    def _scaling_event(self, d: dict, rss: list[dict]) -> bool:
        """Some active ReplicaSet was sized for another ``replicas`` than the Deployment's (``isScalingEvent``)."""
        wanted = str(plan.replicas_of(d))
        return any((rs["metadata"].get("annotations") or {}).get(plan.Annotation.DESIRED_REPLICAS.value) not in
                   (None, wanted) for rs in rss if plan.replicas_of(rs) > 0)

    # -- strategies ---------------------------------------------------------------------------

    def _rolling(self, d: dict, rss: list[dict]) -> None:
        d, new_rs, old_rss = self._new_and_old(d, rss, create=True)
        surge, unavailable = plan.rolling_params(d)
        replicas = plan.replicas_of(d)
        views = [plan.rs_view(rs) for rs in old_rss]
        new_view = plan.rs_view(new_rs)
        size = rollout.new_rs_replicas(replicas, surge, [*views, new_view], new_view)
        if size != new_view.replicas:
            new_rs = self._scale(d, new_rs, size)
            self._write_status(d, [*old_rss, new_rs], new_rs)
            return
        sizes = rollout.scale_down_old(replicas, surge, unavailable, new_view, views)
        if sizes:
            old_rss = [self._scale(d, rs, sizes[rs["metadata"]["name"]]) if rs["metadata"]["name"] in sizes else rs
                       for rs in old_rss]
            self._write_status(d, [*old_rss, new_rs], new_rs)
            return
        self._finish(d, old_rss, new_rs)

    def _recreate(self, d: dict, rss: list[dict]) -> None:
        d, new_rs, old_rss = self._new_and_old(d, rss, create=False)
        active = [rs for rs in old_rss if plan.replicas_of(rs) > 0]
        if active:
            old_rss = [self._scale(d, rs, 0) if rs in active else rs for rs in old_rss]
            self._write_status(d, [*old_rss, *([new_rs] if new_rs else [])], new_rs)
            return
        if self._old_pods_remain(d, old_rss):
            self._write_status(d, [*old_rss, *([new_rs] if new_rs else [])], new_rs)
            self.queue.add_after((d["metadata"]["namespace"], d["metadata"]["name"]), RECREATE_POLL_SECONDS)
            return
        if new_rs is None:
            d, new_rs, old_rss = self._new_and_old(d, old_rss, create=True)
        if plan.replicas_of(new_rs) != plan.replicas_of(d):
            new_rs = self._scale(d, new_rs, plan.replicas_of(d))
            self._write_status(d, [*old_rss, new_rs], new_rs)
            return
        self._finish(d, old_rss, new_rs)

    def _old_pods_remain(self, d: dict, old_rss: list[dict]) -> bool:
        """Recreate waits for *every* old pod that has not finished, terminating ones included."""
        uids = {rs["metadata"]["uid"] for rs in old_rss}
        return any((ref := controller_ref(pod)) is not None and ref.get("uid") in uids
                   and (pod.get("status") or {}).get("phase") not in _FINISHED
                   for pod in self.api.list(POD, d["metadata"]["namespace"])[0])

    def _sync_sizes(self, d: dict, rss: list[dict]) -> None:
        """Paused or scaled: resize the ReplicaSets without rolling anything out (``sync``)."""
        d, new_rs, old_rss = self._new_and_old(d, rss, create=False)
        replicas = plan.replicas_of(d)
        current = [*old_rss, *([new_rs] if new_rs else [])]
        active = [rs for rs in current if plan.replicas_of(rs) > 0]
        by_name = {rs["metadata"]["name"]: rs for rs in current}
        if len(active) <= 1:
            target = active[0] if active else (new_rs or (plan.by_age(old_rss)[-1] if old_rss else None))
            sizes = {target["metadata"]["name"]: replicas} if target is not None else {}
        elif new_rs is not None and self._saturated(d, new_rs):
            sizes = {rs["metadata"]["name"]: 0 for rs in old_rss if plan.replicas_of(rs) > 0}
        elif plan.is_recreate(d):
            sizes = {}
        else:
            sizes = rollout.proportional_sizes(replicas, plan.rolling_params(d)[0],
                                               [plan.rs_view(rs) for rs in active],
                                               int((d.get("status") or {}).get("replicas") or 0))
        for name, size in sizes.items():
            by_name[name] = self._scale(d, by_name[name], size)
        old_rss = [by_name[rs["metadata"]["name"]] for rs in old_rss]
        new_rs = by_name[new_rs["metadata"]["name"]] if new_rs else None
        if d["spec"].get("paused"):
            self._prune(d, old_rss)
        self._write_status(d, [*old_rss, *([new_rs] if new_rs else [])], new_rs)

    @staticmethod
    def _saturated(d: dict, new_rs: dict) -> bool:
        replicas = plan.replicas_of(d)
        desired = (new_rs["metadata"].get("annotations") or {}).get(plan.Annotation.DESIRED_REPLICAS.value)
        return plan.replicas_of(new_rs) == replicas and desired == str(replicas) and \
            int((new_rs.get("status") or {}).get("availableReplicas") or 0) == replicas

    def _finish(self, d: dict, old_rss: list[dict], new_rs: dict) -> None:
        status = plan.counts(d, [*old_rss, new_rs], new_rs)
        if plan.is_complete(d, status):
            old_rss = self._prune(d, old_rss)
        self._write_status(d, [*old_rss, new_rs], new_rs)

    # -- the new ReplicaSet -------------------------------------------------------------------

    def _new_and_old(self, d: dict, rss: list[dict], *, create: bool) -> tuple[dict, dict | None, list[dict]]:
        """``getAllReplicaSetsAndSyncRevision``: the new ReplicaSet (created if asked), the old ones,
        and the Deployment with its revision annotation brought in line."""
        new_rs = plan.find_new_rs(d, rss)
        old_rss = [rs for rs in rss if rs is not new_rs]
        revision = plan.next_revision(old_rss)
        if new_rs is not None:
            new_rs = self._sync_new(d, new_rs, revision)
            d = self._found(d, new_rs)
        elif create:
            new_rs = self._create_new(d, old_rss, revision)
        if new_rs is not None and plan.revision_of(d) != plan.revision_of(new_rs):
            annotations = {plan.Annotation.REVISION.value: str(plan.revision_of(new_rs))}
            d = self.api.patch(DEPLOYMENT, d["metadata"]["namespace"], d["metadata"]["name"], PatchType.MERGE,
                               {"metadata": {"annotations": annotations}}).object
        return d, new_rs, old_rss

    def _sync_new(self, d: dict, rs: dict, revision: int) -> dict:
        annotations = plan.new_rs_annotations(d, rs["metadata"].get("annotations"), revision)
        min_ready = d["spec"].get("minReadySeconds") or 0
        if annotations == (rs["metadata"].get("annotations") or {}) and \
                (rs["spec"].get("minReadySeconds") or 0) == min_ready:
            return rs
        body = {**rs, "metadata": {**rs["metadata"], "annotations": annotations},
                "spec": {**rs["spec"], "minReadySeconds": min_ready}}
        return self.api.update(REPLICA_SET, rs["metadata"]["namespace"], rs["metadata"]["name"], body).object

    def _found(self, d: dict, rs: dict) -> dict:
        conditions = list((d.get("status") or {}).get("conditions") or [])
        updated = plan.created_condition(d, conditions, rs["metadata"]["name"], True, self._clock())
        return d if updated == conditions else self._write_conditions(d, updated)

    def _create_new(self, d: dict, old_rss: list[dict], revision: int) -> dict:
        replicas = plan.replicas_of(d) if plan.is_recreate(d) else rollout.new_rs_replicas(
            plan.replicas_of(d), plan.rolling_params(d)[0], [plan.rs_view(rs) for rs in old_rss], None)
        body = plan.new_rs_object(d, replicas, revision)
        namespace, name = d["metadata"]["namespace"], body["metadata"]["name"]
        try:
            rs = self.api.create(REPLICA_SET, namespace, body).object
        except errors.ApiError as error:
            if error.reason is not errors.StatusReason.ALREADY_EXISTS:
                raise
            existing = self.api.get(REPLICA_SET, namespace, name)
            if plan.owned_by(existing, d) and plan.without_hash(existing["spec"].get("template")) == \
                    plan.without_hash(d["spec"].get("template")):
                return existing
            # a hash collision: a different template under this name; the next hash will differ
            count = int((d.get("status") or {}).get("collisionCount") or 0) + 1
            self.api.update(DEPLOYMENT, namespace, d["metadata"]["name"],
                            {**d, "status": {**(d.get("status") or {}), "collisionCount": count}},
                            subresource="status")
            raise StepPending(f'replicaset "{name}" already exists with another template; '
                              f"retrying with collisionCount {count}") from None
        if replicas > 0:
            self.events.record(d, EventType.NORMAL, DeploymentReason.SCALING_REPLICA_SET,
                               f"Scaled up replica set {name} from 0 to {replicas}")
        conditions = list((d.get("status") or {}).get("conditions") or [])
        self._write_conditions(d, plan.created_condition(d, conditions, name, False, self._clock()))
        return rs

    def _scale(self, d: dict, rs: dict, size: int) -> dict:
        """Set a ReplicaSet's size and replica annotations; an event says what moved."""
        before = plan.replicas_of(rs)
        annotations = {**(rs["metadata"].get("annotations") or {}), **plan.replica_annotations(d)}
        if before == size and annotations == (rs["metadata"].get("annotations") or {}):
            return rs
        body = {**rs, "metadata": {**rs["metadata"], "annotations": annotations},
                "spec": {**rs["spec"], "replicas": size}}
        scaled = self.api.update(REPLICA_SET, rs["metadata"]["namespace"], rs["metadata"]["name"], body).object
        if before != size:
            direction = "up" if size > before else "down"
            self.events.record(d, EventType.NORMAL, DeploymentReason.SCALING_REPLICA_SET,
                               f"Scaled {direction} replica set {rs['metadata']['name']} from {before} to {size}")
        return scaled

    def _prune(self, d: dict, old_rss: list[dict]) -> list[dict]:
        """Delete old ReplicaSets beyond ``revisionHistoryLimit``; returns the ones kept."""
        pruned = plan.history_to_prune(d, old_rss)
        for rs in pruned:
            try:
                self.api.delete(REPLICA_SET, rs["metadata"]["namespace"], rs["metadata"]["name"])
            except errors.ApiError as error:
                if error.code != 404:
                    raise
        return [rs for rs in old_rss if rs not in pruned]

    # -- status -------------------------------------------------------------------------------

    def _write_conditions(self, d: dict, conditions: list[dict]) -> dict:
        body = {**d, "status": {**(d.get("status") or {}), "conditions": conditions}}
        return self.api.update(DEPLOYMENT, d["metadata"]["namespace"], d["metadata"]["name"], body,
                               subresource="status").object

    def _write_status(self, d: dict, all_rss: list[dict], new_rs: dict | None) -> None:
        namespace, name = d["metadata"]["namespace"], d["metadata"]["name"]
        now = self._clock()
        was_exceeded = _exceeded(d)
        d = write_status(self.api, DEPLOYMENT, d, lambda fresh: plan.compute_status(fresh, all_rss, new_rs, now))
        if d is None:
            return
        if new_rs is not None and plan.auto_rollback(d) and _exceeded(d) and not was_exceeded:
            self._roll_back(d, new_rs, [rs for rs in all_rss if rs is not new_rs])
        deadline = plan.deadline_at(d, (d.get("status") or {}).get("conditions") or [])
        if deadline is not None:
            self.queue.add_after((namespace, name), max(0.0, (deadline - now).total_seconds()))

    def _roll_back(self, d: dict, failed: dict, old_rss: list[dict]) -> None:
        """Put the previous revision's template back, marking the failed ReplicaSet first (so it is
        never chosen as a rollback target itself), as ``rollout undo`` would."""
        target = plan.auto_rollback_target(old_rss)
        if target is None:
            return
        self.api.patch(REPLICA_SET, failed["metadata"]["namespace"], failed["metadata"]["name"], PatchType.MERGE,
                       {"metadata": {"annotations": {plan.Annotation.ROLLED_BACK.value: "true"}}})
        revision = plan.revision_of(target)
        self.api.patch(DEPLOYMENT, d["metadata"]["namespace"], d["metadata"]["name"], PatchType.JSON,
                       [{"op": "replace", "path": "/spec/template", "value": plan.rollback_template(target)},
                        {"op": "add", "path": "/metadata/annotations", "value": plan.rollback_annotations(d, target)}])
        self.events.record(d, EventType.NORMAL, DeploymentReason.DEPLOYMENT_ROLLBACK,
                           f"Progress deadline exceeded: rolled back deployment \"{d['metadata']['name']}\" "
                           f"to revision {revision} (replica set {target['metadata']['name']})")


def _exceeded(d: dict) -> bool:
    return any(c.get("type") == DeploymentConditionType.PROGRESSING.value
               and c.get("reason") == DeploymentConditionReason.PROGRESS_DEADLINE_EXCEEDED.value
               for c in (d.get("status") or {}).get("conditions") or [])
