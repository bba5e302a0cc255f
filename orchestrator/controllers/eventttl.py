"""Events expire: each is deleted an ``--event-ttl`` after it was last recorded (default 1 h).

kube-apiserver writes every Event with an etcd lease of ``--event-ttl`` (one hour unless set), so
``kubectl get events`` shows the last hour and no cluster accumulates millions of them. The store
here has no leases; this controller plays their part. An Event's time is when it last happened
(``lastTimestamp``, or ``eventTime``/``series.lastObservedTime`` in the events.k8s.io shape),
falling back to when it was created, so a repeated event that keeps being bumped lives on, as a
lease renewed on every write would.

One key per Event. A change queues the key for the moment the Event is due (``add_after``); the
pass deletes it if it is due by then and unchanged (preconditions on its uid and resourceVersion),
and the resync catches any moment missed across a restart.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Iterable

from orchestrator.api import errors
from orchestrator.api.options import DeleteOptions
from orchestrator.api.registry import kind_for
from orchestrator.api.timestamps import parse_rfc3339, utc_now
from orchestrator.client.informer import Change, Informers
from orchestrator.client.protocol import Client, WatchEventType
from orchestrator.controllers.base import Controller, ObjectKey

EVENT = kind_for("v1", "Event")
#: kube-apiserver's ``--event-ttl`` default
DEFAULT_EVENT_TTL_SECONDS = 3600.0


def last_seen(event: dict) -> datetime | None:
    """When the Event last happened, as far as it says."""
    series = event.get("series") or {}
    for value in (event.get("lastTimestamp"), series.get("lastObservedTime"), event.get("eventTime"),
                  event["metadata"].get("creationTimestamp")):
        if (when := parse_rfc3339(value)) is not None:
            return when
    return None


def due_in(event: dict, ttl: float, now: datetime) -> float:
    """Seconds until the Event expires (≤ 0: now). One without any time expires at once."""
    seen = last_seen(event)
    return 0.0 if seen is None else (seen + timedelta(seconds=ttl) - now).total_seconds()


class EventTTLController(Controller[ObjectKey]):
    name = "event-ttl"
    resync_seconds = 300.0
    watches = (EVENT,)

    def __init__(self, client: Client, informers: Informers, *, ttl_seconds: float = DEFAULT_EVENT_TTL_SECONDS,
                 clock: Callable[[], datetime] = utc_now) -> None:
        super().__init__(client, informers)
        self.events = informers.cache(EVENT)
        self.ttl = ttl_seconds
        self._now = clock

    def keys_for(self, change: Change) -> Iterable[ObjectKey]:
        if change.type is not WatchEventType.DELETED:
            yield (change.namespace, change.name)

    def resync_keys(self) -> Iterable[ObjectKey]:
        return [(e["metadata"]["namespace"], e["metadata"]["name"]) for e in self.events.list()]

    def reconcile(self, key: ObjectKey) -> None:
        event = self.events.get(*key)
        if event is None:
            return
        wait = due_in(event, self.ttl, self._now())
        if wait > 0:
            self.queue.add_after(key, wait)
            return
        meta = event["metadata"]
        with errors.ignore_not_found():  # a bump meanwhile is a conflict: the retry finds it not due
            self.client.delete(EVENT, key[0], key[1], DeleteOptions(
                precondition_uid=meta["uid"], precondition_resource_version=meta["resourceVersion"]))
