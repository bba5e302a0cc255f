"""One pass of the Deployment controller, decided in one pure function: :func:`plan_pass`.

Kubernetes' ``syncDeployment`` decides as it writes; here the decision comes first. The planner
takes the Deployment, the ReplicaSets of its namespace, the pods of its ReplicaSets and the time,
and returns the named :data:`Step` values the executor (:mod:`orchestrator.controllers.deployment`)
carries out in order. Everything users argue about is therefore visible in a plan and testable
as a table: *given this Deployment and these ReplicaSets, the pass creates X, scales Y to N,
waits, prunes Z, and writes this status.*

A pass (after ``syncDeployment``, ``rolloutRolling``, ``rolloutRecreate`` and ``sync``):

1. **Claim** the ReplicaSets (:func:`~orchestrator.controllers.owners.claim`): adopt orphans
   the selector matches, release owned ones it no longer matches.
2. A Deployment being deleted gets its status only.
3. Keep the ``Progressing`` condition in step with ``spec.paused``.
4. **Paused, or only ``replicas`` changed** (a *scaling event*: an active ReplicaSet's
   ``desired-replicas`` disagrees) → resize the ReplicaSets proportionally and stop
   (:func:`_sync_sizes`).
5. Otherwise one step of the strategy: **RollingUpdate** creates the new ReplicaSet ``NAME-HASH``
   if needed, grows it within ``maxSurge``, else shrinks old ones within ``maxUnavailable``
   (:mod:`orchestrator.controllers.rollout`); **Recreate** scales every old ReplicaSet to 0,
   waits until their pods are gone, then scales the new one up.
6. Once complete, prune old ReplicaSets beyond ``revisionHistoryLimit``.
7. Write the status (:func:`~orchestrator.controllers.deployment_plan.compute_status`) and look
   again when the progress deadline would run out; with dockyard's auto-rollback opt-in, roll
   back on the pass that first records ``ProgressDeadlineExceeded``.

The planner predicts what each step leaves behind (a created ReplicaSet, a new size, a written
condition) and plans the later steps against that prediction, so one pass is one consistent
decision. Writes to ReplicaSets are merge patches (the controller owns those fields), the
status is one write with the Deployment's resourceVersion: if anything moved meanwhile, the
pass fails with a conflict and the next one plans again from what is there.

Worked example (3 replicas, default 25 %/25 %, ``set image`` to v2; old ReplicaSet 3/3 available):

========================  ====================================================================
pass sees                 plan
========================  ====================================================================
no v2 ReplicaSet          CreateReplicaSet(web-v2hash, 1 replica), WriteStatus
v2 1 (not available)      WriteStatus                       (surge used, nobody may go yet)
v2 1 available            ScaleReplicaSet(web-v1hash → 2), WriteStatus
old reports 2 pods        ScaleReplicaSet(web-v2hash → 2), WriteStatus
…                         …
v2 3/3, old 0             PruneReplicaSet(beyond history limit, if any), WriteStatus
========================  ====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Union

from orchestrator.api.apps import DeploymentConditionReason, DeploymentConditionType
from orchestrator.api.podstatus import is_finished
from orchestrator.controllers import deployment_plan as plan
from orchestrator.controllers import rollout
from orchestrator.controllers.owners import claim, controller_ref, with_controller_ref, without_owner

#: how soon a Recreate rollout looks again while old pods are still terminating
RECREATE_POLL_SECONDS = 1.0


# ── the steps ────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class AdoptReplicaSet:
    """Write the Deployment's controller reference onto an orphan ReplicaSet (if unchanged since read)."""

    replica_set: dict
    owner_references: list[dict]


@dataclass(frozen=True)
class ReleaseReplicaSet:
    """Remove the Deployment's reference from a ReplicaSet its selector no longer matches."""

    replica_set: dict
    owner_references: list[dict]


@dataclass(frozen=True)
class CreateReplicaSet:
    body: dict
    #: the ``ScalingReplicaSet`` event to record, if it starts with pods
    event: str | None


@dataclass(frozen=True)
class SyncReplicaSet:
    """Bring the new ReplicaSet's annotations (revision, change-cause) and minReadySeconds in line."""

    name: str
    annotations: dict[str, str]
    min_ready_seconds: int


@dataclass(frozen=True)
class ScaleReplicaSet:
    """Set a ReplicaSet's size and its replica bookkeeping annotations."""

    name: str
    replicas: int
    annotations: dict[str, str]
    #: the ``ScalingReplicaSet`` event, when the size changes
    event: str | None


@dataclass(frozen=True)
class SetRevision:
    """The Deployment's ``deployment.kubernetes.io/revision`` follows its new ReplicaSet's."""

    revision: int


