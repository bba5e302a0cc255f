"""The ``apps/v1`` group: ReplicaSet and Deployment.

Both embed a pod template and a label selector; the controllers read ``spec`` and write
``status``. ``maxSurge``/``maxUnavailable`` stay int-or-string (``1`` or ``"25%"``): the rollout
arithmetic that resolves them lives with the deployment controller, not in the schema.
"""

from __future__ import annotations

from enum import Enum

from pydantic import Field

from orchestrator.api.meta import IntOrString, KubeModel, LabelSelector, TopLevel
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
    """``reason`` values the deployment controller writes (k8s.io/kubernetes/pkg/controller/deployment/util)."""

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
    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None


class DeploymentStrategy(KubeModel):
    type: str | None = None
    rolling_update: RollingUpdateDeployment | None = None


class DeploymentSpec(KubeModel):
    replicas: int | None = None
    selector: LabelSelector | None = None
    # Non-pointer structs in Go: always present on the wire.
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)
    strategy: DeploymentStrategy = Field(default_factory=DeploymentStrategy)
    min_ready_seconds: int | None = None
    revision_history_limit: int | None = None
    paused: bool | None = None
    progress_deadline_seconds: int | None = None


class DeploymentCondition(KubeModel):
    type: str | None = None
    status: str | None = None
    last_update_time: str | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class DeploymentStatus(KubeModel):
    observed_generation: int | None = None
    replicas: int | None = None
    updated_replicas: int | None = None
    ready_replicas: int | None = None
    available_replicas: int | None = None
    unavailable_replicas: int | None = None
    terminating_replicas: int | None = None
    conditions: list[DeploymentCondition] | None = None
    collision_count: int | None = None


class Deployment(TopLevel):
    api_version: str | None = "apps/v1"
    kind: str | None = "Deployment"
    spec: DeploymentSpec = Field(default_factory=DeploymentSpec)
    status: DeploymentStatus = Field(default_factory=DeploymentStatus)


class ReplicaSetSpec(KubeModel):
    replicas: int | None = None
    min_ready_seconds: int | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)


class ReplicaSetCondition(KubeModel):
    type: str | None = None
    status: str | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class ReplicaSetStatus(KubeModel):
    # `json:"replicas"` without omitempty: Kubernetes writes it out even when it is 0, and the
    # official clients require it.
    replicas: int = 0
    fully_labeled_replicas: int | None = None
    ready_replicas: int | None = None
    available_replicas: int | None = None
    terminating_replicas: int | None = None
    observed_generation: int | None = None
    conditions: list[ReplicaSetCondition] | None = None


class ReplicaSet(TopLevel):
    api_version: str | None = "apps/v1"
    kind: str | None = "ReplicaSet"
    spec: ReplicaSetSpec = Field(default_factory=ReplicaSetSpec)
    status: ReplicaSetStatus = Field(default_factory=ReplicaSetStatus)


class ScaleSpec(KubeModel):
    replicas: int | None = None


class ScaleStatus(KubeModel):
    replicas: int | None = None
    selector: str | None = None


class Scale(TopLevel):
    """``autoscaling/v1`` Scale: the body of the ``/scale`` subresource ``kubectl scale`` patches."""

    api_version: str | None = "autoscaling/v1"
    kind: str | None = "Scale"
    spec: ScaleSpec = Field(default_factory=ScaleSpec)
    status: ScaleStatus = Field(default_factory=ScaleStatus)
