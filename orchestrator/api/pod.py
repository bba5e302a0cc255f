"""Pods: the object, its status as the node agent reports it, and pod templates.

The desired state, ``PodSpec``, is in :mod:`orchestrator.api.podspec` (with volumes, scheduling and
security in their own modules); it is shared by Pods and by the templates inside ReplicaSets and
Deployments. The status half is written by the node agent; its enums (:class:`PodPhase`,
:class:`ContainerWaitingReason`, …) are the names kubectl shows in the STATUS column.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import Field

from orchestrator.api.containers import ResourceList, ResourceRequirements
from orchestrator.api.meta import KubeModel, ObjectMeta, TopLevel
from orchestrator.api.podspec import PodSpec


class RestartPolicy(str, Enum):
    ALWAYS = "Always"
    ON_FAILURE = "OnFailure"
    NEVER = "Never"


class DNSPolicy(str, Enum):
    CLUSTER_FIRST_WITH_HOST_NET = "ClusterFirstWithHostNet"
    CLUSTER_FIRST = "ClusterFirst"
    DEFAULT = "Default"
    NONE = "None"


class PreemptionPolicy(str, Enum):
    PREEMPT_LOWER_PRIORITY = "PreemptLowerPriority"
    NEVER = "Never"


class PodPhase(str, Enum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    UNKNOWN = "Unknown"


class PodConditionType(str, Enum):
    POD_SCHEDULED = "PodScheduled"
    POD_READY_TO_START_CONTAINERS = "PodReadyToStartContainers"
    INITIALIZED = "Initialized"
    CONTAINERS_READY = "ContainersReady"
    READY = "Ready"
    DISRUPTION_TARGET = "DisruptionTarget"


class PodConditionReason(str, Enum):
    """Reasons of a False ``PodScheduled`` condition (what ``kubectl describe pod`` shows)."""

    UNSCHEDULABLE = "Unschedulable"


class PodQOSClass(str, Enum):
    GUARANTEED = "Guaranteed"
    BURSTABLE = "Burstable"
    BEST_EFFORT = "BestEffort"


class ContainerWaitingReason(str, Enum):
    """Reasons kubectl's STATUS column shows for a waiting container."""

    CONTAINER_CREATING = "ContainerCreating"
    POD_INITIALIZING = "PodInitializing"
    CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
    ERR_IMAGE_PULL = "ErrImagePull"
    IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
    ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
    INVALID_IMAGE_NAME = "InvalidImageName"
    CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
    CREATE_CONTAINER_ERROR = "CreateContainerError"
    RUN_CONTAINER_ERROR = "RunContainerError"


class ContainerTerminatedReason(str, Enum):
    COMPLETED = "Completed"
    ERROR = "Error"
    OOM_KILLED = "OOMKilled"
    CONTAINER_CANNOT_RUN = "ContainerCannotRun"


# ── status ───────────────────────────────────────────────────────────────────────────────────


class PodCondition(KubeModel):
    """One aspect of the pod's state: PodScheduled, Initialized, ContainersReady, Ready and the
    like."""

    type: str | None = None
    """Which aspect: PodScheduled (placed on a node), PodReadyToStartContainers (sandbox and network
    ready), Initialized (init containers done), ContainersReady (every container ready) or Ready
    (the pod can serve, so its Services send it traffic)."""
    status: str | None = None
    """True, False or Unknown."""
    observed_generation: int | None = None
    """The pod's metadata.generation the condition was computed for; dockyard does not set it."""
    last_probe_time: str | None = None
    """When the condition was last checked."""
    last_transition_time: str | None = None
    """When status last changed."""
    reason: str | None = None
    """A one-word CamelCase cause of the last transition, such as Unschedulable or
    ContainersNotReady."""
    message: str | None = None
    """A sentence about the last transition, such as why no node fits the pod."""


class ContainerStateWaiting(KubeModel):
    """The container is not running yet, or again: being created, or backing off after failures."""

    reason: str | None = None
    """Why it waits, as kubectl's STATUS column shows it: ContainerCreating, CrashLoopBackOff,
    ErrImagePull, ImagePullBackOff, CreateContainerConfigError ..."""
    message: str | None = None
    """Details of the reason, such as the image pull error or the back-off delay."""


