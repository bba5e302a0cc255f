"""Validation of containers: ports, env, resources, probes, lifecycle hooks, security context.

After ``validateContainers``/``validateContainerCommon`` and their helpers in
k8s.io/kubernetes/pkg/apis/core/validation/validation.go, over wire-form dicts. Used for Pods and
pod templates alike by :mod:`orchestrator.api.pod_validation`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from orchestrator.api import field as fld
from orchestrator.api import names, quantity
from orchestrator.api.errors import Cause
from orchestrator.api.field import Path

PROTOCOLS = ("SCTP", "TCP", "UDP")  # sorted, as Kubernetes lists supported values
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
URI_SCHEMES = ("HTTP", "HTTPS")
ENV_FIELD_PATHS = (
    "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid",
    "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
)
STANDARD_CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})
MAX_UINT32 = 4294967295
IP_ERROR = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def port_num_or_name(value: Any, path: Path) -> list[Cause]:
    """``ValidatePortNumOrName``: 1–65535, or an IANA service name."""
    if isinstance(value, str) and value != "":
        return [fld.invalid(path, value, msg) for msg in names.is_valid_port_name(value)]
    if value in (None, ""):
        value = 0  # the zero IntOrString
    return [fld.invalid(path, value, msg) for msg in names.is_valid_port_num(value)]


def enum_value(value: str | None, allowed: tuple[str, ...], path: Path) -> list[Cause]:
    if not value:
        return [fld.required(path)]
    return [] if value in allowed else [fld.not_supported(path, value, allowed)]


# ── containers ───────────────────────────────────────────────────────────────────────────────


def _container_ports(ports: list[dict] | None, path: Path) -> list[Cause]:
    causes = []
    seen: set[str] = set()
    for i, port in enumerate(ports or []):
        port_path = path.index(i)
        name = port.get("name") or ""
        if name:
            if msgs := names.is_valid_port_name(name):
                causes += [fld.invalid(port_path.child("name"), name, msg) for msg in msgs]
            elif name in seen:
                causes.append(fld.duplicate(port_path.child("name"), name))
            seen.add(name)
        container_port = port.get("containerPort") or 0
        if container_port == 0:
            causes.append(fld.required(port_path.child("containerPort")))
        else:
            causes += [fld.invalid(port_path.child("containerPort"), container_port, msg)
                       for msg in names.is_valid_port_num(container_port)]
        host_port = port.get("hostPort") or 0
        if host_port != 0:
            causes += [fld.invalid(port_path.child("hostPort"), host_port, msg) for msg in names.is_valid_port_num(host_port)]
        causes += enum_value(port.get("protocol"), PROTOCOLS, port_path.child("protocol"))
        if port.get("hostIP"):
            causes += validate_ip(port["hostIP"], port_path.child("hostIP"))
    return causes


def validate_ip(value: str, path: Path) -> list[Cause]:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return [fld.invalid(path, value, IP_ERROR)]
    return []


def _key_selector(selector: dict, path: Path) -> list[Cause]:
    name = selector.get("name") or ""
    causes = [fld.invalid(path.child("name"), name, msg) for msg in names.name_is_dns_subdomain(name)]
    key = selector.get("key") or ""
    if not key:
        causes.append(fld.required(path.child("key")))
    else:
        causes += [fld.invalid(path.child("key"), key, msg) for msg in names.is_config_map_key(key)]
    return causes


def _env_value_from(env: dict, path: Path) -> list[Cause]:
    source = env.get("valueFrom")
    if source is None:
        return []
    causes: list[Cause] = []
    count = 0
    field_ref = source.get("fieldRef")
    if field_ref is not None:
        count += 1
        ref_path = path.child("fieldRef")
        field_path = field_ref.get("fieldPath") or ""
        base = field_path.split("[", 1)[0]
        if not field_ref.get("apiVersion"):
            causes.append(fld.required(ref_path.child("apiVersion")))
        elif not field_path:
            causes.append(fld.required(ref_path.child("fieldPath")))
        elif "[" in field_path and base not in ("metadata.labels", "metadata.annotations"):
            causes.append(fld.invalid(ref_path, base, "does not support subscript"))
        elif "[" not in field_path and field_path not in ENV_FIELD_PATHS:
            causes.append(fld.not_supported(ref_path.child("fieldPath"), field_path, ENV_FIELD_PATHS))
    if source.get("resourceFieldRef") is not None:
        count += 1
        if not source["resourceFieldRef"].get("resource"):
            causes.append(fld.required(path.child("resourceFieldRef", "resource")))
    for key in ("configMapKeyRef", "secretKeyRef"):
        if source.get(key) is not None:
            count += 1
            causes += _key_selector(source[key], path.child(key))
    if count == 0:
        causes.append(fld.invalid(path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
    elif env.get("value"):
        causes.append(fld.invalid(path, "", "may not be specified when `value` is not empty"))
    elif count > 1:
        causes.append(fld.invalid(path, "", "may not have more than one field specified at a time"))
    return causes


def _env(envs: list[dict] | None, env_from: list[dict] | None, path: Path) -> list[Cause]:
    causes = []
    for i, env in enumerate(envs or []):
        env_path = path.child("env").index(i)
        name = env.get("name") or ""
        if not name:
            causes.append(fld.required(env_path.child("name")))
        else:
            causes += [fld.invalid(env_path.child("name"), name, msg) for msg in names.is_env_var_name(name)]
        causes += _env_value_from(env, env_path.child("valueFrom"))
    for i, source in enumerate(env_from or []):
        source_path = path.child("envFrom").index(i)
        if source.get("prefix"):
            causes += [fld.invalid(source_path.child("prefix"), source["prefix"], msg)
                       for msg in names.is_env_var_name(source["prefix"])]
        refs = [key for key in ("configMapRef", "secretRef") if source.get(key) is not None]
        if not refs:
            causes.append(fld.invalid(source_path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif len(refs) > 1:
            causes.append(fld.invalid(source_path, "", "may not have more than one field specified at a time"))
        for key in refs:
            ref_name = source[key].get("name") or ""
            causes += [fld.invalid(source_path.child(key, "name"), ref_name, msg)
                       for msg in names.name_is_dns_subdomain(ref_name)]
    return causes


def _resource_name(name: str, path: Path) -> list[Cause]:
    if "/" in name:
        return [fld.invalid(path, name, msg) for msg in names.is_qualified_name(name)]
    if name in STANDARD_CONTAINER_RESOURCES or name.startswith("hugepages-"):
        return []
    return [fld.invalid(path, name, "must be a standard resource for containers")]


def _resources(resources: dict | None, path: Path) -> list[Cause]:
    causes: list[Cause] = []
    parsed: dict[str, dict[str, Any]] = {"limits": {}, "requests": {}}
    for kind in ("limits", "requests"):
        for name, value in ((resources or {}).get(kind) or {}).items():
            item_path = path.child(kind).key(name)
            causes += _resource_name(name, item_path)
            try:
                amount = quantity.parse_quantity(value)
            except ValueError as error:
                causes.append(fld.invalid(item_path, str(value), str(error)))
                continue
            if amount < 0:
                causes.append(fld.invalid(item_path, str(value), "must be greater than or equal to 0"))
            parsed[kind][name] = (amount, str(value))
    for name, (amount, text) in parsed["requests"].items():
        if name in parsed["limits"]:
            limit, limit_text = parsed["limits"][name]
            overcommit = not name.startswith("hugepages-") and "/" not in name
            if amount != limit and not overcommit:
                causes.append(fld.invalid(path.child("requests"), text, f"must be equal to {name} limit of {limit_text}"))
            elif amount > limit:
                causes.append(fld.invalid(path.child("requests"), text,
                                          f"must be less than or equal to {name} limit of {limit_text}"))
    return causes


def _handler(handler: dict, path: Path, grace: int | None) -> list[Cause]:
    causes: list[Cause] = []
    count = 0
    for kind in ("exec", "httpGet", "tcpSocket", "grpc", "sleep"):
        action = handler.get(kind)
        if action is None:
            continue
        if count:
            causes.append(fld.forbidden(path.child(kind), "may not specify more than 1 handler type"))
            continue
        count += 1
        action_path = path.child(kind)
        if kind == "exec" and not action.get("command"):
            causes.append(fld.required(action_path.child("command")))
        elif kind == "httpGet":
            if not action.get("path"):
                causes.append(fld.required(action_path.child("path")))
            causes += port_num_or_name(action.get("port"), action_path.child("port"))
            if action.get("scheme") not in URI_SCHEMES:
                causes.append(fld.not_supported(action_path.child("scheme"), action.get("scheme") or "", URI_SCHEMES))
            for header in action.get("httpHeaders") or []:
                causes += [fld.invalid(action_path.child("httpHeaders"), header.get("name") or "", msg)
                           for msg in names.is_http_header_name(header.get("name") or "")]
        elif kind == "tcpSocket":
            causes += port_num_or_name(action.get("port"), action_path.child("port"))
        elif kind == "grpc":
            port = action.get("port") or 0
            causes += [fld.invalid(action_path.child("port"), port, msg) for msg in names.is_valid_port_num(port)]
        elif kind == "sleep":
            seconds = action.get("seconds") or 0
            limit = grace if grace is not None else 30
            if seconds <= 0 or seconds > limit:
                causes.append(fld.invalid(action_path.child("seconds"), seconds,
                                          f"must be greater than 0 and less than terminationGracePeriodSeconds ({limit})"))
    if count == 0:
        causes.append(fld.required(path, "must specify a handler type"))
    return causes


def _probe(probe: dict | None, path: Path, grace: int | None) -> list[Cause]:
    if probe is None:
        return []
    causes = _handler(probe, path, grace)
    for name in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        causes += fld.nonnegative(probe.get(name), path.child(name))
    probe_grace = probe.get("terminationGracePeriodSeconds")
    if probe_grace is not None and probe_grace <= 0:
        causes.append(fld.invalid(path.child("terminationGracePeriodSeconds"), probe_grace, "must be greater than 0"))
    return causes


def _security_context(context: dict | None, path: Path) -> list[Cause]:
    if not context:
        return []
    causes = []
    for name in ("runAsUser", "runAsGroup"):
        value = context.get(name)
        if value is not None and not 0 <= value <= MAX_UINT32:
            causes.append(fld.invalid(path.child(name), value, names.inclusive_range_error(0, MAX_UINT32)))
    if context.get("privileged") and context.get("allowPrivilegeEscalation") is False:
        causes.append(fld.invalid(path, context, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
    return causes


def container_common(container: dict, path: Path, volumes: set[str]) -> list[Cause]:
    """``validateContainerCommon``: what every kind of container is checked for (regular, init and
    ephemeral), everything but its name, probes, lifecycle hooks and restart policy."""
    causes = []
    if not container.get("image"):
        causes.append(fld.required(path.child("image")))
    causes += _container_ports(container.get("ports"), path.child("ports"))
    causes += _env(container.get("env"), container.get("envFrom"), path)
    mount_points: set[str] = set()
    for i, mount in enumerate(container.get("volumeMounts") or []):
        mount_path = path.child("volumeMounts").index(i)
        mount_name = mount.get("name") or ""
        if not mount_name:
            causes.append(fld.required(mount_path.child("name")))
        if mount_name not in volumes:
            causes.append(fld.not_found(mount_path.child("name"), mount_name))
        target = mount.get("mountPath") or ""
        if not target:
            causes.append(fld.required(mount_path.child("mountPath")))
        if target in mount_points:
            causes.append(fld.invalid(mount_path.child("mountPath"), target, "must be unique"))
        mount_points.add(target)
        sub_path = mount.get("subPath") or ""
        if sub_path.startswith("/"):
            causes.append(fld.invalid(mount_path.child("subPath"), sub_path, "must be a relative path"))
        elif ".." in sub_path.split("/"):
            causes.append(fld.invalid(mount_path.child("subPath"), sub_path, "must not contain '..'"))
    causes += _resources(container.get("resources"), path.child("resources"))
    causes += enum_value(container.get("imagePullPolicy"), PULL_POLICIES, path.child("imagePullPolicy"))
    causes += enum_value(container.get("terminationMessagePolicy"), TERMINATION_MESSAGE_POLICIES,
                         path.child("terminationMessagePolicy"))
    causes += _security_context(container.get("securityContext"), path.child("securityContext"))
    return causes


def _container(container: dict, path: Path, volumes: set[str], grace: int | None, *, init: bool) -> list[Cause]:
    causes = container_common(container, path, volumes)
    sidecar = init and container.get("restartPolicy") == "Always"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if init and not sidecar and container.get(probe) is not None:
            causes.append(fld.forbidden(path.child(probe), "may not be set for init containers without restartPolicy=Always"))
            continue
        causes += _probe(container.get(probe), path.child(probe), grace)
        threshold = (container.get(probe) or {}).get("successThreshold")
        if probe != "readinessProbe" and container.get(probe) is not None and threshold != 1:
            causes.append(fld.invalid(path.child(probe, "successThreshold"), threshold or 0, "must be 1"))
    for hook in ("postStart", "preStop"):
        handler = (container.get("lifecycle") or {}).get(hook)
        if handler is not None:
            causes += _handler(handler, path.child("lifecycle", hook), grace)
    if container.get("restartPolicy") is not None and (not init or container["restartPolicy"] != "Always"):
        if init:
            causes.append(fld.not_supported(path.child("restartPolicy"), container["restartPolicy"], ("Always",)))
        else:
            causes.append(fld.forbidden(path.child("restartPolicy"), "may not be set for non-init containers"))
    return causes


def validate_containers(spec: dict, path: Path, volumes: set[str], *, is_pod: bool) -> list[Cause]:
    causes: list[Cause] = []
    grace = spec.get("terminationGracePeriodSeconds")
    containers = spec.get("containers") or []
    if not containers:
        causes.append(fld.required(path.child("containers")))
    seen: set[str] = set()
    for group, items in (("containers", containers), ("initContainers", spec.get("initContainers") or [])):
        for i, container in enumerate(items):
            container_path = path.child(group).index(i)
            name = container.get("name") or ""
            if not name:
                causes.append(fld.required(container_path.child("name")))
            else:
                causes += [fld.invalid(container_path.child("name"), name, msg) for msg in names.is_dns1123_label(name)]
                if name in seen:
                    causes.append(fld.duplicate(container_path.child("name"), name))
                seen.add(name)
            causes += _container(container, container_path, volumes, grace, init=group == "initContainers")
            image = container.get("image") or ""
            if is_pod and image and image != image.strip():
                causes.append(fld.invalid(container_path.child("image"), image, "must not have leading or trailing whitespace"))
    return causes
