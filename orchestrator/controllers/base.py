"""The controller pattern: watch → keyed work queue → level-triggered reconcile.

A controller never acts on the event it saw; the event only says *which key* to look at. The
reconcile reads the current state of that key from the API and moves it one step towards the
desired state. Failures are retried per key with exponential back-off, so one broken object never
stalls the others, and a periodic resync re-queues every key as a safety net against anything a
watch could have missed (as client-go's informers do).

Controllers run in threads inside the control-plane process and talk to :class:`ObjectAPI`
directly — the same code path, validation and optimistic concurrency as HTTP clients.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from abc import ABC, abstractmethod
from typing import Hashable, Iterable

from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.store import RevisionCompacted, StoredEvent, Watcher

log = logging.getLogger("dockyard.controllers")


class WorkQueue:
    """Deduplicating, delay-capable queue of keys; a key is never processed by two workers at once."""

    def __init__(self, base_delay: float = 0.05, max_delay: float = 30.0) -> None:
        self._cond = threading.Condition()
        self._ready: list[Hashable] = []
        self._queued: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._dirty: set[Hashable] = set()
        self._delayed: list[tuple[float, int, Hashable]] = []
        self._failures: dict[Hashable, int] = {}
        self._counter = 0
        self._base, self._max = base_delay, max_delay
        self._shutdown = False

    def add(self, key: Hashable) -> None:
        with self._cond:
            if key in self._processing:
                self._dirty.add(key)
            elif key not in self._queued:
                self._queued.add(key)
                self._ready.append(key)
                self._cond.notify()

    def add_after(self, key: Hashable, delay: float) -> None:
        with self._cond:
            self._counter += 1
            heapq.heappush(self._delayed, (time.monotonic() + delay, self._counter, key))
            self._cond.notify()

    def retry(self, key: Hashable) -> float:
        """Re-queue a failed key after its back-off; returns the delay chosen."""
        with self._cond:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
        delay = min(self._max, self._base * (2 ** failures))
        self.add_after(key, delay)
        return delay

    def forget(self, key: Hashable) -> None:
        with self._cond:
            self._failures.pop(key, None)

    def get(self, timeout: float = 0.5) -> Hashable | None:
        with self._cond:
            deadline = time.monotonic() + timeout
            while not self._shutdown:
                now = time.monotonic()
                while self._delayed and self._delayed[0][0] <= now:
                    _, _, key = heapq.heappop(self._delayed)
                    if key not in self._queued and key not in self._processing:
                        self._queued.add(key)
                        self._ready.append(key)
                    elif key in self._processing:
                        self._dirty.add(key)
                if self._ready:
                    key = self._ready.pop(0)
                    self._queued.discard(key)
                    self._processing.add(key)
                    return key
                wait = deadline - now
                if self._delayed:
                    wait = min(wait, self._delayed[0][0] - now)
                if wait <= 0:
                    return None
                self._cond.wait(wait)
            return None

    def done(self, key: Hashable) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                self._queued.add(key)
                self._ready.append(key)
                self._cond.notify()

    def shutdown(self) -> None:
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()


class Controller(ABC):
    """Subclasses say which keys an event concerns, which keys a resync covers, and how to reconcile."""

    name = "controller"
    workers = 1
    resync_seconds = 30.0

    def __init__(self, api: ObjectAPI) -> None:
        self.api = api
        self.queue = WorkQueue()

    @abstractmethod
    def keys_for(self, event: StoredEvent) -> Iterable[Hashable]: ...

    @abstractmethod
    def resync_keys(self) -> Iterable[Hashable]: ...

    @abstractmethod
    def reconcile(self, key: Hashable) -> None: ...


class ControllerRunner:
    """Runs controllers in threads: one event pump feeding every queue, workers, and resyncs."""

    def __init__(self, api: ObjectAPI, controllers: list[Controller]) -> None:
        self.api = api
        self.controllers = controllers
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._spawn("events", self._pump)
        for controller in self.controllers:
            for index in range(controller.workers):
                self._spawn(f"{controller.name}-{index}", self._work, controller)
            self._spawn(f"{controller.name}-resync", self._resync, controller)

    def stop(self) -> None:
        self._stop.set()
        for controller in self.controllers:
            controller.queue.shutdown()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, name: str, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=f"dockyard-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _pump(self) -> None:
        since = self.api.store.revision()
        while not self._stop.is_set():
            try:
                watcher = Watcher(self.api.store, since)
            except RevisionCompacted:
                since = self.api.store.revision()  # resyncs cover what we skipped
                continue
            try:
                while not self._stop.is_set():
                    event = watcher.next(timeout=0.5)
                    if event is None:
                        continue
                    since = event.revision
                    for controller in self.controllers:
                        for key in controller.keys_for(event):
                            controller.queue.add(key)
            finally:
                watcher.close()

    def _resync(self, controller: Controller) -> None:
        while not self._stop.is_set():
            try:
                for key in controller.resync_keys():
                    controller.queue.add(key)
            except Exception:  # noqa: BLE001 - a failed resync is retried at the next period
                log.exception("%s: resync failed", controller.name)
            self._stop.wait(controller.resync_seconds)

    def _work(self, controller: Controller) -> None:
        while not self._stop.is_set():
            key = controller.queue.get()
            if key is None:
                continue
            try:
                controller.reconcile(key)
                controller.queue.forget(key)
            except Exception as error:  # noqa: BLE001 - per-key back-off, the others go on
                delay = controller.queue.retry(key)
                log.warning("%s: %s failed (%s); retrying in %.2fs", controller.name, key, error, delay)
            finally:
                controller.queue.done(key)
