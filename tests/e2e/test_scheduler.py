"""The scheduler inside a real ``dockyard server``, seen through real kubectl and the Python client.

Nodes here are Node objects created through the API as an agent would register them (Ready, with
capacity), without agents behind them: the scheduler only reads the API, so bound pods stay
``Pending`` with a node — which is all these tests look at.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

NODES = ("node-1", "node-2", "node-3")


def register_node(control_plane, name: str, memory: str = "4Gi", labels: dict | None = None) -> None:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    resources = {"cpu": "2", "memory": memory, "pods": "110"}
    body = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                              "kubernetes.io/arch": "amd64", **(labels or {})}},
        "spec": {},
        "status": {"capacity": resources, "allocatable": resources,
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                   "lastHeartbeatTime": now, "lastTransitionTime": now}],
                   "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                                 {"type": "Hostname", "address": name}]},
    }
    with control_plane.client() as http:
        response = http.post("/api/v1/nodes", json=body)
    assert response.status_code == 201, response.text


def pod_manifest(name: str, labels: dict | None = None, memory: str | None = None,
                 selector: dict | None = None, scheduler: str | None = None) -> dict:
    container: dict = {"name": "web", "image": "nginx:latest"}
    if memory:
        container["resources"] = {"requests": {"memory": memory}}
    spec: dict = {"containers": [container]}
    if selector:
        spec["nodeSelector"] = selector
    if scheduler:
        spec["schedulerName"] = scheduler
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"app": name}},
            "spec": spec}


def apply(kubectl, *manifests: dict) -> None:
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(manifests))


def pods(kubectl) -> dict[str, dict]:
    return {p["metadata"]["name"]: p for p in json.loads(kubectl("get", "pods", "-o", "json"))["items"]}


def wait_for(what: str, check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def nodes_of(kubectl, names) -> dict[str, str] | None:
    current = pods(kubectl)
    found = {name: current[name]["spec"].get("nodeName") for name in names if name in current}
    return found if len(found) == len(names) and all(found.values()) else None


def test_spreads_one_set_of_pods_over_three_nodes_and_explains_the_choice(control_plane, kubectl):
    for name in NODES:
        register_node(control_plane, name)
    names = [f"web-{i}" for i in range(3)]
    apply(kubectl, *(pod_manifest(name, labels={"app": "web"}) for name in names))
    placed = wait_for("3 bound pods", lambda: nodes_of(kubectl, names))
    assert sorted(placed.values()) == list(NODES)
    pod = pods(kubectl)["web-0"]
    scores = json.loads(pod["metadata"]["annotations"]["scheduler.dockyard.io/scores"])
    assert set(scores) == set(NODES) and scores[placed["web-0"]] == max(scores.values())
    assert {"type": "PodScheduled", "status": "True"}.items() <= pod["status"]["conditions"][0].items()
    described = kubectl("describe", "pod", "web-0")
    assert f"Successfully assigned default/web-0 to {placed['web-0']}" in described
    assert "NodeScores" in described and f"{placed['web-0']} won with " in described
    assert f"Node:             {placed['web-0']}" in described


def test_a_pod_too_big_for_every_node_waits_with_kubernetes_words_until_a_node_fits(control_plane, kubectl):
    for name in NODES:
        register_node(control_plane, name)
    kubectl("cordon", "node-1")
    apply(kubectl, pod_manifest("big", memory="6Gi"))
    message = "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient memory."

    def unschedulable():
        conditions = pods(kubectl)["big"]["status"].get("conditions") or []
        return next((c for c in conditions if c["type"] == "PodScheduled" and c["status"] == "False"), None)

    condition = wait_for("the Unschedulable condition", unschedulable)
    assert (condition["reason"], condition["message"]) == ("Unschedulable", message)
    described = wait_for("the FailedScheduling event", lambda: (lambda text: text if "FailedScheduling" in text
                                                               else None)(kubectl("describe", "pod", "big")))
    assert "Status:           Pending" in described and message in described
    events = kubectl("get", "events", "--field-selector", "involvedObject.name=big")
    assert "Warning   FailedScheduling   pod/big   " + message in events
    register_node(control_plane, "node-4", memory="8Gi")
    assert wait_for("big to be bound", lambda: nodes_of(kubectl, ["big"])) == {"big": "node-4"}
    assert "Successfully assigned default/big to node-4" in kubectl("describe", "pod", "big")


def test_cordoned_nodes_are_skipped_and_node_selectors_honoured(control_plane, kubectl):
    for name in NODES:
        register_node(control_plane, name, labels={"disktype": "ssd"} if name == "node-3" else None)
    kubectl("cordon", "node-1")
    assert "SchedulingDisabled" in kubectl("get", "node", "node-1")
    free = [f"free-{i}" for i in range(4)]
    picky = [f"ssd-{i}" for i in range(2)]
    apply(kubectl, *(pod_manifest(name, labels={"app": "free"}) for name in free),
          *(pod_manifest(name, labels={"app": "ssd"}, selector={"disktype": "ssd"}) for name in picky))
    placed = wait_for("6 bound pods", lambda: nodes_of(kubectl, free + picky))
    assert {placed[name] for name in free} == {"node-2", "node-3"}
    assert {placed[name] for name in picky} == {"node-3"}


def test_binding_subresource_through_the_python_client(control_plane, kubectl):
    """A pod for another scheduler is left alone; binding it by hand works once, then conflicts."""
    register_node(control_plane, "node-1")
    apply(kubectl, pod_manifest("manual", scheduler="my-scheduler"))
    time.sleep(0.5)  # give the scheduler a chance to (wrongly) act
    assert "nodeName" not in pods(kubectl)["manual"]["spec"]
    api_client = config.new_client_from_config(config_file=str(control_plane.kubeconfig))
    try:
        core = client.CoreV1Api(api_client)
        binding = client.V1Binding(metadata=client.V1ObjectMeta(name="manual"),
                                   target=client.V1ObjectReference(api_version="v1", kind="Node", name="node-1"))
        # Kubernetes answers a Status, which the client cannot read as a V1Binding: take the raw response
        response = core.create_namespaced_pod_binding("manual", "default", binding, _preload_content=False)
        assert response.status == 201 and json.loads(response.data)["status"] == "Success"
        assert core.read_namespaced_pod("manual", "default").spec.node_name == "node-1"
        with pytest.raises(ApiException) as error:
            core.create_namespaced_pod_binding("manual", "default", binding, _preload_content=False)
        assert error.value.status == 409
        assert json.loads(error.value.body)["message"] == \
            'Operation cannot be fulfilled on pods/binding "manual": pod manual is already assigned to node "node-1"'
    finally:
        api_client.close()
