"""The pod network end to end: a real ``dockyard server`` and two real agents sharing this Docker
engine as a local cluster does, each node with its own address on the bridge.

Acceptance of the agent's part of issue 5: a Node is not Ready until it has a pod CIDR; pods get
addresses from their node's block (``kubectl get pods -o wide`` shows them); a pod reaches a pod of
the other node by IP; the nodes' addresses answer from the host and from pods; every app container
has the pod's rendered resolv.conf, which leaves with the pod.

The cluster takes a free /16 of its own (tests/support/address_ranges.py), a run-unique name and
uid; its processes, containers, network (and so the node addresses on its bridge) are removed at
teardown, even on failure.
"""

from __future__ import annotations

import http.server
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orchestrator.api.clusternetwork import ClusterNetwork
from orchestrator.cluster.statedir import StateDir
from orchestrator.cluster.tokens import TokenBook

from agent import labels
from agent.join import save_node_token
from agent.network.names import network_lock_path, network_name
from agent.network.resolvconf import pod_resolv_conf
from agent.runtime.cleanup import remove_cluster_objects
from tests.support.address_ranges import free_cluster_cidr
from tests.support.cluster import LAB_KNOBS
from tests.support.controlplane import ControlPlaneProcess, free_port
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

pytestmark = pytest.mark.docker

ECHO = "alicek106/rr-test:echo-hostname"  # busybox httpd: "<p>Hello, HOSTNAME</p>" on :80
NODES = ("node-1", "node-2")
NOT_READY = "network not ready: waiting for the control plane to assign this node a pod CIDR"


@dataclass
class Cluster:
    server: ControlPlaneProcess
    network: ClusterNetwork
    uid: str
    name: str
    base: Path
    agents: dict[str, subprocess.Popen] = field(default_factory=dict)
    listen_ports: dict[str, int] = field(default_factory=dict)
    revision_before_agents: str = "0"

    def node_ip(self, node: str) -> str:
        return self.network.local_node_address(NODES.index(node) + 1)

    def agent_dir(self, node: str) -> Path:
        return self.base / "agents" / node

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-25:])
                         for log in sorted(self.base.glob("*.log")))

    def api(self, method: str, path: str, **kwargs) -> dict:
        with self.server.client() as http_:
            response = http_.request(method, path, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()


def start_agent(cluster: Cluster, node: str) -> subprocess.Popen:
    state = StateDir(cluster.server.state_dir)
    agent_dir = cluster.agent_dir(node)
    agent_dir.mkdir(parents=True, exist_ok=True)
    token_file = save_node_token(agent_dir, TokenBook.for_state(state).issue_node(node))
    cluster.listen_ports[node] = free_port()
    log = open(cluster.base / f"agent-{node}.log", "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli.main", "agent", "--server", cluster.server.url,
         "--token-file", str(token_file), "--node-name", node, "--ca-file", str(state.ca_cert),
         "--state-dir", str(agent_dir), "--listen", f"0.0.0.0:{cluster.listen_ports[node]}",
         "--node-ip", cluster.node_ip(node), "--node-ip-on-bridge", *LAB_KNOBS,
         "--cluster-networking", "off"],  # the pod network alone: no proxy, DNS or routes here
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("podnet")
    network = ClusterNetwork(cluster_cidr=free_cluster_cidr())
    name = f"pn-{uuid.uuid4().hex[:8]}"
    server = ControlPlaneProcess(base / "state", free_port(),
                                 extra_args=["--cluster-cidr", network.cluster_cidr, "--cluster-name", name])
    uid = None
    running = None
    try:
        server.start()
        uid = json.loads(StateDir(server.state_dir).cluster_json.read_text())["uid"]
        running = Cluster(server, network, uid, name, base)
        running.revision_before_agents = running.api("GET", "/api/v1/nodes")["metadata"]["resourceVersion"]
        for node in NODES:
            running.agents[node] = start_agent(running, node)
        yield running
    finally:
        for process in (running.agents.values() if running else ()):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in (running.agents.values() if running else ()):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        server.stop()
        if uid:
            remove_cluster_objects(uid)
            network_lock_path(network_name(name, uid)).unlink(missing_ok=True)


@pytest.fixture(scope="module")
def pod_cidrs(cluster) -> dict[str, str]:
    """Both nodes Ready with the pod CIDR the control plane's IPAM controller gave them;
    node name -> pod CIDR."""
    cidrs = {node: wait_for(f"{node} to be Ready with a pod CIDR", lambda: _ready_with_cidr(cluster, node),
                            timeout=60, explain=cluster.logs)
             for node in NODES}
    assert cidrs["node-1"] != cidrs["node-2"]
    return cidrs


def _get_node(cluster: Cluster, node: str) -> dict | None:
    with cluster.server.client() as http_:
        response = http_.get(f"/api/v1/nodes/{node}")
    return response.json() if response.status_code == 200 else None


def _ready_condition(node: dict) -> dict:
    return next(c for c in node["status"]["conditions"] if c["type"] == "Ready")


def _ready_with_cidr(cluster: Cluster, node: str) -> str | None:
    current = _get_node(cluster, node)
    if current and current["spec"].get("podCIDR") and _ready_condition(current)["status"] == "True":
        return current["spec"]["podCIDR"]
    return None


def run_pod(cluster: Cluster, name: str, node: str, image: str = ECHO, **spec) -> dict:
    """Create a pod bound to ``node`` and wait until it runs; the pod as the API shows it."""
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"test": "podnet"}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "app", "image": image, "imagePullPolicy": "Never"}], **spec}}
    cluster.api("POST", "/api/v1/namespaces/default/pods", json=body)

    def running() -> dict | None:
        pod = cluster.api("GET", f"/api/v1/namespaces/default/pods/{name}")
        return pod if pod.get("status", {}).get("phase") == "Running" and pod["status"].get("podIP") else None
    return wait_for(f"pod {name} to run", running, timeout=60, explain=cluster.logs)


