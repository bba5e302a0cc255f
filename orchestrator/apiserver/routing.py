"""Kubernetes URL paths to the object they name.

``/api/v1/namespaces/{ns}/pods/{name}/log`` and friends are parsed by hand rather than with one
route per shape, because the same prefix means different things: ``/api/v1/namespaces/x`` is a
Namespace object while ``/api/v1/namespaces/x/pods`` is a collection inside it, and
``/api/v1/namespaces/x/status`` is the Namespace's status subresource. A namespaced kind's
objects are addressed only inside their namespace: ``/api/v1/pods`` is every namespace's pods,
``/api/v1/pods/x`` names nothing (404), as in Kubernetes. Only the ``proxy`` subresource goes on
after its name (``pods/x/proxy/any/path``): what follows is the proxied path, which
:func:`orchestrator.apiserver.proxytarget.split_proxy_path` takes from the raw request path.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.api import errors
from orchestrator.api.registry import PROXY, ResourceKind, resource_for


@dataclass(frozen=True)
class Target:
    rk: ResourceKind
    namespace: str | None
    name: str | None
    subresource: str | None

    @property
    def is_collection(self) -> bool:
        return self.name is None


def parse_resource_path(group: str, version: str, segments: list[str]) -> Target | None:
    """``segments`` is what follows ``/api/v1`` or ``/apis/<group>/<version>``; None if not a resource."""
    namespace = None
    if len(segments) >= 3 and segments[0] == "namespaces" and resource_for(group, version, segments[2]):
        namespace, segments = segments[1], segments[2:]
    if not segments or (len(segments) > 3 and segments[2] != PROXY):
        return None
    rk = resource_for(group, version, segments[0])
    if rk is None:
        return None
    if namespace is not None and not rk.namespaced:
        return None
    name = segments[1] if len(segments) > 1 else None
    if rk.namespaced and namespace is None and name is not None:
        # ``/api/v1/pods`` lists pods of every namespace, but a pod is named only inside one
        return None
    subresource = segments[2] if len(segments) > 2 else None
    if subresource is not None and subresource not in rk.subresources:
        raise errors.ApiError(f'the server could not find the requested resource ({rk.plural}/{subresource})',
                              errors.StatusReason.NOT_FOUND, 404)
    return Target(rk, namespace, name, subresource)
