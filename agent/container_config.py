"""From a Pod to the specs the runtime creates: Kubernetes' container rules, in pure functions.

* ``command`` replaces the image's ENTRYPOINT and ``args`` its CMD, as Kubernetes documents
  (command without args drops the image's CMD — Docker does the same when an entrypoint is set);
* ``env`` in order, each value able to use ``$(VAR)`` of the variables before it, ``$$`` escaping
  a literal ``$(`` — the same expansion then applies to command and args; ``valueFrom`` reads pod
  fields, resource limits, ConfigMap and Secret keys; ``envFrom`` whole ConfigMaps and Secrets;
* ``resources.limits`` become Docker's cpu quota and memory limit (requests are the scheduler's);
* ``shareProcessNamespace``: the app containers join the pause container's PID namespace, so
  they see each other's processes and the pause process is PID 1, reaping orphans; otherwise an
  ephemeral container with a ``targetContainerName`` joins its target's (``kubectl debug --target``);
* ``hostNetwork``, ``hostPID``, ``hostIPC`` (what ``kubectl debug node/NAME`` asks for, and only a
  cluster started with ``--allow-privileged`` admits): the machine's own namespaces;
* volumes: ``emptyDir`` is a Docker volume owned by the pod (``medium: Memory`` a tmpfs one),
  ``hostPath`` a bind mount only where the node allows it;
* ``/etc/resolv.conf`` is the pod's own file (written by the agent from the pod's ``dnsPolicy``,
  see :mod:`agent.network.resolvconf`), bind-mounted into every app container.

Every refusal is a :class:`ConfigError` whose message is the kubelet's wording, shown as
``CreateContainerConfigError`` in ``kubectl get pods``. The spec hash labels each container, so a
changed container spec is noticed by comparing labels, even after the agent restarts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from orchestrator.api.clusternetwork import ClusterNetwork
from orchestrator.api.quantity import cpu_millis, memory_bytes

from agent import labels
from agent.labels import SANDBOX, Owner, container_name
from agent.runtime.specs import ContainerSpec, MountKind, MountSpec, NetworkSpec, PortBinding, SandboxSpec

RESOLV_CONF = "/etc/resolv.conf"

#: (kind, namespace, name) -> the object's data as text, or None when it does not exist
Lookup = Callable[[str, str, str], dict[str, str] | None]


class ConfigError(Exception):
    """The pod asks for something that cannot be provided (CreateContainerConfigError)."""


@dataclass(frozen=True)
class PodContext:
    """What the agent knows beside the pod itself when it builds specs."""

    owner: Owner
    network: NetworkSpec        # the cluster's pod network on this host
    pause_image: str
    node_ip: str
    allow_host_path: bool = False
    allocatable: Mapping[str, str] = field(default_factory=dict)  # the node's, for unset limits
    cluster_network: ClusterNetwork = field(default_factory=ClusterNetwork)  # DNS address and domain
    host_resolv_conf: str = ""  # the host's /etc/resolv.conf, read once at start


def spec_hash(container: dict) -> str:
    """Stable hash of a container spec: a change to any field means a new container."""
    return hashlib.sha256(json.dumps(container, sort_keys=True).encode()).hexdigest()[:16]


def sandbox_hash(pod: dict) -> str:
    """What the sandbox is made from; when this changes the sandbox is rebuilt."""
    spec = pod.get("spec") or {}
    relevant = {
        "hostname": spec.get("hostname"), "subdomain": spec.get("subdomain"),
        "ports": [p for c in spec.get("containers") or [] for p in c.get("ports") or [] if p.get("hostPort")],
        "hostAliases": spec.get("hostAliases"), "dnsConfig": spec.get("dnsConfig"),
    }
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def pod_labels(ctx: PodContext, pod: dict, container: str, hash_: str, attempt: int, streak: int = 0) -> dict:
    meta = pod["metadata"]
    spec = pod.get("spec") or {}
    return {
        **ctx.owner.labels(),
        labels.POD_UID: meta["uid"], labels.POD_NAME: meta["name"], labels.POD_NAMESPACE: meta.get("namespace", ""),
        labels.CONTAINER: container, labels.SPEC_HASH: hash_, labels.RESTART_COUNT: str(attempt),
        labels.BACKOFF_STREAK: str(streak),
        labels.GRACE_PERIOD: str(spec.get("terminationGracePeriodSeconds", 30)),
        labels.ROLE: "sandbox" if container == SANDBOX else "app",
    }


def build_sandbox(ctx: PodContext, pod: dict, attempt: int, ipv4_address: str | None = None) -> SandboxSpec:
    """The pause container. DNS settings are not the sandbox's: each app container gets the pod's
    resolv.conf mounted (:func:`build_container`), but ``dnsConfig`` is part of the sandbox hash,
    so a changed one still rebuilds the pod as the kubelet does."""
    meta, spec = pod["metadata"], pod.get("spec") or {}
    host_network = bool(spec.get("hostNetwork"))
    ports = tuple(
        PortBinding(int(p["containerPort"]), (p.get("protocol") or "TCP").lower(), int(p["hostPort"]),
                    p.get("hostIP") or "")
        for c in spec.get("containers") or [] for p in c.get("ports") or [] if p.get("hostPort"))
    return SandboxSpec(
        name=container_name(ctx.owner.cluster_uid, meta.get("namespace", ""), meta["name"], SANDBOX, meta["uid"],
                            attempt),
        image=ctx.pause_image,
        # the kubelet's truncation; a hostNetwork pod has the machine's name, as in Kubernetes
        hostname=None if host_network else (spec.get("hostname") or meta["name"])[:63].rstrip("-."),
        network=ctx.network.name,
        labels=pod_labels(ctx, pod, SANDBOX, sandbox_hash(pod), attempt),
        ipv4_address=None if host_network else ipv4_address,
        ports=() if host_network else ports,
        host_network=host_network,
        extra_hosts=tuple(f"{host}:{alias['ip']}" for alias in spec.get("hostAliases") or []
                          for host in alias.get("hostnames") or []),
    )


def volume_name(pod_uid: str, volume: str) -> str:
    return f"dy-{pod_uid}-{volume}"


def build_container(ctx: PodContext, pod: dict, container: dict, *, sandbox_id: str, pod_ip: str,
                    attempt: int, streak: int, lookup: Lookup, resolv_conf: str | None = None,
                    pid_target: str | None = None) -> ContainerSpec:
    """``resolv_conf``: the host path of the pod's resolv.conf, mounted at /etc/resolv.conf (the
    agent's own file, so no hostPath policy applies); None leaves Docker's. ``pid_target``: the
    Docker id of the container whose processes an ephemeral container sees (its
    ``targetContainerName``, as the planner resolved it)."""
    meta, spec = pod["metadata"], pod.get("spec") or {}
    env = resolve_env(pod, container, pod_ip=pod_ip, node_ip=ctx.node_ip, lookup=lookup,
                      node_allocatable=ctx.allocatable)
    limits = (container.get("resources") or {}).get("limits") or {}
    security = container.get("securityContext") or {}
    pod_security = spec.get("securityContext") or {}
    return ContainerSpec(
        name=container_name(ctx.owner.cluster_uid, meta.get("namespace", ""), meta["name"], container["name"],
                            meta["uid"], attempt),
        image=container["image"],
        labels=pod_labels(ctx, pod, container["name"], spec_hash(container), attempt, streak),
        sandbox_id=sandbox_id,
        entrypoint=[expand(a, env) for a in container["command"]] if container.get("command") else None,
        command=[expand(a, env) for a in container["args"]] if container.get("args") is not None else None,
        env=env,
        working_dir=container.get("workingDir") or None,
        mounts=tuple(_mounts(ctx, pod, container)) + _resolv_conf_mount(resolv_conf, security),
        nano_cpus=cpu_millis(limits["cpu"]) * 1_000_000 if "cpu" in limits else None,
        memory_bytes=memory_bytes(limits["memory"]) if "memory" in limits else None,
        tty=bool(container.get("tty")),
        stdin_open=bool(container.get("stdin")),
        stdin_once=bool(container.get("stdin")) and bool(container.get("stdinOnce")),
        user=_user(security, pod_security),
        privileged=bool(security.get("privileged")),
        cap_add=tuple((security.get("capabilities") or {}).get("add") or ()),
        cap_drop=tuple((security.get("capabilities") or {}).get("drop") or ()),
        read_only_rootfs=bool(security.get("readOnlyRootFilesystem")),
        share_process_namespace=bool(spec.get("shareProcessNamespace")),
        pid_target=pid_target,
        host_pid=bool(spec.get("hostPID")),
        host_ipc=bool(spec.get("hostIPC")),
    )


def pod_volumes(ctx: PodContext, pod: dict) -> list[tuple[str, bool]]:
    """The Docker volumes the pod needs: (name, in memory?) for each emptyDir."""
    uid = pod["metadata"]["uid"]
    return [(volume_name(uid, v["name"]), (v["emptyDir"] or {}).get("medium") == "Memory")
            for v in (pod.get("spec") or {}).get("volumes") or [] if "emptyDir" in v]


def _mounts(ctx: PodContext, pod: dict, container: dict) -> list[MountSpec]:
    volumes = {v["name"]: v for v in (pod.get("spec") or {}).get("volumes") or []}
    mounts = []
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount["name"])
        if volume is None:
            raise ConfigError(f'volume "{mount["name"]}" is mounted by container "{container["name"]}" '
                              f"but not declared in the pod's volumes")
        if mount.get("subPath") or mount.get("subPathExpr"):
            raise ConfigError(f'subPath on volume mount "{mount["name"]}" is not supported by dockyard '
                              f"(Docker 20.10 cannot mount part of a volume); mount the whole volume")
        read_only = bool(mount.get("readOnly"))
        if "emptyDir" in volume:
            mounts.append(MountSpec(mount["mountPath"], volume_name(pod["metadata"]["uid"], mount["name"]),
                                    MountKind.VOLUME, read_only))
        elif "hostPath" in volume:
            if not ctx.allow_host_path:
                raise ConfigError(f'hostPath volume "{mount["name"]}" is not allowed on this node; '
                                  f"start the cluster with --allow-privileged to permit it")
            mounts.append(MountSpec(mount["mountPath"], volume["hostPath"]["path"], MountKind.BIND, read_only))
        else:
            kind = next((k for k in volume if k != "name"), "unknown")
            raise ConfigError(f'volume "{mount["name"]}" of type {kind} is not supported by dockyard yet; '
                              f"use emptyDir, hostPath, or env from the ConfigMap/Secret")
    return mounts


def _resolv_conf_mount(path: str | None, security: dict) -> tuple[MountSpec, ...]:
    if path is None:
        return ()
    # writable unless the root filesystem is read-only, as the CRI runtimes mount it
    return (MountSpec(RESOLV_CONF, path, MountKind.BIND, bool(security.get("readOnlyRootFilesystem"))),)


def _user(security: dict, pod_security: dict) -> str | None:
    uid = security.get("runAsUser", pod_security.get("runAsUser"))
    gid = security.get("runAsGroup", pod_security.get("runAsGroup"))
    if uid is None:
        return None
    return f"{uid}:{gid}" if gid is not None else str(uid)


# ── environment ──────────────────────────────────────────────────────────────────────────────

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: known names are replaced, unknown ones kept as written,
    ``$$`` is a literal ``$``."""
    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))
    return _REFERENCE.sub(replace, text)


