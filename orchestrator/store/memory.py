"""An in-memory store with the same contract as :mod:`orchestrator.store.sqlite`, for fast unit
tests of controllers and the API layer. ``tests/unit/test_store.py`` runs one contract suite
against both, so the fake cannot drift from the real thing."""

from __future__ import annotations

import builtins
import copy
import threading
from collections import deque

from orchestrator.store.base import (
    EventType,
    Key,
    KeyExists,
    KeyNotFound,
    ListResult,
    RevisionCompacted,
    RevisionConflict,
    StoredEvent,
    Subscribers,
    stamp,
    stored_revision,
)


class MemoryStore:
    def __init__(self, *, history: int = 10_000) -> None:
        self._lock = threading.RLock()
        self._objects: dict[Key, dict] = {}
        self._log: deque[StoredEvent] = deque(maxlen=history)
        self._revision = 0
        self._subscribers = Subscribers()

    def get(self, key: Key) -> dict:
        with self._lock:
            if key not in self._objects:
                raise KeyNotFound(key)
            return copy.deepcopy(self._objects[key])

    def list(self, resource: str, namespace: str | None = None, *, limit: int | None = None,
             after: tuple[str, str] | None = None) -> ListResult:
        with self._lock:
            keys = sorted(
                key for key in self._objects
                if key.resource == resource
                and (namespace is None or key.namespace == namespace)
                and (after is None or (key.namespace, key.name) > after)
            )
            next_after = None
            if limit and len(keys) > limit:
                keys = keys[:limit]
                next_after = (keys[-1].namespace, keys[-1].name)
            items = [copy.deepcopy(self._objects[key]) for key in keys]
            return ListResult(items, self._revision, next_after)

    def revision(self) -> int:
        return self._revision

    def events_since(self, revision: int) -> builtins.list[StoredEvent]:  # ``list`` is the method
        with self._lock:
            oldest = self._log[0].revision - 1 if self._log else self._revision
            if revision < oldest:
                raise RevisionCompacted(revision, oldest)
            return [event for event in self._log if event.revision > revision]

    def create(self, key: Key, obj: dict) -> dict:
        with self._lock:
            if key in self._objects:
                raise KeyExists(key)
            return self._write(key, obj, EventType.ADDED)

    def update(self, key: Key, obj: dict, *, expected_revision: int | None = None) -> dict:
        with self._lock:
            self._check(key, expected_revision)
            return self._write(key, obj, EventType.MODIFIED)

    def delete(self, key: Key, *, expected_revision: int | None = None) -> dict:
        with self._lock:
            self._check(key, expected_revision)
            return self._write(key, self._objects[key], EventType.DELETED)

    def _check(self, key: Key, expected_revision: int | None) -> None:
        if key not in self._objects:
            raise KeyNotFound(key)
        if expected_revision is not None and expected_revision != stored_revision(self._objects[key]):
            raise RevisionConflict(key)

    def _write(self, key: Key, obj: dict, event_type: EventType) -> dict:
        previous = self._objects.get(key)
        self._revision += 1
        stamped = stamp(copy.deepcopy(obj), self._revision)
        if event_type is EventType.DELETED:
            del self._objects[key]
        else:
            self._objects[key] = stamped
        event = StoredEvent(event_type, key, stamped, self._revision, previous)
        self._log.append(event)
        self._subscribers.publish(event)
        return copy.deepcopy(stamped)

    def subscribe(self, callback):
        return self._subscribers.add(callback)

    def close(self) -> None:
        pass
