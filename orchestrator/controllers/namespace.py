"""The namespace controller: a namespace marked for deletion empties itself, then goes.

Deleting a namespace (``kubectl delete namespace x``) only marks it ``Terminating``; this
controller deletes every object inside it (pods on nodes still terminate gracefully), and removes
the namespace once nothing is left. New objects cannot be created in a terminating namespace
(admission refuses them), so the loop always converges.
"""

from __future__ import annotations

from typing import Hashable, Iterable

from orchestrator.api import errors
from orchestrator.api.registry import KINDS, kind_for
from orchestrator.api.options import DeleteOptions, PropagationPolicy
from orchestrator.controllers.base import Controller
from orchestrator.store import StoredEvent

NAMESPACE = kind_for("v1", "Namespace")


class NamespaceController(Controller):
    name = "namespace"

    def keys_for(self, event: StoredEvent) -> Iterable[Hashable]:
        if event.key.resource == NAMESPACE.qualified_resource and event.object["metadata"].get("deletionTimestamp"):
            yield event.key.name
        elif event.key.namespace and event.type.value == "DELETED":
            yield event.key.namespace  # something inside went: the namespace may now be empty

    def resync_keys(self) -> Iterable[Hashable]:
        for ns in self.api.list(NAMESPACE, None)[0]:
            if ns["metadata"].get("deletionTimestamp"):
                yield ns["metadata"]["name"]

    def reconcile(self, key: Hashable) -> None:
        try:
            namespace = self.api.get(NAMESPACE, None, key)
        except errors.ApiError:
            return
        if not namespace["metadata"].get("deletionTimestamp"):
            return
        remaining = 0
        for rk in KINDS:
            if not rk.namespaced:
                continue
            for obj in self.api.list(rk, key)[0]:
                remaining += 1
                if not obj["metadata"].get("deletionTimestamp"):
                    try:
                        self.api.delete(rk, key, obj["metadata"]["name"],
                                        DeleteOptions(propagation=PropagationPolicy.BACKGROUND))
                    except errors.ApiError as error:
                        if error.code != 404:
                            raise
        if remaining == 0:
            self.api.finish_deletion(NAMESPACE, None, key)
