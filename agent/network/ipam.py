"""Pod IPs from the node's pod CIDR (the job of Kubernetes' host-local IPAM plugin).

The control plane gives every Node a block of the cluster CIDR (``spec.podCIDR``); the agent
hands each new pod sandbox the lowest free address of that block. Docker's own allocator is not
used: it would pick from the whole cluster CIDR, and the address would tell nothing of the node.

* :func:`choose_address` is the pure choice. Never taken: the network address, the first address
  (``.1``, kept free as a gateway by convention, as host-local does) and the broadcast address.
  Worked example, block 10.244.1.0/24 with .2 and .4 in use: the choice is 10.244.1.3; a /24
  holds 253 pods (.2 … .254).
* :class:`PodAddresses` is the thin part. "In use" is read from the Docker network's endpoints
  every time (so adopted pods keep their addresses and nothing needs remembering across
  restarts), plus the addresses handed out for sandboxes still being started (not yet endpoints).
  The choice is made under one lock per agent, so two pods starting together never get the same
  address. Should Docker still refuse an address (someone attached a container with that address
  by hand), the next one is tried.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

from orchestrator.api.clusternetwork import ClusterNetwork

from agent.runtime.errors import AddressInUse

log = logging.getLogger("dockyard.agent.ipam")

T = TypeVar("T")


class PodCIDRFull(Exception):
    """Every address of the node's block is taken; the message says what to do."""


def node_pod_cidr(node: dict | None, network: ClusterNetwork) -> str | None:
    """The Node's pod CIDR when the control plane assigned one inside the cluster CIDR."""
    cidr = ((node or {}).get("spec") or {}).get("podCIDR")
    if not cidr:
        return None
    try:
        block = ipaddress.IPv4Network(cidr)
    except ValueError:
        log.error("the Node's spec.podCIDR %r is not an IPv4 network; waiting for a valid one", cidr)
        return None
    if not block.subnet_of(network.pods):
        log.error("the Node's pod CIDR %s lies outside the cluster CIDR %s; waiting for a valid one",
                  block, network.pods)
        return None
    return str(block)


def choose_address(pod_cidr: str, in_use: Iterable[str]) -> str | None:
    """The lowest address of ``pod_cidr`` that is neither reserved nor in use; None when full."""
    block = ipaddress.IPv4Network(pod_cidr)
    taken = set(in_use)
    first, last = int(block.network_address) + 2, int(block.broadcast_address) - 1
    for number in range(first, last + 1):
        address = str(ipaddress.IPv4Address(number))
        if address not in taken:
            return address
    return None


def capacity(pod_cidr: str) -> int:
    return max(0, ipaddress.IPv4Network(pod_cidr).num_addresses - 3)


class PodAddresses:
    """Hands out pod addresses of one node; ``in_use`` lists the addresses Docker has attached."""

    def __init__(self, pod_cidr: str, in_use: Callable[[], set[str]]) -> None:
        self.pod_cidr = pod_cidr
        self._in_use = in_use
        self._lock = threading.Lock()
        self._starting: set[str] = set()

    def create_with_address(self, create: Callable[[str], T]) -> T:
        """``create(address)`` with a free address; a refused address (:class:`AddressInUse`) is
        skipped and the next one tried. :class:`PodCIDRFull` when none is left."""
        refused: set[str] = set()
        while True:
            with self._lock:
                address = choose_address(self.pod_cidr, self._in_use() | self._starting | refused)
                if address is None:
                    raise PodCIDRFull(
                        f"no free pod IP in this node's pod CIDR {self.pod_cidr}: all {capacity(self.pod_cidr)} "
                        f"addresses are in use; delete pods on this node, or give nodes bigger blocks "
                        f"(the server's --node-cidr-mask-size)")
                self._starting.add(address)
            try:
                return create(address)
            except AddressInUse:
                log.warning("Docker refused %s (address already in use); trying the next one", address)
                refused.add(address)
            finally:
                with self._lock:
                    self._starting.discard(address)
