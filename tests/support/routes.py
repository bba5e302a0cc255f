"""Every path the API server serves, generated from the kind registry, for tests that must
cover all of them (authorization, bad input).

A test says which objects it wants each kind's object paths to name (``subjects``) and which
namespaces its collections live in; the generator does the rest: every kind of
:data:`orchestrator.api.registry.KINDS`, its collections (one per namespace, and across all
namespaces), its objects and each of their subresources. A kind added to the registry is walked
without touching any test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from orchestrator.api.bootstrap import JOIN_PATH
from orchestrator.api.registry import KINDS, ResourceKind, groups

#: the methods a client can send, and one that no verb has: each route is tried with all of them
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
#: the methods the API knows; any other is refused whoever sends it
VERB_METHODS = frozenset(METHODS) - {"OPTIONS"}


@dataclass(frozen=True)
class Route:
    rk: ResourceKind
    namespace: str | None
    name: str | None
    subresource: str | None = None

    @property
    def path(self) -> str:
        prefix = f"/apis/{self.rk.group}/{self.rk.version}" if self.rk.group else f"/api/{self.rk.version}"
        parts = [prefix]
        if self.namespace is not None:
            parts.append(f"namespaces/{self.namespace}")
        parts.append(self.rk.plural)
        if self.name is not None:
            parts.append(self.name)
        if self.subresource is not None:
            parts.append(self.subresource)
        return "/".join(parts)

    @property
    def resource(self) -> str:
        """``pods/log``: the resource as the authorizer's messages name it."""
        return self.rk.plural + (f"/{self.subresource}" if self.subresource else "")

    def __str__(self) -> str:
        return self.path


Subjects = Callable[[ResourceKind], list[tuple[str | None, str]]]
Namespaces = Callable[[ResourceKind], list[str]]


def any_object(rk: ResourceKind) -> list[tuple[str | None, str]]:
    """One object of each kind, whether or not it exists: ``default/x``, or ``x`` for cluster kinds."""
    return [("default" if rk.namespaced else None, "x")]


def default_namespace(rk: ResourceKind) -> list[str]:
    return ["default"]


def resource_routes(subjects: Subjects = any_object, namespaces: Namespaces = default_namespace) -> Iterator[Route]:
    """Every collection, object and subresource path of every served kind."""
    for rk in KINDS:
        if rk.namespaced:
            for namespace in namespaces(rk):
                yield Route(rk, namespace, None)
        yield Route(rk, None, None)  # a cluster kind's only collection; every namespace's otherwise
        for namespace, name in subjects(rk):
            yield Route(rk, namespace, name)
            for subresource in sorted(rk.subresources):
                yield Route(rk, namespace, name, subresource)


def discovery_paths() -> list[str]:
    """The non-resource paths: discovery of every served group version, OpenAPI, health, version,
    metrics and the join exchange."""
    paths = ["/api", "/apis", "/openapi/v3", "/version", "/healthz", "/readyz", "/livez", "/metrics", JOIN_PATH]
    for group, versions in groups().items():
        if group:
            paths.append(f"/apis/{group}")
        for version in versions:
            prefix = f"apis/{group}/{version}" if group else f"api/{version}"
            paths += [f"/{prefix}", f"/openapi/v3/{prefix}"]
    return paths
