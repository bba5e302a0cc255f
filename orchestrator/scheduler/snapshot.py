"""What the scheduler knows at one moment: what each pod asks for, and what each node has left.

A scheduling pass builds a fresh snapshot from one list of nodes and one list of pods (nothing is
remembered between passes: level-triggered), then adds each pod it binds to its node's
:class:`NodeInfo`, so the second pod of a ReplicaSet sees the first without re-reading the store.

The accounting is Kubernetes' (pkg/scheduler/framework/types.go, ``computePodResourceRequest``):

* a pod requests the sum over its containers, or its largest init container if that is more
  (init containers run one at a time, before the rest), plus ``spec.overhead``; a container
  without a request asks for 0;
* a pod holds its node's resources from binding until it terminates (phase Succeeded or Failed)
  or disappears; a pod being deleted still holds them while it runs out its grace period;
* for *scoring* only, a container without a cpu or memory request counts as 100m CPU and 200Mi
  (the scheduler's "non-zero" requests), so best-effort pods still spread out instead of piling
  onto the node that looks emptiest.

Worked example: containers requesting ``250m``/``64Mi`` and nothing, plus an init container asking
``500m``: the pod requests max(250m + 0, 500m) = 500m CPU and 64Mi memory; for scoring it counts
max(250m + 100m, 500m) = 500m and 64Mi + 200Mi = 264Mi.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from orchestrator.api.containers import Protocol
from orchestrator.api.nodestatus import ready_condition
from orchestrator.api.podstatus import holds_resources
from orchestrator.api.quantity import cpu_millis, memory_bytes, parse_quantity

#: the requests a container without one counts as when *scoring* (DefaultMilliCPURequest, DefaultMemoryRequest)
NONZERO_CPU_MILLIS = 100
NONZERO_MEMORY_BYTES = 200 * 1024 * 1024
ANY_IP = "0.0.0.0"


@dataclass(frozen=True)
class Resources:
    cpu: int = 0      # milli-CPU
    memory: int = 0   # bytes

    def __add__(self, other: "Resources") -> "Resources":
        return Resources(self.cpu + other.cpu, self.memory + other.memory)

    def max(self, other: "Resources") -> "Resources":
        return Resources(max(self.cpu, other.cpu), max(self.memory, other.memory))


@dataclass(frozen=True)
class HostPort:
    ip: str
    protocol: str
    port: int

    def conflicts(self, other: "HostPort") -> bool:
        """Same port and protocol, on the same address or where either side listens on all of them."""
        return self.port == other.port and self.protocol == other.protocol and (
            self.ip == other.ip or ANY_IP in (self.ip, other.ip))


def _container_requests(container: dict, nonzero: bool) -> Resources:
    requests = (container.get("resources") or {}).get("requests") or {}
    cpu = cpu_millis(requests["cpu"]) if "cpu" in requests else (NONZERO_CPU_MILLIS if nonzero else 0)
    memory = memory_bytes(requests["memory"]) if "memory" in requests else (NONZERO_MEMORY_BYTES if nonzero else 0)
    return Resources(cpu, memory)


def pod_requests(spec: dict, *, nonzero: bool = False) -> Resources:
    """What a pod asks of its node (see the module docstring for the rule and an example)."""
    total = Resources()
    for container in spec.get("containers") or []:
        total += _container_requests(container, nonzero)
    for container in spec.get("initContainers") or []:
        total = total.max(_container_requests(container, nonzero))
    overhead = spec.get("overhead") or {}
    return total + Resources(cpu_millis(overhead.get("cpu", 0)), memory_bytes(overhead.get("memory", 0)))


def spread_key(pod: dict) -> tuple | None:
    """Which pods count as "the same" when spreading: one controller's, else identically labelled
    ones. A terminating pod counts for none (as in Kubernetes' spreading): the replacement of a
    pod being deleted belongs where it was."""
    meta = pod["metadata"]
    if meta.get("deletionTimestamp"):
        return None
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller") and ref.get("uid"):
            return ("owner", ref["uid"])
    labels = meta.get("labels")
    return ("labels", meta.get("namespace"), frozenset(labels.items())) if labels else None


@dataclass(frozen=True)
class PodInfo:
    """The parts of a pod the filters and scores read, computed once per pod."""

    namespace: str
    name: str
    requests: Resources
    nonzero_requests: Resources
    host_ports: tuple[HostPort, ...]
    node_selector: dict[str, str]
    tolerations: tuple[dict, ...]
    spread: tuple | None

    @classmethod
    def of(cls, pod: dict) -> "PodInfo":
        spec = pod.get("spec") or {}
        ports = tuple(
            HostPort(port.get("hostIP") or ANY_IP, port.get("protocol") or Protocol.TCP.value, port["hostPort"])
            for container in spec.get("containers") or []
            for port in container.get("ports") or [] if port.get("hostPort"))
        return cls(pod["metadata"].get("namespace", ""), pod["metadata"]["name"], pod_requests(spec),
                   pod_requests(spec, nonzero=True), ports, dict(spec.get("nodeSelector") or {}),
                   tuple(spec.get("tolerations") or ()), spread_key(pod))


@dataclass
class NodeInfo:
    """One node: what it offers (``allocatable``) and what the pods bound to it already hold."""

    name: str
    labels: dict[str, str]
    unschedulable: bool
    taints: tuple[dict, ...]
    ready: str                 # the Ready condition's status: "True", "False", "Unknown" or "" (none yet)
    allocatable: Resources
    allocatable_pods: int
    requested: Resources = Resources()
    nonzero_requested: Resources = Resources()
    pod_count: int = 0
    host_ports: list[HostPort] = field(default_factory=list)
    spread_counts: Counter = field(default_factory=Counter)

    @classmethod
    def of(cls, node: dict) -> "NodeInfo":
        spec, status = node.get("spec") or {}, node.get("status") or {}
        offered = status.get("allocatable") or status.get("capacity") or {}
        ready = (ready_condition(node) or {}).get("status") or ""
        return cls(node["metadata"]["name"], dict(node["metadata"].get("labels") or {}),
                   bool(spec.get("unschedulable")), tuple(spec.get("taints") or ()), ready,
                   Resources(cpu_millis(offered.get("cpu", 0)), memory_bytes(offered.get("memory", 0))),
                   int(parse_quantity(offered.get("pods", 0))))

    def add(self, pod: PodInfo) -> None:
        """Account for a pod bound here (at snapshot time, or just now by this pass)."""
        self.requested += pod.requests
        self.nonzero_requested += pod.nonzero_requests
        self.pod_count += 1
        self.host_ports.extend(pod.host_ports)
        if pod.spread is not None:
            self.spread_counts[pod.spread] += 1


def build_snapshot(nodes: Iterable[dict], pods: Iterable[dict]) -> dict[str, NodeInfo]:
    """Every node by name, with the pods that hold resources on it already added."""
    infos = {info.name: info for info in map(NodeInfo.of, nodes)}
    for pod in pods:
        info = infos.get((pod.get("spec") or {}).get("nodeName") or "")
        if info is not None and holds_resources(pod):
            info.add(PodInfo.of(pod))
    return infos
