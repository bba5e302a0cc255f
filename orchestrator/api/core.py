"""The rest of the core (``v1``) group: Service, Endpoints, Namespace, Event, ConfigMap, Secret.

Pods live in :mod:`orchestrator.api.pod` (their spec in :mod:`orchestrator.api.podspec`, containers
in :mod:`orchestrator.api.containers`) and Nodes in :mod:`orchestrator.api.node`; this module
re-exports nothing from them on purpose, so that an import says where a type lives.
"""

from __future__ import annotations

from enum import Enum

from pydantic import Field

from orchestrator.api.meta import NOT_REQUIRED, REQUIRED, Condition, IntOrString, KubeModel, ObjectReference, TopLevel

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
    """One port a Service offers, and where its traffic goes on the selected pods."""

    name: str | None = None
    """The port's name; required when the Service has more than one port. Endpoints, DNS SRV records
    and kubectl port-forward svc/NAME name it this way."""
    protocol: str | None = None
    """TCP (the default), UDP or SCTP."""
    app_protocol: str | None = None
    """The application protocol, such as http or kubernetes.io/h2c, for tools that care; dockyard
    passes it on to the Endpoints."""
    port: int | None = None
    """The port the Service listens on, at its cluster IP."""
    target_port: IntOrString | None = None
    """The pods' port the traffic goes to: a number, or the name of a container port (so pods may
    use different numbers). Defaults to port."""
    node_port: int | None = None
    """For NodePort and LoadBalancer Services: the port opened on every node, 30000 to 32767.
    Allocated at random when not given."""


class ClientIPConfig(KubeModel):
    """Settings of ClientIP session affinity."""

    timeout_seconds: int | None = None
    """How long a client sticks to its pod after its last connection: 1 to 86400 seconds, 10800 (3
    hours) by default."""


class SessionAffinityConfig(KubeModel):
    """Settings of session affinity."""

    client_ip: ClientIPConfig | None = Field(default=None, alias="clientIP")
    """Settings for sessionAffinity ClientIP."""


class ServiceSpec(KubeModel):
    """What a Service offers: which pods, on which ports, and how it is reached."""

    ports: list[ServicePort] | None = None
    """The ports the Service offers."""
    selector: dict[str, str] | None = None
    """The labels of the pods that receive the traffic; the endpoints controller keeps the Service's
    Endpoints and EndpointSlices listing the ready ones. Without a selector, the Endpoints are yours
    to write."""
    cluster_ip: str | None = Field(default=None, alias="clusterIP")
    """The Service's virtual IP, allocated from the service range (10.96.0.0/12 by default) when not
    given; None makes a headless Service whose DNS name resolves to the pods' own addresses. It
    cannot change after creation."""
    cluster_ips: list[str] | None = Field(default=None, alias="clusterIPs")
    """The Service's virtual IPs, one per IP family, clusterIP first."""
    type: str | None = None
    """How the Service is reached: ClusterIP (the default: inside the cluster only), NodePort (also
    on a port of every node), LoadBalancer (also at an external address; dockyard answers on every
    Ready node's address, as k3s does) or ExternalName (a DNS alias for externalName, no proxying).
    """
    external_ips: list[str] | None = Field(default=None, alias="externalIPs")
    """Addresses, not managed by the cluster, on which the nodes also accept the Service's traffic.
    """
    session_affinity: str | None = None
    """None (the default: each connection may reach any pod) or ClientIP (a client keeps reaching
    the same pod)."""
    load_balancer_ip: str | None = Field(default=None, alias="loadBalancerIP")
    """Deprecated: a requested load balancer address; dockyard ignores it."""
    load_balancer_source_ranges: list[str] | None = None
    """Client ranges allowed through a load balancer; dockyard does not filter by them."""
    external_name: str | None = None
    """For type ExternalName: the DNS name the Service's name is an alias (CNAME) for, such as
    my.database.example.com."""
    external_traffic_policy: str | None = None
    """For traffic from outside the cluster (NodePorts, load balancer and external IPs): Cluster
    (the default: any ready pod, with the client's address hidden behind the node's) or Local (only
    the receiving node's pods, keeping the client's address; a node without one refuses)."""
    health_check_node_port: int | None = None
    """For LoadBalancer Services with the Local policy: a node port for external load balancers'
    health checks; dockyard does not serve one."""
    publish_not_ready_addresses: bool | None = None
    """True: list the selected pods in the endpoints whether ready or not (for peer discovery in
    StatefulSets). Defaults to false."""
    session_affinity_config: SessionAffinityConfig | None = None
    """Settings of session affinity: the ClientIP timeout."""
    ip_families: list[str] | None = None
    """The IP families of the Service's addresses: IPv4 or IPv6. dockyard clusters are IPv4 only."""
    ip_family_policy: str | None = None
    """SingleStack (the default), PreferDualStack or RequireDualStack. dockyard clusters are
    single-stack IPv4."""
    allocate_load_balancer_node_ports: bool | None = None
    """For LoadBalancer Services: whether node ports are allocated too. Defaults to true."""
    load_balancer_class: str | None = None
    """The load balancer implementation responsible for the Service; when set, dockyard's own leaves
    the Service alone."""
    internal_traffic_policy: str | None = None
    """For traffic from inside the cluster: Cluster (the default: any ready pod) or Local (only pods
    on the client's node). dockyard's proxy treats both as Cluster."""
    traffic_distribution: str | None = None
    """A preference for how traffic spreads over endpoints, such as PreferClose; dockyard ignores
    it."""


