"""What ``dockyard up`` should start: pure functions from the wanted cluster and what runs now.

``up`` is level-triggered like everything else here: it compares the processes a cluster of N
nodes needs (a server, agents ``node-1`` … ``node-N``) with the ones recorded alive under ``run/``
and starts only what is missing. Run on a healthy cluster it starts nothing (the documented no-op);
run after an agent crashed it brings back just that agent. Agents running beyond ``--nodes`` are
reported and left alone: removing a node is a decision for ``dockyard down``, not a side effect.

The command lines are built here too, so a test can read exactly what a user's ``ps`` would show.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from orchestrator.api.clusternetwork import ClusterNetwork
from orchestrator.cli.lifecycle.processes import SERVER, agent_process
from orchestrator.cluster.statedir import StateDir

DEFAULT_API_PORT = 6443
DEFAULT_CLUSTER_NAME = "dockyard"
NODE_NAME_PREFIX = "node-"


@dataclass(frozen=True)
class ClusterSpec:
    """The cluster ``dockyard up`` was asked for. Its address plan (a :class:`ClusterNetwork`) is
    not part of it: a new cluster only gets one once ``up`` holds the host-wide address-plan lock,
    so the command lines that need it take it as an argument."""

    state: StateDir
    nodes: int
    api_port: int
    cluster_name: str
    allow_privileged: bool = False
    #: each node gets its own address on the pod bridge (needs root); else all share the host's
    node_addresses: bool = True
    agent_tuning: tuple[str, ...] = ()  # lab knobs passed to every agent, as flags
    server_tuning: tuple[str, ...] = ()  # lab knobs passed to the server, as flags

    @property
    def node_names(self) -> list[str]:
        return [f"{NODE_NAME_PREFIX}{i}" for i in range(1, self.nodes + 1)]

    @property
    def server_url(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"


@dataclass(frozen=True)
class UpPlan:
    start_server: bool
    start_agents: tuple[str, ...]  # node names
    extra_agents: tuple[str, ...]  # running, but not among the wanted nodes

    @property
    def nothing_to_do(self) -> bool:
        return not self.start_server and not self.start_agents


def node_address(network: ClusterNetwork, node: str) -> str:
    """``node-3``'s own address on the pod bridge: the third of the cluster's local node addresses."""
    return network.local_node_address(int(node.removeprefix(NODE_NAME_PREFIX)))


def plan_up(spec: ClusterSpec, running: set[str]) -> UpPlan:
    """``running``: names of the processes alive now (``server``, ``agent-node-1`` …)."""
    wanted = spec.node_names
    wanted_processes = {agent_process(node) for node in wanted}
    extra = sorted(name.removeprefix("agent-") for name in running
                   if name != SERVER and name not in wanted_processes)
    return UpPlan(
        start_server=SERVER not in running,
        start_agents=tuple(node for node in wanted if agent_process(node) not in running),
        extra_agents=tuple(extra),
    )


def dockyard_argv(*args: str) -> list[str]:
    """``dockyard ARGS`` run by this very interpreter, so the children use the same install."""
    return [sys.executable, "-m", "orchestrator.cli.main", *args]


def server_argv(spec: ClusterSpec, network: ClusterNetwork) -> list[str]:
    argv = dockyard_argv("server", "--state-dir", str(spec.state.root), "--listen", f"127.0.0.1:{spec.api_port}",
                         "--cluster-name", spec.cluster_name, "--cluster-cidr", network.cluster_cidr,
                         "--service-cidr", network.service_cidr, *spec.server_tuning)
    return argv + (["--allow-privileged"] if spec.allow_privileged else [])


def agent_argv(spec: ClusterSpec, network: ClusterNetwork, node: str, listen_port: int,
               token_file: Path) -> list[str]:
    argv = dockyard_argv(
        "agent", "--server", spec.server_url, "--token-file", str(token_file), "--node-name", node,
        "--ca-file", str(spec.state.ca_cert), "--state-dir", str(spec.state.agent_dir(node)),
        # every address: the API server dials the node's InternalIP; mutual TLS guards the port
        "--listen", f"0.0.0.0:{listen_port}", *spec.agent_tuning)
    if spec.node_addresses:
        argv += ["--node-ip", node_address(network, node), "--node-ip-on-bridge"]
    return argv + (["--allow-host-path"] if spec.allow_privileged else [])
