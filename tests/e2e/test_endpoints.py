"""Endpoints and EndpointSlices inside a real ``dockyard server``, seen through the real kubectl.

Nodes and pod statuses are written through the API as agents write them (no Docker here): the
ReplicaSet controller makes the seed Deployment's pods, the scheduler binds them to the fake
nodes, and the endpoints controller is what is under test.
"""

from __future__ import annotations

import json
import queue
import re
import statistics
import threading
import time

import httpx
import pytest
import yaml

from tests.conftest import REPO
from tests.support.agentwrites import register_node, report_pod
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kubectl

SEEDS = REPO / "examples" / "seed"


def bound_pods(kubectl, app: str) -> dict[str, str] | None:
    pods = json.loads(kubectl("get", "pods", "-l", f"app={app}", "-o", "json"))["items"]
    placed = {p["metadata"]["name"]: p["spec"].get("nodeName") for p in pods}
    return placed if len(placed) == 3 and all(placed.values()) else None


def endpoints_line(kubectl, name: str) -> str:
    return next((line for line in kubectl("get", "endpoints").splitlines() if line.startswith(name + " ")), "")


def test_seed_service_endpoints_follow_pod_readiness_in_get_and_describe(control_plane, kubectl):
    for name in ("node-1", "node-2"):
        register_node(control_plane, name)
    kubectl("apply", "-f", str(SEEDS / "hostname-deployment.yaml"), "-f", str(SEEDS / "hostname-svc-clusterip.yaml"))
    placed = wait_for("3 bound pods", lambda: bound_pods(kubectl, "webserver"), timeout=20)
    cidrs = {n["metadata"]["name"]: n["spec"]["podCIDR"]
             for n in json.loads(kubectl("get", "nodes", "-o", "json"))["items"]}
    ips = {}
    for index, (pod, node) in enumerate(sorted(placed.items()), start=10):
        ips[pod] = cidrs[node].replace("0/24", str(index))  # an address of the node's own block
        report_pod(control_plane, pod, ips[pod])
    listed = ",".join(f"{ip}:80" for ip in sorted(ips.values()))
    line = wait_for("the three endpoints", lambda: (lambda l: l if listed in l else None)(
        endpoints_line(kubectl, "hostname-svc-clusterip")), timeout=10)
    output = kubectl("get", "endpoints")
    assert output.splitlines()[0].split() == ["NAME", "ENDPOINTS", "AGE"]
    assert re.fullmatch(rf"hostname-svc-clusterip\s+{re.escape(listed)}\s+\d+s", line)
    assert re.search(rf"^kubernetes\s+127\.0\.0\.1:{control_plane.port}\s", output, re.MULTILINE)
    assert re.search(rf"^Endpoints:\s+{re.escape(listed)}$", kubectl("describe", "svc", "hostname-svc-clusterip"),
                     re.MULTILINE)

    unready = sorted(ips)[0]
    report_pod(control_plane, unready, ips[unready], ready=False)
    remaining = ",".join(f"{ip}:80" for pod, ip in sorted(ips.items(), key=lambda kv: kv[1]) if pod != unready)
    wait_for("the unready pod to leave", lambda: remaining in endpoints_line(kubectl, "hostname-svc-clusterip")
             and ips[unready] not in endpoints_line(kubectl, "hostname-svc-clusterip"), timeout=10)
    assert re.search(rf"^Endpoints:\s+{re.escape(remaining)}$", kubectl("describe", "svc", "hostname-svc-clusterip"),
                     re.MULTILINE)
    slices = json.loads(kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=hostname-svc-clusterip",
                                "-o", "json"))["items"]
    assert len(slices) == 1
    conditions = {e["targetRef"]["name"]: e["conditions"]["ready"] for e in slices[0]["endpoints"]}
    assert conditions == {pod: pod != unready for pod in ips}
    assert slices[0]["ports"] == [{"name": "web-port", "port": 80, "protocol": "TCP"}]

    kubectl("delete", "svc", "hostname-svc-clusterip")
    wait_for("the service's endpoints and slices to go", lambda: not endpoints_line(kubectl, "hostname-svc-clusterip")
             and "hostname-svc-clusterip" not in kubectl("get", "endpointslices"), timeout=10)


