"""``dockyard down [--purge]``: stop a local cluster and remove what it made in Docker.
``dockyard down --node NAME``: one node of it dies, for labs.

1. Stop the recorded processes, agents first (so none of them is left retrying against a server
   that is already gone), then the server: SIGTERM, a grace period, SIGKILL. Only processes
   named in ``run/*.pid`` whose start time still matches are signalled
   (:mod:`~orchestrator.cli.lifecycle.processes`).
2. Remove the cluster's iptables chains and its routes to other machines' pods
   (:func:`agent.network.teardown.remove_host_networking`; as root — a cluster started without
   root made none), then every container, network and volume labelled with the cluster's uid
   (:func:`agent.runtime.cleanup.remove_cluster_objects`), whichever node made them, including
   those of agents that had crashed before ``down`` ran. The pod bridge and the node addresses on
   it go with the network.
3. ``--purge``: delete the state directory (database, certificates, tokens, kubeconfig, logs). Two
   safety rules: it is kept when Docker cleanup failed (the uid in ``cluster.json`` is what finds
   the leftovers), and a directory holding files dockyard did not make is never deleted (a
   mistyped ``--state-dir ~`` must not cost anyone their home directory).

``--node NAME`` plays a machine failing: that node's agent is stopped, its containers removed
and its address taken off the bridge, while the control plane and the other nodes run on. The
API still has the Node; the node lifecycle controller marks it NotReady after its grace period
and evicts its pods, as it would for a real lost machine. ``dockyard up`` starts the agent
again, which puts the address back and registers the node Ready.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import TextIO

from orchestrator.api.clusternetwork import ClusterNetwork
from orchestrator.cli.lifecycle.plan import node_address
from orchestrator.cli.lifecycle.processes import SERVER, agent_process, forget, records, stop
from orchestrator.cluster.init import ClusterInfo
from orchestrator.cluster.statedir import StateDir


def add_down_parser(verbs: argparse._SubParsersAction) -> None:
    down = verbs.add_parser("down", help="stop a local cluster and remove its containers, networks and volumes")
    down.add_argument("--state-dir", type=Path, help="cluster state directory (default: ~/.dockyard)")
    down.add_argument("--purge", action="store_true", help="also delete the state directory")
    down.add_argument("--grace-period", type=float, default=10.0,
                      help="seconds each process gets to exit after SIGTERM before SIGKILL (default 10)")
    down.add_argument("--node", help="only this node dies: its agent stops, its containers and address go "
                                     "(a lab's lost machine; `dockyard up` brings it back)")


def run_down(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    state = StateDir(args.state_dir) if args.state_dir else StateDir.default()
    if not state.root.is_dir():
        err.write(f"no cluster in {state.root}: nothing to do\n")
        return 0
    if args.node:
        return _node_down(state, args.node, args.grace_period, out, err)
    recorded = records(state)
    agents = [r for r in recorded if r.name != SERVER]
    server = [r for r in recorded if r.name == SERVER]
    for group in (agents, server):
        for name, how in stop(group, args.grace_period).items():
            record = next(r for r in group if r.name == name)
            out.write(f"{name} (pid {record.pid}): {how.value}\n")
            forget(state, record)

    # Imported here, not at the top: the Docker SDK takes a noticeable part of a second to load,
    # and every other verb of the CLI would pay for it.
    from agent.network.iptables import IptablesError
    from agent.network.routes import RoutesIncomplete
    from agent.network.teardown import remove_host_networking
    from agent.runtime.cleanup import remove_cluster_objects
    from agent.runtime.errors import ContainerRuntimeError

    status = 0
    info = ClusterInfo.load(state) if state.cluster_json.exists() else None
    uid = info.uid if info else ""
    if info is not None and uid and os.geteuid() == 0:
        try:
            network = ClusterNetwork.from_data(info.flags) if info.flags.get("cluster-cidr") else None
            out.write(f"removed {remove_host_networking(info.name, uid, network)} of cluster {uid}\n")
        except (IptablesError, RoutesIncomplete) as error:
            err.write(f"error: {error}\n")
            status = 1
    if uid:
        try:
            removed = remove_cluster_objects(uid)
            out.write(f"removed {removed} of cluster {uid}\n")
        except ContainerRuntimeError as error:
            err.write(f"error: {error}\n")
            status = 1

    if args.purge:
        status = max(status, _purge(state, cleanup_failed=status != 0, out=out, err=err))
    return status


def _node_down(state: StateDir, node: str, grace: float, out: TextIO, err: TextIO) -> int:
    from agent.network.ip import IpCommandFailed
    from agent.network.teardown import remove_node_address
    from agent.runtime.cleanup import remove_node_containers
    from agent.runtime.errors import ContainerRuntimeError

    agent = [r for r in records(state) if r.name == agent_process(node)]
    if not agent and not state.agent_dir(node).is_dir():
        err.write(f"error: no node {node} in the cluster in {state.root}\n")
        return 1
    for name, how in stop(agent, grace).items():
        out.write(f"{name} (pid {agent[0].pid}): {how.value}\n")
        forget(state, agent[0])
    info = ClusterInfo.load(state)
    try:
        out.write(f"removed {remove_node_containers(info.uid, node)} container(s) of {node}\n")
        if info.flags.get("cluster-cidr") and os.geteuid() == 0:
            address = node_address(ClusterNetwork.from_data(info.flags), node)
            remove_node_address(info.uid, address)
            out.write(f"took {node}'s address {address} off the bridge\n")
    except (ContainerRuntimeError, IpCommandFailed, ValueError) as error:
        err.write(f"error: {error}\n")
        return 1
    out.write(f"{node} is down; the control plane will mark it NotReady. `dockyard up` brings it back.\n")
    return 0


def _purge(state: StateDir, *, cleanup_failed: bool, out: TextIO, err: TextIO) -> int:
    if cleanup_failed:
        err.write(f"not deleting {state.root}: its cluster.json names the Docker objects still to remove; "
                  f"run `dockyard down --purge` again once Docker is reachable\n")
        return 1
    foreign = foreign_entries(state)
    if foreign:
        err.write(f"not deleting {state.root}: it holds files dockyard did not make ({', '.join(foreign)}); "
                  f"remove what you want yourself\n")
        return 1
    shutil.rmtree(state.root)
    out.write(f"deleted {state.root}\n")
    return 0


def foreign_entries(state: StateDir) -> list[str]:
    """Top-level names in the state directory that are not dockyard's own."""
    exact = {state.kubeconfig.name, state.cluster_json.name, state.pki_dir.name, state.logs_dir.name,
             state.run_dir.name, state.agents_dir.name, state.knobs.name}
    # the database with SQLite's -wal/-shm/-journal siblings; tokens.json with its .lock
    families = (state.db.name, state.tokens.name)
    return sorted(
        entry.name for entry in state.root.iterdir()
        if entry.name not in exact
        and not entry.name.startswith(families)
        and not (entry.name.startswith(".") and entry.name.endswith(".tmp"))  # an interrupted atomic_write
    )
