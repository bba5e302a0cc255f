"""The controller pattern: informer changes → keyed work queue → level-triggered reconcile.

A controller never acts on the change it saw; the change only says *which key* to look at. The
reconcile reads the current state of that key from the shared informer caches
(:mod:`orchestrator.client.informer`) and moves it one step towards the desired state through
the client seam (:mod:`orchestrator.client.protocol`). Failures are retried per key with
exponential back-off, so one broken object never stalls the others, and a periodic resync
re-queues every key as a safety net against anything a watch could have missed (as client-go's
informers do).

A controller declares what it reads in its constructor (``self.pods = informers.cache(POD)``)
and which kinds' changes wake it (:attr:`Controller.watches`); its :meth:`~Controller.keys_for`
is registered as a handler on those informers, whose errors are isolated and counted there.
Before each pass the runner waits until the caches show the controller's own earlier writes
(:class:`~orchestrator.client.consistency.WriteTracker`).

Controllers run in threads inside the control-plane process (:class:`ControllerRunner`); they
import nothing of the API server, so the same code could run against a remote one.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from abc import ABC, abstractmethod
from typing import Any, Callable, Generic, Hashable, Iterable, TypeVar

from orchestrator.api.registry import ResourceKind
from orchestrator.client.consistency import WriteTracker
from orchestrator.client.informer import Change, Informers
from orchestrator.client.protocol import Client

log = logging.getLogger("dockyard.controllers")

#: a controller's work key: ``(namespace, name)`` for most, whatever names one unit of work for others
KeyT = TypeVar("KeyT", bound=Hashable)
#: the usual work key: one object, by namespace ("" when cluster-scoped) and name
ObjectKey = tuple[str, str]


class WorkQueue(Generic[KeyT]):
    """Deduplicating, delay-capable queue of keys; a key is never processed by two workers at once."""

    def __init__(self, base_delay: float = 0.05, max_delay: float = 30.0) -> None:
        self._cond = threading.Condition()
        self._ready: list[KeyT] = []
        self._queued: set[KeyT] = set()
        self._processing: set[KeyT] = set()
        self._dirty: set[KeyT] = set()
        self._delayed: list[tuple[float, int, KeyT]] = []
        self._failures: dict[KeyT, int] = {}
        self._counter = 0
        self._base, self._max = base_delay, max_delay
        self._shutdown = False
        #: client-go's workqueue_adds_total and workqueue_retries_total
        self.adds = 0
        self.retries = 0

    def __len__(self) -> int:
        """Keys waiting to be worked (workqueue_depth): ready now or after a delay."""
        with self._cond:
            return len(self._ready) + len(self._delayed)

    def add(self, key: KeyT) -> None:
        with self._cond:
            if key in self._processing:
                self._dirty.add(key)
            elif key not in self._queued:
                self.adds += 1
                self._queued.add(key)
                self._ready.append(key)
                self._cond.notify()

    def add_after(self, key: KeyT, delay: float) -> None:
        with self._cond:
            self._counter += 1
            heapq.heappush(self._delayed, (time.monotonic() + delay, self._counter, key))
            self._cond.notify()

    def retry(self, key: KeyT) -> float:
        """Re-queue a failed key after its back-off; returns the delay chosen."""
        with self._cond:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
            self.retries += 1
        delay = min(self._max, self._base * (2 ** failures))
        self.add_after(key, delay)
        return delay

    def forget(self, key: KeyT) -> None:
        with self._cond:
            self._failures.pop(key, None)

    def get(self, timeout: float = 0.5) -> KeyT | None:
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

    def done(self, key: KeyT) -> None:
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


class Controller(ABC, Generic[KeyT]):
    """Subclasses say which kinds wake them, which keys a change or a resync concerns, and how
    to reconcile one key."""

    name = "controller"
    workers = 1
    resync_seconds = 30.0
    #: the kinds whose changes are handed to :meth:`keys_for`
    watches: tuple[ResourceKind, ...] = ()

    def __init__(self, client: Client, informers: Informers) -> None:
        self.client = WriteTracker(client, informers)
        self.informers = informers
        self.queue: WorkQueue[KeyT] = WorkQueue()
        for kind in self.watches:
            informers.informer(kind).add_handler(self.name, self._enqueue)

    def _enqueue(self, change: Change) -> None:
        for key in self.keys_for(change):
            self.queue.add(key)

    @abstractmethod
    def keys_for(self, change: Change) -> Iterable[KeyT]: ...

    @abstractmethod
    def resync_keys(self) -> Iterable[KeyT]: ...

    @abstractmethod
    def reconcile(self, key: KeyT) -> None: ...


class ControllerRunner:
    """Runs controllers in threads: the shared informers, then each controller's workers and resync."""

    def __init__(self, informers: Informers, controllers: list[Controller[Any]]) -> None:
        self.informers = informers
        self.controllers = controllers
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the informers, wait until every cache has listed its kind, then the workers."""
        self.informers.start()
        for controller in self.controllers:
            for index in range(controller.workers):
                self._spawn(f"{controller.name}-{index}", self._work, controller)
            self._spawn(f"{controller.name}-resync", self._resync, controller)

    def stop(self) -> None:
        self._stop.set()
        for controller in self.controllers:
            controller.queue.shutdown()
        self.informers.stop()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=f"dockyard-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _resync(self, controller: Controller[Any]) -> None:
        while not self._stop.wait(controller.resync_seconds):
            try:
                for key in controller.resync_keys():
                    controller.queue.add(key)
            except Exception:  # noqa: BLE001 - a failed resync is retried at the next period
                log.exception("%s: resync failed", controller.name)

    def _work(self, controller: Controller[Any]) -> None:
        while not self._stop.is_set():
            key = controller.queue.get()
            if key is None:
                continue
            try:
                controller.client.settle()
                controller.reconcile(key)
                controller.queue.forget(key)
            except Exception as error:  # noqa: BLE001 - per-key back-off, the others go on
                delay = controller.queue.retry(key)
                log.warning("%s: %s failed (%s); retrying in %.2fs", controller.name, key, error, delay)
            finally:
                controller.queue.done(key)

    def metrics(self) -> list[str]:
        """The controllers' series for ``/metrics``, named as client-go names them."""
        errors_by_handler: dict[str, int] = {}
        for informer in self.informers:
            for name, count in informer.handler_errors.items():
                errors_by_handler[name] = errors_by_handler.get(name, 0) + count
        lines = ["# HELP workqueue_depth Keys waiting in a controller's work queue.",
                 "# TYPE workqueue_depth gauge"]
        lines += [f'workqueue_depth{{name="{c.name}"}} {len(c.queue)}' for c in self.controllers]
        lines += ["# HELP workqueue_adds_total Keys added to a controller's work queue.",
                  "# TYPE workqueue_adds_total counter"]
        lines += [f'workqueue_adds_total{{name="{c.name}"}} {c.queue.adds}' for c in self.controllers]
        lines += ["# HELP workqueue_retries_total Keys re-queued after a failed reconcile.",
                  "# TYPE workqueue_retries_total counter"]
        lines += [f'workqueue_retries_total{{name="{c.name}"}} {c.queue.retries}' for c in self.controllers]
        lines += ["# HELP dockyard_controller_event_handler_errors_total Changes a controller's event "
                  "handler failed on (the change is dropped for that controller only).",
                  "# TYPE dockyard_controller_event_handler_errors_total counter"]
        lines += [f'dockyard_controller_event_handler_errors_total{{controller="{c.name}"}} '
                  f'{errors_by_handler.get(c.name, 0)}' for c in self.controllers]
        return lines
