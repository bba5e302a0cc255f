"""``discovery.k8s.io/v1`` EndpointSlice: the successor of Endpoints that kube-proxy-alikes read.

Unlike Endpoints, each endpoint carries its own ``conditions`` (ready / serving / terminating), so
a terminating pod can stay listed as not-ready instead of vanishing. The endpoints controller
writes both kinds; nothing else does.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from orchestrator.api.meta import KubeModel, ObjectReference, TopLevel

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"


class AddressType(str, Enum):
    IPV4 = "IPv4"
    IPV6 = "IPv6"
    FQDN = "FQDN"


class EndpointConditions(KubeModel):
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class Endpoint(KubeModel):
    addresses: list[str] | None = None
    conditions: EndpointConditions | None = None
    hostname: str | None = None
    target_ref: ObjectReference | None = None
    node_name: str | None = None
    zone: str | None = None
    hints: dict[str, Any] | None = None
    deprecated_topology: dict[str, str] | None = None


class EndpointSlicePort(KubeModel):
    name: str | None = None
    protocol: str | None = None
    port: int | None = None
    app_protocol: str | None = None


class EndpointSlice(TopLevel):
    api_version: str | None = "discovery.k8s.io/v1"
    kind: str | None = "EndpointSlice"
    address_type: str | None = None
    endpoints: list[Endpoint] | None = None
    ports: list[EndpointSlicePort] | None = None
