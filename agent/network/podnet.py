"""The cluster's pod network on this host: one Docker bridge network, and local nodes' addresses on it.

The network's subnet is the whole cluster CIDR and its gateway the CIDR's first address, on a
bridge whose name derives from the cluster uid (:mod:`agent.network.names`). Every agent of the
cluster on this host uses it; each picks its pods' addresses from its own node's block
(:mod:`agent.network.ipam`). With the defaults::

    Docker network dockyard-demo-1a2b3c4d   bridge dy-1a2b3c4d   subnet 10.244.0.0/16   gateway 10.244.0.1
      node-1's pods 10.244.1.2, 10.244.1.3 …     node-2's pods 10.244.2.2 …
      with --node-ip-on-bridge: 10.244.0.11/32 (node-1), 10.244.0.12/32 (node-2) on dy-1a2b3c4d

:func:`plan_pod_network` decides, purely, whether the network must be made, which existing one to
use, or why neither is possible: a network of that name built differently (an older dockyard, or
the server restarted with another ``--cluster-cidr``), or another Docker network on part of the
range (Docker refuses overlapping subnets). Those end the agent's start-up with
:class:`PodNetworkConflict`, whose message names the other network and what to do.
:func:`ensure_pod_network` applies it; the agents of one host take turns under a file lock,
because Docker does not make creation by name atomic.

A local cluster gives each node its own address on the bridge (``--node-ip-on-bridge``), so the
host, and pods, reach every node at a distinct address (NodePorts per node, traffic policy Local).
The address lives on the bridge, so it goes when the network is removed, and comes back through
:class:`BridgeAddressKeeper` should Docker recreate the bridge.
"""

from __future__ import annotations

import fcntl
import ipaddress
import logging
import threading
from collections.abc import Iterable

from orchestrator.api.clusternetwork import ClusterNetwork

from agent import labels
from agent.network import ip
from agent.network.ip import IpCommandFailed
from agent.network.names import bridge_name, network_lock_path, network_name
from agent.runtime.errors import ContainerRuntimeError, SubnetOverlaps
from agent.runtime.protocol import PodNetworks
from agent.runtime.specs import NetworkSpec, NetworkState

log = logging.getLogger("dockyard.agent.podnet")


class PodNetworkConflict(ContainerRuntimeError):
    """The pod network cannot be made as the cluster's address plan says; the message says why
    and what to do."""


def pod_network_spec(cluster_name: str, cluster_uid: str, network: ClusterNetwork) -> NetworkSpec:
    return NetworkSpec(name=network_name(cluster_name, cluster_uid), subnet=network.cluster_cidr,
                       gateway=network.gateway, bridge=bridge_name(cluster_uid),
                       labels={labels.CLUSTER: cluster_uid, labels.ROLE: "network"})


def plan_pod_network(spec: NetworkSpec, same_name: Iterable[NetworkState]) -> NetworkState | None:
    """The existing network to use (None: create it). Should duplicates of the name exist
    (two agents racing before the lock existed), every agent picks the same: the smallest id."""
    existing = min(same_name, key=lambda n: n.id, default=None)
    if existing is None:
        return None
    differences = []
    if existing.subnets != (spec.subnet,):
        differences.append(f"subnet {', '.join(existing.subnets) or '(chosen by Docker)'} instead of {spec.subnet}")
    if existing.gateways and existing.gateways != (spec.gateway,):
        differences.append(f"gateway {', '.join(existing.gateways)} instead of {spec.gateway}")
    if existing.bridge != spec.bridge:
        differences.append(f"bridge {existing.bridge or '(named by Docker)'} instead of {spec.bridge}")
    if differences:
        raise PodNetworkConflict(
            f"the Docker network {spec.name} exists with {'; '.join(differences)} (made by an older dockyard, or "
            f"before the server's --cluster-cidr changed). Stop this cluster's pods and remove it "
            f"(`dockyard down`, or `docker network rm {spec.name}`), or start the server with "
            f"--cluster-cidr {existing.subnets[0] if existing.subnets else spec.subnet} again")
    return existing


def overlapping(spec: NetworkSpec, networks: Iterable[NetworkState]) -> list[NetworkState]:
    """The networks (other than ours) whose subnets share addresses with the cluster CIDR."""
    ours = ipaddress.IPv4Network(spec.subnet)
    found = []
    for network in networks:
        if network.name == spec.name:
            continue
        for subnet in network.subnets:
            try:
                if ipaddress.ip_network(subnet, strict=False).overlaps(ours):
                    found.append(network)
                    break
            except (ValueError, TypeError):  # an IPv6 pool cannot overlap an IPv4 range
                continue
    return found


def overlap_message(spec: NetworkSpec, others: list[NetworkState]) -> str:
    named = ", ".join(f"{n.name} ({', '.join(n.subnets)})" for n in others) or "another network"
    return (f"cannot create the pod network {spec.name}: its range {spec.subnet} (the server's --cluster-cidr) "
            f"overlaps the Docker network {named}. Start the server with another --cluster-cidr "
            f"that no Docker network uses, or remove that network")


def ensure_pod_network(runtime: PodNetworks, spec: NetworkSpec) -> str:
    """The id of the cluster's pod network on this engine, made if missing."""
    with open(network_lock_path(spec.name), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        existing = plan_pod_network(spec, runtime.networks(spec.name))
        if existing is not None:
            return existing.id
        others = overlapping(spec, runtime.networks())
        if others:
            raise PodNetworkConflict(overlap_message(spec, others))
        try:
            return runtime.create_network(spec)
        except SubnetOverlaps:  # a network made since we looked, or one Docker lists differently
            raise PodNetworkConflict(overlap_message(spec, overlapping(spec, runtime.networks()))) from None


def ensure_node_address(bridge: str, address: str) -> bool:
    """Put ``address``/32 on ``bridge``; True when it had to be (re)added."""
    present = ip.addresses()
    elsewhere = sorted({a.device for a in present if a.address == address and a.device != bridge})
    if elsewhere:
        raise IpCommandFailed(f"the node address {address} (--node-ip) already belongs to {', '.join(elsewhere)} "
                              f"on this host; --node-ip-on-bridge needs an address of its own (in a local "
                              f"cluster: one of the cluster CIDR's first block, e.g. .11, .12 …)")
    if any(a.address == address and a.device == bridge for a in present):
        return False
    if not ip.link_exists(bridge):
        raise IpCommandFailed(f"cannot put the node address {address} on the bridge {bridge}: the bridge does "
                              f"not exist (the pod network is missing)")
    ip.replace_address(bridge, address)
    return True


class BridgeAddressKeeper:
    """Keeps this node's address on the bridge: checked every ``interval`` seconds, because
    Docker recreating the network (after someone removed it) makes a new bridge without it."""

    def __init__(self, runtime: PodNetworks, spec: NetworkSpec, address: str, interval: float) -> None:
        self.runtime, self.spec, self.address, self.interval = runtime, spec, address, interval
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bridge-address", daemon=True)

    def ensure(self) -> None:
        """Network and address, now; raises what stands in the way."""
        ensure_pod_network(self.runtime, self.spec)
        if ensure_node_address(self.spec.bridge, self.address):
            log.info("node address %s/32 added to the bridge %s", self.address, self.spec.bridge)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.ensure()
            except (ContainerRuntimeError, IpCommandFailed) as error:
                log.warning("keeping the node address on the bridge: %s", error)
