"""Which Node gets which pod CIDR: kube-controller-manager's range allocator, as a pure function.

The cluster CIDR is cut into blocks of ``--node-cidr-mask-size``; block 0 is the
infrastructure's (gateway, local node addresses: :class:`~orchestrator.api.clusternetwork.ClusterNetwork`),
blocks 1 … n go to Nodes. Nothing is remembered between passes: the blocks in use are read off
the Nodes that exist, so a deleted Node's block is free at the next pass and a control plane
restarted mid-allocation simply looks again.

Rules, as in Kubernetes:

* a Node whose ``spec.podCIDRs`` is set keeps it (the API refuses to change it); every block its
  CIDR overlaps counts as used, even one it was given by hand;
* a Node without one gets the **lowest** free block, Nodes taken in order of creation (then
  name), so the first Node of a fresh cluster gets block 1;
* when no block is free the Node is left without and reported, so the controller can say why.

Worked example, cluster CIDR 10.244.0.0/16, mask /24::

    node-1  10.244.1.0/24   (kept)
    node-2  (deleted)        → block 2 is free again
    node-3  10.244.3.0/24   (kept)
    node-4  (new)            → 10.244.2.0/24, the lowest free block
    node-5  (new)            → 10.244.4.0/24
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from orchestrator.api.clusternetwork import ClusterNetwork


@dataclass(frozen=True)
class Allocation:
    node: str
    cidr: str


@dataclass(frozen=True)
class IpamPlan:
    allocate: tuple[Allocation, ...] = ()
    #: Nodes that need a CIDR but find none free, in allocation order
    unavailable: tuple[str, ...] = ()


def node_cidrs(node: dict) -> list[str]:
    """The Node's pod CIDRs (``podCIDRs``, or the older single ``podCIDR``)."""
    spec = node.get("spec") or {}
    return list(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))


def blocks_overlapped(network: ClusterNetwork, cidr: str) -> range:
    """The node block indices ``cidr`` overlaps (an empty range when it lies outside the
    cluster CIDR or is not a CIDR at all); block 0 is never returned."""
    try:
        claimed = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return range(0)
    pods = network.pods
    if claimed.version != pods.version or not claimed.overlaps(pods):
        return range(0)
    size = 2 ** (32 - network.node_cidr_mask)
    base = int(pods.network_address)
    first = (max(int(claimed.network_address), base) - base) // size
    last = (min(int(claimed.broadcast_address), int(pods.broadcast_address)) - base) // size
    return range(max(first, 1), min(last, network.node_cidr_count) + 1)


def plan_allocations(nodes: list[dict], network: ClusterNetwork) -> IpamPlan:
    used: set[int] = set()
    waiting = []
    for node in nodes:
        cidrs = node_cidrs(node)
        if cidrs:
            for cidr in cidrs:
                used.update(blocks_overlapped(network, cidr))
        elif not node["metadata"].get("deletionTimestamp"):
            waiting.append(node)
    waiting.sort(key=lambda n: (n["metadata"].get("creationTimestamp") or "", n["metadata"]["name"]))
    free = (index for index in range(1, network.node_cidr_count + 1) if index not in used)
    allocate, unavailable = [], []
    for node in waiting:
        index = next(free, None)
        if index is None:
            unavailable.append(node["metadata"]["name"])
        else:
            allocate.append(Allocation(node["metadata"]["name"], network.node_cidr(index)))
    return IpamPlan(tuple(allocate), tuple(unavailable))


def unavailable_message(network: ClusterNetwork) -> str:
    """What a Node that got no CIDR is told (the event's message)."""
    return (f"no pod CIDR is left for this node: all {network.node_cidr_count} /{network.node_cidr_mask} "
            f"blocks of --cluster-cidr {network.cluster_cidr} are in use. Delete a node you no longer "
            f"need, or start the server with a larger --cluster-cidr or a longer --node-cidr-mask-size")
