"""The ReplicaSet controller: keep ``spec.replicas`` pods running for every ReplicaSet.

One work key per ReplicaSet, ``(namespace, name)``. A reconcile is one level-triggered pass,
Kubernetes' ``syncReplicaSet``:

1. read the ReplicaSet and every pod of its namespace from the store;
2. claim pods (:func:`~orchestrator.controllers.replicaset_plan.claim`): write the adoptions of
   matching orphans and the releases of pods whose labels stopped matching, each as a patch with
   the pod's resourceVersion as precondition, so a pod that changed meanwhile is looked at again;
3. create or delete pods as :func:`~orchestrator.controllers.replicaset_plan.plan_replicas` says —
   creations in slow-start batches, stopping at the first batch with a refusal; deletions in
   Kubernetes' scale-down order — recording ``SuccessfulCreate``/``SuccessfulDelete`` (or the
   ``FailedCreate``/``FailedDelete`` warnings) on the ReplicaSet;
4. write the status through the status subresource when it changed, with the ``ReplicaFailure``
   condition while step 3 fails; a failed pass is then retried with the queue's back-off.

**Why there is no expectations cache.** client-go's controllers read from an informer cache that
lags behind their own writes, so they remember "I created 3 pods, wait until I see them" to avoid
creating them twice. This controller reads the store itself, which already holds every pod it
wrote, and never creates more than ``replicas - active`` in one pass, and one key is never worked
by two workers at once. So a pass after a control-plane restart in the middle of a scale-up counts
the pods that exist and creates only the rest: no duplicates, by construction.

Which keys an event concerns: a ReplicaSet's own changes; a pod's controlling ReplicaSet, before
and after the change (so a released or re-owned pod wakes both); and, for an orphan pod, every
ReplicaSet in its namespace whose selector matches it (adoption). When a pod will turn available
at a moment no event marks (``minReadySeconds``), the key is queued again for that moment.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import Enum
from typing import Hashable

from orchestrator.api import errors
from orchestrator.api.core import EventType
from orchestrator.api.registry import kind_for
from orchestrator.api.options import DeleteOptions, PatchType
from orchestrator.controllers.owners import OwnerController
from orchestrator.controllers.replicaset_plan import (
    Failure, ReplicaFailureReason, ReplicaPlan, claim, compute_status, controller_ref,
    next_availability, plan_replicas, pod_from_template, selector_of, slow_start_batches, with_controller_ref,
    without_owner,
)
from orchestrator.controllers.status import write_status
from orchestrator.api.timestamps import format_rfc3339

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

    def reconcile(self, key: Hashable) -> None:
        namespace, name = key
        rs = self.read_owner(key)
        if rs is None:
            return  # gone: the garbage collector takes its pods
        pods = self.api.list(POD, namespace)[0]
        claimed = claim(rs, pods)
        owned = self._write_claims(rs, claimed.owned, claimed.adopt, claimed.release)
        now = self._clock()
        plan = plan_replicas(rs, owned, self._related(rs, pods), now)
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
            try:
                self.api.patch(POD, meta["namespace"], meta["name"], PatchType.MERGE,
                               {"metadata": {"ownerReferences": refs or None,
                                             "resourceVersion": meta["resourceVersion"]}})
            except errors.ApiError as error:
                if error.code != 404:
                    raise  # a conflict: the pod moved on; the retried pass looks at it afresh
                gone.add(meta["uid"])
        return [p for p in owned if p["metadata"]["uid"] not in gone]

    def _related(self, rs: dict, pods: list[dict]) -> list[dict]:
        """The pods the scale-down order spreads across nodes together (``getIndirectlyRelatedPods``):
        those matching the selector of this ReplicaSet or of any sharing its controller (a
        Deployment's old and new ReplicaSets)."""
        owner = controller_ref(rs)
        family = [rs] if owner is None else [
            r for r in self.api.list(REPLICA_SET, rs["metadata"]["namespace"])[0]
            if (ref := controller_ref(r)) and ref.get("uid") == owner.get("uid")]
        selectors = [selector_of(r) for r in family]
        return [p for p in pods if any(s.matches(p["metadata"].get("labels")) for s in selectors)]

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
                    pod = self.api.create(POD, namespace, pod_from_template(rs)).object
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
            self.api.delete(POD, meta["namespace"], meta["name"], DeleteOptions(precondition_uid=meta["uid"]))
        except errors.ApiError as error:
            if error.code == 404:
                return None  # already gone, which is what we wanted
            message = f"Error deleting: {error.message}"
            self.events.record(rs, EventType.WARNING, ReplicaSetReason.FAILED_DELETE, message)
            return Failure(ReplicaFailureReason.FAILED_DELETE, message)
        self.events.record(rs, EventType.NORMAL, ReplicaSetReason.SUCCESSFUL_DELETE, f"Deleted pod: {meta['name']}")
        return None

    def _write_status(self, rs: dict, owned: list[dict], now: datetime, failure: Failure | None) -> None:
        write_status(self.api, REPLICA_SET, rs,
                     lambda fresh: compute_status(fresh, owned, now, format_rfc3339(now), failure))

