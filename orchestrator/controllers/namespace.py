"""The namespace controller: a namespace marked for deletion empties itself, then goes.

Deleting a namespace (``kubectl delete namespace x``) only marks it ``Terminating``; this
controller deletes every object inside it (pods on nodes still terminate gracefully), and removes
the namespace once nothing is left. New objects cannot be created in a terminating namespace
(admission refuses them), so the loop always converges.
"""

from __future__ import annotations

from typing import Iterable

from orchestrator.api import errors
from orchestrator.api.defaults import FINALIZER_KUBERNETES
from orchestrator.api.options import DeleteOptions, PropagationPolicy
from orchestrator.api.registry import KINDS, kind_for
from orchestrator.client.informer import Change, Informers
from orchestrator.client.protocol import Client, WatchEventType
from orchestrator.controllers.base import Controller

NAMESPACE = kind_for("v1", "Namespace")


class NamespaceController(Controller[str]):
    name = "namespace"
    watches = KINDS

    def __init__(self, client: Client, informers: Informers) -> None:
        super().__init__(client, informers)
        self.namespaces = informers.cache(NAMESPACE)
        self.caches = {rk: informers.cache(rk) for rk in KINDS if rk.namespaced}

    def keys_for(self, change: Change) -> Iterable[str]:
        if change.kind == NAMESPACE:
            if change.object["metadata"].get("deletionTimestamp"):
                yield change.name
        elif change.namespace and change.type is WatchEventType.DELETED:
            yield change.namespace  # something inside went: the namespace may now be empty

    def resync_keys(self) -> Iterable[str]:
        for ns in self.namespaces.list():
            if ns["metadata"].get("deletionTimestamp"):
                yield ns["metadata"]["name"]

    def reconcile(self, key: str) -> None:
        namespace = self.namespaces.get(None, key)
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return
        remaining = 0
        for rk, cache in self.caches.items():
            for obj in cache.list(key):
                remaining += 1
                if not obj["metadata"].get("deletionTimestamp"):
                    with errors.ignore_not_found():
                        self.client.delete(rk, key, obj["metadata"]["name"],
                                           DeleteOptions(propagation=PropagationPolicy.BACKGROUND))
        if remaining == 0:
            self._finalize(namespace)

    def _finalize(self, namespace: dict) -> None:
        """Nothing is left: take our finalizer off (``PUT namespaces/{name}/finalize``), upon which
        the API server removes the namespace once no other finalizer holds it."""
        finalizers = [f for f in (namespace.get("spec") or {}).get("finalizers") or [] if f != FINALIZER_KUBERNETES]
        with errors.ignore_not_found():
            self.client.update(NAMESPACE, None, namespace["metadata"]["name"],
                               {**namespace, "spec": {**(namespace.get("spec") or {}), "finalizers": finalizers}},
                               subresource="finalize")
