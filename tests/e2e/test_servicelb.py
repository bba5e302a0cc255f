"""LoadBalancer Services answered by the nodes, inside a real ``dockyard server``, through the real kubectl."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.support.agentwrites import register_node
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kubectl

SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hostname-svc-lb"},
           "spec": {"type": "LoadBalancer", "selector": {"app": "webserver"},
                    "ports": [{"name": "web-port", "port": 80, "targetPort": 80}]}}


def external_ip(kubectl) -> str:
    line = next(line for line in kubectl("get", "svc").splitlines() if line.startswith("hostname-svc-lb "))
    return line.split()[3]


def test_load_balancer_ingress_is_the_ready_nodes_and_follows_them(control_plane, kubectl):
    register_node(control_plane, "node-1", "10.244.0.11")
    register_node(control_plane, "node-2", "10.244.0.12")
    kubectl("apply", "-f", "-", input=yaml.safe_dump(SERVICE))
    wait_for("both nodes as EXTERNAL-IP", lambda: external_ip(kubectl) == "10.244.0.11,10.244.0.12", timeout=10)
    described = kubectl.wait_described("svc", "hostname-svc-lb", text="EnsuredLoadBalancer")
    assert re.search(r"^LoadBalancer Ingress:\s+10\.244\.0\.11 \(VIP\), 10\.244\.0\.12 \(VIP\)$", described,
                     re.MULTILINE), described
    assert "EnsuringLoadBalancer" in described
    service = json.loads(kubectl("get", "svc", "hostname-svc-lb", "-o", "json"))
    assert service["metadata"]["finalizers"] == ["service.kubernetes.io/load-balancer-cleanup"]

    kubectl("patch", "node", "node-2", "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady"}]}}))
    wait_for("node-2 to leave the ingress", lambda: external_ip(kubectl) == "10.244.0.11", timeout=10)
    kubectl.wait_described("svc", "hostname-svc-lb", text="UpdatedLoadBalancer")

    kubectl("patch", "svc", "hostname-svc-lb", "--type=merge", "-p", '{"spec":{"type":"NodePort"}}')
    wait_for("the load balancer to be cleaned up", lambda: not json.loads(kubectl(
        "get", "svc", "hostname-svc-lb", "-o", "json"))["metadata"].get("finalizers"), timeout=10)
    assert external_ip(kubectl) == "<none>"
    kubectl.wait_described("svc", "hostname-svc-lb", text="DeletedLoadBalancer")


def test_deleting_a_load_balancer_service_waits_for_the_clean_up_and_completes(control_plane, kubectl):
    register_node(control_plane, "node-1", "10.244.0.11")
    kubectl("apply", "-f", "-", input=yaml.safe_dump(SERVICE))
    wait_for("the ingress", lambda: external_ip(kubectl) == "10.244.0.11", timeout=10)
    assert kubectl("delete", "svc", "hostname-svc-lb", timeout=30).strip() == 'service "hostname-svc-lb" deleted'
    assert "hostname-svc-lb" not in kubectl("get", "svc")
