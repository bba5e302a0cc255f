"""Pods: spec (with volumes), status (with container states) and pod templates.

``PodSpec`` is shared by Pods and by the templates inside ReplicaSets and Deployments; the
scheduler reads ``nodeSelector``/``tolerations``/``resources``, the agent the containers and
volumes. Scheduling details dockyard stores but does not interpret (``affinity``,
``topologySpreadConstraints``, ``dnsConfig``, most of the pod ``securityContext``) are loose dicts.

The status half is written by the node agent; its enums (:class:`PodPhase`,
:class:`ContainerWaitingReason`, …) are the names kubectl shows in the STATUS column.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import Field

from orchestrator.api.containers import Container, EphemeralContainer, Quantity, ResourceList
from orchestrator.api.meta import KubeModel, LocalObjectReference, ObjectMeta, TopLevel


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


class TolerationOperator(str, Enum):
    EXISTS = "Exists"
    EQUAL = "Equal"


class HostPathType(str, Enum):
    UNSET = ""
    DIRECTORY_OR_CREATE = "DirectoryOrCreate"
    DIRECTORY = "Directory"
    FILE_OR_CREATE = "FileOrCreate"
    FILE = "File"
    SOCKET = "Socket"
    CHAR_DEVICE = "CharDevice"
    BLOCK_DEVICE = "BlockDevice"


# ── volumes ──────────────────────────────────────────────────────────────────────────────────


class KeyToPath(KubeModel):
    key: str | None = None
    path: str | None = None
    mode: int | None = None


class EmptyDirVolumeSource(KubeModel):
    medium: str | None = None
    size_limit: Quantity | None = None


class HostPathVolumeSource(KubeModel):
    path: str | None = None
    type: str | None = None


class ConfigMapVolumeSource(KubeModel):
    name: str | None = None
    items: list[KeyToPath] | None = None
    default_mode: int | None = None
    optional: bool | None = None


class SecretVolumeSource(KubeModel):
    secret_name: str | None = None
    items: list[KeyToPath] | None = None
    default_mode: int | None = None
    optional: bool | None = None


class PersistentVolumeClaimVolumeSource(KubeModel):
    claim_name: str | None = None
    read_only: bool | None = None


class ProjectedVolumeSource(KubeModel):
    sources: list[dict[str, Any]] | None = None
    default_mode: int | None = None


class Volume(KubeModel):
    name: str | None = None
    empty_dir: EmptyDirVolumeSource | None = None
    host_path: HostPathVolumeSource | None = None
    config_map: ConfigMapVolumeSource | None = None
    secret: SecretVolumeSource | None = None
    persistent_volume_claim: PersistentVolumeClaimVolumeSource | None = None
    projected: ProjectedVolumeSource | None = None
    # Sources dockyard cannot mount but must not refuse in a valid manifest.
    downward_api: dict[str, Any] | None = Field(default=None, alias="downwardAPI")
    nfs: dict[str, Any] | None = None
    csi: dict[str, Any] | None = None
    ephemeral: dict[str, Any] | None = None
    image: dict[str, Any] | None = None
    git_repo: dict[str, Any] | None = None
    iscsi: dict[str, Any] | None = None


VOLUME_SOURCES = (
    "emptyDir", "hostPath", "configMap", "secret", "persistentVolumeClaim", "projected",
    "downwardAPI", "nfs", "csi", "ephemeral", "image", "gitRepo", "iscsi",
)


# ── spec ─────────────────────────────────────────────────────────────────────────────────────


class Toleration(KubeModel):
    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None
    toleration_seconds: int | None = None


class HostAlias(KubeModel):
    ip: str | None = None
    hostnames: list[str] | None = None


class PodReadinessGate(KubeModel):
    condition_type: str | None = None


class PodSecurityContext(KubeModel):
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    fs_group: int | None = None
    fs_group_change_policy: str | None = None
    supplemental_groups: list[int] | None = None
    supplemental_groups_policy: str | None = None
    sysctls: list[dict[str, Any]] | None = None
    se_linux_options: dict[str, Any] | None = None
    se_linux_change_policy: str | None = None
    seccomp_profile: dict[str, Any] | None = None
    app_armor_profile: dict[str, Any] | None = None
    windows_options: dict[str, Any] | None = None


class PodSpec(KubeModel):
    volumes: list[Volume] | None = None
    init_containers: list[Container] | None = None
    containers: list[Container] | None = None
    ephemeral_containers: list[EphemeralContainer] | None = None
    restart_policy: str | None = None
    termination_grace_period_seconds: int | None = None
    active_deadline_seconds: int | None = None
    dns_policy: str | None = None
    node_selector: dict[str, str] | None = None
    service_account_name: str | None = None
    service_account: str | None = None  # deprecated alias of serviceAccountName, still served
    automount_service_account_token: bool | None = None
    node_name: str | None = None
    host_network: bool | None = None
    host_pid: bool | None = Field(default=None, alias="hostPID")
    host_ipc: bool | None = Field(default=None, alias="hostIPC")
    host_users: bool | None = None
    share_process_namespace: bool | None = None
    security_context: PodSecurityContext | None = None
    image_pull_secrets: list[LocalObjectReference] | None = None
    hostname: str | None = None
    subdomain: str | None = None
    set_hostname_as_fqdn: bool | None = Field(default=None, alias="setHostnameAsFQDN")
    affinity: dict[str, Any] | None = None
    scheduler_name: str | None = None
    tolerations: list[Toleration] | None = None
    host_aliases: list[HostAlias] | None = None
    priority_class_name: str | None = None
    priority: int | None = None
    dns_config: dict[str, Any] | None = None
    readiness_gates: list[PodReadinessGate] | None = None
    runtime_class_name: str | None = None
    enable_service_links: bool | None = None
    preemption_policy: str | None = None
    overhead: ResourceList | None = None
    topology_spread_constraints: list[dict[str, Any]] | None = None
    os: dict[str, Any] | None = None
    scheduling_gates: list[dict[str, Any]] | None = None
    resource_claims: list[dict[str, Any]] | None = None
    resources: dict[str, Any] | None = None


class PodTemplateSpec(KubeModel):
    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None


# ── status ───────────────────────────────────────────────────────────────────────────────────


class PodCondition(KubeModel):
    type: str | None = None
    status: str | None = None
    observed_generation: int | None = None
    last_probe_time: str | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class ContainerStateWaiting(KubeModel):
    reason: str | None = None
    message: str | None = None


class ContainerStateRunning(KubeModel):
    started_at: str | None = None


class ContainerStateTerminated(KubeModel):
    exit_code: int | None = None
    signal: int | None = None
    reason: str | None = None
    message: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    container_id: str | None = Field(default=None, alias="containerID")


class ContainerState(KubeModel):
    waiting: ContainerStateWaiting | None = None
    running: ContainerStateRunning | None = None
    terminated: ContainerStateTerminated | None = None


class ContainerStatus(KubeModel):
    name: str | None = None
    state: ContainerState | None = None
    last_state: ContainerState | None = None
    ready: bool | None = None
    restart_count: int | None = None
    image: str | None = None
    image_id: str | None = Field(default=None, alias="imageID")
    container_id: str | None = Field(default=None, alias="containerID")
    started: bool | None = None
    allocated_resources: ResourceList | None = None
    resources: dict[str, Any] | None = None
    volume_mounts: list[dict[str, Any]] | None = None
    user: dict[str, Any] | None = None
    allocated_resources_status: list[dict[str, Any]] | None = None
    stop_signal: str | None = None


class PodIP(KubeModel):
    ip: str | None = None


class PodStatus(KubeModel):
    observed_generation: int | None = None
    phase: str | None = None
    conditions: list[PodCondition] | None = None
    message: str | None = None
    reason: str | None = None
    nominated_node_name: str | None = None
    host_ip: str | None = Field(default=None, alias="hostIP")
    host_ips: list[PodIP] | None = Field(default=None, alias="hostIPs")
    pod_ip: str | None = Field(default=None, alias="podIP")
    pod_ips: list[PodIP] | None = Field(default=None, alias="podIPs")
    start_time: str | None = None
    init_container_statuses: list[ContainerStatus] | None = None
    container_statuses: list[ContainerStatus] | None = None
    ephemeral_container_statuses: list[ContainerStatus] | None = None
    qos_class: str | None = None
    resize: str | None = None
    resource_claim_statuses: list[dict[str, Any]] | None = None


class Pod(TopLevel):
    api_version: str | None = "v1"
    kind: str | None = "Pod"
    spec: PodSpec = Field(default_factory=PodSpec)
    status: PodStatus = Field(default_factory=PodStatus)


class Binding(TopLevel):
    """The body of ``POST pods/{name}/binding``: the scheduler's decision."""

    api_version: str | None = "v1"
    kind: str | None = "Binding"
    target: dict[str, Any] | None = None