class ContainerStateRunning(KubeModel):
    """The container is running."""

    started_at: str | None = None
    """When it (last) started."""


class ContainerStateTerminated(KubeModel):
    """The container ran and exited."""

    exit_code: int | None = None
    """Its exit status: 0 is success; 128+N means signal N killed it (137: SIGKILL)."""
    signal: int | None = None
    """The signal that ended it, when known."""
    reason: str | None = None
    """Completed (exit 0), Error (non-zero exit), OOMKilled (over its memory limit) or
    ContainerCannotRun."""
    message: str | None = None
    """Details about the exit."""
    started_at: str | None = None
    """When it started."""
    finished_at: str | None = None
    """When it exited."""
    container_id: str | None = Field(default=None, alias="containerID")
    """The runtime's id of that run, as docker://ID."""


class ContainerState(KubeModel):
    """What a container is doing; exactly one of waiting, running and terminated is set (all unset
    means waiting)."""

    waiting: ContainerStateWaiting | None = None
    """Not running: being created or backing off."""
    running: ContainerStateRunning | None = None
    """Running."""
    terminated: ContainerStateTerminated | None = None
    """Ran and exited."""


class VolumeMountStatus(KubeModel):
    """How a volume is actually mounted in a container; dockyard does not report it."""

    name: str | None = None
    """The volume mount's name."""
    mount_path: str | None = None
    """Where it is mounted."""
    read_only: bool | None = None
    """Whether it is read-only."""
    recursive_read_only: str | None = None
    """Whether mounts below it are read-only too: Disabled or Enabled."""


class LinuxContainerUser(KubeModel):
    """The user identity the container's first process runs with on Linux."""

    uid: int | None = None
    """The user id."""
    gid: int | None = None
    """The primary group id."""
    supplemental_groups: list[int] | None = None
    """The other group ids."""


class ContainerUser(KubeModel):
    """The user identity the container runs with, as the runtime reports it; dockyard does not
    report it."""

    linux: LinuxContainerUser | None = None
    """On Linux."""


class ResourceHealth(KubeModel):
    """The health of one device allocated to a container."""

    resource_id: str | None = Field(default=None, alias="resourceID")
    """The device's id."""
    health: str | None = None
    """Healthy, Unhealthy or Unknown."""


class ResourceStatus(KubeModel):
    """The health of the devices of one resource allocated to a container; dockyard allocates none.
    """

    name: str | None = None
    """The resource's name."""
    resources: list[ResourceHealth] | None = None
    """One entry per device."""


class ContainerStatus(KubeModel):
    """What the node agent observed of one container: its state, readiness and restarts."""

    name: str | None = None
    """The container's name in the pod's spec."""
    state: ContainerState | None = None
    """What the container is doing now."""
    last_state: ContainerState | None = None
    """How its previous run ended, after a restart (kubectl logs --previous shows that run's
    output)."""
    ready: bool | None = None
    """Whether it passes its readiness probe (or is running, when it has none)."""
    restart_count: int | None = None
    """How many times it has been restarted; kubectl's RESTARTS column."""
    image: str | None = None
    """The image it runs, as the spec names it."""
    image_id: str | None = Field(default=None, alias="imageID")
    """The id of the image it runs, as docker://sha256:..."""
    container_id: str | None = Field(default=None, alias="containerID")
    """The runtime's id of its current run, as docker://ID."""
    started: bool | None = None
    """Whether it has started and passed its startup probe, if it has one."""
    allocated_resources: ResourceList | None = None
    """The resources the node allocated to it; dockyard does not report them."""
    resources: ResourceRequirements | None = None
    """The requests and limits in effect; dockyard does not report them."""
    volume_mounts: list[VolumeMountStatus] | None = None
    """How its volumes are mounted; dockyard does not report them."""
    user: ContainerUser | None = None
    """The user identity it runs with; dockyard does not report it."""
    allocated_resources_status: list[ResourceStatus] | None = None
    """The health of the devices allocated to it; dockyard allocates none."""
    stop_signal: str | None = None
    """The signal that stops it; dockyard does not report it."""


