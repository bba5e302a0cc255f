"""The rest of the core (``v1``) group: Service, Endpoints, Node, Namespace, Event, ConfigMap, Secret.

Pods live in :mod:`orchestrator.api.pod` and containers in :mod:`orchestrator.api.containers`
(they are the bulk of the schema); this module re-exports nothing from them on purpose, so that
an import says where a type lives.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import Field

from orchestrator.api.containers import ResourceList
from orchestrator.api.meta import IntOrString, KubeModel, ObjectReference, TopLevel

# ── Service ──────────────────────────────────────────────────────────────────────────────────


class ServiceType(str, Enum):
    CLUSTER_IP = "ClusterIP"
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "LoadBalancer"
    EXTERNAL_NAME = "ExternalName"


class SessionAffinity(str, Enum):
    NONE = "None"
    CLIENT_IP = "ClientIP"


class TrafficPolicy(str, Enum):
    """Both ``externalTrafficPolicy`` and ``internalTrafficPolicy``."""

    CLUSTER = "Cluster"
    LOCAL = "Local"


class IPFamily(str, Enum):
    IPV4 = "IPv4"
    IPV6 = "IPv6"


class IPFamilyPolicy(str, Enum):
    SINGLE_STACK = "SingleStack"
    PREFER_DUAL_STACK = "PreferDualStack"
    REQUIRE_DUAL_STACK = "RequireDualStack"


CLUSTER_IP_NONE = "None"  # a headless service
DEFAULT_CLIENT_IP_AFFINITY_SECONDS = 10800
MAX_CLIENT_IP_AFFINITY_SECONDS = 86400


class ServicePort(KubeModel):
    name: str | None = None
    protocol: str | None = None
    app_protocol: str | None = None
    port: int | None = None
    target_port: IntOrString | None = None
    node_port: int | None = None


class ClientIPConfig(KubeModel):
    timeout_seconds: int | None = None


class SessionAffinityConfig(KubeModel):
    client_ip: ClientIPConfig | None = Field(default=None, alias="clientIP")


class ServiceSpec(KubeModel):
    ports: list[ServicePort] | None = None
    selector: dict[str, str] | None = None
    cluster_ip: str | None = Field(default=None, alias="clusterIP")
    cluster_ips: list[str] | None = Field(default=None, alias="clusterIPs")
    type: str | None = None
    external_ips: list[str] | None = Field(default=None, alias="externalIPs")
    session_affinity: str | None = None
    load_balancer_ip: str | None = Field(default=None, alias="loadBalancerIP")
    load_balancer_source_ranges: list[str] | None = None
    external_name: str | None = None
    external_traffic_policy: str | None = None
    health_check_node_port: int | None = None
    publish_not_ready_addresses: bool | None = None
    session_affinity_config: SessionAffinityConfig | None = None
    ip_families: list[str] | None = None
    ip_family_policy: str | None = None
    allocate_load_balancer_node_ports: bool | None = None
    load_balancer_class: str | None = None
    internal_traffic_policy: str | None = None
    traffic_distribution: str | None = None


class LoadBalancerIngress(KubeModel):
    ip: str | None = None
    hostname: str | None = None
    ip_mode: str | None = None
    ports: list[dict[str, Any]] | None = None


class LoadBalancerStatus(KubeModel):
    ingress: list[LoadBalancerIngress] | None = None


class ServiceStatus(KubeModel):
    # Go serialises this non-pointer struct even when empty: `status: {loadBalancer: {}}`.
    load_balancer: LoadBalancerStatus = Field(default_factory=LoadBalancerStatus)
    conditions: list[dict[str, Any]] | None = None


class Service(TopLevel):
    api_version: str | None = "v1"
    kind: str | None = "Service"
    spec: ServiceSpec = Field(default_factory=ServiceSpec)
    status: ServiceStatus = Field(default_factory=ServiceStatus)


# ── Endpoints ────────────────────────────────────────────────────────────────────────────────


class EndpointAddress(KubeModel):
    ip: str | None = None
    hostname: str | None = None
    node_name: str | None = None
    target_ref: ObjectReference | None = None


class EndpointPort(KubeModel):
    name: str | None = None
    port: int | None = None
    protocol: str | None = None
    app_protocol: str | None = None


class EndpointSubset(KubeModel):
    addresses: list[EndpointAddress] | None = None
    not_ready_addresses: list[EndpointAddress] | None = None
    ports: list[EndpointPort] | None = None


class Endpoints(TopLevel):
    api_version: str | None = "v1"
    kind: str | None = "Endpoints"
    subsets: list[EndpointSubset] | None = None


# ── Node ─────────────────────────────────────────────────────────────────────────────────────


class TaintEffect(str, Enum):
    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


class NodeConditionType(str, Enum):
    READY = "Ready"
    MEMORY_PRESSURE = "MemoryPressure"
    DISK_PRESSURE = "DiskPressure"
    PID_PRESSURE = "PIDPressure"
    NETWORK_UNAVAILABLE = "NetworkUnavailable"


class NodeAddressType(str, Enum):
    HOSTNAME = "Hostname"
    INTERNAL_IP = "InternalIP"
    EXTERNAL_IP = "ExternalIP"
    INTERNAL_DNS = "InternalDNS"
    EXTERNAL_DNS = "ExternalDNS"


class Taint(KubeModel):
    key: str | None = None
    value: str | None = None
    effect: str | None = None
    time_added: str | None = None


class NodeSpec(KubeModel):
    pod_cidr: str | None = Field(default=None, alias="podCIDR")
    pod_cidrs: list[str] | None = Field(default=None, alias="podCIDRs")
    provider_id: str | None = Field(default=None, alias="providerID")
    unschedulable: bool | None = None
    taints: list[Taint] | None = None
    config_source: dict[str, Any] | None = None
    external_id: str | None = Field(default=None, alias="externalID")


class NodeCondition(KubeModel):
    type: str | None = None
    status: str | None = None
    last_heartbeat_time: str | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class NodeAddress(KubeModel):
    type: str | None = None
    address: str | None = None


class DaemonEndpoint(KubeModel):
    # Kubernetes really spells this one with a capital P.
    port: int | None = Field(default=None, alias="Port")


class NodeDaemonEndpoints(KubeModel):
    kubelet_endpoint: DaemonEndpoint | None = None


class NodeSystemInfo(KubeModel):
    machine_id: str | None = Field(default=None, alias="machineID")
    system_uuid: str | None = Field(default=None, alias="systemUUID")
    boot_id: str | None = Field(default=None, alias="bootID")
    kernel_version: str | None = None
    os_image: str | None = None
    container_runtime_version: str | None = None
    kubelet_version: str | None = None
    kube_proxy_version: str | None = None
    operating_system: str | None = None
    architecture: str | None = None
    swap: dict[str, Any] | None = None


class NodeStatus(KubeModel):
    capacity: ResourceList | None = None
    allocatable: ResourceList | None = None
    phase: str | None = None
    conditions: list[NodeCondition] | None = None
    addresses: list[NodeAddress] | None = None
    daemon_endpoints: NodeDaemonEndpoints | None = None
    node_info: NodeSystemInfo | None = None
    images: list[dict[str, Any]] | None = None
    volumes_in_use: list[str] | None = None
    volumes_attached: list[dict[str, Any]] | None = None
    config: dict[str, Any] | None = None
    runtime_handlers: list[dict[str, Any]] | None = None
    features: dict[str, Any] | None = None


class Node(TopLevel):
    api_version: str | None = "v1"
    kind: str | None = "Node"
    spec: NodeSpec = Field(default_factory=NodeSpec)
    status: NodeStatus = Field(default_factory=NodeStatus)


# ── Namespace ────────────────────────────────────────────────────────────────────────────────


class NamespacePhase(str, Enum):
    ACTIVE = "Active"
    TERMINATING = "Terminating"


FINALIZER_KUBERNETES = "kubernetes"


class NamespaceSpec(KubeModel):
    finalizers: list[str] | None = None


class NamespaceStatus(KubeModel):
    phase: str | None = None
    conditions: list[dict[str, Any]] | None = None


class Namespace(TopLevel):
    api_version: str | None = "v1"
    kind: str | None = "Namespace"
    spec: NamespaceSpec = Field(default_factory=NamespaceSpec)
    status: NamespaceStatus = Field(default_factory=NamespaceStatus)


# ── Event ────────────────────────────────────────────────────────────────────────────────────


class EventType(str, Enum):
    NORMAL = "Normal"
    WARNING = "Warning"


class EventSource(KubeModel):
    component: str | None = None
    host: str | None = None


class EventSeries(KubeModel):
    count: int | None = None
    last_observed_time: str | None = None


class Event(TopLevel):
    api_version: str | None = "v1"
    kind: str | None = "Event"
    involved_object: ObjectReference = Field(default_factory=ObjectReference)
    reason: str | None = None
    message: str | None = None
    source: EventSource | None = None
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    count: int | None = None
    type: str | None = None
    event_time: str | None = None
    series: EventSeries | None = None
    action: str | None = None
    related: ObjectReference | None = None
    reporting_component: str | None = None
    reporting_instance: str | None = None


# ── ConfigMap and Secret ─────────────────────────────────────────────────────────────────────


class SecretType(str, Enum):
    OPAQUE = "Opaque"
    SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
    DOCKERCFG = "kubernetes.io/dockercfg"
    DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
    BASIC_AUTH = "kubernetes.io/basic-auth"
    SSH_AUTH = "kubernetes.io/ssh-auth"
    TLS = "kubernetes.io/tls"
    BOOTSTRAP_TOKEN = "bootstrap.kubernetes.io/token"


class ConfigMap(TopLevel):
    api_version: str | None = "v1"
    kind: str | None = "ConfigMap"
    data: dict[str, str] | None = None
    binary_data: dict[str, str] | None = None  # base64 on the wire
    immutable: bool | None = None


class Secret(TopLevel):
    api_version: str | None = "v1"
    kind: str | None = "Secret"
    data: dict[str, str] | None = None  # base64 on the wire
    string_data: dict[str, str] | None = None  # write-only convenience, merged into data
    type: str | None = None
    immutable: bool | None = None