def delete_pod(cluster: Cluster, name: str) -> None:
    with cluster.server.client() as http_:
        http_.delete(f"/api/v1/namespaces/default/pods/{name}")
    wait_for(f"pod {name} to be gone", lambda: _pod_gone(cluster, name), timeout=60, explain=cluster.logs)


def _pod_gone(cluster: Cluster, name: str) -> bool:
    with cluster.server.client() as http_:
        return http_.get(f"/api/v1/namespaces/default/pods/{name}").status_code == 404


def app_container(engine, pod: dict):
    wanted = [f"{labels.POD_UID}={pod['metadata']['uid']}", f"{labels.CONTAINER}=app"]
    (container,) = engine.containers.list(filters={"label": wanted})
    return container


def exec_in(engine, pod: dict, *argv: str) -> tuple[int, str]:
    """Run ``argv`` in the pod's app container. (Its busybox wget crashes on ``-T``: time-outs are
    busybox ``timeout``'s job.)"""
    code, output = app_container(engine, pod).exec_run(list(argv))
    return code, output.decode(errors="replace")


# ── the tests ────────────────────────────────────────────────────────────────────────────────


def test_a_node_is_not_ready_until_it_has_a_pod_cidr(cluster, pod_cidrs):
    """Every version of each Node since before the agents started, from the store's history: the
    agent registers it without a pod CIDR and NotReady saying why, and it turns Ready only with one."""
    history: dict[str, list[dict]] = {node: [] for node in NODES}
    params = {"watch": "true", "resourceVersion": cluster.revision_before_agents, "timeoutSeconds": "2"}
    with cluster.server.client() as http_, http_.stream("GET", "/api/v1/nodes", params=params) as events:
        for line in events.iter_lines():
            event = json.loads(line) if line.strip() else {}
            node = event.get("object", {})
            if node.get("metadata", {}).get("name") in history:
                history[node["metadata"]["name"]].append(node)
    for node, versions in history.items():
        first = versions[0]
        assert "podCIDR" not in (first.get("spec") or {})
        ready = _ready_condition(first)
        assert (ready["status"], ready["reason"], ready["message"]) == ("False", "KubeletNotReady", NOT_READY)
        for version in versions:
            if _ready_condition(version)["status"] == "True":
                assert version["spec"]["podCIDR"] == pod_cidrs[node]
        assert _ready_condition(versions[-1])["status"] == "True"



