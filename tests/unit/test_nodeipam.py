"""Node IPAM: the allocation rules (pure) and the controller on the in-memory store (no Docker)."""

from __future__ import annotations

import pytest

from orchestrator.api import errors
from orchestrator.api.clusternetwork import ClusterNetwork
from orchestrator.api.registry import kind_for
from orchestrator.api.options import PatchType
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.controllers.nodeipam import ALL_NODES, NodeIpamController
from orchestrator.controllers.nodeipam_plan import Allocation, blocks_overlapped, node_cidrs, plan_allocations
from orchestrator.client.informer import Change
from orchestrator.client.protocol import WatchEventType as EventType
from orchestrator.store import MemoryStore
from tests.support.driven import drive

NODE, EVENT = kind_for("v1", "Node"), kind_for("v1", "Event")
NETWORK = ClusterNetwork()
#: room for exactly two nodes: block 0 is the infrastructure's
TINY = ClusterNetwork(cluster_cidr="10.244.0.0/22", node_cidr_mask=24)


def node(name: str, cidr: str | None = None, created: str = "2026-01-01T10:00:00Z", **spec) -> dict:
    if cidr:
        spec["podCIDRs"] = [cidr]
    return {"metadata": {"name": name, "creationTimestamp": created}, "spec": spec}


# ── the plan ─────────────────────────────────────────────────────────────────────────────────


def test_the_first_nodes_of_a_fresh_cluster_get_blocks_one_two_three_in_creation_order():
    nodes = [node("node-b", created="2026-01-01T10:00:02Z"), node("node-a", created="2026-01-01T10:00:02Z"),
             node("node-c", created="2026-01-01T10:00:01Z")]
    assert plan_allocations(nodes, NETWORK).allocate == (
        Allocation("node-c", "10.244.1.0/24"), Allocation("node-a", "10.244.2.0/24"),
        Allocation("node-b", "10.244.3.0/24"))


def test_a_deleted_nodes_block_is_the_lowest_free_one_again():
    """The module docstring's worked example."""
    nodes = [node("node-1", "10.244.1.0/24"), node("node-3", "10.244.3.0/24"),
             node("node-4", created="2026-01-01T10:00:04Z"), node("node-5", created="2026-01-01T10:00:05Z")]
    plan = plan_allocations(nodes, NETWORK)
    assert plan.allocate == (Allocation("node-4", "10.244.2.0/24"), Allocation("node-5", "10.244.4.0/24"))
    assert plan.unavailable == ()


def test_nodes_that_have_a_cidr_keep_it_and_nothing_is_planned_for_them():
    nodes = [node("a", "10.244.7.0/24"), node("b", "192.168.5.0/24")]  # the second one set by hand, elsewhere
    assert plan_allocations(nodes, NETWORK).allocate == ()


def test_a_full_range_leaves_the_newest_nodes_without_and_says_which():
    nodes = [node(name, created=f"2026-01-01T10:00:0{i}Z") for i, name in enumerate("abcd")]
    plan = plan_allocations(nodes, TINY)
    assert [(a.node, a.cidr) for a in plan.allocate] == [
        ("a", "10.244.1.0/24"), ("b", "10.244.2.0/24"), ("c", "10.244.3.0/24")]
    assert plan.unavailable == ("d",)


@pytest.mark.parametrize("cidr, blocks", [
    ("10.244.3.0/24", [3]),
    ("10.244.3.128/25", [3]),          # inside one block: that block is used
    ("10.244.2.0/23", [2, 3]),         # spans two blocks
    ("10.244.0.0/24", []),             # the infrastructure block is never a node's
    ("10.243.0.0/16", []),             # outside the cluster CIDR
    ("10.0.0.0/8", list(range(1, 256))),
    ("not-a-cidr", []),
])
def test_a_hand_set_cidr_uses_every_block_it_overlaps(cidr, blocks):
    assert list(blocks_overlapped(NETWORK, cidr)) == blocks


def test_a_hand_set_cidr_inside_a_block_keeps_that_block_from_others():
    plan = plan_allocations([node("manual", "10.244.1.128/25"), node("new")], NETWORK)
    assert plan.allocate == (Allocation("new", "10.244.2.0/24"),)


def test_the_older_single_pod_cidr_field_counts_too():
    assert node_cidrs({"spec": {"podCIDR": "10.244.9.0/24"}}) == ["10.244.9.0/24"]
    assert node_cidrs({"spec": {}}) == []


# ── the controller ───────────────────────────────────────────────────────────────────────────


@pytest.fixture
def api() -> ObjectAPI:
    made = ObjectAPI(MemoryStore())
    made.create(kind_for("v1", "Namespace"), None, {"metadata": {"name": "default"}})
    return made


