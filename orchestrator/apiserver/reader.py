"""What the API server's own rules may read of the cluster: objects by name, and lists.

Admission (a Service's free cluster IP, the namespace a new object goes into) and the node
authorizer (is this pod bound to the asking node?) look at other objects while a request is being
decided. They need only to read, so they depend on this protocol and not on
:class:`~orchestrator.apiserver.objects.ObjectAPI`, which implements it and which calls admission
itself: the dependency runs one way. Kubernetes gives its admission plugins and authorizers
listers for the same reason.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from orchestrator.api.options import ListOptions
from orchestrator.api.registry import ResourceKind


class Listed(NamedTuple):
    """One page of a list: the matching objects, the store revision they were read at, and the
    (namespace, name) to continue after when the page was limited and more remain."""

    items: list[dict]
    revision: int
    after: tuple[str, str] | None


class ObjectReader(Protocol):
    def get(self, rk: ResourceKind, namespace: str | None, name: str) -> dict:
        """The object, or a 404 :class:`~orchestrator.api.errors.ApiError`."""
        ...

    def list(self, rk: ResourceKind, namespace: str | None, options: ListOptions | None = None) -> Listed:
        """Objects of ``rk`` in ``namespace`` (every namespace when None) that ``options`` select."""
        ...