@dataclass(frozen=True)
class PruneReplicaSet:
    """Delete an old ReplicaSet beyond ``revisionHistoryLimit``."""

    replica_set: dict


@dataclass(frozen=True)
class WriteStatus:
    status: dict


@dataclass(frozen=True)
class RollBack:
    """dockyard's auto-rollback: mark the failed ReplicaSet, put the target's template back."""

    failed: str
    template: dict
    annotations: dict[str, str]
    event: str


@dataclass(frozen=True)
class LookAgain:
    """Nothing marks the moment to act next (old pods finishing, a deadline): requeue the key."""

    after_seconds: float


Step = Union[AdoptReplicaSet, ReleaseReplicaSet, CreateReplicaSet, SyncReplicaSet, ScaleReplicaSet, SetRevision,
             PruneReplicaSet, WriteStatus, RollBack, LookAgain]


# ── the planner ──────────────────────────────────────────────────────────────────────────────


def plan_pass(deployment: dict, replica_sets: list[dict], pods: list[dict], now: datetime) -> list[Step]:
    """The steps of one pass for ``deployment``, given every ReplicaSet of its namespace, the
    pods its ReplicaSets control, and the time."""
    return _Pass(deployment, replica_sets, pods, now).plan()


@dataclass
class _Pass:
    """The state one plan is built from: the Deployment and its ReplicaSets as the steps so far
    will leave them."""

    d: dict
    namespace_rss: list[dict]
    pods: list[dict]
    now: datetime
    steps: list[Step] = field(default_factory=list)

    def plan(self) -> list[Step]:
        rss = self._claim()
        if self.d["metadata"].get("deletionTimestamp"):
            self._status(rss, plan.find_new_rs(self.d, rss))
            return self.steps
        conditions = plan.pause_condition(self.d, self.now)
        if conditions is not None:
            self._set_conditions(conditions)
        if self.d["spec"].get("paused") or _scaling_event(self.d, rss):
            self._sync_sizes(rss)
        elif plan.is_recreate(self.d):
            self._recreate(rss)
        else:
            self._rolling(rss)
        return self.steps

    # -- ownership ---------------------------------------------------------------------------

    def _claim(self) -> list[dict]:
        claimed = claim(self.d, self.namespace_rss, active=lambda rs: True)
        adopted = {}
        for rs in claimed.adopt:
            refs = with_controller_ref(rs, self.d)
            self.steps.append(AdoptReplicaSet(rs, refs))
            adopted[rs["metadata"]["name"]] = {**rs, "metadata": {**rs["metadata"], "ownerReferences": refs}}
        for rs in claimed.release:
            self.steps.append(ReleaseReplicaSet(rs, without_owner(rs, self.d)))
        return [adopted.get(rs["metadata"]["name"], rs) for rs in claimed.owned]

    # -- strategies --------------------------------------------------------------------------

    def _rolling(self, rss: list[dict]) -> None:
        found = self._new_and_old(rss, create=True)
        if found is None:
            return
        new_rs, old_rss = found
        assert new_rs is not None  # asked to create it
        surge, unavailable = plan.rolling_params(self.d)
        replicas = plan.replicas_of(self.d)
        views = [plan.rs_view(rs) for rs in old_rss]
        new_view = plan.rs_view(new_rs)
        size = rollout.new_rs_replicas(replicas, surge, [*views, new_view], new_view)
        if size != new_view.replicas:
            new_rs = self._scale(new_rs, size)
            self._status([*old_rss, new_rs], new_rs)
            return
        sizes = rollout.scale_down_old(replicas, surge, unavailable, new_view, views)
        if sizes:
            old_rss = [self._scale(rs, sizes[rs["metadata"]["name"]]) if rs["metadata"]["name"] in sizes else rs
                       for rs in old_rss]
            self._status([*old_rss, new_rs], new_rs)
            return
        self._finish(old_rss, new_rs)

    def _recreate(self, rss: list[dict]) -> None:
        found = self._new_and_old(rss, create=False)
        assert found is not None  # only a creation can collide
        new_rs, old_rss = found
        current = [*old_rss, *([new_rs] if new_rs else [])]
        active = [rs for rs in old_rss if plan.replicas_of(rs) > 0]
        if active:
            old_rss = [self._scale(rs, 0) if rs in active else rs for rs in old_rss]
            self._status([*old_rss, *([new_rs] if new_rs else [])], new_rs)
            return
        if self._old_pods_remain(old_rss):
            self._status(current, new_rs)
            self.steps.append(LookAgain(RECREATE_POLL_SECONDS))
            return
        if new_rs is None:
            created = self._new_and_old(old_rss, create=True)
            if created is None:
                return
            new_rs, old_rss = created
            assert new_rs is not None  # asked to create it
        if plan.replicas_of(new_rs) != plan.replicas_of(self.d):
            new_rs = self._scale(new_rs, plan.replicas_of(self.d))
            self._status([*old_rss, new_rs], new_rs)
            return
        self._finish(old_rss, new_rs)

    def _old_pods_remain(self, old_rss: list[dict]) -> bool:
        """Recreate waits for *every* old pod that has not finished, terminating ones included."""
        uids = {rs["metadata"]["uid"] for rs in old_rss}
        return any((ref := controller_ref(pod)) is not None and ref.get("uid") in uids and not is_finished(pod)
                   for pod in self.pods)

    def _sync_sizes(self, rss: list[dict]) -> None:
        """Paused or scaled: resize the ReplicaSets without rolling anything out (``sync``)."""
        found = self._new_and_old(rss, create=False)
        assert found is not None  # only a creation can collide
        new_rs, old_rss = found
        replicas = plan.replicas_of(self.d)
        current = [*old_rss, *([new_rs] if new_rs else [])]
        active = [rs for rs in current if plan.replicas_of(rs) > 0]
        if len(active) <= 1:
            target = active[0] if active else (new_rs or (plan.by_age(old_rss)[-1] if old_rss else None))
            sizes = {target["metadata"]["name"]: replicas} if target is not None else {}
        elif new_rs is not None and _saturated(self.d, new_rs):
            sizes = {rs["metadata"]["name"]: 0 for rs in old_rss if plan.replicas_of(rs) > 0}
        elif plan.is_recreate(self.d):
            sizes = {}
        else:
            sizes = rollout.proportional_sizes(replicas, plan.rolling_params(self.d)[0],
                                               [plan.rs_view(rs) for rs in active],
                                               int((self.d.get("status") or {}).get("replicas") or 0))
        resized = {rs["metadata"]["name"]: self._scale(rs, sizes[rs["metadata"]["name"]])
                   for rs in current if rs["metadata"]["name"] in sizes}
        old_rss = [resized.get(rs["metadata"]["name"], rs) for rs in old_rss]
        new_rs = resized.get(new_rs["metadata"]["name"], new_rs) if new_rs else None
        if self.d["spec"].get("paused"):
            old_rss = self._prune(old_rss)
        self._status([*old_rss, *([new_rs] if new_rs else [])], new_rs)

    def _finish(self, old_rss: list[dict], new_rs: dict) -> None:
        if plan.is_complete(self.d, plan.counts(self.d, [*old_rss, new_rs], new_rs)):
            old_rss = self._prune(old_rss)
        self._status([*old_rss, new_rs], new_rs)

    # -- the new ReplicaSet ------------------------------------------------------------------

    def _new_and_old(self, rss: list[dict], *, create: bool) -> tuple[dict | None, list[dict]] | None:
        """``getAllReplicaSetsAndSyncRevision``: the new ReplicaSet (created if asked) and the old
        ones; None when the creation collided with another template and the pass ends there."""
        new_rs = plan.find_new_rs(self.d, rss)
        old_rss = [rs for rs in rss if rs is not new_rs]
        revision = plan.next_revision(old_rss)
        if new_rs is not None:
            new_rs = self._sync_new(new_rs, revision)
            self._set_conditions(plan.created_condition(self.d, self._conditions(), new_rs["metadata"]["name"],
                                                        True, self.now))
        elif create:
            new_rs = self._create_new(old_rss, revision)
            if new_rs is None:
                return None
        if new_rs is not None and plan.revision_of(self.d) != plan.revision_of(new_rs):
            self.steps.append(SetRevision(plan.revision_of(new_rs)))
            self.d = _with_annotations(self.d, {plan.Annotation.REVISION.value: str(plan.revision_of(new_rs))})
        return new_rs, old_rss

    def _sync_new(self, rs: dict, revision: int) -> dict:
        annotations = plan.new_rs_annotations(self.d, rs["metadata"].get("annotations"), revision)
        min_ready = self.d["spec"].get("minReadySeconds") or 0
        if annotations == (rs["metadata"].get("annotations") or {}) and (rs["spec"].get("minReadySeconds") or 0) == min_ready:
            return rs
        self.steps.append(SyncReplicaSet(rs["metadata"]["name"], annotations, min_ready))
        return {**_with_annotations(rs, annotations), "spec": {**rs["spec"], "minReadySeconds": min_ready}}

    def _create_new(self, old_rss: list[dict], revision: int) -> dict | None:
        replicas = plan.replicas_of(self.d) if plan.is_recreate(self.d) else rollout.new_rs_replicas(
            plan.replicas_of(self.d), plan.rolling_params(self.d)[0], [plan.rs_view(rs) for rs in old_rss], None)
        body = plan.new_rs_object(self.d, replicas, revision)
        name = body["metadata"]["name"]
        if any(rs["metadata"]["name"] == name for rs in self.namespace_rss):
            # A hash collision: another template under this name. Counting the collision gives
            # the next pass (woken by this status write) a different hash.
            count = int((self.d.get("status") or {}).get("collisionCount") or 0) + 1
            self.steps.append(WriteStatus({**(self.d.get("status") or {}), "collisionCount": count}))
            return None
        event = f"Scaled up replica set {name} from 0 to {replicas}" if replicas > 0 else None
        self.steps.append(CreateReplicaSet(body, event))
        self._set_conditions(plan.created_condition(self.d, self._conditions(), name, False, self.now))
        return body

    def _scale(self, rs: dict, size: int) -> dict:
        """Set a ReplicaSet's size and replica annotations; the event says what moved."""
        before = plan.replicas_of(rs)
        annotations = {**(rs["metadata"].get("annotations") or {}), **plan.replica_annotations(self.d)}
        if before == size and annotations == (rs["metadata"].get("annotations") or {}):
            return rs
        name = rs["metadata"]["name"]
        event = None
        if before != size:
            event = f"Scaled {'up' if size > before else 'down'} replica set {name} from {before} to {size}"
        self.steps.append(ScaleReplicaSet(name, size, annotations, event))
        return {**_with_annotations(rs, annotations), "spec": {**rs["spec"], "replicas": size}}

    def _prune(self, old_rss: list[dict]) -> list[dict]:
        """Delete old ReplicaSets beyond ``revisionHistoryLimit``; returns the ones kept."""
        pruned = plan.history_to_prune(self.d, old_rss)
        self.steps.extend(PruneReplicaSet(rs) for rs in pruned)
        return [rs for rs in old_rss if rs not in pruned]

    # -- status ------------------------------------------------------------------------------

    def _conditions(self) -> list[dict]:
        return list((self.d.get("status") or {}).get("conditions") or [])

    def _set_conditions(self, conditions: list[dict]) -> None:
        self.d = {**self.d, "status": {**(self.d.get("status") or {}), "conditions": conditions}}

    def _status(self, all_rss: list[dict], new_rs: dict | None) -> None:
        was_exceeded = _exceeded(self.d)
        status = plan.compute_status(self.d, all_rss, new_rs, self.now)
        self.steps.append(WriteStatus(status))
        self.d = {**self.d, "status": status}
        if new_rs is not None and plan.auto_rollback(self.d) and _exceeded(self.d) and not was_exceeded:
            self._roll_back(new_rs, [rs for rs in all_rss if rs is not new_rs])
        deadline = plan.deadline_at(self.d, status.get("conditions") or [])
        if deadline is not None:
            self.steps.append(LookAgain(max(0.0, (deadline - self.now).total_seconds())))

    def _roll_back(self, failed: dict, old_rss: list[dict]) -> None:
        """Put the previous revision's template back, marking the failed ReplicaSet first (so it is
        never chosen as a rollback target itself), as ``rollout undo`` would."""
        target = plan.auto_rollback_target(old_rss)
        if target is None:
            return
        self.steps.append(RollBack(
            failed["metadata"]["name"], plan.rollback_template(target), plan.rollback_annotations(self.d, target),
            f"Progress deadline exceeded: rolled back deployment \"{self.d['metadata']['name']}\" "
            f"to revision {plan.revision_of(target)} (replica set {target['metadata']['name']})"))


