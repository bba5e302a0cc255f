"""The kind registry: every resource the API server serves, and how Kubernetes names it.

The API server routes generically over :data:`KINDS` — URL paths, discovery documents
(``APIResourceList``), store keys and ``kubectl get all`` all come from here, so adding a kind is
one entry plus its model. Names, short names and categories are Kubernetes 1.32's, because
kubectl caches discovery and users type ``po``, ``svc``, ``deploy``, ``rs``.

``has_spec_generation`` follows the Kubernetes registry strategies: only kinds whose strategy
keeps ``metadata.generation`` (set to 1 on create, bumped when the spec changes) say yes. In 1.32
that is Deployments and ReplicaSets among ours (also StatefulSets, DaemonSets, CRDs …). Pods got
``metadata.generation`` only in 1.33 (PodObservedGenerationTracking), Services never had it, and
kubectl's ``rollout status`` only consults it on workloads, so the rest say no.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from orchestrator.api import errors
from orchestrator.api.apps import Deployment, ReplicaSet
from orchestrator.api.coordination import Lease
from orchestrator.api.core import ConfigMap, Endpoints, Event, Namespace, Secret, Service
from orchestrator.api.discovery import EndpointSlice
from orchestrator.api.node import Node
from orchestrator.api.pod import Pod


@dataclass(frozen=True)
class ResourceKind:
    kind: str
    group: str  # "" for the core group
    version: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...]
    categories: tuple[str, ...]
    model: type[BaseModel]
    subresources: frozenset[str]
    has_spec_generation: bool

    @property
    def api_version(self) -> str:
        """``v1``, ``apps/v1``, ``discovery.k8s.io/v1``: what objects carry in ``apiVersion``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified_resource(self) -> str:
        """``pods``, ``deployments.apps``: the resource as error messages and store keys name it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


#: the subresource that passes HTTP through to a pod, a Service's endpoint or a node's agent
#: (``pods/x/proxy/…``): the only one whose path goes on after its name
PROXY = "proxy"

_STATUS = frozenset({"status"})
_SCALABLE = frozenset({"status", "scale"})
_NONE: frozenset[str] = frozenset()

KINDS: tuple[ResourceKind, ...] = (
    ResourceKind("Namespace", "", "v1", "namespaces", "namespace", False, ("ns",), (),
                 Namespace, frozenset({"status", "finalize"}), False),
    ResourceKind("Node", "", "v1", "nodes", "node", False, ("no",), (),
                 Node, frozenset({"status", PROXY}), False),
    ResourceKind("Pod", "", "v1", "pods", "pod", True, ("po",), ("all",),
                 Pod, frozenset({"status", "log", "exec", "attach", "portforward", "binding", "eviction", PROXY,
                                 "ephemeralcontainers"}), False),
    ResourceKind("ReplicaSet", "apps", "v1", "replicasets", "replicaset", True, ("rs",), ("all",),
                 ReplicaSet, _SCALABLE, True),
    ResourceKind("Deployment", "apps", "v1", "deployments", "deployment", True, ("deploy",), ("all",),
                 Deployment, _SCALABLE, True),
    ResourceKind("Service", "", "v1", "services", "service", True, ("svc",), ("all",),
                 Service, frozenset({"status", PROXY}), False),
    ResourceKind("Endpoints", "", "v1", "endpoints", "endpoints", True, ("ep",), (),
                 Endpoints, _NONE, False),
    ResourceKind("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices", "endpointslice", True, (), (),
                 EndpointSlice, _NONE, False),
    ResourceKind("Event", "", "v1", "events", "event", True, ("ev",), (),
                 Event, _NONE, False),
    ResourceKind("ConfigMap", "", "v1", "configmaps", "configmap", True, ("cm",), (),
                 ConfigMap, _NONE, False),
    ResourceKind("Secret", "", "v1", "secrets", "secret", True, (), (),
                 Secret, _NONE, False),
    ResourceKind("Lease", "coordination.k8s.io", "v1", "leases", "lease", True, (), (),
                 Lease, _NONE, False),
)

_BY_GVK = {(rk.api_version, rk.kind): rk for rk in KINDS}
_BY_RESOURCE = {(rk.group, rk.version, rk.plural): rk for rk in KINDS}


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` → ``("apps", "v1")``; ``v1`` → ``("", "v1")``."""
    group, _, version = api_version.rpartition("/")
    return group, version


def kind_for(api_version: str, kind: str) -> ResourceKind:
    """The kind an object's ``apiVersion``/``kind`` names, or kubectl's "no matches" error (404)."""
    if api_version.count("/") > 1 or not api_version or api_version.endswith("/"):
        raise errors.bad_request(f'unable to parse apiVersion "{api_version}"')
    rk = _BY_GVK.get((api_version, kind))
    if rk is None:
        raise errors.ApiError(
            f'no matches for kind "{kind}" in version "{api_version}"',
            errors.StatusReason.NOT_FOUND, 404, kind=kind,
        )
    return rk


def resource_for(group: str, version: str, plural: str) -> ResourceKind | None:
    """The kind served at ``/apis/{group}/{version}/{plural}`` (``group`` "" for ``/api/v1``)."""
    return _BY_RESOURCE.get((group, version, plural))


def groups() -> dict[str, list[str]]:
    """Served API groups and their versions, core ("") first: what discovery lists."""
    served: dict[str, list[str]] = {}
    for rk in KINDS:
        versions = served.setdefault(rk.group, [])
        if rk.version not in versions:
            versions.append(rk.version)
    return served
