"""``validate(rk, obj, old)``: Kubernetes' validation rules and messages, all causes at once.

The API server calls this after :func:`~orchestrator.api.defaults.apply_defaults` (and after it
has set ``metadata.namespace`` from the URL and generated a name from ``generateName``), with
``old`` the stored object on updates. On failure it raises ``errors.invalid`` with every cause,
so kubectl prints the familiar::

    The Deployment "web" is invalid: spec.template.metadata.labels: Invalid value:
    map[string]string{"app":"x"}: `selector` does not match template `labels`

The per-kind rules live in ``meta_validation`` (metadata, labels, selectors), ``pod_validation``
(pod specs and pod updates) and ``network_validation`` (Services, Endpoints, EndpointSlices);
this module holds the dispatcher and the smaller kinds.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from typing import Callable

from orchestrator.api import errors
from orchestrator.api import field as fld
from orchestrator.api import names
from orchestrator.api.ephemeral_validation import CANNOT_BE_SET_ON_CREATE, validate_ephemeral_containers_update
from orchestrator.api.errors import Cause
from orchestrator.api.field import Path
from orchestrator.api.meta_validation import (
    STANDARD_FINALIZERS,
    validate_label_selector,
    validate_object_meta,
    validate_object_meta_update,
)
from orchestrator.api.network_validation import validate_endpoint_slice, validate_endpoints, validate_service
from orchestrator.api.pod_validation import TAINT_EFFECTS, validate_pod_spec, validate_pod_template, validate_pod_update
from orchestrator.api.registry import ResourceKind
from orchestrator.api.selectors import SelectorError, from_label_selector_object

MAX_DATA_SIZE = 1024 * 1024  # ConfigMaps and Secrets, as etcd's request limit dictates

# Which name rule each kind uses (the Validate*Name functions of Kubernetes).
_NAME_RULES: dict[str, names.NameValidator] = {
    "Namespace": names.name_is_dns_label,
    "Service": names.name_is_dns1035_label,
}


def validate(rk: ResourceKind, obj: dict, old: dict | None = None, subresource: str | None = None) -> None:
    """Raise ``errors.invalid`` listing every problem with ``obj`` (``old``: the stored version;
    ``subresource``: the one written through, when it has rules of its own)."""
    causes = validation_causes(rk, obj, old, subresource)
    if causes:
        name = (obj.get("metadata") or {}).get("name") or ""
        raise errors.invalid(rk.kind, rk.group, name, causes)


def validation_causes(rk: ResourceKind, obj: dict, old: dict | None = None,
                      subresource: str | None = None) -> list[Cause]:
    """The causes :func:`validate` would raise with (empty when ``obj`` is valid)."""
    meta = obj.get("metadata") or {}
    name_rule = _NAME_RULES.get(rk.kind, names.name_is_dns_subdomain)
    causes = validate_object_meta(meta, namespaced=rk.namespaced, name_fn=name_rule)
    if old is not None:
        causes += validate_object_meta_update(meta, old.get("metadata") or {})
    kind_rule = _SUBRESOURCE_RULES.get((rk.kind, subresource)) or _KIND_RULES.get(rk.kind)
    if kind_rule is not None:
        causes += kind_rule(obj, old)
    return causes


# ── workloads ────────────────────────────────────────────────────────────────────────────────


def _pod(obj: dict, old: dict | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes = validate_pod_spec(spec, Path("spec"), is_pod=True)
    if old is not None:
        causes += validate_pod_update(obj, old)
    elif spec.get("ephemeralContainers"):
        # they are added to a running pod through the ephemeralcontainers subresource only
        causes.append(fld.forbidden(Path("spec").child("ephemeralContainers"), CANNOT_BE_SET_ON_CREATE))
    return causes


def _pod_ephemeral_containers(obj: dict, old: dict | None) -> list[Cause]:
    """``pods/{name}/ephemeralcontainers``: the pod as it would be, and only additions."""
    causes = validate_pod_spec(obj.get("spec") or {}, Path("spec"), is_pod=True)
    if old is not None:
        causes += validate_ephemeral_containers_update(obj, old)
    return causes


def _replicated(obj: dict, old: dict | None, kind: str) -> list[Cause]:
    """What ReplicaSets and Deployments share: replicas, selector, template."""
    spec = obj.get("spec") or {}
    path = Path("spec")
    causes = fld.nonnegative(spec.get("replicas"), path.child("replicas"))
    causes += fld.nonnegative(spec.get("minReadySeconds"), path.child("minReadySeconds"))
    selector = spec.get("selector")
    parsed = None
    if selector is None:
        causes.append(fld.required(path.child("selector")))
    else:
        causes += validate_label_selector(selector, path.child("selector"))
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            # Kubernetes says "deployment" for ReplicaSets too.
            causes.append(fld.invalid(path.child("selector"), fld.go_label_selector(selector), "empty selector is invalid for deployment"))
        try:
            parsed = from_label_selector_object(selector)
        except (SelectorError, KeyError):
            causes.append(fld.invalid(path.child("selector"), fld.go_label_selector(selector), "invalid label selector"))
    template = spec.get("template")
    template_path = path.child("template")
    if template is not None and parsed is not None and not parsed.empty:
        labels = (template.get("metadata") or {}).get("labels") or {}
        if not parsed.matches(labels):
            causes.append(fld.invalid(template_path.child("metadata", "labels"), labels,
                                      "`selector` does not match template `labels`"))
    causes += validate_pod_template(template, template_path)
    if template is not None:
        template_spec = template.get("spec") or {}
        restart = template_spec.get("restartPolicy")
        if restart and restart != "Always":
            causes.append(fld.not_supported(template_path.child("spec", "restartPolicy"), restart, ("Always",)))
        if template_spec.get("activeDeadlineSeconds") is not None:
            causes.append(fld.invalid(template_path.child("spec", "activeDeadlineSeconds"), template_spec["activeDeadlineSeconds"],
                                      f"activeDeadlineSeconds in {kind} is not Supported"))
    if old is not None:
        old_selector = (old.get("spec") or {}).get("selector")
        if selector is not None and selector != old_selector:
            causes.append(fld.invalid(path.child("selector"), fld.go_label_selector(selector), "field is immutable"))
    return causes


def _int_or_percent(value: int | str | None) -> tuple[int, bool]:
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return int(value[:-1]), True
    if isinstance(value, int):
        return value, False
    return 0, False


def _deployment(obj: dict, old: dict | None) -> list[Cause]:
    causes = _replicated(obj, old, "Deployment")
    spec = obj.get("spec") or {}
    path = Path("spec")
    strategy = spec.get("strategy") or {}
    strategy_path = path.child("strategy")
    strategy_type = strategy.get("type") or ""
    rolling = strategy.get("rollingUpdate")
    if strategy_type == "Recreate":
        if rolling is not None:
            causes.append(fld.forbidden(strategy_path.child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
    elif strategy_type == "RollingUpdate":
        if rolling is None:
            causes.append(fld.required(strategy_path.child("rollingUpdate"), "this should be defaulted and never be nil"))
        else:
            causes += _rolling_update(rolling, strategy_path.child("rollingUpdate"))
    else:
        causes.append(fld.not_supported(strategy_path.child("type"), strategy_type, ("Recreate", "RollingUpdate")))
    min_ready = spec.get("minReadySeconds") or 0
    if spec.get("revisionHistoryLimit") is not None:
        causes += fld.nonnegative(spec["revisionHistoryLimit"], path.child("revisionHistoryLimit"))
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None:
        causes += fld.nonnegative(deadline, path.child("progressDeadlineSeconds"))
        if deadline <= min_ready:
            causes.append(fld.invalid(path.child("progressDeadlineSeconds"), deadline, "must be greater than minReadySeconds"))
    return causes


def _rolling_update(rolling: dict, path: Path) -> list[Cause]:
    causes = []
    for name in ("maxUnavailable", "maxSurge"):
        value = rolling.get(name)
        if isinstance(value, str):
            causes += [fld.invalid(path.child(name), fld.int_or_string(value), msg) for msg in names.is_valid_percent(value)]
        elif isinstance(value, int) and value < 0:
            causes.append(fld.invalid(path.child(name), value, "must be greater than or equal to 0"))
    unavailable, unavailable_percent = _int_or_percent(rolling.get("maxUnavailable"))
    surge, _ = _int_or_percent(rolling.get("maxSurge"))
    if unavailable == 0 and surge == 0:
        causes.append(fld.invalid(path.child("maxUnavailable"), fld.int_or_string(rolling.get("maxUnavailable", 0)),
                                  "may not be 0 when `maxSurge` is 0"))
    if unavailable_percent and unavailable > 100:
        causes.append(fld.invalid(path.child("maxUnavailable"), fld.int_or_string(rolling["maxUnavailable"]),
                                  "must not be greater than 100%"))
    return causes


# ── cluster objects ──────────────────────────────────────────────────────────────────────────


def _namespace(obj: dict, old: dict | None) -> list[Cause]:
    causes = []
    for i, finalizer in enumerate((obj.get("spec") or {}).get("finalizers") or []):
        finalizer_path = Path("spec").child("finalizers").index(i)
        causes += [fld.invalid(finalizer_path, finalizer, msg) for msg in names.is_qualified_name(finalizer)]
        if "/" not in finalizer and finalizer not in STANDARD_FINALIZERS:
            causes.append(fld.invalid(finalizer_path, finalizer, "name is neither a standard finalizer name nor is it fully qualified"))
    return causes


def _cidr(value: str, path: Path) -> list[Cause]:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return [fld.invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []


def _lease(obj: dict, old: dict | None) -> list[Cause]:
    spec, path = obj.get("spec") or {}, Path("spec")
    causes = []
    if spec.get("leaseDurationSeconds") is not None and spec["leaseDurationSeconds"] <= 0:
        causes.append(fld.invalid(path.child("leaseDurationSeconds"), spec["leaseDurationSeconds"],
                                  "must be greater than 0"))
    if spec.get("leaseTransitions") is not None and spec["leaseTransitions"] < 0:
        causes.append(fld.invalid(path.child("leaseTransitions"), spec["leaseTransitions"],
                                  "must be greater than or equal to 0"))
    return causes


def _node(obj: dict, old: dict | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    path = Path("spec")
    causes = []
    if spec.get("podCIDR"):
        causes += _cidr(spec["podCIDR"], path.child("podCIDR"))
    for i, cidr in enumerate(spec.get("podCIDRs") or []):
        causes += _cidr(cidr, path.child("podCIDRs").index(i))
    if spec.get("podCIDR") and spec.get("podCIDRs") and spec["podCIDRs"][0] != spec["podCIDR"]:
        causes.append(fld.invalid(path.child("podCIDRs").index(0), spec["podCIDRs"][0],
                                  "must match spec.podCIDR"))
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(spec.get("taints") or []):
        taint_path = path.child("taints").index(i)
        key, effect = taint.get("key") or "", taint.get("effect") or ""
        causes += [fld.invalid(taint_path.child("key"), key, msg) for msg in names.is_qualified_name(key)]
        if errs := names.is_valid_label_value(taint.get("value") or ""):
            causes.append(fld.invalid(taint_path.child("value"), taint.get("value") or "", ";".join(errs)))
        if not effect:
            causes.append(fld.required(taint_path.child("effect")))
        if effect not in TAINT_EFFECTS:
            causes.append(fld.not_supported(taint_path.child("effect"), effect, TAINT_EFFECTS))
        if (key, effect) in seen:
            shown = fld.GoLiteral(f'core.Taint{{Key:{fld.go_quote(key)}, Value:{fld.go_quote(taint.get("value") or "")}, '
                                  f'Effect:{fld.go_quote(effect)}, TimeAdded:<nil>}}')
            causes.append(fld.duplicate(taint_path, shown, "taints must be unique by key and effect pair"))
        seen.add((key, effect))
    if old is not None:
        old_spec = old.get("spec") or {}
        if old_spec.get("podCIDRs") and spec.get("podCIDRs") != old_spec["podCIDRs"]:
            causes.append(fld.forbidden(path.child("podCIDRs"), 'node updates may not change podCIDR except from "" to valid'))
        if old_spec.get("providerID") and spec.get("providerID") != old_spec["providerID"]:
            causes.append(fld.forbidden(path.child("providerID"), 'node updates may not change providerID except from "" to valid'))
    return causes


def _event(obj: dict, old: dict | None) -> list[Cause]:
    namespace = (obj.get("metadata") or {}).get("namespace") or ""
    involved = (obj.get("involvedObject") or {}).get("namespace") or ""
    if obj.get("eventTime"):
        return []  # "new" events are checked by events.k8s.io rules, which we do not serve
    if involved and involved != namespace or not involved and namespace not in ("", "default"):
        return [fld.invalid(Path("involvedObject").child("namespace"), involved, "does not match event.namespace")]
    return []


# ── configuration ────────────────────────────────────────────────────────────────────────────


def _data_keys(data: dict | None, path: Path) -> tuple[int, list[Cause]]:
    causes = []
    size = 0
    for key, value in (data or {}).items():
        causes += [fld.invalid(path.key(key), key, msg) for msg in names.is_config_map_key(key)]
        size += len(value)
    return size, causes


def _immutable_data(obj: dict, old: dict | None, fields: tuple[str, ...]) -> list[Cause]:
    if old is None or not old.get("immutable"):
        return []
    causes = []
    if not obj.get("immutable"):
        causes.append(fld.forbidden(Path("immutable"), "field is immutable when `immutable` is set"))
    for name in fields:
        if (obj.get(name) or None) != (old.get(name) or None):
            causes.append(fld.forbidden(Path(name), "field is immutable when `immutable` is set"))
    return causes


def _config_map(obj: dict, old: dict | None) -> list[Cause]:
    size, causes = _data_keys(obj.get("data"), Path("data"))
    binary_size, binary_causes = _data_keys(obj.get("binaryData"), Path("binaryData"))
    causes += binary_causes
    for key in obj.get("data") or {}:
        if key in (obj.get("binaryData") or {}):
            causes.append(fld.invalid(Path("data").key(key), key, "duplicate of key present in binaryData"))
    if size + binary_size > MAX_DATA_SIZE:
        causes.append(fld.too_long(Path(""), MAX_DATA_SIZE))
    return causes + _immutable_data(obj, old, ("data", "binaryData"))


def _decoded(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        return b""


def _secret(obj: dict, old: dict | None) -> list[Cause]:
    data_path = Path("data")
    data = obj.get("data") or {}
    size, causes = _data_keys(data, data_path)
    if size > MAX_DATA_SIZE:
        causes.append(fld.too_long(data_path, MAX_DATA_SIZE))
    secret_type = obj.get("type") or ""
    if secret_type == "kubernetes.io/service-account-token":
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            causes.append(fld.required(Path("metadata").child("annotations").key("kubernetes.io/service-account.name")))
    elif secret_type in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if secret_type == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if key not in data:
            causes.append(fld.required(data_path.key(key)))
        else:
            try:
                json.loads(_decoded(data[key]) or b"")
            except ValueError as error:
                causes.append(fld.invalid(data_path.key(key), "<secret contents redacted>", str(error)))
    elif secret_type == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            causes += [fld.required(data_path.key("username")), fld.required(data_path.key("password"))]
    elif secret_type == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            causes.append(fld.required(data_path.key("ssh-privatekey")))
    elif secret_type == "kubernetes.io/tls":
        causes += [fld.required(data_path.key(key)) for key in ("tls.crt", "tls.key") if key not in data]
    if old is not None:
        causes += fld.immutable(secret_type, old.get("type") or "", Path("type"))
    return causes + _immutable_data(obj, old, ("data",))


_KIND_RULES: dict[str, Callable[[dict, dict | None], list[Cause]]] = {
    "Pod": _pod,
    "ReplicaSet": lambda obj, old: _replicated(obj, old, "ReplicaSet"),
    "Deployment": _deployment,
    "Service": validate_service,
    "Endpoints": lambda obj, old: validate_endpoints(obj),
    "EndpointSlice": validate_endpoint_slice,
    "Node": _node,
    "Lease": _lease,
    "Namespace": _namespace,
    "Event": _event,
    "ConfigMap": _config_map,
    "Secret": _secret,
}

#: writes through a subresource whose rules replace the kind's (the merge in
#: ``orchestrator.apiserver.objects`` has already kept everything else as it was)
_SUBRESOURCE_RULES: dict[tuple[str, str | None], Callable[[dict, dict | None], list[Cause]]] = {
    ("Pod", "ephemeralcontainers"): _pod_ephemeral_containers,
}
