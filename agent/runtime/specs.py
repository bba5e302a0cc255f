"""What the agent asks Docker to create, as plain values.

:mod:`agent.container_config` builds these from a Pod (pure, unit-tested); the runtime adapter
turns them into Docker API calls and nothing else. Keeping the seam here means the rules of the
pod model (command vs entrypoint, env expansion, limits, volumes) are never mixed with Docker I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TypedDict


class MountKind(str, Enum):
    VOLUME = "volume"   # a Docker volume the agent made for an emptyDir (tmpfs-backed for medium: Memory)
    BIND = "bind"       # a hostPath


@dataclass(frozen=True)
class MountSpec:
    target: str
    source: str = ""            # volume name or host path
    kind: MountKind = MountKind.VOLUME
    read_only: bool = False


@dataclass(frozen=True)
class PortBinding:
    container_port: int
    protocol: str               # tcp | udp | sctp (Docker spelling)
    host_port: int
    host_ip: str = ""


@dataclass(frozen=True)
class NetworkSpec:
    """The cluster's pod network on this engine (built by :mod:`agent.network.podnet`)."""

    name: str
    subnet: str                 # the whole cluster CIDR
    gateway: str                # its first address: the bridge's own
    bridge: str                 # the Linux bridge's name
    labels: dict[str, str]


@dataclass(frozen=True)
class NetworkState:
    """A Docker network as the engine reports it, reduced to what the agent checks."""

    id: str
    name: str
    subnets: tuple[str, ...]
    gateways: tuple[str, ...]
    bridge: str | None           # None when Docker chose the bridge's name itself


class MachineInfo(TypedDict):
    """The engine's machine as the Node object reports it (capacity, ``nodeInfo``, labels)."""

    cpus: int
    memory_bytes: int
    os: str                     # GOOS spelling: linux
    arch: str                   # GOARCH spelling: amd64, arm64
    os_image: str
    kernel: str
    engine: str                 # the Docker engine's version
    machine_id: str


@dataclass(frozen=True)
class SandboxSpec:
    name: str                   # Docker container name
    image: str
    hostname: str | None        # None: the host's (a hostNetwork pod)
    network: str                # the cluster network the pod's IP comes from
    labels: dict[str, str]
    ipv4_address: str | None = None     # the pod IP, from the node's pod CIDR (agent.network.ipam)
    ports: tuple[PortBinding, ...] = ()
    extra_hosts: tuple[str, ...] = ()   # "name:ip" (hostAliases)
    shm_size: int | None = None
    #: ``hostNetwork``: the machine's network namespace instead of the cluster network, no
    #: address of its own, no published ports (the pod's ports are the host's already)
    host_network: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    name: str                   # Docker container name
    image: str
    labels: dict[str, str]
    sandbox_id: str
    entrypoint: list[str] | None = None   # Kubernetes "command"
    command: list[str] | None = None      # Kubernetes "args"
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    mounts: tuple[MountSpec, ...] = ()
    nano_cpus: int | None = None
    memory_bytes: int | None = None
    tty: bool = False
    stdin_open: bool = False
    #: stdin closes when the first attached client closes it (Kubernetes' ``stdinOnce``)
    stdin_once: bool = False
    user: str | None = None
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    read_only_rootfs: bool = False
    stop_signal: str | None = None
    share_process_namespace: bool = False   # the pod's shareProcessNamespace: join the sandbox's PID namespace
    #: a container id whose PID namespace to join instead (an ephemeral container's target)
    pid_target: str | None = None
    host_pid: bool = False      # the pod's hostPID: the machine's PID namespace, before any of the above
    host_ipc: bool = False      # the pod's hostIPC: the machine's IPC namespace instead of the sandbox's