def register(api: ObjectAPI, name: str) -> dict:
    """As an agent registers: ``spec: {}``, its own labels and status."""
    return api.create(NODE, None, {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
                                   "spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}).object


def spec_of(api: ObjectAPI, name: str) -> dict:
    return api.get(NODE, None, name)["spec"]


def test_the_controller_writes_both_fields_and_an_agent_re_registering_cannot_wipe_them(api):
    controller = drive(NodeIpamController, api, NETWORK)
    register(api, "node-1")
    controller.reconcile(ALL_NODES)
    assert spec_of(api, "node-1") == {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}
    # what agent.node.register does when its Node exists: labels/annotations, then status
    api.patch(NODE, None, "node-1", PatchType.MERGE, {"metadata": {"labels": {"kubernetes.io/hostname": "node-1"},
                                                                   "annotations": {"x": "y"}}})
    api.patch(NODE, None, "node-1", PatchType.MERGE, {"status": {"conditions": []}}, subresource="status")
    assert spec_of(api, "node-1")["podCIDRs"] == ["10.244.1.0/24"]
    # a PUT with the agent's `spec: {}` is refused rather than wiping the CIDR
    current = api.get(NODE, None, "node-1")
    with pytest.raises(errors.ApiError) as refused:
        api.update(NODE, None, "node-1", {**current, "spec": {}})
    assert refused.value.code == 422 and "may not change podCIDR" in refused.value.message


def test_a_cidr_once_set_cannot_be_changed(api):
    register(api, "node-1")
    drive(NodeIpamController, api, NETWORK).reconcile(ALL_NODES)
    for patch in ({"spec": {"podCIDR": "10.244.9.0/24", "podCIDRs": ["10.244.9.0/24"]}},
                  {"spec": {"podCIDR": "10.244.9.0/24"}}):
        with pytest.raises(errors.ApiError) as refused:
            api.patch(NODE, None, "node-1", PatchType.MERGE, patch)
        assert refused.value.code == 422
    assert spec_of(api, "node-1")["podCIDR"] == "10.244.1.0/24"


def test_a_pod_cidr_given_alone_is_mirrored_into_pod_cidrs(api):
    api.create(NODE, None, {"metadata": {"name": "by-hand"}, "spec": {"podCIDR": "10.244.5.0/24"}})
    assert spec_of(api, "by-hand") == {"podCIDR": "10.244.5.0/24", "podCIDRs": ["10.244.5.0/24"]}
    with pytest.raises(errors.ApiError) as refused:
        api.create(NODE, None, {"metadata": {"name": "mismatch"},
                                "spec": {"podCIDR": "10.244.5.0/24", "podCIDRs": ["10.244.6.0/24"]}})
    assert "spec.podCIDRs[0]" in refused.value.message


def test_a_deleted_node_frees_its_block_for_the_next_one(api):
    controller = drive(NodeIpamController, api, NETWORK)
    for name in ("node-1", "node-2"):
        register(api, name)
        controller.reconcile(ALL_NODES)
    api.delete(NODE, None, "node-1")
    register(api, "node-3")
    controller.reconcile(ALL_NODES)
    assert spec_of(api, "node-3")["podCIDR"] == "10.244.1.0/24"
    assert spec_of(api, "node-2")["podCIDR"] == "10.244.2.0/24"


def test_a_full_range_gives_a_warning_event_that_names_the_flags(api):
    controller = drive(NodeIpamController, api, TINY)
    for index in range(4):
        register(api, f"node-{index}")
    controller.reconcile(ALL_NODES)
    without = [n["metadata"]["name"] for n in api.list(NODE, None)[0] if not n["spec"].get("podCIDR")]
    assert len(without) == 1
    [event] = [e for e in api.list(EVENT, "default")[0] if e["reason"] == "CIDRNotAvailable"]
    assert event["type"] == "Warning" and event["involvedObject"]["name"] == without[0]
    assert "--cluster-cidr 10.244.0.0/22" in event["message"] and "--node-cidr-mask-size" in event["message"]


def test_a_node_that_changed_since_the_pass_read_it_is_not_overwritten(api):
    controller = drive(NodeIpamController, api, NETWORK)
    register(api, "node-1")
    controller.pump()
    # a heartbeat lands after the cache was read, before the pass writes
    api.patch(NODE, None, "node-1", PatchType.MERGE, {"status": {"phase": "x"}}, subresource="status")
    with pytest.raises(errors.ApiError) as conflict:  # the pass fails, to be retried with back-off
        controller.controller.reconcile(ALL_NODES)
    assert conflict.value.code == 409 and "podCIDR" not in spec_of(api, "node-1")
    controller.reconcile(ALL_NODES)  # on what the cache holds by then
    assert spec_of(api, "node-1")["podCIDR"] == "10.244.1.0/24"


def stored(type_: EventType, obj: dict, previous: dict | None = None) -> Change:
    return Change(NODE, type_, obj, previous)


def test_heartbeats_do_not_wake_the_allocator_but_arrivals_departures_and_cidr_changes_do(api):
    controller = drive(NodeIpamController, api, NETWORK)
    plain, allocated = node("n"), node("n", "10.244.1.0/24")
    assert list(controller.keys_for(stored(EventType.ADDED, plain))) == [ALL_NODES]
    assert list(controller.keys_for(stored(EventType.DELETED, allocated))) == [ALL_NODES]
    assert list(controller.keys_for(stored(EventType.MODIFIED, allocated, plain))) == [ALL_NODES]
    assert list(controller.keys_for(stored(EventType.MODIFIED, allocated, allocated))) == []
