"""Nodes: the machines pods run on, as their node agents register and report them.

Each node agent creates its Node, heartbeats its ``Ready`` condition and reports what the machine
has (``capacity``/``allocatable``, addresses, versions). The control plane writes the rest:
``spec.podCIDR`` (node IPAM), ``spec.unschedulable`` (``kubectl cordon``) and taints (the node
lifecycle controller taints nodes that stop reporting).
"""

from __future__ import annotations

from enum import Enum

from pydantic import Field

from orchestrator.api.containers import ResourceList
from orchestrator.api.meta import NOT_REQUIRED, KubeModel, TopLevel


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
    """A mark on a node that repels pods which do not tolerate it (kubectl taint)."""

    key: str | None = None
    """The taint's key, such as dedicated or node.kubernetes.io/not-ready."""
    value: str | None = None
    """The taint's value; tolerations with operator Equal must name it."""
    effect: str | None = None
    """What the taint does to pods that do not tolerate it: NoSchedule (they are not scheduled
    here), PreferNoSchedule (the scheduler avoids the node when it can) or NoExecute (running ones
    are evicted as well)."""
    time_added: str | None = None
    """When a NoExecute taint was added; tolerationSeconds count from it."""


class ConfigMapNodeConfigSource(KubeModel):
    """A ConfigMap holding a kubelet configuration (deprecated dynamic kubelet configuration)."""

    namespace: str | None = None
    """The ConfigMap's namespace."""
    name: str | None = None
    """The ConfigMap's name."""
    uid: str | None = None
    """The ConfigMap's uid."""
    resource_version: str | None = None
    """The ConfigMap's resourceVersion."""
    kubelet_config_key: str | None = None
    """The key holding the configuration."""


class NodeConfigSource(KubeModel):
    """Where a node's kubelet configuration comes from; deprecated, and ignored by dockyard."""

    config_map: ConfigMapNodeConfigSource | None = None
    """A ConfigMap holding the configuration."""


class NodeSpec(KubeModel):
    """How the cluster treats the node: its pod address range, whether it takes new pods, and its
    taints."""

    pod_cidr: str | None = Field(default=None, alias="podCIDR")
    """The address range the node's pods get their IPs from, such as 10.244.1.0/24; assigned by the
    control plane when the node registers."""
    pod_cidrs: list[str] | None = Field(default=None, alias="podCIDRs")
    """The node's pod ranges, one per IP family, podCIDR first."""
    provider_id: str | None = Field(default=None, alias="providerID")
    """The cloud provider's id of the machine; empty on dockyard."""
    unschedulable: bool | None = None
    """True: the scheduler places no new pods here; running pods stay (kubectl cordon sets it,
    uncordon clears it)."""
    taints: list[Taint] | None = None
    """Taints that repel pods which do not tolerate them."""
    config_source: NodeConfigSource | None = None
    """Deprecated dynamic kubelet configuration; ignored."""
    external_id: str | None = Field(default=None, alias="externalID")
    """Deprecated; ignored."""


class NodeCondition(KubeModel):
    """One aspect of the node's health, as its agent reports it."""

    type: str | None = None
    """Ready (the agent is healthy and can run pods), MemoryPressure, DiskPressure, PIDPressure or
    NetworkUnavailable."""
    status: str | None = None
    """True, False, or Unknown when the agent has stopped reporting."""
    last_heartbeat_time: str | None = None
    """When the agent last reported this condition."""
    last_transition_time: str | None = None
    """When status last changed."""
    reason: str | None = None
    """A one-word CamelCase cause of the last transition, such as KubeletReady or NodeStatusUnknown.
    """
    message: str | None = None
    """A sentence about the last transition."""


class NodeAddress(KubeModel):
    """One address of the node."""

    type: str | None = None
    """InternalIP (what the control plane and other nodes reach it at), ExternalIP, Hostname,
    InternalDNS or ExternalDNS."""
    address: str | None = None
    """The address."""


class DaemonEndpoint(KubeModel):
    """A port the node agent listens on."""

    # Kubernetes really spells this one with a capital P.
    port: int | None = Field(default=None, alias="Port")
    """The port number."""


class NodeDaemonEndpoints(KubeModel):
    """Ports the node's daemons listen on."""

    kubelet_endpoint: DaemonEndpoint | None = None
    """The node agent's HTTPS port, which the API server uses for logs, exec, attach, port-forward
    and the nodes/NAME/proxy subresource."""


class NodeSwapStatus(KubeModel):
    """The node's swap space."""

    capacity: int | None = None
    """The swap space, in bytes."""


