"""``discovery.k8s.io/v1`` EndpointSlice: the successor of Endpoints that kube-proxy-alikes read.

Unlike Endpoints, each endpoint carries its own ``conditions`` (ready / serving / terminating), so
a terminating pod can stay listed as not-ready instead of vanishing. The endpoints controller
writes both kinds; nothing else does.
"""

from __future__ import annotations

from enum import Enum

from pydantic import Field

from orchestrator.api.meta import REQUIRED, KubeModel, ObjectReference, TopLevel

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"


class AddressType(str, Enum):
    IPV4 = "IPv4"
    IPV6 = "IPv6"
    FQDN = "FQDN"


class EndpointConditions(KubeModel):
    """The state of one endpoint."""

    ready: bool | None = None
    """Whether the endpoint should receive traffic: serving and not terminating (or, with the
    Service's publishNotReadyAddresses, always)."""
    serving: bool | None = None
    """Whether the pod passes its readiness checks, terminating or not."""
    terminating: bool | None = None
    """Whether the pod is being deleted."""


class ForZone(KubeModel):
    """A zone that should use an endpoint."""

    name: str | None = None
    """The zone's name."""


class EndpointHints(KubeModel):
    """Hints for topology-aware routing; dockyard's proxy ignores them."""

    for_zones: list[ForZone] | None = None
    """The zones whose clients should use this endpoint."""


class Endpoint(KubeModel):
    """One pod (or address) behind a Service."""

    addresses: list[str] | None = Field(default=None, json_schema_extra=REQUIRED)
    """Its addresses, of the slice's addressType; one for a pod, its IP."""
    conditions: EndpointConditions | None = None
    """Whether it is ready, serving and terminating."""
    hostname: str | None = None
    """The pod's hostname, when it set one with a subdomain matching the Service."""
    target_ref: ObjectReference | None = None
    """The pod behind the endpoint."""
    node_name: str | None = None
    """The node the pod runs on."""
    zone: str | None = None
    """The zone of that node (its topology.kubernetes.io/zone label)."""
    hints: EndpointHints | None = None
    """Topology hints; dockyard sets none."""
    deprecated_topology: dict[str, str] | None = None
    """Deprecated copy of the node's topology labels; never set."""


class EndpointSlicePort(KubeModel):
    """A port of every endpoint of the slice."""

    name: str | None = None
    """The Service port's name; empty for a single unnamed port."""
    protocol: str | None = None
    """TCP (the default), UDP or SCTP."""
    port: int | None = None
    """The port number on the endpoints (the Service's targetPort, resolved)."""
    app_protocol: str | None = None
    """The application protocol, copied from the Service port."""


class EndpointSlice(TopLevel):
    """A part of the endpoints of a Service: up to 100 addresses with the same ports, each with its
    own ready, serving and terminating state. The endpoints controller keeps them for Services with
    a selector; the kubernetes.io/service-name label names the Service."""

    api_version: str | None = "discovery.k8s.io/v1"
    kind: str | None = "EndpointSlice"
    address_type: str | None = None
    """The kind of addresses: IPv4, IPv6 or FQDN. It cannot change."""
    endpoints: list[Endpoint] | None = Field(default=None, json_schema_extra=REQUIRED)
    """The endpoints, at most 1000."""
    ports: list[EndpointSlicePort] | None = None
    """The ports every endpoint serves."""
