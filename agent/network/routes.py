"""Routes between machines' pod ranges (flannel's *host-gw* backend), planned purely, applied thinly.

Every node owns a block of the cluster CIDR (``Node.spec.podCIDR``) and its pods live on its host's
bridge. A packet for a pod on another machine must leave through that machine: this host routes
each remote node's block via the remote node's address (its ``InternalIP``), and the bridge gets
``proxy_arp`` so a pod, which believes the whole cluster CIDR is on its own link, has its ARP for a
remote pod answered by the host. Worked example, cluster CIDR 10.244.0.0/16, this host is
192.168.56.11 with node-1 (10.244.1.0/24) and the machine 192.168.56.12 runs node-2::

    pod 10.244.1.5 → 10.244.2.7
      the pod ARPs for 10.244.2.7 on the bridge; proxy_arp answers with the bridge's MAC, because
      the host's route for it goes elsewhere:
      10.244.2.0/24 via 192.168.56.12          (this module's route)
      10.244.0.0/16 dev dy-1a2b3c4d (Docker's connected route for the bridge: less specific)
    the other host delivers to its own bridge; the answer comes back the same way.

Nodes whose ``InternalIP`` is an address of this host (this host's own node, or every node of a
local cluster, each with its address on the one bridge) need no route: their pods share the bridge.

Only routes of *this cluster* are ever removed: a destination inside the cluster CIDR with a
gateway. The bridge's own connected route has no gateway and stays; nothing outside the cluster
CIDR is looked at. :func:`sync_routes` is what the host-wide networking loop calls after every
change of the Nodes; :func:`cleanup` removes them all when the cluster goes away.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from orchestrator.api.clusternetwork import ClusterNetwork
from orchestrator.api.nodestatus import internal_ip

from agent.network import ip
from agent.network.ip import IpCommandFailed, Route


class RoutesIncomplete(IpCommandFailed):
    """Some routes could not be set or removed; the message lists each with the kernel's reason."""


@dataclass(frozen=True)
class RoutePlan:
    replace: tuple[Route, ...] = ()
    delete: tuple[Route, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.replace and not self.delete


def wanted_routes(nodes: Iterable[dict], local_addresses: Iterable[str], network: ClusterNetwork) -> frozenset[Route]:
    """One route per node that has a pod CIDR and lives on another machine.

    Skipped: nodes without a pod CIDR or address yet; a pod CIDR outside the cluster CIDR (not
    ours to route); a node address inside the cluster CIDR (a local cluster's node address on some
    other host's bridge, unreachable from here)."""
    local = set(local_addresses)
    routes = set()
    for node in nodes:
        cidr = (node.get("spec") or {}).get("podCIDR")
        gateway = internal_ip(node)
        if not cidr or not gateway or gateway in local:
            continue
        try:
            block = ipaddress.IPv4Network(cidr, strict=False)
            hop = ipaddress.IPv4Address(gateway)
        except ValueError:
            continue
        if not block.subnet_of(network.pods) or hop in network.pods:
            continue
        routes.add(Route(str(block), gateway))
    return frozenset(routes)


def is_cluster_route(route: Route, network: ClusterNetwork) -> bool:
    """A route this module may own: a gateway, and a destination inside the cluster CIDR."""
    if route.gateway is None:
        return False
    return ipaddress.IPv4Network(route.destination, strict=False).subnet_of(network.pods)


def plan_routes(wanted: Iterable[Route], current: Iterable[Route], network: ClusterNetwork) -> RoutePlan:
    """What to replace and delete so the cluster's routes are exactly ``wanted``.

    A destination whose next hop changed is only replaced (``ip route replace`` swaps it in one
    step), never deleted first, so traffic to it never meets a missing route."""
    wanted = set(wanted)
    ours = {route for route in current if is_cluster_route(route, network)}
    replaced = {route.destination for route in wanted}
    return RoutePlan(
        replace=tuple(sorted(wanted - ours)),
        delete=tuple(sorted(route for route in ours - wanted if route.destination not in replaced)),
    )


def sync_routes(nodes: Iterable[dict], network: ClusterNetwork, bridge: str) -> RoutePlan:
    """Make this host's routes match ``nodes`` and let ``bridge`` answer ARP for remote pods.
    Every route is attempted; failures are reported together (:class:`RoutesIncomplete`)."""
    local = [found.address for found in ip.addresses()]
    plan = plan_routes(wanted_routes(nodes, local, network), ip.routes(), network)
    failures = _apply(plan)
    ip.enable_proxy_arp(bridge)
    if failures:
        raise RoutesIncomplete("routes to other nodes' pods: " + "; ".join(failures)
                               + " (host-gw routing needs every node reachable on one link: check the "
                               "nodes' InternalIPs)")
    return plan


def cleanup(network: ClusterNetwork) -> int:
    """Remove every route of this cluster from the host (``dockyard down``); how many there were."""
    plan = plan_routes((), ip.routes(), network)
    failures = _apply(plan)
    if failures:
        raise RoutesIncomplete("removing the cluster's routes: " + "; ".join(failures))
    return len(plan.delete)


def _apply(plan: RoutePlan) -> list[str]:
    failures = []
    for route in plan.replace:
        try:
            ip.replace_route(route)
        except IpCommandFailed as error:
            failures.append(str(error))
    for route in plan.delete:
        try:
            ip.delete_route(route)
        except IpCommandFailed as error:
            failures.append(str(error))
    return failures
