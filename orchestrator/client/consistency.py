"""Read your own writes through a lagging cache.

A controller writes through the API and reads from informer caches that learn of its writes a
moment later. :class:`WriteTracker` wraps the controller's client: every object a write
returns carries the revision it was written at, remembered per kind, and :meth:`settle` waits
until each of those kinds' caches has caught up. The controller runner settles before every
pass, so a pass always sees at least what the passes before it wrote (see
:mod:`orchestrator.client.informer` for why that matters).

A write whose answer is not the object (``pods/binding`` answers a ``Status``) carries no
revision to wait for; its caller accounts for it itself (the scheduler's assumed pods).
"""

from __future__ import annotations

import logging
import threading

from orchestrator.api.options import DeleteOptions, ListOptions, PatchType, WriteOptions
from orchestrator.api.registry import ResourceKind
from orchestrator.client.informer import WAIT_FOR_WRITES_SECONDS, Informers
from orchestrator.client.protocol import Client, ObjectList, PatchBody, WatchStream

log = logging.getLogger("dockyard.informer")


class WriteTracker:
    """A :class:`~orchestrator.client.protocol.Client` that remembers the revisions it wrote."""

    def __init__(self, client: Client, informers: Informers) -> None:
        self._client = client
        self._informers = informers
        self._lock = threading.Lock()
        self._written: dict[ResourceKind, int] = {}

    def settle(self, timeout: float = WAIT_FOR_WRITES_SECONDS) -> None:
        """Wait until the caches show every write made so far (logs, never fails, on timeout)."""
        with self._lock:
            written = dict(self._written)
        for kind, revision in written.items():
            if not self._informers.wait_for(kind, revision, timeout):
                log.warning("the %s cache did not reach revision %d within %.0fs; going on with it as it is",
                            kind.plural, revision, timeout)

    def _note(self, kind: ResourceKind, answer: dict) -> dict:
        if answer.get("kind") == kind.kind:
            revision = int((answer.get("metadata") or {}).get("resourceVersion") or 0)
            with self._lock:
                if revision > self._written.get(kind, 0):
                    self._written[kind] = revision
        return answer

    # -- the client verbs ------------------------------------------------------------------------

    def get(self, kind: ResourceKind, namespace: str | None, name: str) -> dict:
        return self._client.get(kind, namespace, name)

    def list(self, kind: ResourceKind, namespace: str | None = None,
             options: ListOptions | None = None) -> ObjectList:
        return self._client.list(kind, namespace, options)

    def watch(self, kind: ResourceKind, resource_version: int) -> WatchStream:
        return self._client.watch(kind, resource_version)

    def create(self, kind: ResourceKind, namespace: str | None, body: dict, *,
               name: str | None = None, subresource: str | None = None,
               options: WriteOptions | None = None) -> dict:
        return self._note(kind, self._client.create(kind, namespace, body, name=name, subresource=subresource,
                                                    options=options))

    def update(self, kind: ResourceKind, namespace: str | None, name: str, body: dict, *,
               subresource: str | None = None, options: WriteOptions | None = None) -> dict:
        return self._note(kind, self._client.update(kind, namespace, name, body, subresource=subresource,
                                                    options=options))

    def patch(self, kind: ResourceKind, namespace: str | None, name: str, patch_type: PatchType,
              patch: PatchBody, *, subresource: str | None = None,
              options: WriteOptions | None = None) -> dict:
        return self._note(kind, self._client.patch(kind, namespace, name, patch_type, patch,
                                                   subresource=subresource, options=options))

    def delete(self, kind: ResourceKind, namespace: str | None, name: str,
               options: DeleteOptions | None = None) -> dict:
        return self._note(kind, self._client.delete(kind, namespace, name, options))
