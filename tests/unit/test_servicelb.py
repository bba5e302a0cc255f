"""LoadBalancer Services answered by the nodes: ingress rules (pure) and the controller (in-memory store)."""

from __future__ import annotations

import pytest

from orchestrator.api.registry import kind_for
from orchestrator.api.options import PatchType
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.controllers.servicelb import FINALIZER, ServiceLoadBalancerController, node_ingress
from orchestrator.client.informer import Change
from orchestrator.client.protocol import WatchEventType as EventType
from orchestrator.store import MemoryStore
from tests.support.driven import drive

NS, NODE, SERVICE, EVENT = (kind_for("v1", k) for k in ("Namespace", "Node", "Service", "Event"))
KEY = ("default", "lb")


def node(name: str, ip: str, ready: str = "True", labels: dict | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {},
            "status": {"conditions": [{"type": "Ready", "status": ready}],
                       "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]}}


def vip(*ips: str) -> list[dict]:
    return [{"ip": ip, "ipMode": "VIP"} for ip in ips]


@pytest.mark.parametrize("nodes, ingress", [
    ([node("n2", "10.244.0.12"), node("n1", "10.244.0.11")], vip("10.244.0.11", "10.244.0.12")),
    ([node("a", "10.0.0.9"), node("b", "10.0.0.10")], vip("10.0.0.9", "10.0.0.10")),  # by address, not text
    ([node("n1", "10.244.0.11"), node("n2", "10.244.0.12", ready="Unknown"),
      node("n3", "10.244.0.13", ready="False")], vip("10.244.0.11")),
    ([node("n1", "10.244.0.11", labels={"node.kubernetes.io/exclude-from-external-load-balancers": ""})], []),
    ([node("n1", "192.168.0.7"), node("n2", "192.168.0.7")], vip("192.168.0.7")),  # one entry per address
    ([], []),
])
def test_ingress_is_the_internal_ips_of_ready_nodes_in_address_order(nodes, ingress):
    assert node_ingress(nodes) == ingress


@pytest.fixture
def api() -> ObjectAPI:
    made = ObjectAPI(MemoryStore())
    made.create(NS, None, {"metadata": {"name": "default"}})
    made.create(NODE, None, node("node-1", "10.244.0.11"))
    made.create(NODE, None, node("node-2", "10.244.0.12"))
    return made


@pytest.fixture
def controller(api) -> ServiceLoadBalancerController:
    return drive(ServiceLoadBalancerController, api)


def create_lb(api: ObjectAPI, **spec) -> dict:
    return api.create(SERVICE, "default", {"metadata": {"name": "lb"}, "spec": {
        "type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}], **spec}}).object


def reasons(api: ObjectAPI) -> list[str]:
    return [e["reason"] for e in sorted(api.list(EVENT, "default")[0], key=lambda e: e["metadata"]["name"])]


def test_a_load_balancer_service_gets_every_ready_node_as_ingress_and_a_finalizer(api, controller):
    create_lb(api)
    controller.reconcile(KEY)
    service = api.get(SERVICE, "default", "lb")
    assert service["status"]["loadBalancer"] == {"ingress": vip("10.244.0.11", "10.244.0.12")}
    assert service["metadata"]["finalizers"] == [FINALIZER]
    assert reasons(api) == ["EnsuringLoadBalancer", "EnsuredLoadBalancer"]
    revision = api.store.revision()
    controller.reconcile(KEY)
    assert api.store.revision() == revision  # nothing changed: nothing written


def test_the_ingress_follows_nodes_that_fail_and_recover(api, controller):
    create_lb(api)
    controller.reconcile(KEY)
    api.patch(NODE, None, "node-2", PatchType.MERGE,
              {"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}, subresource="status")
    controller.reconcile(KEY)
    assert api.get(SERVICE, "default", "lb")["status"]["loadBalancer"]["ingress"] == vip("10.244.0.11")
    assert reasons(api)[-1] == "UpdatedLoadBalancer"


def test_changing_the_type_away_clears_the_ingress_and_the_finalizer(api, controller):
    create_lb(api)
    controller.reconcile(KEY)
    api.patch(SERVICE, "default", "lb", PatchType.MERGE, {"spec": {"type": "ClusterIP"}})
    controller.reconcile(KEY)
    service = api.get(SERVICE, "default", "lb")
    assert service["status"]["loadBalancer"] == {} and not service["metadata"].get("finalizers")
    assert reasons(api)[-2:] == ["DeletingLoadBalancer", "DeletedLoadBalancer"]


def test_a_deleted_load_balancer_service_waits_for_its_clean_up_then_goes(api, controller):
    create_lb(api)
    controller.reconcile(KEY)
    api.delete(SERVICE, "default", "lb")
    assert api.get(SERVICE, "default", "lb")["metadata"]["deletionTimestamp"]  # held by the finalizer
    controller.reconcile(KEY)
    assert api.list(SERVICE, "default")[0] == []
    assert reasons(api)[-2:] == ["DeletingLoadBalancer", "DeletedLoadBalancer"]


def test_a_service_of_another_load_balancer_class_is_left_alone(api, controller):
    create_lb(api, loadBalancerClass="example.com/metallb")
    controller.reconcile(KEY)
    service = api.get(SERVICE, "default", "lb")
    assert service["status"]["loadBalancer"] == {} and not service["metadata"].get("finalizers")
    assert reasons(api) == []


def test_without_ready_nodes_the_service_stays_pending_until_one_is_ready(api, controller):
    for name in ("node-1", "node-2"):
        api.patch(NODE, None, name, PatchType.MERGE, {"status": {"conditions": [{"type": "Ready", "status": "False"}]}},
                  subresource="status")
    create_lb(api)
    controller.reconcile(KEY)
    assert api.get(SERVICE, "default", "lb")["status"]["loadBalancer"] == {}
    assert reasons(api) == ["EnsuringLoadBalancer"]
    api.patch(NODE, None, "node-1", PatchType.MERGE, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
              subresource="status")
    controller.reconcile(KEY)
    assert api.get(SERVICE, "default", "lb")["status"]["loadBalancer"]["ingress"] == vip("10.244.0.11")
    assert reasons(api) == ["EnsuringLoadBalancer", "EnsuredLoadBalancer"]


def node_event(type_: EventType, obj: dict, previous: dict | None = None) -> Change:
    return Change(NODE, type_, obj, previous)


def test_only_node_changes_that_alter_the_ingress_wake_load_balancer_services(api, controller):
    create_lb(api)
    api.create(SERVICE, "default", {"metadata": {"name": "plain"}, "spec": {"ports": [{"port": 80}]}})
    ready, heartbeat = node("node-1", "10.244.0.11"), node("node-1", "10.244.0.11")
    heartbeat["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-01-01T10:00:10Z"
    assert list(controller.keys_for(node_event(EventType.MODIFIED, heartbeat, ready))) == []
    lost = node("node-1", "10.244.0.11", ready="Unknown")
    assert list(controller.keys_for(node_event(EventType.MODIFIED, lost, ready))) == [KEY]
    assert list(controller.keys_for(node_event(EventType.ADDED, ready))) == [KEY]
    assert list(controller.keys_for(node_event(EventType.DELETED, ready, ready))) == [KEY]
