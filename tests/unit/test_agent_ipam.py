"""Pod addresses from the node's pod CIDR (:mod:`agent.network.ipam`): the pure choice, the Node's
pod CIDR as the agent accepts it, and the allocator's lock, retry and exhaustion."""

from __future__ import annotations

import ipaddress
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.api.clusternetwork import ClusterNetwork

from agent.network.ipam import PodAddresses, PodCIDRFull, capacity, choose_address, node_pod_cidr
from agent.runtime.errors import AddressInUse

NETWORK = ClusterNetwork()  # 10.244.0.0/16, /24 per node


@pytest.mark.parametrize(("block", "in_use", "expected"), [
    ("10.244.1.0/24", set(), "10.244.1.2"),                                  # never .0 or .1
    ("10.244.1.0/24", {"10.244.1.2", "10.244.1.4"}, "10.244.1.3"),           # the lowest gap
    ("10.244.1.0/24", {f"10.244.1.{h}" for h in range(2, 254)}, "10.244.1.254"),
    ("10.244.1.0/24", {f"10.244.1.{h}" for h in range(2, 255)}, None),       # .255 is the broadcast
    ("10.244.1.0/24", {"10.244.2.2", "10.244.0.1"}, "10.244.1.2"),           # others' addresses do not matter
    ("10.244.0.16/28", {"10.244.0.18"}, "10.244.0.19"),                      # small blocks: .16/.17/.31 reserved
    ("10.244.0.16/28", {f"10.244.0.{h}" for h in range(18, 31)}, None),
])
def test_choose_address(block: str, in_use: set[str], expected: str | None) -> None:
    assert choose_address(block, in_use) == expected


@pytest.mark.parametrize(("block", "count"), [("10.244.1.0/24", 253), ("10.244.0.16/28", 13), ("10.0.0.0/23", 509)])
def test_capacity_leaves_out_the_network_the_first_and_the_broadcast_address(block: str, count: int) -> None:
    assert capacity(block) == count


@given(st.sets(st.integers(min_value=0, max_value=255)))
def test_the_choice_is_always_a_free_usable_address_of_the_block(taken_hosts: set[int]) -> None:
    block = ipaddress.IPv4Network("10.244.7.0/24")
    in_use = {str(block.network_address + h) for h in taken_hosts}
    chosen = choose_address(str(block), in_use)
    usable = [str(block.network_address + h) for h in range(2, 255)]
    free = [a for a in usable if a not in in_use]
    assert chosen == (free[0] if free else None)


@pytest.mark.parametrize(("spec", "expected"), [
    ({"podCIDR": "10.244.3.0/24", "podCIDRs": ["10.244.3.0/24"]}, "10.244.3.0/24"),
    ({}, None),                                   # not assigned yet
    ({"podCIDR": ""}, None),
    ({"podCIDR": "10.99.3.0/24"}, None),          # outside the cluster CIDR: not usable
    ({"podCIDR": "10.244.3.7/24"}, None),         # host bits set: not a block
    ({"podCIDR": "banana"}, None),
])
def test_node_pod_cidr(spec: dict, expected: str | None) -> None:
    assert node_pod_cidr({"metadata": {"name": "n"}, "spec": spec}, NETWORK) == expected


def test_node_pod_cidr_of_no_node_is_none() -> None:
    assert node_pod_cidr(None, NETWORK) is None


def test_a_refused_address_is_skipped_and_the_next_one_used() -> None:
    tried = []

    def create(address: str) -> str:
        tried.append(address)
        if address == "10.244.1.2":
            raise AddressInUse("Address already in use")
        return address

    assert PodAddresses("10.244.1.0/24", set).create_with_address(create) == "10.244.1.3"
    assert tried == ["10.244.1.2", "10.244.1.3"]


def test_a_full_block_says_so_and_creates_nothing() -> None:
    full = {f"10.244.1.{h}" for h in range(2, 255)}
    with pytest.raises(PodCIDRFull, match=r"no free pod IP in this node's pod CIDR 10.244.1.0/24: all 253"):
        PodAddresses("10.244.1.0/24", lambda: full).create_with_address(lambda a: pytest.fail("created"))


def test_a_block_whose_every_address_is_refused_ends_full_not_in_a_loop() -> None:
    def refuse(address: str):
        raise AddressInUse("Address already in use")

    with pytest.raises(PodCIDRFull):
        PodAddresses("10.244.0.16/28", set).create_with_address(refuse)


def test_other_failures_pass_through_and_free_the_address() -> None:
    addresses = PodAddresses("10.244.1.0/24", set)

    def broken(address: str):
        raise RuntimeError("pause image missing")

    with pytest.raises(RuntimeError):
        addresses.create_with_address(broken)
    assert addresses.create_with_address(lambda a: a) == "10.244.1.2"


def test_sandboxes_started_together_never_share_an_address() -> None:
    """Docker lists an address only once the sandbox runs: until then the allocator remembers it."""
    attached: set[str] = set()
    guard = threading.Lock()

    def create(address: str) -> str:
        time.sleep(0.01)  # the create-and-start window in which Docker does not list it yet
        with guard:
            assert address not in attached
            attached.add(address)
        return address

    def in_use() -> set[str]:
        with guard:
            return set(attached)

    addresses = PodAddresses("10.244.1.0/24", in_use)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: addresses.create_with_address(create), range(40)))
    assert sorted(got, key=ipaddress.IPv4Address) == [f"10.244.1.{h}" for h in range(2, 42)]
