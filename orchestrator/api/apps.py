"""The ``apps/v1`` group: ReplicaSet and Deployment.

Both embed a pod template and a label selector; the controllers read ``spec`` and write
``status``. ``maxSurge``/``maxUnavailable`` stay int-or-string (``1`` or ``"25%"``): the rollout
arithmetic that resolves them lives with the deployment controller, not in the schema.
"""

from __future__ import annotations

from enum import Enum

from pydantic import Field

from orchestrator.api.meta import REQUIRED, IntOrString, KubeModel, LabelSelector, TopLevel
from orchestrator.api.pod import PodTemplateSpec


class DeploymentStrategyType(str, Enum):
    RECREATE = "Recreate"
    ROLLING_UPDATE = "RollingUpdate"


class DeploymentConditionType(str, Enum):
    AVAILABLE = "Available"
    PROGRESSING = "Progressing"
    REPLICA_FAILURE = "ReplicaFailure"


class ReplicaSetConditionType(str, Enum):
    REPLICA_FAILURE = "ReplicaFailure"


class DeploymentConditionReason(str, Enum):
    """``reason`` values the deployment controller writes
    (k8s.io/kubernetes/pkg/controller/deployment/util)."""

    NEW_REPLICA_SET_CREATED = "NewReplicaSetCreated"
    FOUND_NEW_REPLICA_SET = "FoundNewReplicaSet"
    REPLICA_SET_UPDATED = "ReplicaSetUpdated"
    NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
    PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
    DEPLOYMENT_PAUSED = "DeploymentPaused"
    DEPLOYMENT_RESUMED = "DeploymentResumed"
    MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable"
    MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable"
    FAILED_RS_CREATE = "ReplicaSetCreateError"


class RollingUpdateDeployment(KubeModel):
    """How fast a rolling update replaces pods: how far the pod count may go below and above
    spec.replicas while old pods give way to new ones."""

    max_unavailable: IntOrString | None = None
    """How many pods may be unavailable during the update: a number, or a percentage of replicas
    rounded down. Defaults to 25%. Cannot be 0 when maxSurge is 0."""
    max_surge: IntOrString | None = None
    """How many pods may exist beyond replicas during the update: a number, or a percentage of
    replicas rounded up. Defaults to 25%."""


class DeploymentStrategy(KubeModel):
    """How a Deployment replaces old pods with new ones when its template changes."""

    type: str | None = None
    """RollingUpdate (the default: new pods come up as old ones go, within the limits of
    rollingUpdate) or Recreate (every old pod is gone before new ones start)."""
    rolling_update: RollingUpdateDeployment | None = None
    """The limits of a rolling update; only with type RollingUpdate."""


class DeploymentSpec(KubeModel):
    """What a Deployment should run: how many copies of which pod, and how to roll out changes."""

    replicas: int | None = None
    """How many pods to run. Defaults to 1; kubectl scale changes it."""
    selector: LabelSelector | None = Field(default=None, json_schema_extra=REQUIRED)
    """Which pods belong to the Deployment; it must match the template's labels and cannot change.
    """
    # Non-pointer structs in Go: always present on the wire.
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec, json_schema_extra=REQUIRED)
    """The pods to run. Changing it starts a rollout: a new ReplicaSet for the new template, scaled
    up as the old ones are scaled down."""
    strategy: DeploymentStrategy = Field(default_factory=DeploymentStrategy)
    """How old pods are replaced by new ones."""
    min_ready_seconds: int | None = None
    """How long a new pod must be ready, without a container crashing, to count as available.
    Defaults to 0."""
    revision_history_limit: int | None = None
    """How many old ReplicaSets (scaled to 0) to keep for kubectl rollout undo. Defaults to 10."""
    paused: bool | None = None
    """True: template changes start no rollout until resumed (kubectl rollout pause / resume); a
    paused Deployment cannot be rolled back."""
    progress_deadline_seconds: int | None = None
    """Seconds a rollout may go without progress before the Progressing condition turns False with
    reason ProgressDeadlineExceeded; nothing is rolled back. Defaults to 600."""


class DeploymentCondition(KubeModel):
    """One aspect of a Deployment's state."""

    type: str | None = None
    """Available (at least the minimum of pods is available), Progressing (a rollout is moving, or
    complete) or ReplicaFailure (a pod could not be created)."""
    status: str | None = None
    """True, False or Unknown."""
    last_update_time: str | None = None
    """When the condition was last updated."""
    last_transition_time: str | None = None
    """When status last changed."""
    reason: str | None = None
    """A one-word cause, such as NewReplicaSetAvailable, ReplicaSetUpdated or
    ProgressDeadlineExceeded."""
    message: str | None = None
    """A sentence about the condition, naming the ReplicaSet concerned."""


