"""The ``scale`` subresource: an ``autoscaling/v1`` Scale view of a Deployment or ReplicaSet.

``kubectl scale`` reads and merge-patches this small object; dockyard translates it back into
``spec.replicas`` on the parent, keeping the parent's resourceVersion as the precondition.
"""

from __future__ import annotations

from typing import TypedDict

from orchestrator.api import errors
from orchestrator.api.selectors import format_label_selector


class ScaleSpec(TypedDict):
    replicas: int


class ScaleStatus(TypedDict):
    replicas: int  # `json:"replicas"`: written even at 0
    selector: str


class Scale(TypedDict):
    """``autoscaling/v1`` Scale as it goes on the wire; ``metadata`` is the parent's identity."""

    kind: str
    apiVersion: str
    metadata: dict[str, str]
    spec: ScaleSpec
    status: ScaleStatus


def scale_of(obj: dict) -> Scale:
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {key: meta[key] for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if key in meta},
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": format_label_selector(obj.get("spec", {}).get("selector")),
        },
    }


def replicas_from_scale(scale: dict) -> int:
    # ScaleSpec.replicas is a Go int32 with omitempty: a Scale to zero arrives without it.
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.invalid("Scale", "autoscaling", scale.get("metadata", {}).get("name", ""), [
            errors.Cause(errors.CauseType.FIELD_VALUE_INVALID, "spec.replicas",
                         f"Invalid value: {replicas!r}: must be greater than or equal to 0")])
    return replicas
