"""The storage protocol: a versioned key/value log of JSON objects, in the manner of etcd and kine.

The store knows nothing about Kubernetes semantics beyond one field: it stamps every object it
writes with ``metadata.resourceVersion``, the cluster-wide revision of that write. Revisions only
grow; each write is one revision. Everything else (uids, generations, timestamps, defaulting,
validation) is the API server's business, one layer up.

Three guarantees the rest of the system builds on:

* **Compare-and-swap.** ``update`` and ``delete`` take the revision the caller read; if the object
  moved on since, they raise :class:`RevisionConflict` and change nothing. This is what gives the
  API its optimistic concurrency (409 Conflict) and lets controllers never clobber each other.
* **An ordered event log.** Every write is also an event (ADDED / MODIFIED / DELETED) at its
  revision. ``events_since(rev)`` replays the log after ``rev``; when ``rev`` is older than what the
  store still keeps it raises :class:`RevisionCompacted` (the API's 410 Gone), and the client must
  list again, exactly like an etcd watch.
* **Live notification.** ``subscribe`` registers a callback that every committed write calls, in
  revision order, from the writer's thread. Callbacks must be quick (put into a queue).
"""

from __future__ import annotations

import builtins
import threading
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Iterator, Protocol


@dataclass(frozen=True, order=True)
class Key:
    """Where an object lives: its qualified resource (``pods``, ``deployments.apps``), namespace
    (``""`` for cluster-scoped kinds) and name."""

    resource: str
    namespace: str
    name: str

    def __str__(self) -> str:
        scope = f"{self.namespace}/" if self.namespace else ""
        return f"{self.resource}/{scope}{self.name}"


class EventType(str, Enum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True)
class StoredEvent:
    type: EventType
    key: Key
    object: dict
    revision: int
    #: the object as it was before this write (MODIFIED/DELETED), when the store still knows it;
    #: watchers with a selector need it to tell "left the selection" from "never matched"
    previous: dict | None = None


@dataclass(frozen=True)
class ListResult:
    items: list[dict]
    revision: int
    #: name of the last item returned when ``limit`` cut the list, to continue after it
    next_after: tuple[str, str] | None = None


class StoreError(Exception):
    """Base of the store's own errors; the API server translates them into API errors."""

    def __init__(self, key: Key | None = None, message: str = "") -> None:
        super().__init__(message or str(key))
        self.key = key


class KeyExists(StoreError):
    pass


class KeyNotFound(StoreError):
    pass


class RevisionConflict(StoreError):
    pass


class RevisionCompacted(StoreError):
    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(None, f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


Subscriber = Callable[[StoredEvent], None]


class Store(Protocol):
    def create(self, key: Key, obj: dict) -> dict: ...
    def get(self, key: Key) -> dict: ...
    def list(self, resource: str, namespace: str | None = None, *, limit: int | None = None,
             after: tuple[str, str] | None = None) -> ListResult: ...
    def update(self, key: Key, obj: dict, *, expected_revision: int | None = None) -> dict: ...
    def delete(self, key: Key, *, expected_revision: int | None = None) -> dict: ...
    def revision(self) -> int: ...
    # builtins.list: inside the class, plain ``list`` names the method above
    def events_since(self, revision: int) -> builtins.list[StoredEvent]: ...
    def subscribe(self, callback: Subscriber) -> Callable[[], None]: ...
    def close(self) -> None: ...


def stamp(obj: dict, revision: int) -> dict:
    """A copy of ``obj`` whose ``metadata.resourceVersion`` is ``revision``."""
    stamped = dict(obj)
    stamped["metadata"] = {**obj.get("metadata", {}), "resourceVersion": str(revision)}
    return stamped


def stored_revision(obj: dict) -> int:
    return int(obj.get("metadata", {}).get("resourceVersion") or 0)


class Subscribers:
    """The fan-out list shared by store implementations (called under the store's write lock)."""

    def __init__(self) -> None:
        self._callbacks: list[Subscriber] = []
        self._lock = threading.Lock()

    def add(self, callback: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._callbacks.append(callback)

        def remove() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return remove

    def publish(self, event: StoredEvent) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback(event)


class Watcher:
    """A blocking, thread-safe stream of events after a revision, for in-process controllers.

    It subscribes *before* replaying history so no write can fall into the gap between the two,
    and drops replayed duplicates by revision. Given a ``resource`` (``pods``, ``deployments.apps``)
    it streams that resource's events only.
    """

    def __init__(self, store: Store, since: int, resource: str | None = None) -> None:
        self._queue: deque[StoredEvent] = deque()
        self._ready = threading.Condition()
        self._last = since
        self._closed = False
        self._resource = resource
        self._unsubscribe = store.subscribe(self._push)
        try:
            history = [event for event in store.events_since(since) if self._wanted(event)]
        except StoreError:
            self._unsubscribe()
            raise
        with self._ready:
            pending = list(self._queue)
            self._queue.clear()
            merged = {event.revision: event for event in history + pending if event.revision > since}
            self._queue.extend(merged[rev] for rev in sorted(merged))

    def _wanted(self, event: StoredEvent) -> bool:
        return self._resource is None or event.key.resource == self._resource

    def _push(self, event: StoredEvent) -> None:
        if not self._wanted(event):
            return
        with self._ready:
            self._queue.append(event)
            self._ready.notify_all()

    def next(self, timeout: float | None = None) -> StoredEvent | None:
        """The next event, or ``None`` after ``timeout`` seconds or once closed."""
        with self._ready:
            while True:
                while self._queue:
                    event = self._queue.popleft()
                    if event.revision > self._last:
                        self._last = event.revision
                        return event
                if self._closed or not self._ready.wait(timeout):
                    return None

    def __iter__(self) -> Iterator[StoredEvent]:
        while (event := self.next()) is not None:
            yield event

    def close(self) -> None:
        self._unsubscribe()
        with self._ready:
            self._closed = True
            self._ready.notify_all()