class PortStatus(KubeModel):
    """The state of one port of a load balancer address."""

    port: int | None = None
    """The port number."""
    protocol: str | None = None
    """TCP, UDP or SCTP."""
    error: str | None = None
    """Why the port is not served, as a CamelCase reason; empty when it works."""


class LoadBalancerIngress(KubeModel):
    """One address at which a load balancer accepts the Service's traffic."""

    ip: str | None = None
    """The address; dockyard publishes the InternalIP of every Ready node."""
    hostname: str | None = None
    """A DNS name, for load balancers known by name."""
    ip_mode: str | None = None
    """VIP (traffic arrives with the address as destination, as on dockyard) or Proxy."""
    ports: list[PortStatus] | None = None
    """The state of each port."""


class LoadBalancerStatus(KubeModel):
    """The addresses of a Service's load balancer."""

    ingress: list[LoadBalancerIngress] | None = None
    """The addresses; kubectl get svc shows them under EXTERNAL-IP."""


class ServiceStatus(KubeModel):
    """The Service's load balancer, once it has one."""

    # Go serialises this non-pointer struct even when empty: `status: {loadBalancer: {}}`.
    load_balancer: LoadBalancerStatus = Field(default_factory=LoadBalancerStatus)
    """The load balancer's addresses, for LoadBalancer Services."""
    conditions: list[Condition] | None = None
    """Conditions of the Service; dockyard sets none."""


class Service(TopLevel):
    """A stable name and virtual IP for a changing set of pods, chosen by labels: connections to it
    are spread over the ready pods. dockyard's node agents program the same iptables rules
    kube-proxy does, and its DNS answers NAME.NAMESPACE.svc.cluster.local."""

    api_version: str | None = "v1"
    kind: str | None = "Service"
    spec: ServiceSpec = Field(default_factory=ServiceSpec)
    """Which pods, which ports, and how the Service is reached."""
    status: ServiceStatus = Field(default_factory=ServiceStatus)
    """The load balancer's addresses. Read only."""


# ── Endpoints ────────────────────────────────────────────────────────────────────────────────


class EndpointAddress(KubeModel):
    """One pod address (or any address) behind a Service."""

    ip: str | None = None
    """The address."""
    hostname: str | None = None
    """The pod's hostname, when it set one with a subdomain matching the Service; DNS then answers
    HOSTNAME.SERVICE.NAMESPACE.svc."""
    node_name: str | None = None
    """The node the pod runs on."""
    target_ref: ObjectReference | None = None
    """The pod behind the address."""


class EndpointPort(KubeModel):
    """A port of the addresses of a subset."""

    name: str | None = None
    """The Service port's name; empty when the Service has one unnamed port."""
    port: int | None = None
    """The port number on the pods (the Service's targetPort, resolved)."""
    protocol: str | None = None
    """TCP (the default), UDP or SCTP."""
    app_protocol: str | None = None
    """The application protocol, copied from the Service port."""


class EndpointSubset(KubeModel):
    """Addresses that all serve the same ports."""

    addresses: list[EndpointAddress] | None = None
    """Ready addresses: the Service sends them traffic."""
    not_ready_addresses: list[EndpointAddress] | None = None
    """Addresses of pods that are not ready (or are terminating): no traffic goes to them."""
    ports: list[EndpointPort] | None = None
    """The ports, on every address of the subset."""


class Endpoints(TopLevel):
    """The addresses behind a Service, kept by the endpoints controller for Services with a selector
    (the object has the Service's name). The service proxy and DNS read them."""

    api_version: str | None = "v1"
    kind: str | None = "Endpoints"
    subsets: list[EndpointSubset] | None = None
    """Groups of addresses with the same ports."""


# ── Namespace ────────────────────────────────────────────────────────────────────────────────


class NamespacePhase(str, Enum):
    ACTIVE = "Active"
    TERMINATING = "Terminating"


FINALIZER_KUBERNETES = "kubernetes"


class NamespaceSpec(KubeModel):
    """What must happen before a deleted namespace goes."""

    finalizers: list[str] | None = None
    """Clean-ups that must finish before the namespace is removed; kubernetes (the deletion of every
    object in it) is added on creation."""