class NodeSystemInfo(KubeModel):
    """Facts about the machine and the software on it, as the node agent found them."""

    machine_id: str | None = Field(default=None, alias="machineID")
    """The machine's id, from /etc/machine-id."""
    system_uuid: str | None = Field(default=None, alias="systemUUID")
    """The hardware's UUID; dockyard reports the machine id."""
    boot_id: str | None = Field(default=None, alias="bootID")
    """The id of the current boot; empty on dockyard."""
    kernel_version: str | None = None
    """The kernel release, as uname -r prints it."""
    os_image: str | None = None
    """The operating system, such as Debian GNU/Linux 12 (bookworm)."""
    container_runtime_version: str | None = None
    """The container runtime and its version, such as docker://20.10.24."""
    kubelet_version: str | None = None
    """The node agent's version (dockyard's agent stands in for the kubelet)."""
    kube_proxy_version: str | None = None
    """Deprecated and empty."""
    operating_system: str | None = None
    """The operating system family, linux."""
    architecture: str | None = None
    """The CPU architecture, such as amd64 or arm64."""
    swap: NodeSwapStatus | None = None
    """The machine's swap space; dockyard does not report it."""


class ContainerImage(KubeModel):
    """An image present on the node."""

    names: list[str] | None = None
    """The image's names (tags and digests)."""
    size_bytes: int | None = None
    """Its size in bytes."""


class AttachedVolume(KubeModel):
    """A volume attached to the node."""

    name: str | None = None
    """The volume's name."""
    device_path: str | None = None
    """Where it appears on the node."""


class NodeConfigStatus(KubeModel):
    """The state of dynamic kubelet configuration (deprecated); never reported by dockyard."""

    assigned: NodeConfigSource | None = None
    """The configuration the node was told to use."""
    active: NodeConfigSource | None = None
    """The configuration the node uses."""
    last_known_good: NodeConfigSource | None = None
    """The configuration the node falls back to."""
    error: str | None = None
    """A problem with the configuration."""


class NodeRuntimeHandlerFeatures(KubeModel):
    """What a runtime handler supports."""

    recursive_read_only_mounts: bool | None = None
    """Whether it supports recursive read-only mounts."""
    user_namespaces: bool | None = None
    """Whether it supports user namespaces for pods."""


class NodeRuntimeHandler(KubeModel):
    """A container runtime handler (RuntimeClass) the node offers."""

    name: str | None = Field(default=None, json_schema_extra=NOT_REQUIRED)
    """The handler's name; empty for the default."""
    features: NodeRuntimeHandlerFeatures | None = None
    """What it supports."""


class NodeFeatures(KubeModel):
    """Optional features the node supports."""

    supplemental_groups_policy: bool | None = None
    """Whether pods' securityContext.supplementalGroupsPolicy is honoured."""


class NodeStatus(KubeModel):
    """What the node has and how it is, as its agent reports it. Read only for users: it is written
    through the status subresource."""

    capacity: ResourceList | None = None
    """The machine's total resources: cpu, memory, and pods (how many pods the node runs at most).
    """
    allocatable: ResourceList | None = None
    """The part of capacity pods may request; the scheduler fits pods' requests into it. dockyard
    reserves nothing for the system, so it equals capacity."""
    phase: str | None = None
    """Deprecated and unset."""
    conditions: list[NodeCondition] | None = None
    """Ready and the pressure conditions, with heartbeat times. A node whose agent stops reporting
    turns Unknown after the grace period, and its pods are evicted later."""
    addresses: list[NodeAddress] | None = None
    """Where the node can be reached: InternalIP and Hostname."""
    daemon_endpoints: NodeDaemonEndpoints | None = None
    """The ports of the node's daemons; the node agent's HTTPS port."""
    node_info: NodeSystemInfo | None = None
    """Kernel, operating system, runtime and agent versions of the machine."""
    images: list[ContainerImage] | None = None
    """Images present on the node; dockyard does not report them."""
    volumes_in_use: list[str] | None = None
    """Attachable volumes in use by the node's pods; dockyard has none."""
    volumes_attached: list[AttachedVolume] | None = None
    """Volumes attached to the node; dockyard has none."""
    config: NodeConfigStatus | None = None
    """Deprecated dynamic kubelet configuration; unset."""
    runtime_handlers: list[NodeRuntimeHandler] | None = None
    """The runtime handlers the node offers; dockyard does not report them."""
    features: NodeFeatures | None = None
    """Optional features the node supports; dockyard does not report them."""


class Node(TopLevel):
    """A machine (or, in a local dockyard cluster, a node agent sharing the machine's Docker engine)
    that runs pods. Its node agent registers it, keeps its status and runs the pods bound to it."""

    api_version: str | None = "v1"
    kind: str | None = "Node"
    spec: NodeSpec = Field(default_factory=NodeSpec)
    """How the cluster treats the node: pod range, cordon, taints."""
    status: NodeStatus = Field(default_factory=NodeStatus)
    """What the node has and how healthy it is, as its agent reports it. Read only."""
