"""apps/v1: Deployment and ReplicaSet. Numbers are Kubernetes' (k8s.io/api/apps/v1)."""

from __future__ import annotations

from orchestrator.api.apps import (
    Deployment, DeploymentCondition, DeploymentSpec, DeploymentStatus, DeploymentStrategy, ReplicaSet,
    ReplicaSetCondition, ReplicaSetSpec, ReplicaSetStatus, RollingUpdateDeployment,
)
from orchestrator.api.wire.schema import Package

APPS = Package("k8s.io.api.apps.v1", "apps/v1", {
    "Deployment": (Deployment, "metadata=1 spec=2 status=3"),
    "DeploymentSpec": (DeploymentSpec,
        "replicas=1? selector=2? template=3 strategy=4 minReadySeconds=5 revisionHistoryLimit=6? paused=7 "
        "progressDeadlineSeconds=9?"),
    "DeploymentStrategy": (DeploymentStrategy, "type=1 rollingUpdate=2?"),
    "RollingUpdateDeployment": (RollingUpdateDeployment, "maxUnavailable=1? maxSurge=2?"),
    "DeploymentStatus": (DeploymentStatus,
        "observedGeneration=1 replicas=2 updatedReplicas=3 readyReplicas=7 availableReplicas=4 "
        "unavailableReplicas=5 terminatingReplicas=9? conditions=6 collisionCount=8?"),
    "DeploymentCondition": (DeploymentCondition,
        "type=1! status=2! lastUpdateTime=6:Time lastTransitionTime=7:Time reason=4 message=5"),

    "ReplicaSet": (ReplicaSet, "metadata=1 spec=2 status=3"),
    "ReplicaSetSpec": (ReplicaSetSpec, "replicas=1? minReadySeconds=4 selector=2? template=3"),
    "ReplicaSetStatus": (ReplicaSetStatus,
        "replicas=1! fullyLabeledReplicas=2 readyReplicas=4 availableReplicas=5 terminatingReplicas=7? "
        "observedGeneration=3 conditions=6"),
    "ReplicaSetCondition": (ReplicaSetCondition, "type=1! status=2! lastTransitionTime=3:Time reason=4 message=5"),
}, kinds=("Deployment", "ReplicaSet"))
