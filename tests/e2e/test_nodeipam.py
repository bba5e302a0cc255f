"""Pod CIDRs for Nodes inside a real ``dockyard server``, seen through the real kubectl.

Nodes are registered through the API as an agent registers them, without agents behind them.
"""

from __future__ import annotations

import json

import pytest

from tests.support.agentwrites import register_node
from tests.support.controlplane import ControlPlaneProcess, free_port
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kubectl


def pod_cidrs(kubectl) -> dict[str, str | None]:
    nodes = json.loads(kubectl("get", "nodes", "-o", "json"))["items"]
    return {n["metadata"]["name"]: n["spec"].get("podCIDR") for n in nodes}


def test_nodes_get_the_lowest_free_block_shown_by_describe_and_a_deleted_node_frees_its_own(control_plane, kubectl):
    for name in ("node-1", "node-2", "node-3"):
        register_node(control_plane, name)
        wait_for(f"{name}'s pod CIDR", lambda: pod_cidrs(kubectl).get(name), timeout=10)
    assert pod_cidrs(kubectl) == {"node-1": "10.244.1.0/24", "node-2": "10.244.2.0/24", "node-3": "10.244.3.0/24"}
    described = kubectl("describe", "node", "node-2")
    assert "PodCIDR:                      10.244.2.0/24" in described
    assert "PodCIDRs:                     10.244.2.0/24" in described
    kubectl("delete", "node", "node-2")
    register_node(control_plane, "node-4")
    assert wait_for("node-4's pod CIDR", lambda: pod_cidrs(kubectl).get("node-4"), timeout=10) == "10.244.2.0/24"
    # the agent's re-registration (labels, annotations, status) leaves the CIDR alone
    kubectl("label", "node", "node-4", "zone=a")
    kubectl("patch", "node", "node-4", "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}))
    assert pod_cidrs(kubectl)["node-4"] == "10.244.2.0/24"
    refused = kubectl.run("patch", "node", "node-4", "--type=merge", "-p", '{"spec":{"podCIDR":"10.244.9.0/24"}}',
                          check=False)
    assert refused.returncode != 0 and "is invalid" in refused.stderr


@pytest.fixture
def tiny_control_plane(tmp_path):
    """A server whose cluster CIDR holds a single node block."""
    server = ControlPlaneProcess(tmp_path / "state", free_port(),
                                 extra_args=["--cluster-cidr", "10.244.0.0/23", "--node-cidr-mask-size", "24"])
    try:
        yield server.start()
    finally:
        server.stop()


def test_a_full_cluster_cidr_leaves_the_node_without_and_says_which_flags_to_change(tiny_control_plane, tmp_path):
    kubectl = Kubectl(tiny_control_plane.kubeconfig, tmp_path / "kube-cache")
    register_node(tiny_control_plane, "node-1")
    wait_for("node-1's pod CIDR", lambda: pod_cidrs(kubectl).get("node-1"), timeout=10)
    register_node(tiny_control_plane, "node-2")
    events = wait_for("the CIDRNotAvailable event", lambda: (lambda out: out if "CIDRNotAvailable" in out else None)(
        kubectl("get", "events", "--field-selector", "involvedObject.name=node-2")), timeout=10)
    assert "Warning" in events and "--cluster-cidr 10.244.0.0/23" in events
    assert "CIDRNotAvailable" in kubectl("describe", "node", "node-2")
    assert pod_cidrs(kubectl) == {"node-1": "10.244.1.0/24", "node-2": None}
