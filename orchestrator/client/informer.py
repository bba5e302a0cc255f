"""Shared informers: one list-and-watch per kind feeding one indexed cache that every controller
and the scheduler read, instead of each listing the API on every pass.

client-go's ``SharedInformerFactory``. For each kind some component asked for, an
:class:`Informer` lists the kind once, then watches from the list's revision; every change it
sees is applied to its :class:`~orchestrator.client.cache.Cache` and *then* handed to the
handlers, as a :class:`Change` carrying the object before and after. Handlers only decide which
work keys a change concerns; by the time a key is reconciled the cache already holds the change.

Three properties the controllers rely on:

* **Isolation.** A handler that raises is logged and counted (:attr:`Informer.handler_errors`,
  exported in ``/metrics``); the informer and every other handler go on receiving changes.
* **Relist on 410 Gone.** A watch the server can no longer serve (its history was compacted)
  is replaced by a fresh list, and the difference is delivered as changes, deletions included,
  so no handler misses that an object went.
* **Read your own writes** (:meth:`Informers.wait_for`). A controller that wrote revision R of a
  pod waits, before its next pass, until the pod informer has applied R. Without it a pass could
  start from a cache that does not yet hold the pods the previous pass created, and create them
  again; client-go solves the same problem with per-controller "expectations", Kubernetes' own
  watch cache with consistent reads at a revision (KEP-2340). Waiting for a revision is the
  simpler of the two and protects every controller the same way.

Informers run on threads of their own (:meth:`Informers.start`). Unit tests instead call
:meth:`Informers.pump`, which applies whatever is pending in the caller's thread, so a test
decides exactly when a controller sees a change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterator

from orchestrator.api import errors
from orchestrator.api.registry import ResourceKind
from orchestrator.client.cache import Cache, MutationDetector, object_key
from orchestrator.client.protocol import Client, WatchEventType, WatchStream

log = logging.getLogger("dockyard.informer")

#: how long a controller waits for the cache to show its own writes before going on regardless
WAIT_FOR_WRITES_SECONDS = 5.0
#: pause before re-opening a watch that failed for another reason than 410 Gone
REWATCH_DELAY_SECONDS = 0.5


@dataclass(frozen=True)
class Change:
    """One change of one object, as the cache saw it: ``previous`` is what the cache held before
    (None for ADDED), ``object`` the new state (the last state, for DELETED)."""

    kind: ResourceKind
    type: WatchEventType
    object: dict
    previous: dict | None = None

    @property
    def namespace(self) -> str:
        return self.object["metadata"].get("namespace") or ""

    @property
    def name(self) -> str:
        return str(self.object["metadata"]["name"])


Handler = Callable[[Change], None]


class Informer:
    """List and watch one kind into a cache, and tell handlers what changed."""

    def __init__(self, client: Client, kind: ResourceKind, *, detector: MutationDetector | None = None) -> None:
        self.kind = kind
        self.cache = Cache()
        self.handler_errors: Counter[str] = Counter()
        self._client = client
        self._detector = detector
        self._handlers: list[tuple[str, Handler]] = []
        self._stream: WatchStream | None = None
        self._revision = 0
        self._synced = False
        self._progress = threading.Condition()

    def add_handler(self, name: str, handler: Handler) -> None:
        """Call ``handler`` for every change from now on; ``name`` labels its errors."""
        self._handlers.append((name, handler))

    @property
    def synced(self) -> bool:
        return self._synced

    @property
    def revision(self) -> int:
        """The revision the cache reflects: every change of this kind up to it is applied."""
        return self._revision

    # -- the loop ------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """List, then watch until ``stop``; relist whenever the watch is lost."""
        while not stop.is_set():
            try:
                if self._stream is None:
                    self._relist()
                while not stop.is_set():
                    self._step(timeout=0.5)
            except errors.ApiError as error:
                self._close_stream()
                if error.code != 410:
                    log.warning("%s informer: %s; watching again", self.kind.plural, error)
                    stop.wait(REWATCH_DELAY_SECONDS)
            except Exception:  # noqa: BLE001 - the cache must outlive any one failure
                self._close_stream()
                log.exception("%s informer failed; listing again", self.kind.plural)
                stop.wait(REWATCH_DELAY_SECONDS)
        self._close_stream()

    def pump(self) -> None:
        """Apply every change already pending, in the caller's thread (tests, no threads)."""
        if self._stream is None:
            self._relist()
        while self._step(timeout=0):
            pass

    def _step(self, timeout: float) -> bool:
        assert self._stream is not None
        event = self._stream.next(timeout)
        if event is None:
            return False
        if event.type is WatchEventType.DELETED:
            previous = self.cache.remove(event.object)
            self._forget(previous)
        else:
            previous = self.cache.put(event.object)
            self._forget(previous)
            self._track(event.object)
        self._advance(event.revision)
        self._dispatch(Change(self.kind, event.type, event.object, previous))
        return True

    def _relist(self) -> None:
        """Replace the cache with a fresh list and report the difference (client-go's Replace)."""
        listed = self._client.list(self.kind)
        fresh = {object_key(obj): obj for obj in listed.items}
        changes = []
        for held in self.cache.all():
            if object_key(held) not in fresh:
                self.cache.remove(held)
                self._forget(held)
                changes.append(Change(self.kind, WatchEventType.DELETED, held, held))
        for obj in listed.items:
            previous = self.cache.put(obj)
            self._forget(previous)
            self._track(obj)
            if previous is None:
                changes.append(Change(self.kind, WatchEventType.ADDED, obj))
            elif previous["metadata"].get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                changes.append(Change(self.kind, WatchEventType.MODIFIED, obj, previous))
        self._stream = self._client.watch(self.kind, listed.resource_version)
        self._synced = True
        self._advance(listed.resource_version)
        for change in changes:
            self._dispatch(change)

    def _dispatch(self, change: Change) -> None:
        for name, handler in self._handlers:
            try:
                handler(change)
            except Exception:  # noqa: BLE001 - one broken handler must not starve the others
                self.handler_errors[name] += 1
                log.exception("%s: handling a change of %s %s/%s failed", name, self.kind.plural,
                              change.namespace, change.name)

    def _advance(self, revision: int) -> None:
        with self._progress:
            if revision > self._revision:
                self._revision = revision
                self._progress.notify_all()

    def wait_for(self, revision: int, timeout: float) -> bool:
        """Block until the cache reflects ``revision``; False if it did not within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._progress:
            while self._revision < revision:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._progress.wait(remaining):
                    return self._revision >= revision
        return True

    def _close_stream(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _track(self, obj: dict) -> None:
        if self._detector is not None:
            self._detector.track(obj)

    def _forget(self, obj: dict | None) -> None:
        if self._detector is not None:
            self._detector.forget(obj)


class Informers:
    """One informer per kind, shared by every component of a process (the factory)."""

    def __init__(self, client: Client, *, detect_mutations: bool = False) -> None:
        self._client = client
        self._informers: dict[ResourceKind, Informer] = {}
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._running = False
        self.detector = MutationDetector() if detect_mutations else None

    def informer(self, kind: ResourceKind) -> Informer:
        informer = self._informers.get(kind)
        if informer is None:
            if self._running:
                raise RuntimeError(f"the {kind.plural} informer was asked for after the informers started")
            informer = self._informers[kind] = Informer(self._client, kind, detector=self.detector)
        return informer

    def cache(self, kind: ResourceKind) -> Cache:
        return self.informer(kind).cache

    def __iter__(self) -> Iterator[Informer]:
        return iter(list(self._informers.values()))

    def synced(self) -> bool:
        """Every informer has listed its kind."""
        return all(informer.synced for informer in self._informers.values())

    def start(self, timeout: float = 30.0) -> None:
        """Start every informer asked for so far; returns once each has listed its kind."""
        self._running = True
        for informer in self._informers.values():
            thread = threading.Thread(target=informer.run, args=(self._stop,), daemon=True,
                                      name=f"dockyard-informer-{informer.kind.plural}")
            thread.start()
            self._threads.append(thread)
        deadline = time.monotonic() + timeout
        while not self.synced():
            if time.monotonic() > deadline:
                raise TimeoutError("the informers did not list their kinds in time")
            time.sleep(0.01)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def pump(self) -> None:
        """Apply every pending change to every cache now (tests drive informers this way)."""
        if self._running:
            raise RuntimeError("pump() is for informers without threads")
        for informer in list(self._informers.values()):
            informer.pump()
        if self.detector is not None:
            self.detector.check()

    def wait_for(self, kind: ResourceKind, revision: int, timeout: float = WAIT_FOR_WRITES_SECONDS) -> bool:
        """Wait until ``kind``'s cache reflects ``revision`` (a write of that kind); True at once
        for kinds nobody informs on."""
        informer = self._informers.get(kind)
        if informer is None:
            return True
        if not self._running:
            informer.pump()
        return informer.wait_for(revision, timeout)
