"""The shape the ReplicaSet and Deployment controllers share: a controller of ``owner`` objects
that makes ``dependent`` ones (ReplicaSet → pods, Deployment → ReplicaSets).

Its keys are its own objects and the owners its dependents' changes concern
(:func:`~orchestrator.controllers.owners.owner_keys`); it reads both kinds from the informer
caches, records Events under the controller's name and reads the time from an injectable clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterable

from orchestrator.api.registry import ResourceKind
from orchestrator.api.timestamps import utc_now
from orchestrator.client.informer import Change, Informers
from orchestrator.client.protocol import Client, WatchEventType
from orchestrator.controllers.base import Controller, ObjectKey
from orchestrator.controllers.events import EventRecorder
from orchestrator.controllers.owners import owner_keys


class OwnerController(Controller[ObjectKey]):
    owner: ResourceKind
    dependent: ResourceKind
    workers = 2
    resync_seconds = 30.0

    def __init__(self, client: Client, informers: Informers, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.watches = (self.owner, self.dependent)
        super().__init__(client, informers)
        self.owners = informers.cache(self.owner)
        self.dependents = informers.cache(self.dependent)
        self.events = EventRecorder(self.client, self.name)
        self._clock = clock

    def keys_for(self, change: Change) -> Iterable[ObjectKey]:
        if change.kind == self.owner:
            if change.type is not WatchEventType.DELETED:
                yield (change.namespace, change.name)
        elif change.kind == self.dependent:
            yield from owner_keys(self.owner.kind, change.object, change.previous,
                                  change.type is WatchEventType.DELETED, self.owners.list(change.namespace))

    def resync_keys(self) -> Iterable[ObjectKey]:
        for obj in self.owners.list():
            yield (obj["metadata"]["namespace"], obj["metadata"]["name"])

    def read_owner(self, key: ObjectKey) -> dict | None:
        """The owner a key names, or None once it is gone."""
        return self.owners.get(*key)
