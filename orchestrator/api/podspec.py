"""A pod's desired state: ``PodSpec`` and the small types only it uses.

``PodSpec`` is shared by Pods and by the templates inside ReplicaSets and Deployments. The
scheduler reads ``nodeSelector``, ``tolerations``, ``priority`` and the containers' requests; the
node agent the containers, volumes, DNS and host namespaces. Fields neither acts on are modelled all
the same (Kubernetes checks and explains them), and their descriptions say that dockyard stores them
without acting on them.
"""

from __future__ import annotations

from pydantic import Field

from orchestrator.api.containers import Container, EphemeralContainer, ResourceList, ResourceRequirements
from orchestrator.api.meta import REQUIRED, KubeModel, LocalObjectReference
from orchestrator.api.scheduling import Affinity, PodSchedulingGate, Toleration, TopologySpreadConstraint
from orchestrator.api.security import PodSecurityContext
from orchestrator.api.volumes import Volume


class HostAlias(KubeModel):
    """Extra lines for the pod's /etc/hosts: one IP address and the names that resolve to it."""

    ip: str | None = None
    """The IP address the names resolve to."""
    hostnames: list[str] | None = None
    """The names."""


class PodReadinessGate(KubeModel):
    """A pod condition that must be True, besides the containers' readiness, for the pod to be
    Ready. dockyard stores the gates; the node agent reports Ready from the containers alone."""

    condition_type: str | None = None
    """The type of a condition in the pod's status.conditions."""


class PodDNSConfigOption(KubeModel):
    """One resolver option of the pod's /etc/resolv.conf."""

    name: str | None = None
    """The option, such as ndots or edns0."""
    value: str | None = None
    """Its value, for options that take one (ndots: 2)."""


class PodDNSConfig(KubeModel):
    """Resolver settings added to what dnsPolicy gives the pod's /etc/resolv.conf (or, with
    dnsPolicy None, the whole of it)."""

    nameservers: list[str] | None = None
    """Name server IP addresses, appended to the policy's; at most 3 in all."""
    searches: list[str] | None = None
    """Search domains, appended to the policy's; at most 32 in all."""
    options: list[PodDNSConfigOption] | None = None
    """Resolver options; an option named here replaces the policy's option of the same name."""


class PodOS(KubeModel):
    """The operating system the pod's containers need. dockyard runs Linux containers only and
    stores this field without checking it."""

    name: str | None = None
    """linux or windows."""


class PodResourceClaim(KubeModel):
    """A claim of dynamically allocated resources (devices) for the pod; dockyard stores it and
    allocates nothing."""

    name: str | None = None
    """The claim's name inside the pod, which containers' resources.claims refer to."""
    resource_claim_name: str | None = None
    """An existing ResourceClaim object to use."""
    resource_claim_template_name: str | None = None
    """A ResourceClaimTemplate to create a claim for this pod from."""


