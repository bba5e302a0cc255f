"""The bodies of subresources: autoscaling/v1 Scale (``…/scale``) and policy/v1 Eviction
(``pods/…/eviction``); core/v1 Binding sits with the other core objects. Numbers are Kubernetes'
(k8s.io/api/autoscaling/v1, k8s.io/api/policy/v1)."""

from __future__ import annotations

from orchestrator.api.apps import Scale, ScaleSpec, ScaleStatus
from orchestrator.api.wire.schema import Package

AUTOSCALING = Package("k8s.io.api.autoscaling.v1", "autoscaling/v1", {
    "Scale": (Scale, "metadata=1 spec=2 status=3"),
    "ScaleSpec": (ScaleSpec, "replicas=1"),
    "ScaleStatus": (ScaleStatus, "replicas=1! selector=2"),
}, kinds=("Scale",))

POLICY = Package("k8s.io.api.policy.v1", "policy/v1", {
    "Eviction": (None, "metadata=1:ObjectMeta deleteOptions=2?:DeleteOptions"),
}, kinds=("Eviction",))
