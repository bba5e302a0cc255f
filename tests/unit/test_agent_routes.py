"""The host-gw route planner (:mod:`agent.network.routes`) with literal Nodes and route tables.

Applying the plan to a real kernel is tested in tests/integration/test_agent_routes.py."""

from __future__ import annotations

import pytest

from orchestrator.api.clusternetwork import ClusterNetwork

from agent.network.ip import Route
from agent.network.routes import RoutePlan, is_cluster_route, plan_routes, wanted_routes

NETWORK = ClusterNetwork()  # 10.244.0.0/16


def node(name: str, ip: str | None, pod_cidr: str | None) -> dict:
    addresses = [{"type": "Hostname", "address": name}] + ([{"type": "InternalIP", "address": ip}] if ip else [])
    return {"metadata": {"name": name}, "spec": {"podCIDR": pod_cidr} if pod_cidr else {},
            "status": {"addresses": addresses}}


THREE_MACHINES = [node("control", "192.168.56.10", "10.244.1.0/24"),
                  node("worker-1", "192.168.56.11", "10.244.2.0/24"),
                  node("worker-2", "192.168.56.12", "10.244.3.0/24")]


def test_every_other_machines_block_goes_via_its_address() -> None:
    local = ["127.0.0.1", "192.168.56.11", "10.244.0.1"]  # worker-1's host: its own node is local
    assert wanted_routes(THREE_MACHINES, local, NETWORK) == {
        Route("10.244.1.0/24", "192.168.56.10"), Route("10.244.3.0/24", "192.168.56.12")}


def test_a_local_cluster_needs_no_routes_its_node_addresses_are_on_this_host() -> None:
    nodes = [node(f"node-{i}", f"10.244.0.1{i}", f"10.244.{i}.0/24") for i in (1, 2, 3)]
    local = ["127.0.0.1", "192.0.2.2", "10.244.0.1", "10.244.0.11", "10.244.0.12", "10.244.0.13"]
    assert wanted_routes(nodes, local, NETWORK) == frozenset()


@pytest.mark.parametrize("other", [
    node("new", "192.168.56.20", None),               # no pod CIDR assigned yet
    node("nameless", None, "10.244.5.0/24"),          # no InternalIP reported
    node("foreign", "192.168.56.21", "10.50.5.0/24"),  # a block outside the cluster CIDR is not ours
    node("on-a-bridge", "10.244.0.12", "10.244.6.0/24"),  # another host's local-cluster node: unreachable
    node("garbled", "192.168.56.22", "not-a-cidr"),
])
def test_nodes_that_cannot_be_routed_to_are_left_out(other: dict) -> None:
    assert wanted_routes([other], ["192.168.56.11"], NETWORK) == frozenset()


def test_a_block_written_with_host_bits_is_routed_as_its_network() -> None:
    assert wanted_routes([node("w", "192.168.56.12", "10.244.3.9/24")], [], NETWORK) == {
        Route("10.244.3.0/24", "192.168.56.12")}


@pytest.mark.parametrize(("route", "ours"), [
    (Route("10.244.2.0/24", "192.168.56.12"), True),
    (Route("10.244.0.0/16", None), False),               # the bridge's connected route
    (Route("10.244.9.0/24", None), False),               # anything without a gateway
    (Route("10.0.0.0/8", "192.168.56.1"), False),        # wider than the cluster CIDR
    (Route("172.16.0.0/16", "192.168.56.1"), False),     # elsewhere
    (Route("10.244.7.7/32", "192.168.56.13"), True),
])
def test_which_routes_are_the_clusters(route: Route, ours: bool) -> None:
    assert is_cluster_route(route, NETWORK) is ours


def test_the_plan_adds_missing_routes_removes_stale_ones_and_leaves_the_rest() -> None:
    current = [Route("10.244.0.0/16", None), Route("192.0.2.0/24", None), Route("172.17.0.0/16", None),
               Route("10.244.1.0/24", "192.168.56.10"),   # wanted and present: untouched
               Route("10.244.4.0/24", "192.168.56.14"),   # a node that left: stale
               Route("10.8.0.0/16", "192.0.2.1")]         # not the cluster's: never touched
    wanted = {Route("10.244.1.0/24", "192.168.56.10"), Route("10.244.3.0/24", "192.168.56.12")}
    assert plan_routes(wanted, current, NETWORK) == RoutePlan(
        replace=(Route("10.244.3.0/24", "192.168.56.12"),), delete=(Route("10.244.4.0/24", "192.168.56.14"),))


def test_a_moved_node_is_replaced_in_place_not_deleted_first() -> None:
    current = [Route("10.244.3.0/24", "192.168.56.12")]
    wanted = {Route("10.244.3.0/24", "192.168.56.99")}
    assert plan_routes(wanted, current, NETWORK) == RoutePlan(replace=(Route("10.244.3.0/24", "192.168.56.99"),))


def test_an_up_to_date_host_needs_nothing() -> None:
    current = [Route("10.244.1.0/24", "192.168.56.10"), Route("10.244.0.0/16", None)]
    plan = plan_routes({Route("10.244.1.0/24", "192.168.56.10")}, current, NETWORK)
    assert plan.empty


def test_cleanup_plans_the_removal_of_every_cluster_route_and_nothing_else() -> None:
    current = [Route("10.244.0.0/16", None), Route("10.244.1.0/24", "192.168.56.10"),
               Route("10.244.3.0/24", "192.168.56.12"), Route("10.8.0.0/16", "192.0.2.1")]
    assert plan_routes((), current, NETWORK).delete == (Route("10.244.1.0/24", "192.168.56.10"),
                                                         Route("10.244.3.0/24", "192.168.56.12"))


def test_the_plan_is_ordered_so_equal_inputs_give_equal_plans() -> None:
    wanted = {Route(f"10.244.{i}.0/24", f"192.168.56.{i}") for i in (9, 3, 5)}
    plan = plan_routes(wanted, [], NETWORK)
    assert plan.replace == tuple(sorted(wanted))