class DeploymentStatus(KubeModel):
    """Where a Deployment's rollout stands, as the deployment controller observed it."""

    observed_generation: int | None = None
    """The metadata.generation the controller last acted on; behind it, the status is stale."""
    replicas: int | None = None
    """Pods of all the Deployment's ReplicaSets, terminating ones excluded."""
    updated_replicas: int | None = None
    """Pods from the current template; kubectl's UP-TO-DATE column."""
    ready_replicas: int | None = None
    """Pods that are ready; kubectl's READY column."""
    available_replicas: int | None = None
    """Pods ready for at least minReadySeconds; kubectl's AVAILABLE column."""
    unavailable_replicas: int | None = None
    """Pods still needed to reach replicas available ones."""
    terminating_replicas: int | None = None
    """Pods being deleted; dockyard does not count them."""
    conditions: list[DeploymentCondition] | None = None
    """Available, Progressing and ReplicaFailure."""
    collision_count: int | None = None
    """How many times the template's hash collided with an existing ReplicaSet's; it varies the next
    ReplicaSet's name."""


class Deployment(TopLevel):
    """Keeps a number of identical pods running and rolls out changes to them: each version of the
    pod template gets a ReplicaSet, and a rollout scales the new one up while the old ones scale
    down. kubectl rollout shows, pauses and undoes rollouts."""

    api_version: str | None = "apps/v1"
    kind: str | None = "Deployment"
    spec: DeploymentSpec = Field(default_factory=DeploymentSpec)
    """The pods to run, how many, and how to roll out changes."""
    status: DeploymentStatus = Field(default_factory=DeploymentStatus)
    """How far the rollout has got. Read only."""


class ReplicaSetSpec(KubeModel):
    """How many copies of which pod a ReplicaSet keeps."""

    replicas: int | None = None
    """How many pods to keep. Defaults to 1."""
    min_ready_seconds: int | None = None
    """How long a new pod must be ready to count as available. Defaults to 0."""
    selector: LabelSelector | None = Field(default=None, json_schema_extra=REQUIRED)
    """Which pods count: it must match the template's labels. Matching pods without an owner are
    adopted."""
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)
    """The pods to create when there are too few. Changing it does not touch existing pods."""


class ReplicaSetCondition(KubeModel):
    """One aspect of a ReplicaSet's state."""

    type: str | None = None
    """ReplicaFailure: a pod could not be created or deleted."""
    status: str | None = None
    """True, False or Unknown."""
    last_transition_time: str | None = None
    """When status last changed."""
    reason: str | None = None
    """A one-word cause, such as FailedCreate."""
    message: str | None = None
    """A sentence about the failure."""


class ReplicaSetStatus(KubeModel):
    """How many of a ReplicaSet's pods exist and work, as the replicaset controller observed it."""

    # `json:"replicas"` without omitempty: Kubernetes writes it out even when it is 0, and the
    # official clients require it.
    replicas: int = 0
    """Pods that exist, terminating ones excluded; kubectl's CURRENT column."""
    fully_labeled_replicas: int | None = None
    """Pods whose labels match the template's labels entirely."""
    ready_replicas: int | None = None
    """Pods that are ready; kubectl's READY column."""
    available_replicas: int | None = None
    """Pods ready for at least minReadySeconds."""
    terminating_replicas: int | None = None
    """Pods being deleted; dockyard does not count them."""
    observed_generation: int | None = None
    """The metadata.generation the controller last acted on."""
    conditions: list[ReplicaSetCondition] | None = None
    """ReplicaFailure, when pods cannot be created or deleted."""


class ReplicaSet(TopLevel):
    """Keeps a number of identical pods running, creating and deleting pods to match. Deployments
    manage ReplicaSets for you; use one directly only when you need no rollouts."""

    api_version: str | None = "apps/v1"
    kind: str | None = "ReplicaSet"
    spec: ReplicaSetSpec = Field(default_factory=ReplicaSetSpec)
    """The pods to keep and how many."""
    status: ReplicaSetStatus = Field(default_factory=ReplicaSetStatus)
    """How many pods exist and work. Read only."""


class ScaleSpec(KubeModel):
    """The wanted size of a scalable object."""

    replicas: int | None = None
    """The number of pods wanted."""


class ScaleStatus(KubeModel):
    """The size a scalable object has."""

    replicas: int | None = None
    """The number of pods there are."""
    selector: str | None = None
    """The label selector of the pods, as a string (app=web)."""


class Scale(TopLevel):
    """The size of a scalable object, read and written through its scale subresource (what kubectl
    scale and autoscalers change)."""

    api_version: str | None = "autoscaling/v1"
    kind: str | None = "Scale"
    spec: ScaleSpec = Field(default_factory=ScaleSpec)
    """The wanted number of pods."""
    status: ScaleStatus = Field(default_factory=ScaleStatus)
    """The current number of pods and their selector."""
