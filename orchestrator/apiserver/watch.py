"""Watch streams: the store's event log, filtered per watcher and fanned out to HTTP clients.

One :class:`WatchHub` subscribes to the store once. Every committed write reaches it (from the
writing thread) and is handed to the event loop, which offers it to each open watch. A watch
filters by resource, namespace and selectors; because the store tells us the object's previous
state, an object whose labels move it *into* a selection arrives as ADDED and one moving *out* as
DELETED, as Kubernetes' watch cache does.

A watch starts from a resourceVersion: unset or ``0`` first replays the current state as ADDED
events, ``N`` replays the log after ``N`` (410 Expired when the store no longer has it). The live
subscription opens *before* the replay is read, and events are de-duplicated by revision, so
nothing falls into the gap. A watch that asked for bookmarks (``allowWatchBookmarks``) gets one as
its last event when it ends cleanly (its ``timeoutSeconds`` ran out, or the server is shutting
down): a BOOKMARK carries only the revision every earlier event of the store has been weighed at,
so the client resumes from there rather than from its last *selected* event, which may be far
behind, and the replay it then asks for is short. Each watch has a bounded queue; a client that
cannot keep up is sent an ERROR event with a 410 Status and dropped, and must list again, as with
Kubernetes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import AsyncIterator, Callable

from orchestrator.api import errors
from orchestrator.api.registry import ResourceKind
from orchestrator.api.options import ListOptions
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.store import EventType, RevisionCompacted, StoredEvent

#: events a watcher may have pending before it is considered too slow and expired
MAX_PENDING = 10_000


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED, ERROR, BOOKMARK
    object: dict


class _Expired(Exception):
    pass


class Watch:
    def __init__(self, hub: "WatchHub", rk: ResourceKind, namespace: str | None, options: ListOptions) -> None:
        self.hub = hub
        self.rk = rk
        self.namespace = namespace if rk.namespaced else None
        self.options = options
        self.queue: asyncio.Queue[StoredEvent | None] = asyncio.Queue(MAX_PENDING)
        self.after = 0
        self.expired = False
        self.closing = False

    def _selected(self, obj: dict | None) -> bool:
        return obj is not None and self.options.label_selector.matches(
            obj.get("metadata", {}).get("labels")) and self.options.field_selector.matches(obj)

    def translate(self, event: StoredEvent) -> WatchEvent | None:
        """The event this watcher should see for a store event, if any."""
        if event.key.resource != self.rk.qualified_resource:
            return None
        if self.namespace is not None and event.key.namespace != self.namespace:
            return None
        now = self._selected(event.object)
        before = self._selected(event.previous) if event.previous is not None else None
        if event.type is EventType.ADDED:
            return WatchEvent("ADDED", event.object) if now else None
        if event.type is EventType.DELETED:
            return WatchEvent("DELETED", event.object) if (before if before is not None else now) else None
        if before is None:
            return WatchEvent("MODIFIED", event.object) if now else None
        if now and before:
            return WatchEvent("MODIFIED", event.object)
        if now:
            return WatchEvent("ADDED", event.object)
        if before:
            return WatchEvent("DELETED", event.object)
        return None

    def close(self) -> None:
        """End the stream now, cleanly: the server is shutting down and the client watches again
        (against this server once it is back, or another)."""
        self.closing = True
        try:
            self.queue.put_nowait(None)  # wakes the stream, which may be waiting on this queue
        except asyncio.QueueFull:  # then it is not waiting: it finds the end after what is queued
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(None)

    def offer(self, event: StoredEvent) -> None:
        if self.expired or self.closing or event.revision <= self.after:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.expired = True
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(None)

    async def stream(self, since: str | None, timeout: float | None, *, bookmarks: bool = False
                     ) -> AsyncIterator[WatchEvent]:
        """Replay from ``since``, then follow live events until the timeout or the client leaves;
        with ``bookmarks``, a clean end is announced by a BOOKMARK (see the module docstring)."""
        self.hub.watches.add(self)
        try:
            if self.hub.closing:
                return  # opened on a kept-alive connection while the server stops: see WatchHub.close_all
            for initial in self._replay(since):
                yield initial
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout if timeout else None
            while True:
                remaining = max(0.0, deadline - loop.time()) if deadline else None
                try:
                    event = await asyncio.wait_for(self.queue.get(), remaining)
                except asyncio.TimeoutError:
                    if bookmarks:
                        yield self._bookmark()
                    return
                if event is None:
                    if not self.closing:
                        yield _expired_event("the watcher fell too far behind; list again and watch from there")
                    elif bookmarks:
                        yield self._bookmark()
                    return
                if event.revision <= self.after:
                    continue
                self.after = event.revision
                if (translated := self.translate(event)) is not None:
                    yield translated
        finally:
            self.hub.watches.discard(self)

    def _bookmark(self) -> WatchEvent:
        """Every store event up to ``after`` has been weighed for this watch: resume from there."""
        return WatchEvent("BOOKMARK", {"kind": self.rk.kind, "apiVersion": self.rk.api_version,
                                       "metadata": {"resourceVersion": str(self.after)}})

    def _replay(self, since: str | None) -> list[WatchEvent]:
        api = self.hub.api
        if not since or since == "0":
            items, revision, _ = api.list(self.rk, self.namespace, ListOptions(
                self.options.label_selector, self.options.field_selector))
            self.after = revision
            return [WatchEvent("ADDED", item) for item in items]
        try:
            start = int(since)
        except ValueError:
            raise errors.bad_request(f'invalid resourceVersion "{since}"') from None
        try:
            history = api.store.events_since(start)
        except RevisionCompacted as error:
            return [_expired_event(f"too old resource version: {error.requested} ({error.oldest})")]
        self.after = start
        replayed = []
        for event in history:
            self.after = event.revision
            if (translated := self.translate(event)) is not None:
                replayed.append(translated)
        return replayed


def _expired_event(message: str) -> WatchEvent:
    return WatchEvent("ERROR", errors.gone(message).to_status())


class WatchHub:
    """Subscribes to the store once and feeds every open :class:`Watch` on the event loop."""

    def __init__(self, api: ObjectAPI) -> None:
        self.api = api
        self.watches: set[Watch] = set()
        self.closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._unsubscribe = self.api.store.subscribe(self._from_store)

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()

    def close_all(self) -> None:
        """End every open watch (on the event loop's thread), so none holds a stopping server;
        and every watch opened from now on at once. A client whose watch ended opens the next
        one at once, on the same kept-alive connection, which the server still answers until its
        own shutdown reaches that connection: such a watch would hold the server for its whole
        graceful-shutdown timeout (2 s more on every SIGTERM with agents connected)."""
        self.closing = True
        for watch in list(self.watches):
            watch.close()

    def _from_store(self, event: StoredEvent) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._deliver, event)

    def _deliver(self, event: StoredEvent) -> None:
        for watch in list(self.watches):
            watch.offer(event)

    def open(self, rk: ResourceKind, namespace: str | None, options: ListOptions) -> Watch:
        return Watch(self, rk, namespace, options)
