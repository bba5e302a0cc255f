"""Validation of pod specs (Pods and pod templates) and of Pod updates.

After k8s.io/kubernetes/pkg/apis/core/validation/validation.go (``ValidatePodSpec``,
``ValidateVolumes``, ``ValidateTolerations``, ``ValidatePodUpdate`` …; containers are in
:mod:`orchestrator.api.container_validation`): the same
checks, field paths and messages, written over wire-form dicts that ``apply_defaults`` has already
filled (so "Required value" for ``restartPolicy`` only fires when something cleared it).

One deliberate difference, for dockyard's binding flow: a Pod update may set ``spec.nodeName``
once, from empty to a node. In Kubernetes only the ``binding`` subresource can do that; here the
``binding`` subresource (``orchestrator.apiserver.binding``) is an update of the pod, so the rule
lives in :func:`validate_pod_update` and a plain update may use it too.
"""

from __future__ import annotations


from orchestrator.api import field as fld
from orchestrator.api import names, quantity
from orchestrator.api.container_validation import (
    MAX_UINT32,
    PROTOCOLS,
    enum_value,
    port_num_or_name,
    validate_containers,
    validate_ip,
)
from orchestrator.api.ephemeral_validation import NOT_IN_TEMPLATE, validate_ephemeral_containers
from orchestrator.api.errors import Cause
from orchestrator.api.field import Path
from orchestrator.api.meta_validation import validate_annotations, validate_labels
from orchestrator.api.volumes import VOLUME_SOURCES

__all__ = ["PROTOCOLS", "TAINT_EFFECTS", "port_num_or_name", "validate_pod_spec", "validate_pod_template",
           "validate_pod_update", "validate_tolerations", "validate_volumes"]

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
HOST_PATH_TYPES = ("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket")
FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"
POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)

# ── volumes ──────────────────────────────────────────────────────────────────────────────────


def _file_mode(mode: int | None, path: Path) -> list[Cause]:
    return [fld.invalid(path, mode, FILE_MODE_ERROR)] if mode is not None and not 0 <= mode <= 0o777 else []


def _key_to_paths(items: list[dict] | None, path: Path) -> list[Cause]:
    causes = []
    for i, item in enumerate(items or []):
        item_path = path.index(i)
        if not item.get("key"):
            causes.append(fld.required(item_path.child("key")))
        target = item.get("path") or ""
        if not target:
            causes.append(fld.required(item_path.child("path")))
        elif target.startswith("/"):
            causes.append(fld.invalid(item_path.child("path"), target, "must be a relative path"))
        elif ".." in target.split("/"):
            causes.append(fld.invalid(item_path.child("path"), target, "must not contain '..'"))
        causes += _file_mode(item.get("mode"), item_path.child("mode"))
    return causes


def _volume_source(volume: dict, path: Path) -> list[Cause]:
    present = [source for source in VOLUME_SOURCES if source in volume]
    if not present:
        return [fld.required(path, "must specify a volume type")]
    causes = [fld.forbidden(path.child(extra), "may not specify more than 1 volume type") for extra in present[1:]]
    source, spec = present[0], volume[present[0]]
    source_path = path.child(source)
    if source == "hostPath":
        host_path = spec.get("path") or ""
        if not host_path:
            causes.append(fld.required(source_path.child("path")))
        elif ".." in host_path.split("/"):
            causes.append(fld.invalid(source_path.child("path"), host_path, "must not contain '..'"))
        if spec.get("type") not in (None, *HOST_PATH_TYPES):
            causes.append(fld.not_supported(source_path.child("type"), spec.get("type"), HOST_PATH_TYPES))
    elif source == "configMap":
        if not spec.get("name"):
            causes.append(fld.required(source_path.child("name")))
        causes += _file_mode(spec.get("defaultMode"), source_path.child("defaultMode"))
        causes += _key_to_paths(spec.get("items"), source_path.child("items"))
    elif source == "secret":
        if not spec.get("secretName"):
            causes.append(fld.required(source_path.child("secretName")))
        causes += _file_mode(spec.get("defaultMode"), source_path.child("defaultMode"))
        causes += _key_to_paths(spec.get("items"), source_path.child("items"))
    elif source == "persistentVolumeClaim":
        if not spec.get("claimName"):
            causes.append(fld.required(source_path.child("claimName")))
    elif source == "emptyDir":
        size = spec.get("sizeLimit")
        if size is not None and quantity.is_quantity(size) and quantity.parse_quantity(size) < 0:
            causes.append(fld.forbidden(source_path.child("sizeLimit"), "SizeLimit field must be a valid resource quantity"))
    elif source == "projected":
        causes += _file_mode(spec.get("defaultMode"), source_path.child("defaultMode"))
    return causes


