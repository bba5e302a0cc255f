"""The ReplicaSet controller: keep ``spec.replicas`` pods running for every ReplicaSet.

One work key per ReplicaSet, ``(namespace, name)``. A reconcile is one level-triggered pass,
Kubernetes' ``syncReplicaSet``:

1. read the ReplicaSet and its candidate pods from the informer caches: the pods it controls (by
   the owner index) and the ones its selector matches (by the label index);
2. claim pods (:func:`~orchestrator.controllers.owners.claim`): write the adoptions of
   matching orphans and the releases of pods whose labels stopped matching, each as a patch with
   the pod's resourceVersion as precondition, so a pod that changed meanwhile is looked at again;
3. create or delete pods as :func:`~orchestrator.controllers.replicaset_plan.plan_replicas` says —
   creations in slow-start batches, stopping at the first batch with a refusal; deletions in
   Kubernetes' scale-down order — recording ``SuccessfulCreate``/``SuccessfulDelete`` (or the
   ``FailedCreate``/``FailedDelete`` warnings) on the ReplicaSet;
4. write the status through the status subresource when it changed, with the ``ReplicaFailure``
   condition while step 3 fails; a failed pass is then retried with the queue's back-off.

**Why there is no expectations cache.** The informer cache lags behind the controller's own
writes, so client-go's ReplicaSet controller remembers "I created 3 pods, wait until I see them"
to avoid creating them twice. Here the runner waits, before each pass, until the caches show
every write the controller made (:mod:`orchestrator.client.consistency`); a pass never creates
more than ``replicas - active``, and one key is never worked by two workers at once. So a pass
after a control-plane restart in the middle of a scale-up counts the pods that exist and creates
only the rest: no duplicates, by construction.

Which keys an event concerns: a ReplicaSet's own changes; a pod's controlling ReplicaSet, before
and after the change (so a released or re-owned pod wakes both); and, for an orphan pod, every
ReplicaSet in its namespace whose selector matches it (adoption). When a pod will turn available
at a moment no event marks (``minReadySeconds``), the key is queued again for that moment.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import Enum

from orchestrator.api import errors
from orchestrator.api.core import EventType
from orchestrator.api.options import DeleteOptions, PatchType
from orchestrator.api.registry import kind_for
from orchestrator.api.timestamps import format_rfc3339
from orchestrator.client.cache import Index, object_key
from orchestrator.controllers.base import ObjectKey
from orchestrator.controllers.ownercontroller import OwnerController
from orchestrator.controllers.owners import claim, controller_ref, selector_of, with_controller_ref, without_owner
from orchestrator.controllers.replicaset_plan import (
    Failure, ReplicaFailureReason, ReplicaPlan, compute_status, next_availability, plan_replicas, pod_from_template,
    slow_start_batches,
)
from orchestrator.controllers.status import write_status

log = logging.getLogger("dockyard.replicaset")

POD, REPLICA_SET = kind_for("v1", "Pod"), kind_for("apps/v1", "ReplicaSet")


class ReplicaSetReason(str, Enum):
    SUCCESSFUL_CREATE = "SuccessfulCreate"
    FAILED_CREATE = "FailedCreate"
    SUCCESSFUL_DELETE = "SuccessfulDelete"
    FAILED_DELETE = "FailedDelete"


class ReplicasNotReached(Exception):
    """A pass could not create or delete every pod it meant to; the key is retried with back-off."""


class ReplicaSetController(OwnerController):
    owner, dependent = REPLICA_SET, POD
    name = "replicaset-controller"

    # -- one pass -----------------------------------------------------------------------------

    def reconcile(self, key: ObjectKey) -> None:
        namespace, name = key
        rs = self.read_owner(key)
        if rs is None:
            return  # gone: the garbage collector takes its pods
        claimed = claim(rs, self._candidates(rs))
        owned = self._write_claims(rs, claimed.owned, claimed.adopt, claimed.release)
        now = self._clock()
        plan = plan_replicas(rs, owned, self._related(rs), now)
        failure = self._apply(rs, plan)
        # As in Kubernetes, the status counts the pods this pass started from; the events of the
        # pods it created or deleted bring the next pass, which counts them.
        self._write_status(rs, owned, now, failure)
        if failure is not None:
            raise ReplicasNotReached(f"replicaset {namespace}/{name}: {failure.message}")
        wait = next_availability(rs, owned, now)
        if wait is not None:
            self.queue.add_after(key, wait)

    def _write_claims(self, rs: dict, owned: list[dict], adopt: list[dict], release: list[dict]) -> list[dict]:
        """Write adoptions and releases; returns ``owned`` without the pods that vanished meanwhile."""
        gone = set()
        for pod, refs in [*((p, with_controller_ref(p, rs)) for p in adopt),
                          *((p, without_owner(p, rs)) for p in release)]:
            meta = pod["metadata"]
            # a conflict (the pod moved on) fails the pass; the retried pass looks at it afresh
            patched = errors.or_none(lambda: self.client.patch(
                POD, meta["namespace"], meta["name"], PatchType.MERGE,
                {"metadata": {"ownerReferences": refs or None, "resourceVersion": meta["resourceVersion"]}}))
            if patched is None:
                gone.add(meta["uid"])
        return [p for p in owned if p["metadata"]["uid"] not in gone]

    def _candidates(self, rs: dict) -> list[dict]:
        """The pods a claim looks at: those the ReplicaSet controls (to keep or release) and those
        its selector matches (to keep or adopt)."""
        namespace = rs["metadata"]["namespace"]
        found = {object_key(p): p for p in self.dependents.by_index(Index.OWNER, rs["metadata"]["uid"], namespace)}
        found.update((object_key(p), p) for p in self.dependents.list(namespace, selector_of(rs)))
        return [found[key] for key in sorted(found)]

    def _related(self, rs: dict) -> list[dict]:
        """The pods the scale-down order spreads across nodes together (``getIndirectlyRelatedPods``):
        those matching the selector of this ReplicaSet or of any sharing its controller (a
        Deployment's old and new ReplicaSets)."""
        namespace = rs["metadata"]["namespace"]
        owner = controller_ref(rs)
        family = [rs] if owner is None else [
            r for r in self.owners.by_index(Index.OWNER, owner["uid"], namespace)
            if (ref := controller_ref(r)) is not None and ref.get("uid") == owner["uid"]]
        related = {object_key(p): p for r in family for p in self.dependents.list(namespace, selector_of(r))}
        return [related[key] for key in sorted(related)]

    def _apply(self, rs: dict, plan: ReplicaPlan) -> Failure | None:
        if plan.create:
            return self._create(rs, plan.create)
        failures = [f for pod in plan.delete if (f := self._delete(rs, pod)) is not None]
        return failures[0] if failures else None

    def _create(self, rs: dict, count: int) -> Failure | None:
        namespace = rs["metadata"]["namespace"]
        for batch in slow_start_batches(count):
            failure = None
            for _ in range(batch):
                try:
                    pod = self.client.create(POD, namespace, pod_from_template(rs))
                except errors.ApiError as error:
                    message = f"Error creating: {error.message}"
                    self.events.record(rs, EventType.WARNING, ReplicaSetReason.FAILED_CREATE, message)
                    failure = failure or Failure(ReplicaFailureReason.FAILED_CREATE, message)
                    continue
                self.events.record(rs, EventType.NORMAL, ReplicaSetReason.SUCCESSFUL_CREATE,
                                   f"Created pod: {pod['metadata']['name']}")
            if failure is not None:
                return failure  # the rest of this pass's pods wait for the retry
        return None

    def _delete(self, rs: dict, pod: dict) -> Failure | None:
        meta = pod["metadata"]
        try:
            self.client.delete(POD, meta["namespace"], meta["name"], DeleteOptions(precondition_uid=meta["uid"]))
        except errors.ApiError as error:
            if error.code == 404:
                return None  # already gone, which is what we wanted
            message = f"Error deleting: {error.message}"
            self.events.record(rs, EventType.WARNING, ReplicaSetReason.FAILED_DELETE, message)
            return Failure(ReplicaFailureReason.FAILED_DELETE, message)
        self.events.record(rs, EventType.NORMAL, ReplicaSetReason.SUCCESSFUL_DELETE, f"Deleted pod: {meta['name']}")
        return None

    def _write_status(self, rs: dict, owned: list[dict], now: datetime, failure: Failure | None) -> None:
        write_status(self.client, REPLICA_SET, rs,
                     lambda fresh: compute_status(fresh, owned, now, format_rfc3339(now), failure))

