"""The client seam served in-process: controllers' verbs straight onto the object semantics.

:class:`LocalClient` implements :class:`orchestrator.client.Client` over
:class:`~orchestrator.apiserver.objects.ObjectAPI`, the layer the HTTP handlers call too, so a
controller's write meets the same decoding, defaulting, validation, admission and
compare-and-swap as ``kubectl``'s. The subresources that are requests of their own rather
than partial updates (``pods/binding``, ``pods/eviction``) answer a ``Status``, as over HTTP.
Watches are the store's event log for one resource, from a revision; a revision the store has
compacted away is a 410, as a Kubernetes watch would say.
"""

from __future__ import annotations

from typing import Callable

from orchestrator.api import errors
from orchestrator.api.options import DeleteOptions, ListOptions, PatchType, WriteOptions
from orchestrator.api.registry import ResourceKind
from orchestrator.apiserver.binding import bind, success_status
from orchestrator.apiserver.eviction import evict
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.client.protocol import ObjectList, PatchBody, WatchEvent, WatchEventType
from orchestrator.store import RevisionCompacted, Watcher

_WRITE = WriteOptions()
#: subresources a POST goes to, and what carries them out: (api, namespace, name, body)
_POSTED: dict[tuple[str, str], Callable[[ObjectAPI, str, str, dict], object]] = {
    ("pods", "binding"): bind, ("pods", "eviction"): evict}


class LocalWatch:
    """The store's events of one resource after a revision, as watch events."""

    def __init__(self, api: ObjectAPI, kind: ResourceKind, resource_version: int) -> None:
        try:
            self._watcher = Watcher(api.store, resource_version, kind.qualified_resource)
        except RevisionCompacted as error:
            raise errors.gone(f"too old resource version: {error.requested} ({error.oldest})") from None

    def next(self, timeout: float | None = None) -> WatchEvent | None:
        event = self._watcher.next(timeout)
        if event is None:
            return None
        return WatchEvent(WatchEventType(event.type.value), event.object)

    def close(self) -> None:
        self._watcher.close()


class LocalClient:
    def __init__(self, api: ObjectAPI) -> None:
        self.api = api

    def get(self, kind: ResourceKind, namespace: str | None, name: str) -> dict:
        return self.api.get(kind, namespace, name)

    def list(self, kind: ResourceKind, namespace: str | None = None,
             options: ListOptions | None = None) -> ObjectList:
        items, revision, after = self.api.list(kind, namespace, options)
        return ObjectList(items, revision, after)

    def watch(self, kind: ResourceKind, resource_version: int) -> LocalWatch:
        return LocalWatch(self.api, kind, resource_version)

    def create(self, kind: ResourceKind, namespace: str | None, body: dict, *,
               name: str | None = None, subresource: str | None = None,
               options: WriteOptions | None = None) -> dict:
        options = options or _WRITE
        if subresource is None:
            return self.api.create(kind, namespace, body, strict=options.strict, dry_run=options.dry_run).object
        post = _POSTED.get((kind.plural, subresource))
        if post is None or name is None or namespace is None:
            raise errors.method_not_allowed(f"POST is not supported on {kind.plural}/{subresource}")
        post(self.api, namespace, name, body)
        return success_status()

    def update(self, kind: ResourceKind, namespace: str | None, name: str, body: dict, *,
               subresource: str | None = None, options: WriteOptions | None = None) -> dict:
        options = options or _WRITE
        return self.api.update(kind, namespace, name, body, subresource=subresource, strict=options.strict,
                               dry_run=options.dry_run).object

    def patch(self, kind: ResourceKind, namespace: str | None, name: str, patch_type: PatchType,
              patch: PatchBody, *, subresource: str | None = None,
              options: WriteOptions | None = None) -> dict:
        options = options or _WRITE
        return self.api.patch(kind, namespace, name, patch_type, patch, subresource=subresource,
                              strict=options.strict, dry_run=options.dry_run).object

    def delete(self, kind: ResourceKind, namespace: str | None, name: str,
               options: DeleteOptions | None = None) -> dict:
        return self.api.delete(kind, namespace, name, options)
