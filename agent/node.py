"""The agent's Node: registration and heartbeats, as the kubelet does them.

On start the agent creates its Node (or takes over the existing one: a restarted agent is the
same node) with capacity and allocatable read from ``docker info`` — cpu, memory, and a pods limit
— its addresses, labels, system info and the port of its authenticated endpoint. Then every
``heartbeat_interval`` it writes the conditions with a fresh ``lastHeartbeatTime``; the control
plane's node lifecycle controller is what marks a silent node NotReady, exactly as in Kubernetes.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Sequence
from enum import Enum
from typing import TypedDict

from orchestrator.api.agentendpoint import SERVING_CERT_ANNOTATION
from orchestrator.api.coordination import NODE_LEASE_DURATION_SECONDS, NODE_LEASE_NAMESPACE
from orchestrator.api.node import NodeAddressType, NodeConditionType
from orchestrator.api.timestamps import now_micro_time, now_rfc3339

from agent.apiclient import ApiClient, ApiRejected, ApiUnavailable
from agent.config import AgentConfig
from agent.runtime.specs import MachineInfo

log = logging.getLogger("dockyard.agent.node")

AGENT_VERSION = "v1.32.0-dockyard"


def primary_ip() -> str:
    """The address this host uses to reach the outside; no packet is sent."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routing decision only
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


class NotReady(str, Enum):
    """Why the node reports Ready=False (reason ``KubeletNotReady``), in the condition's message."""

    RUNTIME_DOWN = "container runtime is down"
    NO_POD_CIDR = "network not ready: waiting for the control plane to assign this node a pod CIDR"


class RawNodeCondition(TypedDict):
    """One of the Node's ``status.conditions``, as the agent writes it."""

    type: str
    status: str                 # "True" | "False"
    reason: str
    message: str
    lastHeartbeatTime: str
    lastTransitionTime: str


def conditions(not_ready: NotReady | None, previous: Sequence[RawNodeCondition] | None = None) -> list[RawNodeCondition]:
    """The node's conditions; Ready unless ``not_ready`` says why not."""
    now = now_rfc3339()
    before = {c["type"]: c for c in previous or []}

    def condition(kind: NodeConditionType, status: bool, reason: str, message: str) -> RawNodeCondition:
        text = "True" if status else "False"
        old = before.get(kind.value)
        since = old["lastTransitionTime"] if old is not None and old["status"] == text else ""
        return {"type": kind.value, "status": text, "reason": reason, "message": message,
                "lastHeartbeatTime": now, "lastTransitionTime": since or now}

    return [
        condition(NodeConditionType.MEMORY_PRESSURE, False, "KubeletHasSufficientMemory",
                  "kubelet has sufficient memory available"),
        condition(NodeConditionType.DISK_PRESSURE, False, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        condition(NodeConditionType.PID_PRESSURE, False, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        condition(NodeConditionType.READY, True, "KubeletReady", "kubelet is posting ready status")
        if not_ready is None else condition(NodeConditionType.READY, False, "KubeletNotReady", not_ready.value),
    ]


def allocatable(config: AgentConfig, machine: MachineInfo) -> dict[str, str]:
    """Capacity and allocatable alike: the whole machine (no system reservations)."""
    return {"cpu": str(machine["cpus"]), "memory": f"{machine['memory_bytes'] // 1024}Ki",
            "pods": str(config.max_pods)}


def node_object(config: AgentConfig, machine: MachineInfo, node_ip: str, endpoint_port: int, cert_sha256: str,
                not_ready: NotReady | None = None) -> dict:
    resources = allocatable(config, machine)
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": config.node_name,
            "labels": {"kubernetes.io/hostname": config.node_name, "kubernetes.io/os": machine["os"],
                       "kubernetes.io/arch": machine["arch"], "beta.kubernetes.io/os": machine["os"],
                       "beta.kubernetes.io/arch": machine["arch"], **config.labels},
            "annotations": {SERVING_CERT_ANNOTATION: cert_sha256},
        },
        "spec": {},
        "status": {
            "capacity": resources, "allocatable": dict(resources),
            "conditions": conditions(not_ready),
            "addresses": [{"type": NodeAddressType.INTERNAL_IP.value, "address": node_ip},
                          {"type": NodeAddressType.HOSTNAME.value, "address": config.node_name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": endpoint_port}},
            "nodeInfo": {
                "machineID": machine["machine_id"], "systemUUID": machine["machine_id"], "bootID": "",
                "kernelVersion": machine["kernel"], "osImage": machine["os_image"],
                "containerRuntimeVersion": f"docker://{machine['engine']}", "kubeletVersion": AGENT_VERSION,
                "kubeProxyVersion": "", "operatingSystem": machine["os"], "architecture": machine["arch"],
            },
        },
    }


def register(api: ApiClient, node: dict) -> dict:
    """Create the Node, or bring an existing one (this node, restarted) up to date."""
    existing = api.get_node()
    if existing is None:
        try:
            return api.create_node(node)
        except ApiRejected as error:
            if error.code != 409:
                raise
    meta = node["metadata"]
    api.patch_node({"metadata": {"labels": meta["labels"], "annotations": meta["annotations"]}})
    return api.patch_node_status(node["status"])


def node_lease(node: dict) -> dict:
    """The heartbeat Lease of a registered Node, renewed now (the kubelet's, owned by the Node so
    it goes when the Node does)."""
    meta = node["metadata"]
    return {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": meta["name"], "namespace": NODE_LEASE_NAMESPACE,
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": meta["name"],
                                          "uid": meta["uid"]}]},
        "spec": {"holderIdentity": meta["name"], "leaseDurationSeconds": NODE_LEASE_DURATION_SECONDS,
                 "renewTime": now_micro_time()},
    }


class Heartbeat:
    """Every ``interval`` seconds until stopped: writes the node's conditions (``not_ready`` says
    each time why the node is not ready, or None) and, once :attr:`node` is known, renews its
    Lease."""

    def __init__(self, api: ApiClient, interval: float, not_ready: Callable[[], NotReady | None]) -> None:
        self.api, self.interval, self.not_ready = api, interval, not_ready
        self.node: dict | None = None  # the registered Node, for its Lease
        self._stop = threading.Event()
        self._previous: list[RawNodeCondition] | None = None
        self.thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()

    def beat(self) -> None:
        self._previous = conditions(self.not_ready(), self._previous)
        self.api.patch_node_status({"conditions": self._previous})
        if self.node is not None:
            self.api.renew_lease(node_lease(self.node))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except (ApiUnavailable, ApiRejected) as error:
                log.warning("heartbeat failed: %s", error)