class PodIP(KubeModel):
    """One IP address of the pod (or of its node)."""

    ip: str | None = None
    """The address."""


class PodResourceClaimStatus(KubeModel):
    """Which ResourceClaim was made for one of the pod's resourceClaims; dockyard makes none."""

    name: str | None = None
    """The entry's name in the pod's spec.resourceClaims."""
    resource_claim_name: str | None = None
    """The ResourceClaim made for it."""


class PodStatus(KubeModel):
    """What the pod is doing, as the scheduler and the node agent observed it. Read only for users:
    it is written through the status subresource."""

    observed_generation: int | None = None
    """The metadata.generation this status was computed for; dockyard does not set it."""
    phase: str | None = None
    """Where the pod is in its life: Pending (accepted, not all containers started yet, which
    includes waiting for a node and pulling images), Running (on a node, at least one container
    running or restarting), Succeeded (every container exited 0 and none will restart), Failed
    (every container exited, at least one with an error) or Unknown (the node stopped reporting)."""
    conditions: list[PodCondition] | None = None
    """PodScheduled, Initialized, ContainersReady, Ready and PodReadyToStartContainers, each True or
    False with a reason."""
    message: str | None = None
    """A sentence on why the pod is in its phase, such as why it was evicted."""
    reason: str | None = None
    """A one-word reason for the phase, such as Evicted."""
    nominated_node_name: str | None = None
    """The node a preempting scheduler made room on; dockyard does not preempt."""
    host_ip: str | None = Field(default=None, alias="hostIP")
    """The IP address of the node the pod runs on."""
    host_ips: list[PodIP] | None = Field(default=None, alias="hostIPs")
    """The IP addresses of the node, hostIP first."""
    pod_ip: str | None = Field(default=None, alias="podIP")
    """The pod's own IP address, from its node's pod range (the node's address for hostNetwork
    pods)."""
    pod_ips: list[PodIP] | None = Field(default=None, alias="podIPs")
    """The pod's IP addresses, podIP first."""
    start_time: str | None = None
    """When the node agent accepted the pod, before its images were pulled."""
    init_container_statuses: list[ContainerStatus] | None = None
    """The init containers' states, in the spec's order."""
    container_statuses: list[ContainerStatus] | None = None
    """The app containers' states, one per container of the spec."""
    ephemeral_container_statuses: list[ContainerStatus] | None = None
    """The ephemeral containers' states."""
    qos_class: str | None = None
    """The pod's quality-of-service class, from its containers' resources: Guaranteed (every
    container has equal requests and limits for CPU and memory), Burstable (some requests or limits)
    or BestEffort (none)."""
    resize: str | None = None
    """The state of a requested in-place resize; dockyard does not resize."""
    resource_claim_statuses: list[PodResourceClaimStatus] | None = None
    """The ResourceClaims made for the pod; dockyard makes none."""


class PodTemplateSpec(KubeModel):
    """The pod a controller creates: metadata for the pod (its labels must match the controller's
    selector) and its spec."""

    metadata: ObjectMeta | None = None
    """Labels and annotations the pods get; a name here is ignored."""
    spec: PodSpec | None = None
    """The pods' desired state. Changing it is what rolls a Deployment out."""


class Pod(TopLevel):
    """The smallest thing Kubernetes runs: one or more containers placed together on one node,
    sharing an IP address, volumes and a life. dockyard's node agent runs each pod as a pause
    container holding the network namespace plus one Docker container per app container."""

    api_version: str | None = "v1"
    kind: str | None = "Pod"
    spec: PodSpec = Field(default_factory=PodSpec)
    """What should run, where and how."""
    status: PodStatus = Field(default_factory=PodStatus)
    """What is running, as the scheduler and the node agent report it. Read only."""


class Binding(TopLevel):
    """The body of ``POST pods/{name}/binding``: the scheduler's decision."""

    api_version: str | None = "v1"
    kind: str | None = "Binding"
    target: dict[str, Any] | None = None
