"""The garbage collector: ownerReferences turned into cascading deletion.

Kubernetes semantics, reproduced level-triggered:

* **Background** (kubectl's default): the owner goes at once; its dependents then have no live
  owner and are deleted here, which cascades further down (Deployment → ReplicaSets → Pods).
* **Foreground**: the owner stays, marked for deletion with the ``foregroundDeletion``
  finalizer, until every dependent is gone; then the finalizer is removed and the owner goes.
* **Orphan**: the ``orphan`` finalizer makes us strip the owner's reference from each dependent,
  which then lives on; then the finalizer is removed and the owner goes.

A dependent is deleted only when *none* of its owners exists any more (an object may have
several), and always by uid, so an owner re-created under the same name does not adopt it.
"""

from __future__ import annotations

from typing import Hashable, Iterable

from orchestrator.api import errors
from orchestrator.api.registry import KINDS, ResourceKind, kind_for
from orchestrator.api.options import DeleteOptions, Finalizer, PatchType, PropagationPolicy
from orchestrator.controllers.base import Controller
from orchestrator.store import EventType, StoredEvent

_BY_RESOURCE = {rk.qualified_resource: rk for rk in KINDS}
#: work keys: ("owner-gone", namespace) sweeps a namespace for orphaned dependents;
#: ("check", resource, namespace, name) looks up the owners of one new dependent;
#: ("finalize", resource, namespace, name) works an owner's orphan/foreground finalizer
_SWEEP, _CHECK, _FINALIZE = "owner-gone", "check", "finalize"


def owner_uids(obj: dict) -> set[str]:
    return {ref["uid"] for ref in obj.get("metadata", {}).get("ownerReferences") or [] if ref.get("uid")}


class GarbageCollector(Controller):
    name = "garbage-collector"
    resync_seconds = 30.0

    def keys_for(self, event: StoredEvent) -> Iterable[Hashable]:
        meta = event.object.get("metadata", {})
        if event.type is EventType.DELETED:
            # Dependents live in the owner's namespace, or anywhere for a cluster-scoped owner.
            yield (_SWEEP, event.key.namespace or None)
        elif meta.get("deletionTimestamp") and {Finalizer.ORPHAN.value, Finalizer.FOREGROUND.value} & set(
                meta.get("finalizers") or []):
            yield (_FINALIZE, event.key.resource, event.key.namespace, event.key.name)
        elif event.type is EventType.ADDED and owner_uids(event.object):
            # A dependent created after its owner vanished must not live on. Only its own owners
            # are looked up: a ReplicaSet making 100 pods must not cost 100 namespace sweeps.
            yield (_CHECK, event.key.resource, event.key.namespace, event.key.name)

    def resync_keys(self) -> Iterable[Hashable]:
        yield (_SWEEP, None)
        for rk, obj in self._all(None):
            meta = obj["metadata"]
            if meta.get("deletionTimestamp") and meta.get("finalizers"):
                yield (_FINALIZE, rk.qualified_resource, meta.get("namespace", ""), meta["name"])

    def reconcile(self, key: Hashable) -> None:
        if key[0] == _SWEEP:
            self._sweep(key[1])
        elif key[0] == _CHECK:
            self._check(_BY_RESOURCE[key[1]], key[2] or None, key[3])
        else:
            self._finalize(_BY_RESOURCE[key[1]], key[2] or None, key[3])

    def _all(self, namespace: str | None) -> Iterable[tuple[ResourceKind, dict]]:
        for rk in KINDS:
            if namespace is not None and not rk.namespaced:
                continue
            for obj in self.api.list(rk, namespace)[0]:
                yield rk, obj

    def _sweep(self, namespace: str | None) -> None:
        """Delete every dependent in scope whose owners are all gone."""
        objects = list(self._all(namespace))
        live = {obj["metadata"]["uid"] for _, obj in objects}
        if namespace is not None:
            live |= {obj["metadata"]["uid"] for rk in KINDS if not rk.namespaced for obj in self.api.list(rk, None)[0]}
        for rk, obj in objects:
            owners = owner_uids(obj)
            if owners and not owners & live and not obj["metadata"].get("deletionTimestamp"):
                self._delete(rk, obj, PropagationPolicy.BACKGROUND)

    def _check(self, rk: ResourceKind, namespace: str | None, name: str) -> None:
        """Delete one dependent if none of its owners exists (same uid) any more."""
        try:
            obj = self.api.get(rk, namespace, name)
        except errors.ApiError:
            return
        refs = obj["metadata"].get("ownerReferences") or []
        if not refs or obj["metadata"].get("deletionTimestamp"):
            return
        if not any(self._owner_alive(ref, namespace) for ref in refs):
            self._delete(rk, obj, PropagationPolicy.BACKGROUND)

    def _owner_alive(self, ref: dict, namespace: str | None) -> bool:
        try:
            owner_rk = kind_for(ref.get("apiVersion", ""), ref.get("kind", ""))
        except errors.ApiError:
            return False  # a kind this server does not serve cannot own anything here
        try:
            owner = self.api.get(owner_rk, namespace if owner_rk.namespaced else None, ref.get("name", ""))
        except errors.ApiError:
            return False
        return owner["metadata"].get("uid") == ref.get("uid")

    def _dependents(self, owner: dict) -> list[tuple[ResourceKind, dict]]:
        uid = owner["metadata"]["uid"]
        return [(rk, obj) for rk, obj in self._all(owner["metadata"].get("namespace")) if uid in owner_uids(obj)]

    def _finalize(self, rk: ResourceKind, namespace: str | None, name: str) -> None:
        try:
            owner = self.api.get(rk, namespace, name)
        except errors.ApiError:
            return
        finalizers = owner["metadata"].get("finalizers") or []
        if Finalizer.ORPHAN.value in finalizers:
            for dep_rk, dependent in self._dependents(owner):
                refs = [r for r in dependent["metadata"].get("ownerReferences") or []
                        if r.get("uid") != owner["metadata"]["uid"]]
                self.api.patch(dep_rk, dependent["metadata"].get("namespace"), dependent["metadata"]["name"],
                               PatchType.MERGE, {"metadata": {"ownerReferences": refs or None}})
            self._drop_finalizer(rk, owner, Finalizer.ORPHAN)
        elif Finalizer.FOREGROUND.value in finalizers:
            dependents = self._dependents(owner)
            for dep_rk, dependent in dependents:
                if not dependent["metadata"].get("deletionTimestamp"):
                    self._delete(dep_rk, dependent, PropagationPolicy.FOREGROUND)
            if dependents:
                raise _Waiting(f"{rk.plural}/{name} waits for {len(dependents)} dependents to go")
            self._drop_finalizer(rk, owner, Finalizer.FOREGROUND)

    def _drop_finalizer(self, rk: ResourceKind, obj: dict, finalizer: Finalizer) -> None:
        remaining = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer.value]
        self.api.patch(rk, obj["metadata"].get("namespace"), obj["metadata"]["name"], PatchType.MERGE,
                       {"metadata": {"finalizers": remaining or None,
                                     "resourceVersion": obj["metadata"]["resourceVersion"]}})

    def _delete(self, rk: ResourceKind, obj: dict, policy: PropagationPolicy) -> None:
        try:
            self.api.delete(rk, obj["metadata"].get("namespace"), obj["metadata"]["name"],
                            DeleteOptions(propagation=policy, precondition_uid=obj["metadata"]["uid"]))
        except errors.ApiError as error:
            if error.code != 404:
                raise


class _Waiting(Exception):
    """Not an error: the key is retried with back-off until the dependents are gone."""
