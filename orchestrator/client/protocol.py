"""The client seam: what a controller may ask of the cluster, and nothing more.

Controllers and the scheduler reach the cluster only through :class:`Client`: get, list,
create, update, patch, delete and watch, with the typed options of :mod:`orchestrator.api.options`.
It is client-go's typed client reduced to what a controller needs, with objects as wire dicts
and failures as :class:`~orchestrator.api.errors.ApiError` (the ``metav1.Status`` a server
answers with). Two things follow:

* the control plane wires controllers to an in-process implementation
  (:mod:`orchestrator.controlplane.localclient`), which runs the same admission, validation and
  optimistic concurrency as an HTTP request, without the HTTP;
* every method maps onto one Kubernetes REST call (``create`` with a ``subresource`` is
  ``POST …/{name}/{subresource}``, as for ``pods/binding``), so the same protocol can be served
  over HTTPS later and a controller could run outside the server process unchanged.

Controllers read through the shared informer cache (:mod:`orchestrator.client.informer`) and
write through the client; writes carry the ``resourceVersion`` they read, so a stale cache
costs a 409 and a retry, never a lost update.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from orchestrator.api.options import DeleteOptions, ListOptions, PatchType, WriteOptions
from orchestrator.api.registry import ResourceKind

#: a patch body: an object (merge patches) or a list of operations (JSON patch)
PatchBody = dict | list


@dataclass(frozen=True)
class ObjectList:
    """One page of a list: the objects, the revision they were read at, and where to continue."""

    items: list[dict]
    resource_version: int
    after: tuple[str, str] | None = None


class WatchEventType(str, Enum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True)
class WatchEvent:
    """One change as a watch delivers it: the object after the change (its last state, for
    DELETED), stamped with the revision of the change in ``metadata.resourceVersion``."""

    type: WatchEventType
    object: dict

    @property
    def revision(self) -> int:
        return int(self.object["metadata"]["resourceVersion"])


class WatchStream(Protocol):
    """A watch opened at a revision: every later change of one kind, in revision order."""

    def next(self, timeout: float | None = None) -> WatchEvent | None:
        """The next change, or None after ``timeout`` seconds without one, or once closed."""
        ...

    def close(self) -> None: ...


class Client(Protocol):
    """The verbs of the Kubernetes API, for one caller. ``namespace`` is None for cluster-scoped
    kinds (and for lists across every namespace)."""

    def get(self, kind: ResourceKind, namespace: str | None, name: str) -> dict: ...

    def list(self, kind: ResourceKind, namespace: str | None = None,
             options: ListOptions | None = None) -> ObjectList: ...

    def watch(self, kind: ResourceKind, resource_version: int) -> WatchStream:
        """Changes after ``resource_version``; raises a 410 Gone ApiError when the server no
        longer has them (the caller lists again)."""
        ...

    def create(self, kind: ResourceKind, namespace: str | None, body: dict, *,
               name: str | None = None, subresource: str | None = None,
               options: WriteOptions | None = None) -> dict:
        """Create an object, or post to one's subresource (``name`` and ``subresource`` together,
        as ``pods/{name}/binding``); returns what the server answers."""
        ...

    def update(self, kind: ResourceKind, namespace: str | None, name: str, body: dict, *,
               subresource: str | None = None, options: WriteOptions | None = None) -> dict: ...

    def patch(self, kind: ResourceKind, namespace: str | None, name: str, patch_type: PatchType,
              patch: PatchBody, *, subresource: str | None = None,
              options: WriteOptions | None = None) -> dict: ...

    def delete(self, kind: ResourceKind, namespace: str | None, name: str,
               options: DeleteOptions | None = None) -> dict:
        """Delete, or mark for deletion; returns the object's last (or current) state."""
        ...