def resolve_env(pod: dict, container: dict, *, pod_ip: str, node_ip: str, lookup: Lookup,
                node_allocatable: Mapping[str, str] | None = None) -> dict[str, str]:
    """The container's environment. ``node_allocatable`` is what ``resourceFieldRef`` shows for a
    limit the container does not set (the downward API's rule)."""
    namespace = pod["metadata"].get("namespace", "default")
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = source.get(key)
            if ref is None:
                continue
            data = lookup(kind, namespace, ref.get("name", ""))
            if data is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'{kind.lower()} "{ref.get("name", "")}" not found')
            env.update({prefix + k: v for k, v in data.items()})
    for var in container.get("env") or []:
        if "valueFrom" in (var or {}) and var["valueFrom"]:
            value = _value_from(pod, container, var["valueFrom"], pod_ip, node_ip, namespace, lookup,
                                node_allocatable or {})
            if value is None:
                continue
            env[var["name"]] = value
        else:
            env[var["name"]] = expand(var.get("value") or "", env)
    return env


def _value_from(pod: dict, container: dict, source: dict, pod_ip: str, node_ip: str, namespace: str,
                lookup: Lookup, node_allocatable: Mapping[str, str]) -> str | None:
    if "fieldRef" in source:
        return _field(pod, source["fieldRef"]["fieldPath"], pod_ip, node_ip)
    if "resourceFieldRef" in source:
        ref = source["resourceFieldRef"]
        section, _, name = ref["resource"].partition(".")
        value = ((container.get("resources") or {}).get(section) or {}).get(name)
        if value is None:
            value = node_allocatable.get(name) if section == "limits" else None
        if value is None:
            return "0"
        divisor = ref.get("divisor") or "1"
        if name == "cpu":
            return str(-(-cpu_millis(value) // max(1, cpu_millis(divisor))))
        return str(-(-memory_bytes(value) // max(1, memory_bytes(divisor))))
    for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
        if key in source:
            ref = source[key]
            data = lookup(kind, namespace, ref.get("name", ""))
            if data is None:
                if ref.get("optional"):
                    return None
                raise ConfigError(f'{kind.lower()} "{ref.get("name", "")}" not found')
            if ref["key"] not in data:
                if ref.get("optional"):
                    return None
                raise ConfigError(f"couldn't find key {ref['key']} in {kind} {namespace}/{ref.get('name', '')}")
            return data[ref["key"]]
    return None


_SUBSCRIPT = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]")


def _field(pod: dict, path: str, pod_ip: str, node_ip: str) -> str:
    meta, spec = pod["metadata"], pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"), "status.hostIP": node_ip,
        "status.podIP": pod_ip, "status.podIPs": pod_ip, "status.hostIPs": node_ip,
    }
    if path in simple:
        return simple[path] or ""
    match = _SUBSCRIPT.fullmatch(path)
    if match:
        return (meta.get(match.group(1)) or {}).get(match.group(2), "")
    if path in ("metadata.labels", "metadata.annotations"):
        return "\n".join(f'{k}="{v}"' for k, v in sorted((meta.get(path.split(".")[1]) or {}).items()))
    raise ConfigError(f"unsupported fieldPath {path!r} in env valueFrom")


def decode_data(kind: str, obj: dict) -> dict[str, str]:
    """A ConfigMap's or Secret's key/values as text (Secrets are base64 on the wire)."""
    if kind == "Secret":
        decoded = {k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("data") or {}).items()}
        return {**decoded, **(obj.get("stringData") or {})}
    return {**(obj.get("data") or {}), **{k: base64.b64decode(v).decode(errors="replace")
                                         for k, v in (obj.get("binaryData") or {}).items()}}