def test_system_services_are_listed_as_kubernetes_lists_them(control_plane, kubectl):
    services = kubectl("get", "svc", "-A")
    assert re.search(r"^default\s+kubernetes\s+ClusterIP\s+10\.96\.0\.1\s+<none>\s+443/TCP", services, re.MULTILINE)
    assert re.search(r"^kube-system\s+kube-dns\s+ClusterIP\s+10\.96\.0\.10\s+<none>\s+53/UDP,53/TCP",
                     services, re.MULTILINE)
    assert re.search(r"^kube-dns\s+10\.244\.0\.1:53,10\.244\.0\.1:53\s", kubectl("get", "ep", "-n", "kube-system"),
                     re.MULTILINE)
    described = kubectl("describe", "svc", "kube-dns", "-n", "kube-system")
    assert re.search(r"^Endpoints:\s+10\.244\.0\.1:53$", described, re.MULTILINE), described


def watch_endpoints(control_plane, name: str, since: str, events: queue.Queue, stop: threading.Event) -> None:
    """Queue (arrival time, Endpoints) for every change of ``name`` until ``stop``."""
    try:
        with control_plane.client() as http:
            with http.stream("GET", "/api/v1/namespaces/default/endpoints", timeout=None,
                             params={"watch": "true", "resourceVersion": since,
                                     "fieldSelector": f"metadata.name={name}"}) as response:
                for line in response.iter_lines():
                    if stop.is_set():
                        return
                    if line:
                        events.put((time.monotonic(), json.loads(line)["object"]))
    except httpx.HTTPError:
        if not stop.is_set():  # the server going away at teardown ends the watch; anything else is news
            raise


def test_a_pod_turning_unready_leaves_the_endpoints_within_milliseconds(control_plane):
    """The controller's share of "an unready pod leaves the endpoints within 2 s": from sending
    the pod status write to the Endpoints change arriving on a watch."""
    register_node(control_plane, "node-1")
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0", "labels": {"app": "web"}},
           "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "nginx:latest"}]}}
    with control_plane.client() as http:
        assert http.post("/api/v1/namespaces/default/services", json=service).status_code == 201
        assert http.post("/api/v1/namespaces/default/pods", json=pod).status_code == 201
        since = http.get("/api/v1/namespaces/default/endpoints").json()["metadata"]["resourceVersion"]
    events: queue.Queue = queue.Queue()
    stop = threading.Event()
    threading.Thread(target=watch_endpoints, args=(control_plane, "web", since, events, stop), daemon=True).start()
    latencies = []
    try:
        for flip in range(10):
            ready = flip % 2 == 0
            written = time.monotonic()  # before the request: an upper bound, request time included
            report_pod(control_plane, "web-0", "10.244.1.10", ready=ready)
            while True:
                arrived, endpoints = events.get(timeout=5)
                subsets = endpoints.get("subsets") or [{}]
                if bool(subsets[0].get("addresses")) == ready:
                    break
            latencies.append(arrived - written)
    finally:
        stop.set()
    print(f"endpoints latency after a pod status write: median {statistics.median(latencies) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms")
    assert max(latencies) < 1.0, latencies


def test_a_headless_service_with_a_named_port_lists_what_each_pod_names(control_plane, kubectl, tmp_path):
    register_node(control_plane, "node-1")
    manifests = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
         "spec": {"clusterIP": "None", "selector": {"app": "db"},
                  "ports": [{"name": "pg", "port": 5432, "targetPort": "postgres"}]}},
        *({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"db-{i}", "labels": {"app": "db"}},
           "spec": {"nodeName": "node-1", "hostname": f"db-{i}", "subdomain": "db",
                    "containers": [{"name": "pg", "image": "nginx:latest",
                                    "ports": [{"name": "postgres", "containerPort": port}]}]}}
          for i, port in ((0, 5432), (1, 6432))),
    ]
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(manifests))
    report_pod(control_plane, "db-0", "10.244.1.20")
    report_pod(control_plane, "db-1", "10.244.1.21")
    line = wait_for("both endpoints", lambda: (lambda l: l if "10.244.1.21" in l and "10.244.1.20" in l else None)(
        endpoints_line(kubectl, "db")), timeout=10)
    assert "10.244.1.20:5432" in line and "10.244.1.21:6432" in line
    endpoints = json.loads(kubectl("get", "endpoints", "db", "-o", "json"))
    assert endpoints["metadata"]["labels"] == {"service.kubernetes.io/headless": ""}
    assert sorted(a["hostname"] for s in endpoints["subsets"] for a in s["addresses"]) == ["db-0", "db-1"]