def test_each_node_gets_its_pods_addresses_from_its_own_block(cluster, pod_cidrs, engine, tmp_path):
    pods = {name: run_pod(cluster, name, node) for name, node in
            (("a1", "node-1"), ("a2", "node-1"), ("b1", "node-2"))}
    for name, pod in pods.items():
        block = ipaddress.IPv4Network(pod_cidrs[pod["spec"]["nodeName"]])
        assert ipaddress.IPv4Address(pod["status"]["podIP"]) in block, (name, pod["status"]["podIP"], block)
    first_two = {pods["a1"]["status"]["podIP"], pods["a2"]["status"]["podIP"]}
    block = ipaddress.IPv4Network(pod_cidrs["node-1"])
    assert first_two == {str(block.network_address + 2), str(block.network_address + 3)}  # the lowest free
    assert pods["b1"]["status"]["podIP"] == str(ipaddress.IPv4Network(pod_cidrs["node-2"]).network_address + 2)

    kubectl = Kubectl(cluster.server.kubeconfig, tmp_path / "kube-cache")
    rows = {line.split()[0]: line.split() for line in kubectl("get", "pods", "-o", "wide", "--no-headers").splitlines()}
    for name, pod in pods.items():
        assert rows[name][5:7] == [pod["status"]["podIP"], pod["spec"]["nodeName"]]


def test_a_pod_reaches_a_pod_on_the_other_node_by_ip(cluster, pod_cidrs, engine):
    client = run_pod(cluster, "client-1", "node-1")
    server = run_pod(cluster, "server-2", "node-2")
    code, page = exec_in(engine, client, "timeout", "10", "wget", "-q", "-O", "-", f"http://{server['status']['podIP']}/")
    assert code == 0 and "Hello, server-2" in page, page


def test_node_addresses_answer_from_the_host_and_from_pods(cluster, pod_cidrs, engine):
    node_ip = cluster.node_ip("node-1")
    # TCP from the host: node-1's agent listens on every address, so on its own too
    with socket.create_connection((node_ip, cluster.listen_ports["node-1"]), timeout=5):
        pass
    # ping from the host's network namespace (the host itself has no ping binary)
    pinged = engine.containers.run(ECHO, ["ping", "-c", "1", "-W", "3", node_ip], network_mode="host", remove=True,
                                   labels={labels.CLUSTER: cluster.uid})
    assert b"1 packets received" in pinged

    pod = run_pod(cluster, "prober-2", "node-2")  # a pod of the *other* node
    for address in (cluster.node_ip("node-1"), cluster.node_ip("node-2")):
        code, output = exec_in(engine, pod, "ping", "-c", "1", "-W", "3", address)
        assert code == 0, output
    with _http_server_on(node_ip) as port:
        code, page = exec_in(engine, pod, "timeout", "10", "wget", "-q", "-O", "-", f"http://{node_ip}:{port}/")
    assert code == 0 and page == "node address", page


def test_app_containers_get_the_pods_resolv_conf_and_it_leaves_with_the_pod(cluster, pod_cidrs, engine):
    host_resolv_conf = Path("/etc/resolv.conf").read_text()
    cluster_first = run_pod(cluster, "dns-cluster", "node-1")
    expected = pod_resolv_conf(cluster_first, cluster.network, host_resolv_conf)
    assert expected.startswith("search default.svc.cluster.local svc.cluster.local cluster.local")
    assert exec_in(engine, cluster_first, "cat", "/etc/resolv.conf") == (0, expected)

    custom = run_pod(cluster, "dns-custom", "node-2", dnsPolicy="None",
                     dnsConfig={"nameservers": ["192.0.2.53"], "searches": ["lab.example"],
                                "options": [{"name": "ndots", "value": "2"}]})
    assert exec_in(engine, custom, "cat", "/etc/resolv.conf") == (
        0, "search lab.example\nnameserver 192.0.2.53\noptions ndots:2\n")

    written = cluster.agent_dir("node-1") / "pods" / cluster_first["metadata"]["uid"] / "resolv.conf"
    assert written.read_text() == expected
    delete_pod(cluster, "dns-cluster")
    assert not written.parent.exists()


class _http_server_on:
    """A one-page HTTP server bound to ``address`` only, for as long as the ``with`` lasts."""

    def __init__(self, address: str) -> None:
        class Page(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the handler's name is http.server's
                body = b"node address"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((address, 0), Page)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> int:
        self.thread.start()
        return self.server.server_address[1]

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
