"""Which owners an event about a dependent concerns: a pod for the ReplicaSets, a ReplicaSet for
the Deployments (client-go's ``resolveControllerRef`` plus ``getPodReplicaSets`` /
``getDeploymentsForReplicaSet``).

A dependent names its controller in an ownerReference with ``controller: true``. A change to it
concerns the controller named before the change and the one named after it — a release moves
a dependent from one to none, and the old owner must notice. A live orphan also concerns every
owner of the kind whose selector matches its labels, since one of them may adopt it; a dependent
that is gone, being deleted or finished is never adopted.

:class:`OwnerController` is the shape the ReplicaSet and Deployment controllers share: their
keys are their own objects and the owners their dependents' events concern; each pass starts by
reading its owner (gone: nothing to do, the garbage collector takes the dependents), records
Events under the controller's name and reads the time from an injectable clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Hashable, Iterable, Iterator

from orchestrator.api import errors
from orchestrator.api.registry import ResourceKind
from orchestrator.api.timestamps import utc_now
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.controllers.base import Controller
from orchestrator.controllers.events import EventRecorder
from orchestrator.controllers.replicaset_plan import controller_ref, is_active, selector_of
from orchestrator.store import EventType, StoredEvent


def owner_keys(api: ObjectAPI, event: StoredEvent, owner: ResourceKind) -> Iterator[tuple[str, str]]:
    """The (namespace, name) keys of the ``owner`` objects that ``event`` concerns."""
    namespace = event.key.namespace
    named = {ref["name"] for obj in (event.object, event.previous) if obj is not None
             if (ref := controller_ref(obj)) and ref.get("kind") == owner.kind}
    for name in sorted(named):
        yield (namespace, name)
    if event.type is EventType.DELETED or controller_ref(event.object) is not None or not is_active(event.object):
        return
    labels = event.object["metadata"].get("labels")
    for candidate in api.list(owner, namespace)[0]:
        name = candidate["metadata"]["name"]
        if name not in named and selector_of(candidate).matches(labels):
            yield (namespace, name)


class OwnerController(Controller):
    """A controller of ``owner`` objects that makes ``dependent`` ones (ReplicaSet → pods,
    Deployment → ReplicaSets)."""

    owner: ResourceKind
    dependent: ResourceKind
    workers = 2
    resync_seconds = 30.0

    def __init__(self, api: ObjectAPI, *, clock: Callable[[], datetime] = utc_now) -> None:
        super().__init__(api)
        self.events = EventRecorder(api, self.name)
        self._clock = clock

    def keys_for(self, event: StoredEvent) -> Iterable[Hashable]:
        if event.key.resource == self.owner.qualified_resource:
            if event.type is not EventType.DELETED:
                yield (event.key.namespace, event.key.name)
        elif event.key.resource == self.dependent.qualified_resource:
            yield from owner_keys(self.api, event, self.owner)

    def resync_keys(self) -> Iterable[Hashable]:
        for obj in self.api.list(self.owner, None)[0]:
            yield (obj["metadata"]["namespace"], obj["metadata"]["name"])

    def read_owner(self, key: Hashable) -> dict | None:
        """The owner a key names, or None once it is gone."""
        namespace, name = key
        try:
            return self.api.get(self.owner, namespace, name)
        except errors.ApiError as error:
            if error.code == 404:
                return None
            raise
