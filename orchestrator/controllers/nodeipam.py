"""The node IPAM controller: every Node gets a pod CIDR, the block its agent gives pod IPs from.

kube-controller-manager's ``nodeipam`` controller with the range allocator. One work key stands
for all Nodes, because allocation is a decision about all of them at once (the lowest *free*
block); a pass reads every Node, asks :func:`~orchestrator.controllers.nodeipam_plan.plan_allocations`
and writes ``spec.podCIDR`` and ``spec.podCIDRs`` of each Node still without one.

Each write is a merge patch carrying the resourceVersion the pass read, a compare-and-swap: if
the Node changed meanwhile (a heartbeat, a user, a delete and re-register under the same name)
the patch is refused with a conflict and the pass runs again on fresh data, so a block can never
be handed out twice. Once set, a Node's CIDR is immutable (validation refuses any change), and
agents cannot wipe it when they re-register: they patch only labels, annotations and status.

A Node for which no block is left gets a ``CIDRNotAvailable`` Warning event saying which flags
to change; it is looked at again whenever a Node goes away and on every resync.

Which events wake the key: a Node added or deleted, or one whose pod CIDRs changed (heartbeats
change only status, and are ignored).
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Iterable

from orchestrator.api import errors
from orchestrator.api.clusternetwork import ClusterNetwork
from orchestrator.api.core import EventType
from orchestrator.api.registry import kind_for
from orchestrator.api.options import PatchType
from orchestrator.client.informer import Change, Informers
from orchestrator.client.protocol import Client, WatchEventType
from orchestrator.controllers.base import Controller
from orchestrator.controllers.events import EventRecorder
from orchestrator.controllers.nodeipam_plan import Allocation, node_cidrs, plan_allocations, unavailable_message

log = logging.getLogger("dockyard.nodeipam")

NODE = kind_for("v1", "Node")
#: the one work key: allocation looks at every Node together
ALL_NODES = "nodes"
COMPONENT = "cidrAllocator"  # the range allocator's event source in Kubernetes


class NodeIpamReason(str, Enum):
    CIDR_NOT_AVAILABLE = "CIDRNotAvailable"


class NodeIpamController(Controller[str]):
    name = "node-ipam"
    resync_seconds = 30.0
    watches = (NODE,)

    def __init__(self, client: Client, informers: Informers, network: ClusterNetwork) -> None:
        super().__init__(client, informers)
        self.network = network
        self.nodes = informers.cache(NODE)
        self.events = EventRecorder(self.client, COMPONENT)

    def keys_for(self, change: Change) -> Iterable[str]:
        if change.type is not WatchEventType.MODIFIED or change.previous is None \
                or node_cidrs(change.previous) != node_cidrs(change.object):
            yield ALL_NODES

    def resync_keys(self) -> Iterable[str]:
        yield ALL_NODES

    def reconcile(self, key: str) -> None:
        nodes = self.nodes.list()
        plan = plan_allocations(nodes, self.network)
        by_name = {node["metadata"]["name"]: node for node in nodes}
        for allocation in plan.allocate:
            self._assign(by_name[allocation.node], allocation)
        for name in plan.unavailable:
            log.warning("node %s: %s", name, unavailable_message(self.network))
            self.events.record(by_name[name], EventType.WARNING, NodeIpamReason.CIDR_NOT_AVAILABLE,
                               unavailable_message(self.network))

    def _assign(self, node: dict, allocation: Allocation) -> None:
        """Write the CIDR, guarded by the resourceVersion read: a node that changed meanwhile is a
        conflict, and the pass is retried (with back-off) on what the cache holds by then."""
        meta = node["metadata"]
        with errors.ignore_not_found():  # gone: nothing to allocate for
            self.client.patch(NODE, None, meta["name"], PatchType.MERGE, {
                "metadata": {"resourceVersion": meta["resourceVersion"]},
                "spec": {"podCIDR": allocation.cidr, "podCIDRs": [allocation.cidr]}})
            log.info("node %s: pod CIDR %s", meta["name"], allocation.cidr)