def _scaling_event(d: dict, rss: list[dict]) -> bool:
    """Some active ReplicaSet was sized for another ``replicas`` than the Deployment's (``isScalingEvent``)."""
    wanted = str(plan.replicas_of(d))
    return any((rs["metadata"].get("annotations") or {}).get(plan.Annotation.DESIRED_REPLICAS.value) not in
               (None, wanted) for rs in rss if plan.replicas_of(rs) > 0)


def _saturated(d: dict, new_rs: dict) -> bool:
    replicas = plan.replicas_of(d)
    desired = (new_rs["metadata"].get("annotations") or {}).get(plan.Annotation.DESIRED_REPLICAS.value)
    return plan.replicas_of(new_rs) == replicas and desired == str(replicas) and \
        int((new_rs.get("status") or {}).get("availableReplicas") or 0) == replicas


def _exceeded(d: dict) -> bool:
    return any(c.get("type") == DeploymentConditionType.PROGRESSING.value
               and c.get("reason") == DeploymentConditionReason.PROGRESS_DEADLINE_EXCEEDED.value
               for c in (d.get("status") or {}).get("conditions") or [])


def _with_annotations(obj: dict, annotations: dict[str, str]) -> dict:
    return {**obj, "metadata": {**obj["metadata"],
                                "annotations": {**(obj["metadata"].get("annotations") or {}), **annotations}}}