class PodSpec(KubeModel):
    """The desired state of a pod: its containers and volumes, where it may run, and how it is run,
    restarted and stopped."""

    volumes: list[Volume] | None = None
    """Volumes the containers can mount, by name."""
    init_containers: list[Container] | None = None
    """Containers that run one after another, each to completion, before the app containers start; a
    failed one is retried according to restartPolicy. dockyard stores them and does not run them
    yet."""
    containers: list[Container] | None = Field(default=None, json_schema_extra=REQUIRED)
    """The app containers, at least one. They start together and share the pod's network (one IP,
    one port space, localhost) and volumes."""
    ephemeral_containers: list[EphemeralContainer] | None = None
    """Debugging containers added to the running pod through its ephemeralcontainers subresource
    (kubectl debug); they cannot be set when the pod is created."""
    restart_policy: str | None = None
    """When the node agent restarts a container that exits: Always (the default), OnFailure (only
    after a non-zero exit) or Never. The first restart is immediate, later ones wait 10, 20, 40 ...
    seconds, at most 5 minutes. ReplicaSets and Deployments require Always."""
    termination_grace_period_seconds: int | None = None
    """Seconds the containers get to stop after the stop signal (SIGTERM) before they are killed
    (SIGKILL); preStop hooks run within it. Defaults to 30; 0 kills at once."""
    active_deadline_seconds: int | None = None
    """Seconds the pod may be active on its node before it is failed; dockyard stores it and does
    not enforce it."""
    dns_policy: str | None = None
    """How the pod's /etc/resolv.conf is made: ClusterFirst (the default: the cluster's DNS, which
    forwards other names upstream), ClusterFirstWithHostNet (the same for a hostNetwork pod),
    Default (the node's resolvers) or None (dnsConfig alone)."""
    node_selector: dict[str, str] | None = None
    """Labels a node must have for the pod to be scheduled there, such as disktype: ssd."""
    service_account_name: str | None = None
    """The service account the pod runs as; defaults to default. dockyard records it and does not
    yet give the pod a token."""
    service_account: str | None = None
    """Deprecated spelling of serviceAccountName; the server keeps both the same."""
    automount_service_account_token: bool | None = None
    """Whether the service account's token is mounted into the containers; dockyard mounts none."""
    node_name: str | None = None
    """The node the pod runs on. The scheduler sets it (through the binding subresource); a pod
    created with it set skips the scheduler and goes straight to that node's agent."""
    host_network: bool | None = None
    """True: the pod uses the node's network namespace (its addresses and ports) instead of its own.
    Defaults to false; needs a server started with --allow-privileged."""
    host_pid: bool | None = Field(default=None, alias="hostPID")
    """True: the containers see the node's processes. Defaults to false; needs a server started with
    --allow-privileged."""
    host_ipc: bool | None = Field(default=None, alias="hostIPC")
    """True: the containers share the node's IPC namespace. Defaults to false; needs a server
    started with --allow-privileged."""
    host_users: bool | None = None
    """False: run the pod in a user namespace of its own. dockyard stores it; pods always use the
    node's user namespace."""
    share_process_namespace: bool | None = None
    """True: the containers share one process namespace, so each sees (and may signal) the others'
    processes. Defaults to false."""
    security_context: PodSecurityContext | None = None
    """Security settings for all containers: user and group ids, and settings dockyard stores only.
    """
    image_pull_secrets: list[LocalObjectReference] | None = None
    """Secrets with registry credentials for pulling the images; dockyard pulls without credentials.
    """
    hostname: str | None = None
    """The pod's host name; defaults to the pod's name (at most 63 characters)."""
    subdomain: str | None = None
    """With hostname: the name of a headless Service in the namespace, which makes the pod
    resolvable as HOSTNAME.SUBDOMAIN.NAMESPACE.svc.CLUSTER-DOMAIN."""
    set_hostname_as_fqdn: bool | None = Field(default=None, alias="setHostnameAsFQDN")
    """True: the host name is the pod's fully qualified domain name; dockyard stores it and sets the
    short name."""
    affinity: Affinity | None = None
    """Node affinity and pod (anti-)affinity rules; stored, not yet applied by dockyard's scheduler.
    """
    scheduler_name: str | None = None
    """The scheduler that places the pod; defaults to default-scheduler, dockyard's. A pod naming
    another scheduler is left for that one."""
    tolerations: list[Toleration] | None = None
    """The node taints this pod accepts."""
    host_aliases: list[HostAlias] | None = None
    """Entries added to the pod's /etc/hosts."""
    priority_class_name: str | None = None
    """A PriorityClass that sets the pod's priority; dockyard has no PriorityClasses and stores it
    only."""
    priority: int | None = None
    """The pod's priority: the scheduler takes higher priorities first. Set by admission (0 without
    a PriorityClass); dockyard does not preempt lower-priority pods."""
    dns_config: PodDNSConfig | None = None
    """Resolver settings on top of dnsPolicy."""
    readiness_gates: list[PodReadinessGate] | None = None
    """Extra conditions for the pod's readiness; stored, not evaluated by dockyard."""
    runtime_class_name: str | None = None
    """A RuntimeClass selecting the container runtime configuration; dockyard uses Docker's default
    and stores it only."""
    enable_service_links: bool | None = None
    """Whether the containers get environment variables for the Services in the namespace
    (NAME_SERVICE_HOST ...). Defaults to true in Kubernetes; dockyard sets no such variables and
    uses DNS alone."""
    preemption_policy: str | None = None
    """PreemptLowerPriority (the default) or Never; dockyard does not preempt either way."""
    overhead: ResourceList | None = None
    """Resources the pod's sandbox uses on top of its containers; the scheduler adds them to the
    requests."""
    topology_spread_constraints: list[TopologySpreadConstraint] | None = None
    """How to spread matching pods over nodes or zones; stored, not yet applied by dockyard's
    scheduler."""
    os: PodOS | None = None
    """The operating system the pod needs; stored only."""
    scheduling_gates: list[PodSchedulingGate] | None = None
    """Gates that hold the pod back from scheduling until removed; dockyard's scheduler does not
    wait for them yet."""
    resource_claims: list[PodResourceClaim] | None = None
    """Dynamically allocated resources for the pod; stored, nothing is allocated."""
    resources: ResourceRequirements | None = None
    """CPU and memory for the pod as a whole, shared by its containers; stored, not enforced."""
