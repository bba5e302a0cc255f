"""Removing what a cluster put into this host's kernel: what ``dockyard down`` does besides Docker.

The service proxy's iptables chains and jumps (:func:`agent.network.proxy.cleanup`) and the
routes to other machines' pod ranges (:func:`agent.network.routes.cleanup`) outlive the agents on
purpose (traffic keeps flowing while an agent restarts), so they go only with the cluster, and so
do the agents' lock files. The bridge, its addresses and its switches go with the Docker network.
Every step finds exactly the cluster's objects (its chain prefix, routes inside its pod range,
files named by its uid) and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.api.clusternetwork import ClusterNetwork

from agent.network import ip, proxy, routes
from agent.network.names import bridge_name, host_lock_path, network_lock_path, network_name


@dataclass(frozen=True)
class HostCleanup:
    rules: bool     # whether the cluster had iptables chains here
    routes: int

    def __str__(self) -> str:
        rules = "its iptables chains and jumps" if self.rules else "no iptables rules"
        return f"{rules}, {self.routes} route(s)"


def remove_node_address(cluster_uid: str, address: str) -> None:
    """Take a local node's address off the cluster's bridge (``dockyard down --node``): a dead
    machine's address answers nothing. Its agent puts it back when it starts again."""
    ip.delete_address(bridge_name(cluster_uid), address)


def remove_host_networking(cluster_name: str, cluster_uid: str, network: ClusterNetwork | None) -> HostCleanup:
    """``network`` None: a cluster made before pod ranges existed, which has no routes. Raises
    :class:`~agent.network.iptables.IptablesError` or :class:`~agent.network.routes.RoutesIncomplete`
    saying what was left and why."""
    removed = HostCleanup(rules=proxy.cleanup(cluster_uid), routes=routes.cleanup(network) if network else 0)
    host_lock_path(cluster_uid).unlink(missing_ok=True)
    network_lock_path(network_name(cluster_name, cluster_uid)).unlink(missing_ok=True)
    return removed