def validate_volumes(volumes: list[dict] | None, path: Path) -> tuple[set[str], list[Cause]]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, volume in enumerate(volumes or []):
        volume_path = path.index(i)
        causes += _volume_source(volume, volume_path)
        name = volume.get("name") or ""
        if not name:
            causes.append(fld.required(volume_path.child("name")))
        else:
            causes += [fld.invalid(volume_path.child("name"), name, msg) for msg in names.is_dns1123_label(name)]
        if name in seen:
            causes.append(fld.duplicate(volume_path.child("name"), name))
        seen.add(name)
    return seen, causes


def validate_tolerations(tolerations: list[dict] | None, path: Path) -> list[Cause]:
    causes = []
    for i, toleration in enumerate(tolerations or []):
        item = path.index(i)
        key = toleration.get("key") or ""
        operator = toleration.get("operator") or ""
        if key:
            causes += [fld.invalid(item.child("key"), key, msg) for msg in names.is_qualified_name(key)]
        if not key and operator != "Exists":
            causes.append(fld.invalid(item.child("operator"), operator,
                                      'operator must be Exists when `key` is empty, which means "match all values and all keys"'))
        if toleration.get("tolerationSeconds") is not None and toleration.get("effect") != "NoExecute":
            causes.append(fld.invalid(item.child("effect"), toleration.get("effect") or "",
                                      "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        value = toleration.get("value") or ""
        if operator in ("Equal", ""):
            if errs := names.is_valid_label_value(value):
                causes.append(fld.invalid(item.child("operator"), value, ";".join(errs)))
        elif operator == "Exists":
            if value:
                causes.append(fld.invalid(item.child("operator"), toleration, "value must be empty when `operator` is 'Exists'"))
        else:
            causes.append(fld.not_supported(item.child("operator"), operator, ("Equal", "Exists")))
        effect = toleration.get("effect") or ""
        if effect and effect not in TAINT_EFFECTS:
            causes.append(fld.not_supported(item.child("effect"), effect, TAINT_EFFECTS))
    return causes


def validate_pod_spec(spec: dict, path: Path, *, is_pod: bool) -> list[Cause]:
    volumes, causes = validate_volumes(spec.get("volumes"), path.child("volumes"))
    causes += validate_containers(spec, path, volumes, is_pod=is_pod)
    causes += validate_ephemeral_containers(spec, path.child("ephemeralContainers"), volumes)
    causes += enum_value(spec.get("restartPolicy"), RESTART_POLICIES, path.child("restartPolicy"))
    causes += enum_value(spec.get("dnsPolicy"), DNS_POLICIES, path.child("dnsPolicy"))
    if spec.get("dnsPolicy") == "None" and not spec.get("dnsConfig"):
        causes.append(fld.required(path.child("dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None"))
    causes += validate_labels(spec.get("nodeSelector"), path.child("nodeSelector"))
    if spec.get("hostNetwork"):
        for group in ("containers", "initContainers"):
            for i, container in enumerate(spec.get(group) or []):
                for j, port in enumerate(container.get("ports") or []):
                    if port.get("hostPort") and port["hostPort"] != port.get("containerPort"):
                        causes.append(fld.invalid(path.child(group).index(i).child("ports").index(j).child("containerPort"),
                                                  port.get("containerPort"), "must match `hostPort` when `hostNetwork` is true"))
    causes += validate_tolerations(spec.get("tolerations"), path.child("tolerations"))
    for name in ("hostname", "subdomain"):
        if spec.get(name):
            causes += [fld.invalid(path.child(name), spec[name], msg) for msg in names.is_dns1123_label(spec[name])]
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not 1 <= deadline <= MAX_UINT32:
        causes.append(fld.invalid(path.child("activeDeadlineSeconds"), deadline, names.inclusive_range_error(1, MAX_UINT32)))
    for name in ("serviceAccountName", "nodeName"):
        if spec.get(name):
            causes += [fld.invalid(path.child(name), spec[name], msg) for msg in names.name_is_dns_subdomain(spec[name])]
    for i, alias in enumerate(spec.get("hostAliases") or []):
        causes += validate_ip(alias.get("ip") or "", path.child("hostAliases").index(i).child("ip"))
    for i, gate in enumerate(spec.get("readinessGates") or []):
        condition = gate.get("conditionType") or ""
        causes += [fld.invalid(path.child("readinessGates").index(i).child("conditionType"), condition, msg)
                   for msg in names.is_qualified_name(condition)]
    return causes


def validate_pod_template(template: dict | None, path: Path) -> list[Cause]:
    if template is None:
        return [fld.required(path)]
    meta = template.get("metadata") or {}
    causes = validate_labels(meta.get("labels"), path.child("metadata", "labels"))
    causes += validate_annotations(meta.get("annotations"), path.child("metadata", "annotations"))
    causes += validate_pod_spec(template.get("spec") or {}, path.child("spec"), is_pod=False)
    if (template.get("spec") or {}).get("ephemeralContainers"):
        causes.append(fld.forbidden(path.child("spec", "ephemeralContainers"), NOT_IN_TEMPLATE))
    return causes


# ── updates ──────────────────────────────────────────────────────────────────────────────────


def validate_pod_update(new: dict, old: dict) -> list[Cause]:
    """``ValidatePodUpdate``: only images, a shrinking deadline and added tolerations may change."""
    spec_path = Path("spec")
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    causes: list[Cause] = []
    for group in ("containers", "initContainers"):
        new_containers, old_containers = new_spec.get(group) or [], old_spec.get(group) or []
        if len(new_containers) != len(old_containers):
            return causes + [fld.forbidden(spec_path.child(group), "pod updates may not add or remove containers")]
    munged = {**new_spec}
    for group in ("containers", "initContainers"):
        if group in new_spec:
            munged[group] = [
                {**container, "image": old_container.get("image")}
                for container, old_container in zip(new_spec[group], old_spec.get(group) or [])
            ]
    deadline, old_deadline = new_spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    if deadline is not None:
        if not 0 <= deadline <= 2147483647:
            return causes + [fld.invalid(spec_path.child("activeDeadlineSeconds"), deadline, names.inclusive_range_error(0, 2147483647))]
        if old_deadline is not None and old_deadline < deadline:
            return causes + [fld.invalid(spec_path.child("activeDeadlineSeconds"), deadline, "must be less than or equal to previous value")]
    elif old_deadline is not None:
        causes.append(fld.invalid(spec_path.child("activeDeadlineSeconds"), None, "must not update from a positive integer to nil value"))
    _restore(munged, old_spec, "activeDeadlineSeconds")
    new_tolerations, old_tolerations = new_spec.get("tolerations") or [], old_spec.get("tolerations") or []
    for toleration in old_tolerations:
        wanted = {k: v for k, v in toleration.items() if k != "tolerationSeconds"}
        if not any({k: v for k, v in t.items() if k != "tolerationSeconds"} == wanted for t in new_tolerations):
            causes.append(fld.forbidden(spec_path.child("tolerations"), "existing toleration can not be modified except its tolerationSeconds"))
            break
    _restore(munged, old_spec, "tolerations")
    grace, old_grace = new_spec.get("terminationGracePeriodSeconds"), old_spec.get("terminationGracePeriodSeconds")
    if old_grace is not None and old_grace < 0 and grace == 1:
        _restore(munged, old_spec, "terminationGracePeriodSeconds")
    if not old_spec.get("nodeName") and new_spec.get("nodeName"):
        _restore(munged, old_spec, "nodeName")  # binding (see the module docstring)
    if munged != old_spec:
        lines = fld.value_diff(old_spec, munged, "spec")
        causes.append(fld.forbidden(spec_path, POD_UPDATE_FORBIDDEN + "\n" + "\n".join(lines)))
    return causes


def _restore(munged: dict, old_spec: dict, key: str) -> None:
    if key in old_spec:
        munged[key] = old_spec[key]
    else:
        munged.pop(key, None)
