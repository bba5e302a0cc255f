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

The owner index of every kind's informer cache is the dependency graph (Kubernetes' collector
builds the same graph from its informers): when an object goes, the dependents naming its uid
are found there and each is checked; a new dependent whose owners are already gone is checked
when it appears; the periodic resync checks every dependent none of whose owners is cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Union

from orchestrator.api import errors
from orchestrator.api.options import DeleteOptions, Finalizer, PatchType, PropagationPolicy
from orchestrator.api.registry import KINDS, ResourceKind, kind_for
from orchestrator.client.cache import Index
from orchestrator.client.informer import Change, Informers
from orchestrator.client.protocol import Client, WatchEventType
from orchestrator.controllers.base import Controller

_BY_RESOURCE = {rk.qualified_resource: rk for rk in KINDS}


@dataclass(frozen=True)
class OwnerGone:
    """Look for the dependents of an object that went."""

    uid: str


@dataclass(frozen=True)
class CheckOwners:
    """Look up the owners of one dependent; delete it if none is left."""

    resource: str
    namespace: str
    name: str


@dataclass(frozen=True)
class Finalize:
    """Work an owner's ``orphan`` or ``foregroundDeletion`` finalizer."""

    resource: str
    namespace: str
    name: str


GCKey = Union[OwnerGone, CheckOwners, Finalize]


def owner_uids(obj: dict) -> set[str]:
    return {ref["uid"] for ref in obj.get("metadata", {}).get("ownerReferences") or [] if ref.get("uid")}


class GarbageCollector(Controller[GCKey]):
    name = "garbage-collector"
    resync_seconds = 30.0
    watches = KINDS

    def __init__(self, client: Client, informers: Informers) -> None:
        super().__init__(client, informers)
        self.caches = {rk: informers.cache(rk) for rk in KINDS}

    def keys_for(self, change: Change) -> Iterable[GCKey]:
        meta = change.object.get("metadata", {})
        resource = change.kind.qualified_resource
        if change.type is WatchEventType.DELETED:
            yield OwnerGone(meta["uid"])
        elif meta.get("deletionTimestamp") and {Finalizer.ORPHAN.value, Finalizer.FOREGROUND.value} & set(
                meta.get("finalizers") or []):
            yield Finalize(resource, change.namespace, change.name)
        elif change.type is WatchEventType.ADDED and owner_uids(change.object):
            # A dependent created after its owner vanished must not live on. Only its own owners
            # are looked up: a ReplicaSet making 100 pods must not cost 100 sweeps.
            yield CheckOwners(resource, change.namespace, change.name)

    def resync_keys(self) -> Iterable[GCKey]:
        live = {obj["metadata"]["uid"] for cache in self.caches.values() for obj in cache.all()}
        for rk, cache in self.caches.items():
            for obj in cache.all():
                meta = obj["metadata"]
                if owner_uids(obj) and not owner_uids(obj) & live:
                    yield CheckOwners(rk.qualified_resource, meta.get("namespace", ""), meta["name"])
                if meta.get("deletionTimestamp") and meta.get("finalizers"):
                    yield Finalize(rk.qualified_resource, meta.get("namespace", ""), meta["name"])

    def reconcile(self, key: GCKey) -> None:
        match key:
            case OwnerGone(uid):
                for rk, dependent in self._dependents_of(uid):
                    self._check(rk, dependent["metadata"].get("namespace"), dependent["metadata"]["name"])
            case CheckOwners(resource, namespace, name):
                self._check(_BY_RESOURCE[resource], namespace or None, name)
            case Finalize(resource, namespace, name):
                self._finalize(_BY_RESOURCE[resource], namespace or None, name)

    def _dependents_of(self, uid: str, namespace: str | None = None) -> list[tuple[ResourceKind, dict]]:
        """Every object naming ``uid`` among its owners (the owner index of every kind)."""
        return [(rk, obj) for rk, cache in self.caches.items() for obj in cache.by_index(Index.OWNER, uid, namespace)
                if namespace is None or rk.namespaced]

    def _check(self, rk: ResourceKind, namespace: str | None, name: str) -> None:
        """Delete one dependent if none of its owners exists (same uid) any more."""
        obj = self.caches[rk].get(namespace, name)
        if obj is None:
            return
        refs = obj["metadata"].get("ownerReferences") or []
        if not refs or obj["metadata"].get("deletionTimestamp"):
            return
        if not any(self._owner_alive(ref, namespace) for ref in refs):
            self._delete(rk, obj, PropagationPolicy.BACKGROUND)

    def _owner_alive(self, ref: dict, namespace: str | None) -> bool:
        """Whether the owner a reference names exists with that uid. The cache may not have seen a
        brand-new owner yet, so an owner missing from it is looked up in the API before the
        dependent is condemned (Kubernetes' collector does the same "virtual node" check)."""
        try:
            owner_rk = kind_for(ref.get("apiVersion", ""), ref.get("kind", ""))
        except errors.ApiError:
            return False  # a kind this server does not serve cannot own anything here
        owner_namespace = namespace if owner_rk.namespaced else None
        owner = self.caches[owner_rk].get(owner_namespace, ref.get("name", ""))
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            owner = errors.or_none(lambda: self.client.get(owner_rk, owner_namespace, ref.get("name", "")))
        return owner is not None and owner["metadata"].get("uid") == ref.get("uid")

    def _finalize(self, rk: ResourceKind, namespace: str | None, name: str) -> None:
        owner = self.caches[rk].get(namespace, name)
        if owner is None:
            return
        finalizers = owner["metadata"].get("finalizers") or []
        dependents = self._dependents_of(owner["metadata"]["uid"], owner["metadata"].get("namespace"))
        if Finalizer.ORPHAN.value in finalizers:
            for dep_rk, dependent in dependents:
                refs = [r for r in dependent["metadata"].get("ownerReferences") or []
                        if r.get("uid") != owner["metadata"]["uid"]]
                with errors.ignore_not_found():
                    self.client.patch(dep_rk, dependent["metadata"].get("namespace"), dependent["metadata"]["name"],
                                      PatchType.MERGE, {"metadata": {"ownerReferences": refs or None}})
            self._drop_finalizer(rk, owner, Finalizer.ORPHAN)
        elif Finalizer.FOREGROUND.value in finalizers:
            for dep_rk, dependent in dependents:
                if not dependent["metadata"].get("deletionTimestamp"):
                    self._delete(dep_rk, dependent, PropagationPolicy.FOREGROUND)
            if dependents:
                raise _Waiting(f"{rk.plural}/{name} waits for {len(dependents)} dependents to go")
            self._drop_finalizer(rk, owner, Finalizer.FOREGROUND)

    def _drop_finalizer(self, rk: ResourceKind, obj: dict, finalizer: Finalizer) -> None:
        remaining = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer.value]
        self.client.patch(rk, obj["metadata"].get("namespace"), obj["metadata"]["name"], PatchType.MERGE,
                          {"metadata": {"finalizers": remaining or None,
                                        "resourceVersion": obj["metadata"]["resourceVersion"]}})

    def _delete(self, rk: ResourceKind, obj: dict, policy: PropagationPolicy) -> None:
        with errors.ignore_not_found():
            self.client.delete(rk, obj["metadata"].get("namespace"), obj["metadata"]["name"],
                               DeleteOptions(propagation=policy, precondition_uid=obj["metadata"]["uid"]))


class _Waiting(Exception):
    """Not an error: the key is retried with back-off until the dependents are gone."""
