"""Which pods back a Service, and the Endpoints that say so (pure; literal objects)."""

from __future__ import annotations

import pytest

from orchestrator.controllers.endpoints_plan import (
    HEADLESS_LABEL, desired_subsets, endpoint_facts, find_port, has_pod_endpoints, plan_endpoints,
)
from tests.support.endpointobjects import address, pod, service


def test_ready_pods_are_addresses_unready_ones_not_ready_addresses_one_subset():
    pods = [pod("a", "10.244.1.5"), pod("b", "10.244.2.7", ready=False, node="node-2"), pod("c", "10.244.1.6")]
    assert desired_subsets(service(), pods) == [{
        "addresses": [address("a", "10.244.1.5"), address("c", "10.244.1.6")],
        "notReadyAddresses": [address("b", "10.244.2.7", node="node-2")],
        "ports": [{"port": 8080, "protocol": "TCP"}]}]


@pytest.mark.parametrize("excluded", [
    pod("no-ip", ip=None),
    pod("done", phase="Succeeded"),
    pod("failed", phase="Failed"),
    pod("going", deleting=True),
])
def test_pods_without_an_ip_finished_or_terminating_are_left_out(excluded):
    assert desired_subsets(service(), [pod("a"), excluded]) == [{
        "addresses": [address("a", "10.244.1.5")], "ports": [{"port": 8080, "protocol": "TCP"}]}]


def test_publish_not_ready_addresses_lists_every_pod_as_ready_terminating_ones_too():
    pods = [pod("a", "10.244.1.5", ready=False), pod("b", "10.244.1.6", deleting=True)]
    [subset] = desired_subsets(service(publishNotReadyAddresses=True), pods)
    assert [a["ip"] for a in subset["addresses"]] == ["10.244.1.5", "10.244.1.6"]
    assert "notReadyAddresses" not in subset


def test_the_module_docstrings_worked_example_repacks_by_port_set():
    ports = [{"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"},
             {"name": "metrics", "port": 9100, "targetPort": 9100, "protocol": "TCP"}]
    pods = [pod("a", "10.244.1.5", ports=[{"name": "web", "containerPort": 8080, "protocol": "TCP"}]),
            pod("b", "10.244.2.7", ready=False, node="node-2", ports=[{"name": "web", "containerPort": 80}]),
            pod("c", "10.244.1.6")]
    assert desired_subsets(service(ports), pods) == [
        {"notReadyAddresses": [address("b", "10.244.2.7", node="node-2")],
         "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
        {"addresses": [address("a", "10.244.1.5")], "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]},
        {"addresses": [address("a", "10.244.1.5"), address("c", "10.244.1.6")],
         "notReadyAddresses": [address("b", "10.244.2.7", node="node-2")],
         "ports": [{"name": "metrics", "port": 9100, "protocol": "TCP"}]},
    ]


@pytest.mark.parametrize("target, container_ports, found", [
    (8080, [], 8080),
    ("web", [{"name": "web", "containerPort": 3000, "protocol": "TCP"}], 3000),
    ("web", [{"name": "web", "containerPort": 3000}], 3000),                        # protocol defaults to TCP
    ("web", [{"name": "web", "containerPort": 3000, "protocol": "UDP"}], None),    # same name, other protocol
    ("web", [{"name": "other", "containerPort": 3000}], None),
])
def test_target_ports_resolve_by_number_or_by_name_and_protocol(target, container_ports, found):
    service_port = {"port": 80, "targetPort": target, "protocol": "TCP"}
    assert find_port(pod("a", ports=container_ports), service_port) == found


def test_hostname_is_set_only_for_pods_whose_subdomain_is_this_service():
    pods = [pod("a", "10.244.1.5", hostname="db-0", subdomain="web"),
            pod("b", "10.244.1.6", hostname="db-1", subdomain="other")]
    [subset] = desired_subsets(service(), pods)
    assert [a.get("hostname") for a in subset["addresses"]] == ["db-0", None]


def test_a_headless_service_without_ports_lists_bare_addresses():
    [subset] = desired_subsets(service(ports=[], clusterIP="None"), [pod("a")])
    assert subset == {"addresses": [address("a", "10.244.1.5")]}


def test_order_is_deterministic_whatever_order_pods_come_in():
    pods = [pod(name, f"10.244.1.{i}") for i, name in enumerate("dcab", start=2)]
    assert desired_subsets(service(), pods) == desired_subsets(service(), list(reversed(pods)))
    [subset] = desired_subsets(service(), pods)
    assert [a["ip"] for a in subset["addresses"]] == ["10.244.1.2", "10.244.1.3", "10.244.1.4", "10.244.1.5"]


@pytest.mark.parametrize("svc, managed", [
    (service(), True),
    (service(selector={}), False),
    ({"metadata": {"name": "x"}, "spec": {"type": "ClusterIP", "ports": []}}, False),
    (service(type="ExternalName", externalName="example.com"), False),
])
def test_only_services_with_a_selector_and_not_external_name_get_pod_endpoints(svc, managed):
    assert has_pod_endpoints(svc) is managed


def test_plan_endpoints_creates_then_writes_nothing_while_nothing_changes():
    svc, pods = service(), [pod("a")]
    created = plan_endpoints(svc, pods, None)
    assert created["metadata"] == {"name": "web", "namespace": "default", "labels": {"tier": "front"}}
    stored = {**created, "metadata": {**created["metadata"], "uid": "ep-uid", "resourceVersion": "7"}}
    assert plan_endpoints(svc, pods, stored) is None
    emptied = plan_endpoints(svc, [], stored)
    assert "subsets" not in emptied and emptied["metadata"]["resourceVersion"] == "7"
    unlabelled = {**svc, "metadata": {**svc["metadata"], "labels": {}}}
    assert "labels" not in plan_endpoints(unlabelled, pods, stored)["metadata"]  # none, not an empty map


def test_headless_services_endpoints_carry_the_headless_label():
    written = plan_endpoints(service(clusterIP="None"), [pod("a")], None)
    assert written["metadata"]["labels"] == {"tier": "front", HEADLESS_LABEL: ""}


def test_endpoint_facts_ignore_what_endpoints_do_not_show():
    before = pod("a")
    restarted = {**before, "status": {**before["status"], "containerStatuses": [{"restartCount": 3}]}}
    unready = pod("a", ready=False)
    assert endpoint_facts(before) == endpoint_facts(restarted)
    assert endpoint_facts(before) != endpoint_facts(unready)
