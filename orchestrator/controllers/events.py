"""Events the control plane records about objects: what ``kubectl describe`` lists under "Events:".

A component (the scheduler, a controller) says *what happened to which object*; the recorder turns
that into a core/v1 Event written through the client seam, in the shape ``kubectl describe`` and
``kubectl get events`` read: ``involvedObject`` (kind, namespace, name, uid, apiVersion,
resourceVersion), ``reason``, ``message``, ``type``, ``source.component``, ``reportingComponent``,
``firstTimestamp``, ``lastTimestamp`` and ``count``. Names are client-go's ``<object>.<hex nanos>``.

Repeats are aggregated as client-go's event correlator does: an event identical to one already
recorded (same object, type, reason, message and component) bumps that Event's ``count`` and
``lastTimestamp`` instead of adding another, so a pod retried for minutes shows
``(x12 over 3m)`` rather than twelve lines. Which Event stands for which repeat is remembered in a
bounded in-memory map, as in client-go; after a control-plane restart, or once the Event itself was
deleted, the next repeat simply starts a new Event.

Recording is best effort: an Event that cannot be written is logged and dropped, never raised, so
it can never fail the work it describes.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from enum import Enum
from typing import Callable

from orchestrator.api import errors
from orchestrator.api.core import EventType
from orchestrator.api.eventnames import EventNamer
from orchestrator.api.registry import kind_for
from orchestrator.api.timestamps import now_rfc3339
from orchestrator.client.protocol import Client

log = logging.getLogger("dockyard.events")

EVENT = kind_for("v1", "Event")
#: how many distinct repeats are remembered (client-go's LRU holds 4096)
CACHE_SIZE = 4096
#: namespace of Events about cluster-scoped objects (Nodes), as Kubernetes does
CLUSTER_SCOPED_NAMESPACE = "default"


def involved_object(obj: dict) -> dict:
    """The ``ObjectReference`` an Event points at (kubectl matches on kind, name, namespace and uid)."""
    meta = obj["metadata"]
    ref = {"kind": obj["kind"], "apiVersion": obj["apiVersion"], "name": meta["name"], "uid": meta.get("uid"),
           "resourceVersion": meta.get("resourceVersion")}
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    return {k: v for k, v in ref.items() if v}


class EventRecorder:
    """Records Events for one component (``default-scheduler``, ``replicaset-controller`` …)."""

    def __init__(self, client: Client, component: str, *, clock: Callable[[], str] = now_rfc3339,
                 cache_size: int = CACHE_SIZE) -> None:
        self.client = client
        self.component = component
        self._now = clock
        self._cache_size = cache_size
        self._seen: OrderedDict[tuple, tuple[str, str]] = OrderedDict()  # repeat key -> (namespace, event name)
        self._lock = threading.Lock()
        self._names = EventNamer()

    def record(self, obj: dict, type_: EventType, reason: Enum, message: str) -> dict | None:
        """Record that ``reason`` happened to ``obj``; returns the Event as stored, or None if it was lost."""
        involved = involved_object(obj)
        namespace = involved.get("namespace", CLUSTER_SCOPED_NAMESPACE)
        key = (involved["kind"], namespace, involved["name"], involved.get("uid"), type_.value, reason.value, message)
        now = self._now()
        try:
            with self._lock:
                seen = self._seen.get(key)
                if seen is not None:
                    self._seen.move_to_end(key)
            if seen is not None:
                bumped = self._bump(*seen, now)
                if bumped is not None:
                    return bumped
            created = self._create(namespace, involved, type_, reason, message, now)
        except errors.ApiError as error:
            log.warning("%s: could not record %s event for %s %s/%s: %s", self.component, reason.value,
                        involved["kind"], namespace, involved["name"], error)
            return None
        with self._lock:
            self._seen[key] = (namespace, created["metadata"]["name"])
            while len(self._seen) > self._cache_size:
                self._seen.popitem(last=False)
        return created

    def _bump(self, namespace: str, name: str, now: str) -> dict | None:
        """Count one more occurrence on an existing Event; None when that Event is gone."""
        event = errors.or_none(lambda: self.client.get(EVENT, namespace, name))
        if event is None:
            return None
        return self.client.update(EVENT, namespace, name,
                                  {**event, "count": int(event.get("count") or 1) + 1, "lastTimestamp": now})

    def _create(self, namespace: str, involved: dict, type_: EventType, reason: Enum, message: str,
                now: str) -> dict:
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": self._names.name(involved["name"]), "namespace": namespace},
            "involvedObject": involved, "reason": reason.value, "message": message, "type": type_.value,
            "source": {"component": self.component}, "reportingComponent": self.component,
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        }
        return self.client.create(EVENT, namespace, body)
