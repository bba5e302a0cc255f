"""The rules of ephemeral containers (``spec.ephemeralContainers``), as Kubernetes 1.32 has them.

An ephemeral container is a debugging container added to a pod that already runs, through the
``pods/{name}/ephemeralcontainers`` subresource (what ``kubectl debug POD --image=…`` patches).
After ``validateEphemeralContainers`` and ``ValidatePodEphemeralContainersUpdate`` in
k8s.io/kubernetes/pkg/apis/core/validation/validation.go, with the same field paths and messages:

* it is checked like any container (image, env, volume mounts, security context …:
  :func:`~orchestrator.api.container_validation.container_common`) and may mount the pod's volumes;
* its name is unique among *all* the pod's containers, regular, init and ephemeral;
* ``targetContainerName``, when set, names a regular or init container: the one whose processes
  it sees (it joins that container's PID namespace);
* it may not have what would make it part of the workload — ports, resources, probes, lifecycle
  hooks, a resize or restart policy (:data:`NOT_ALLOWED`, "cannot be set for an Ephemeral
  Container"), nor ``subPath`` mounts, whose bind mounts would outlive it;
* it is never part of a new pod or of a pod template, only ever added to a pod that exists
  (those two rules live with the pod's own, in :mod:`orchestrator.api.pod_validation`);
* once added it stays as it is: a later write may append others, never change or remove it
  (:func:`validate_ephemeral_containers_update`).
"""

from __future__ import annotations

from orchestrator.api import field as fld
from orchestrator.api import names
from orchestrator.api.container_validation import container_common
from orchestrator.api.errors import Cause
from orchestrator.api.field import Path

#: the container fields an ephemeral container may not set, in the Go struct's order
#: (``allowedEphemeralContainerFields`` lists them as false)
NOT_ALLOWED = ("ports", "resources", "resizePolicy", "restartPolicy", "livenessProbe", "readinessProbe",
               "startupProbe", "lifecycle")
NOT_FOR_EPHEMERAL = "cannot be set for an Ephemeral Container"
CANNOT_BE_SET_ON_CREATE = "cannot be set on create"
NOT_IN_TEMPLATE = "ephemeral containers not allowed in pod template"


def _is_set(container: dict, name: str) -> bool:
    """Whether a field differs from its Go zero value: ``resources: {}`` (what kubectl sends) is
    the zero struct; any other field counts as set as soon as it is there at all."""
    value = container.get(name)
    if name == "resources":
        return any(part is not None for part in (value or {}).values())
    return value is not None


def validate_ephemeral_containers(spec: dict, path: Path, volumes: set[str]) -> list[Cause]:
    """``spec.ephemeralContainers`` of a pod spec, against the pod's other containers."""
    causes: list[Cause] = []
    others = {c.get("name") for group in ("containers", "initContainers") for c in spec.get(group) or []}
    taken = set(others)
    for i, container in enumerate(spec.get("ephemeralContainers") or []):
        item = path.index(i)
        name = container.get("name") or ""
        if not name:
            causes.append(fld.required(item.child("name")))
        else:
            causes += [fld.invalid(item.child("name"), name, msg) for msg in names.is_dns1123_label(name)]
        causes += container_common(container, item, volumes)
        image = container.get("image") or ""
        if image and image != image.strip():
            causes.append(fld.invalid(item.child("image"), image, "must not have leading or trailing whitespace"))
        if name in taken:
            causes.append(fld.duplicate(item.child("name"), name))
        taken.add(name)
        target = container.get("targetContainerName") or ""
        if target and target not in others:
            causes.append(fld.not_found(item.child("targetContainerName"), target))
        causes += [fld.forbidden(item.child(field), NOT_FOR_EPHEMERAL)
                   for field in NOT_ALLOWED if _is_set(container, field)]
        for j, mount in enumerate(container.get("volumeMounts") or []):
            for sub in ("subPath", "subPathExpr"):
                if mount.get(sub):
                    causes.append(fld.forbidden(item.child("volumeMounts").index(j).child(sub), NOT_FOR_EPHEMERAL))
    return causes


def validate_ephemeral_containers_update(new: dict, old: dict) -> list[Cause]:
    """A write to the ``ephemeralcontainers`` subresource may only add: every ephemeral container
    the pod had is still there, unchanged (matched by name, since a patch may reorder them)."""
    path = Path("spec").child("ephemeralContainers")
    added = {c.get("name"): c for c in (new.get("spec") or {}).get("ephemeralContainers") or []}
    causes = []
    for before in (old.get("spec") or {}).get("ephemeralContainers") or []:
        name = before.get("name")
        after = added.get(name)
        if after is None:
            causes.append(fld.forbidden(path, f'existing ephemeral containers "{name}" may not be removed\n'))
        elif after != before:
            lines = "\n".join(fld.value_diff(before, after, name or ""))
            causes.append(fld.forbidden(path, f'existing ephemeral containers "{name}" may not be changed\n{lines}'))
    return causes