class NamespaceCondition(KubeModel):
    """One aspect of a namespace's deletion."""

    type: str | None = None
    """What the condition is about, such as NamespaceDeletionContentFailure."""
    status: str | None = None
    """True, False or Unknown."""
    last_transition_time: str | None = None
    """When status last changed."""
    reason: str | None = None
    """A one-word CamelCase cause of the last transition."""
    message: str | None = None
    """A sentence about the last transition."""


class NamespaceStatus(KubeModel):
    """Whether the namespace is in use or being deleted."""

    phase: str | None = None
    """Active, or Terminating while its objects are deleted (no new ones can be created then)."""
    conditions: list[NamespaceCondition] | None = None
    """Progress and problems of a deletion; dockyard sets none."""


class Namespace(TopLevel):
    """A name scope for namespaced objects (pods, Services, ConfigMaps ...) and the unit of per-team
    access and cleanup: deleting a namespace deletes everything in it."""

    api_version: str | None = "v1"
    kind: str | None = "Namespace"
    spec: NamespaceSpec = Field(default_factory=NamespaceSpec)
    """The finalizers that must run before the namespace goes."""
    status: NamespaceStatus = Field(default_factory=NamespaceStatus)
    """Active or Terminating. Read only."""


# ── Event ────────────────────────────────────────────────────────────────────────────────────


class EventType(str, Enum):
    NORMAL = "Normal"
    WARNING = "Warning"


class EventSource(KubeModel):
    """The component that reported an event (the old way of saying it)."""

    component: str | None = None
    """The reporting component, such as default-scheduler or kubelet."""
    host: str | None = None
    """The node the component runs on."""


class EventSeries(KubeModel):
    """How often a repeating event has happened (the newer way of counting)."""

    count: int | None = None
    """How many times it happened."""
    last_observed_time: str | None = None
    """When it was last seen."""


class Event(TopLevel):
    """A report that something happened to an object: a pod was scheduled, an image pulled, a probe
    failed. kubectl describe lists an object's events. Kubernetes deletes them after an hour;
    dockyard keeps them."""

    api_version: str | None = "v1"
    kind: str | None = "Event"
    involved_object: ObjectReference = Field(default_factory=ObjectReference, json_schema_extra=REQUIRED)
    """The object the event is about."""
    reason: str | None = None
    """A one-word CamelCase reason, such as Scheduled, Pulled, Unhealthy or FailedScheduling."""
    message: str | None = None
    """What happened, for people."""
    source: EventSource | None = None
    """The component that reported it."""
    first_timestamp: str | None = None
    """When it first happened."""
    last_timestamp: str | None = None
    """When it last happened; repeats of the same event update it and count."""
    count: int | None = None
    """How many times it happened."""
    type: str | None = None
    """Normal or Warning."""
    event_time: str | None = None
    """When it happened, with microseconds (set by newer reporters)."""
    series: EventSeries | None = None
    """Repeat counting by newer reporters."""
    action: str | None = None
    """What the reporter did or failed to do, such as Binding or Scheduling."""
    related: ObjectReference | None = None
    """A second object the event is about, such as the node a pod was scheduled to."""
    reporting_component: str | None = Field(default=None, json_schema_extra=NOT_REQUIRED)
    """The component that reported it, such as default-scheduler."""
    reporting_instance: str | None = Field(default=None, json_schema_extra=NOT_REQUIRED)
    """Which instance of that component, such as the node name of a kubelet."""


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
    """Configuration as key-value pairs, for pods to read as environment variables (or, in
    Kubernetes, as files). Kubernetes limits one to 1 MiB."""

    api_version: str | None = "v1"
    kind: str | None = "ConfigMap"
    data: dict[str, str] | None = None
    """The entries, text only. Keys are letters, digits, '-', '_' and '.'."""
    binary_data: dict[str, str] | None = None  # base64 on the wire
    """Entries holding bytes, base64-encoded; their keys must differ from data's."""
    immutable: bool | None = None
    """True: data and binaryData can no longer change (only deletion); cannot be undone."""


class Secret(TopLevel):
    """Sensitive values (passwords, tokens, keys) for pods to read as environment variables (or, in
    Kubernetes, as files). Stored base64-encoded, which is not encryption."""

    api_version: str | None = "v1"
    kind: str | None = "Secret"
    data: dict[str, str] | None = None  # base64 on the wire
    """The entries, each value base64-encoded. Keys are letters, digits, '-', '_' and '.'."""
    string_data: dict[str, str] | None = None  # write-only convenience, merged into data
    """Entries in plain text, for writing only: the server encodes them into data (they win over
    data's entries of the same key) and never returns this field."""
    type: str | None = None
    """What the Secret holds, which fixes the keys it needs: Opaque (the default: anything),
    kubernetes.io/tls (tls.crt and tls.key), kubernetes.io/dockerconfigjson (.dockerconfigjson),
    kubernetes.io/basic-auth, kubernetes.io/ssh-auth, kubernetes.io/service-account-token ... It
    cannot change."""
    immutable: bool | None = None
    """True: data can no longer change (only deletion); cannot be undone."""
