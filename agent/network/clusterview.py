"""What the host's networking needs to know of the cluster: Services, Endpoints and Nodes.

kube-proxy and CoreDNS each keep an informer cache of these objects; here one
:class:`ClusterView` per host serves both the service proxy and the DNS server. Both consume an
immutable :class:`NetworkSnapshot` in wire form (plain Kubernetes JSON dicts), so their planning
functions stay pure and are tested with literal objects.

Each kind has its own thread running a :class:`~agent.reflector.Reflector`: list once, then watch,
each watch (``resync_seconds`` long) resumed from the last revision seen, so nothing a broken
stream or a restarted control plane interrupted is missed and nothing is listed again but after a
410 (revision compacted). Consumers wait on :meth:`ClusterView.wait_for_change` and then take a fresh snapshot:
level-triggered, a burst of changes costs one sync. Nothing is served before every kind has been
listed once (:meth:`synced`): a proxy acting on a half-filled cache would delete the rules of
every Service it had not seen yet.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from agent.apiclient import ApiClient
from agent.reflector import Reflector

#: the collections watched, cluster-wide
PATHS = {"services": "/api/v1/services", "endpoints": "/api/v1/endpoints", "nodes": "/api/v1/nodes"}


@dataclass(frozen=True)
class NetworkSnapshot:
    """Everything of the cluster one sync of the proxy or one DNS answer looks at."""

    services: tuple[dict, ...] = ()
    endpoints: tuple[dict, ...] = ()   # v1 Endpoints, one per Service with endpoints
    nodes: tuple[dict, ...] = ()


def _key(obj: dict) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


class ClusterView:
    def __init__(self, api: ApiClient, resync_seconds: float = 30.0) -> None:
        self.api = api
        self.resync_seconds = resync_seconds
        self._objects: dict[str, dict[tuple[str, str], dict]] = {kind: {} for kind in PATHS}
        self._listed: set[str] = set()
        self._generation = 0
        self._snapshot: NetworkSnapshot | None = None
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self.reflectors = {kind: self._reflector(kind) for kind in PATHS}
        self._threads = [threading.Thread(target=reflector.run, args=(self._stop,), name=f"view-{kind}", daemon=True)
                         for kind, reflector in self.reflectors.items()]

    def _reflector(self, kind: str) -> Reflector:
        return Reflector(self.api, PATHS[kind], replace=lambda items: self._replace(kind, items),
                         apply=lambda event, obj: self._apply(kind, event, obj), watch_seconds=self.resync_seconds,
                         retry_seconds=2.0)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._changed:
            self._changed.notify_all()

    # -- reading -----------------------------------------------------------------------------

    def synced(self) -> bool:
        with self._changed:
            return self._listed == set(PATHS)

    def snapshot(self) -> NetworkSnapshot:
        with self._changed:
            if self._snapshot is None:
                self._snapshot = NetworkSnapshot(**{kind: tuple(objects.values())
                                                    for kind, objects in self._objects.items()})
            return self._snapshot

    @property
    def generation(self) -> int:
        """Grows with every change; a consumer remembers the one it last acted on."""
        with self._changed:
            return self._generation

    def wait_for_change(self, seen: int, timeout: float) -> int:
        """Block until the generation moves past ``seen`` (or ``timeout``, or stop); the current one."""
        with self._changed:
            self._changed.wait_for(lambda: self._generation != seen or self._stop.is_set(), timeout)
            return self._generation

    # -- what the reflectors report --------------------------------------------------------

    def _apply(self, kind: str, event: str, obj: dict) -> None:
        if event in ("ADDED", "MODIFIED"):
            self._put(kind, obj)
        elif event == "DELETED":
            self._delete(kind, obj)

    def _replace(self, kind: str, items: list[dict]) -> None:
        fresh = {_key(obj): obj for obj in items}
        with self._changed:
            first = kind not in self._listed
            self._listed.add(kind)
            if first or fresh != self._objects[kind]:
                self._objects[kind] = fresh
                self._bump()

    def _put(self, kind: str, obj: dict) -> None:
        with self._changed:
            self._objects[kind][_key(obj)] = obj
            self._bump()

    def _delete(self, kind: str, obj: dict) -> None:
        with self._changed:
            if self._objects[kind].pop(_key(obj), None) is not None:
                self._bump()

    def _bump(self) -> None:
        self._generation += 1
        self._snapshot = None
        self._changed.notify_all()
