"""Issue 5's Service transcript on the real Docker engine: a 3-node cluster from ``dockyard up``,
the real kubectl, the seed's echo-hostname Deployment and Services, requests from a debug pod and
from the host.

Everything a learner tries in the seed's Service section: a ClusterIP answering by name and by
address from every pod, ``kubectl get endpoints``, a NodePort on every node's address, a pod whose
readiness fails leaving the endpoints, scaling, sessionAffinity, externalTrafficPolicy Local versus
Cluster, ExternalName and headless Services in DNS, a LoadBalancer on a machine without a cloud,
and the rules of a deleted Service going away.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import time

import httpx
import pytest
import yaml

from tests.conftest import REPO
from tests.support.waiting import wait_for

pytestmark = pytest.mark.docker

SEED = REPO / "examples" / "seed"
ECHO = "alicek106/rr-test:echo-hostname"
DEBUG = "alicek106/ubuntu:curl"

# A backend that answers with the address the request came from (busybox httpd's CGI REMOTE_ADDR).
REMOTE_ADDR_SERVER = r"""
mkdir -p /w/cgi-bin
printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%%s\\n" "$REMOTE_ADDR"\n' > /w/cgi-bin/index.cgi
chmod +x /w/cgi-bin/index.cgi
trap 'exit 0' TERM
httpd -f -p 80 -h /w & wait
"""


def deployment(name: str, replicas: int, *, labels: dict, container: dict, node: str | None = None) -> dict:
    spec = {"containers": [container], "terminationGracePeriodSeconds": 5}
    if node:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": spec}}}


def service(name: str, selector: dict, *, port: int = 8080, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": selector, "ports": [{"name": "web", "port": port, "targetPort": 80}], **spec}}


@pytest.fixture(scope="module")
def kubectl(cluster):
    kubectl = cluster.kubectl()
    for seed in ("hostname-deployment.yaml", "hostname-svc-clusterip.yaml", "hostname-svc-nodeport.yaml",
                 "externalname-svc.yaml"):
        kubectl("apply", "-f", str(SEED / seed))
    debug = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug"},
             "spec": {"nodeSelector": {"kubernetes.io/hostname": "node-1"}, "terminationGracePeriodSeconds": 1,
                      "containers": [{"name": "debug", "image": DEBUG, "command": ["sleep", "infinity"]}]}}
    kubectl("apply", "-f", "-", input=json.dumps(debug))
    status = kubectl.run("rollout", "status", "deployment/hostname-deployment", "--timeout=90s", timeout=100,
                         check=False)
    assert status.returncode == 0, status.stdout + status.stderr + cluster.logs()
    kubectl("wait", "--for=condition=Ready", "pod/debug", "--timeout=60s", timeout=70)
    return kubectl


def in_debug_pod(kubectl, script: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return kubectl.run("exec", "debug", "--", "bash", "-c", script, check=False, timeout=timeout)


def hellos(text: str) -> list[str]:
    return re.findall(r"<p>Hello, ([\w.-]+)</p>", text)


def pods(kubectl, selector: str) -> list[dict]:
    return json.loads(kubectl("get", "pods", "-l", selector, "-o", "json"))["items"]


def ready_pods(kubectl, selector: str) -> list[dict]:
    return [p for p in pods(kubectl, selector) if not p["metadata"].get("deletionTimestamp")
            and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])]


def endpoint_ips(kubectl, name: str) -> set[str]:
    endpoints = json.loads(kubectl("get", "endpoints", name, "-o", "json"))
    return {a["ip"] for subset in endpoints.get("subsets") or [] for a in subset.get("addresses") or []}


def node_addresses(kubectl) -> dict[str, str]:
    """Node name → INTERNAL-IP, read from ``kubectl get nodes -o wide`` as a user would."""
    lines = kubectl("get", "nodes", "-o", "wide").splitlines()
    column = lines[0].index("INTERNAL-IP")
    return {line.split()[0]: line[column:].split()[0] for line in lines[1:]}


def cluster_ip(kubectl, name: str) -> str:
    return kubectl("get", "svc", name, "-o", "jsonpath={.spec.clusterIP}")


def node_port(kubectl, name: str) -> int:
    return int(kubectl("get", "svc", name, "-o", "jsonpath={.spec.ports[0].nodePort}"))


def apply(kubectl, *objects: dict) -> None:
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))


# -- ClusterIP, endpoints, pod addresses ---------------------------------------------------------


def test_cluster_ip_answers_by_name_and_address_from_every_pod(kubectl):
    names = {p["metadata"]["name"] for p in pods(kubectl, "app=webserver")}
    assert len(names) == 3
    address = cluster_ip(kubectl, "hostname-svc-clusterip")
    for target in ("hostname-svc-clusterip", address):
        result = in_debug_pod(kubectl, f"for i in $(seq 30); do curl -s -m 2 {target}:8080; done")
        answered = hellos(result.stdout)
        assert len(answered) == 30 and set(answered) == names, (target, result.stdout[-500:], result.stderr)


def test_endpoints_list_the_ready_pod_addresses(kubectl):
    ips = {p["status"]["podIP"] for p in pods(kubectl, "app=webserver")}
    wait_for("3 endpoints", lambda: endpoint_ips(kubectl, "hostname-svc-clusterip") == ips)
    table = kubectl("get", "endpoints", "hostname-svc-clusterip")
    assert re.search(r"NAME\s+ENDPOINTS\s+AGE", table), table
    listed = table.splitlines()[1].split()[1]
    assert set(listed.split(",")) == {f"{ip}:80" for ip in ips}, table
    described = kubectl("describe", "svc", "hostname-svc-clusterip")
    for ip in ips:
        assert f"{ip}:80" in described, described


def test_pod_ips_come_from_their_nodes_ranges(kubectl):
    nodes = {n["metadata"]["name"]: n for n in json.loads(kubectl("get", "nodes", "-o", "json"))["items"]}
    ranges = {name: ipaddress.ip_network(node["spec"]["podCIDR"]) for name, node in nodes.items()}
    assert len(set(ranges.values())) == 3, ranges
    for pod in pods(kubectl, "app=webserver"):
        assert ipaddress.ip_address(pod["status"]["podIP"]) in ranges[pod["spec"]["nodeName"]], pod["status"]
    wide = kubectl("get", "pods", "-o", "wide", "-l", "app=webserver")
    for pod in pods(kubectl, "app=webserver"):
        assert pod["status"]["podIP"] in wide


def test_node_port_answers_on_every_node_address_from_the_host(kubectl):
    port = node_port(kubectl, "hostname-svc-nodeport")
    assert 30000 <= port <= 32767
    addresses = node_addresses(kubectl)
    assert len(set(addresses.values())) == 3, addresses
    for name, address in addresses.items():
        response = httpx.get(f"http://{address}:{port}/", timeout=5)
        assert response.status_code == 200 and hellos(response.text), (name, address, response.text)


def test_a_pod_failing_readiness_leaves_the_endpoints_within_two_seconds(kubectl):
    probe = {"exec": {"command": ["sh", "-c", "test ! -e /unready"]}, "periodSeconds": 1,
             "failureThreshold": 1}
    apply(kubectl,
          deployment("flaky", 3, labels={"app": "flaky"},
                     container={"name": "web", "image": ECHO, "readinessProbe": probe}),
          service("flaky", {"app": "flaky"}))
    wait_for("3 ready flaky pods", lambda: len(ready_pods(kubectl, "app=flaky")) == 3, timeout=90)
    wait_for("3 flaky endpoints", lambda: len(endpoint_ips(kubectl, "flaky")) == 3)
    victim = pods(kubectl, "app=flaky")[0]
    kubectl("exec", victim["metadata"]["name"], "--", "touch", "/unready")
    started = time.monotonic()
    wait_for("the unready pod to leave the endpoints",
             lambda: victim["status"]["podIP"] not in endpoint_ips(kubectl, "flaky"), timeout=10, every=0.05)
    assert time.monotonic() - started < 2.0
    time.sleep(0.5)  # the proxy's rules follow the Endpoints
    result = in_debug_pod(kubectl, "for i in $(seq 30); do curl -s -m 2 flaky:8080; done")
    answered = hellos(result.stdout)
    assert len(answered) == 30 and victim["metadata"]["name"] not in answered, result.stdout[-300:]


def test_scaling_adds_endpoints(kubectl):
    kubectl("scale", "deployment/hostname-deployment", "--replicas=5")
    try:
        wait_for("5 endpoints", lambda: len(endpoint_ips(kubectl, "hostname-svc-clusterip")) == 5, timeout=90)
        names = {p["metadata"]["name"] for p in pods(kubectl, "app=webserver")}
        result = in_debug_pod(kubectl, "for i in $(seq 50); do curl -s -m 2 hostname-svc-clusterip:8080; done")
        assert set(hellos(result.stdout)) == names, result.stdout[-300:]
    finally:
        kubectl("scale", "deployment/hostname-deployment", "--replicas=3")
        wait_for("3 endpoints again", lambda: len(endpoint_ips(kubectl, "hostname-svc-clusterip")) == 3,
                 timeout=90)


# -- policies ------------------------------------------------------------------------------------


def test_session_affinity_client_ip_keeps_a_client_on_one_pod(kubectl):
    apply(kubectl, service("sticky", {"app": "webserver"}, sessionAffinity="ClientIP"))
    wait_for("sticky endpoints", lambda: len(endpoint_ips(kubectl, "sticky")) == 3)
    result = in_debug_pod(kubectl, "for i in $(seq 20); do curl -s -m 2 sticky:8080; done")
    answered = hellos(result.stdout)
    assert len(answered) == 20 and len(set(answered)) == 1, answered


def test_external_traffic_policy_local_versus_cluster(kubectl):
    container = {"name": "web", "image": ECHO, "command": ["sh", "-c", REMOTE_ADDR_SERVER]}
    apply(kubectl,
          deployment("whoami", 1, labels={"app": "whoami"}, container=container, node="node-2"),
          service("whoami-local", {"app": "whoami"}, type="NodePort", externalTrafficPolicy="Local"),
          service("whoami-cluster", {"app": "whoami"}, type="NodePort"))
    wait_for("the whoami pod ready", lambda: len(ready_pods(kubectl, "app=whoami")) == 1, timeout=90)
    wait_for("whoami endpoints", lambda: endpoint_ips(kubectl, "whoami-local") and endpoint_ips(kubectl, "whoami-cluster"))
    client_ip = json.loads(kubectl("get", "pod", "debug", "-o", "json"))["status"]["podIP"]
    nodes = node_addresses(kubectl)
    local, cluster = node_port(kubectl, "whoami-local"), node_port(kubectl, "whoami-cluster")

    def from_host(address: str, port: int) -> tuple[int, str, str]:
        """curl's exit code, the client address the pod saw and the one curl used. (busybox httpd
        listens on IPv6, so it reports an IPv4 client as ``[::ffff:a.b.c.d]``.)"""
        result = subprocess.run(["curl", "-s", "-m", "3", "-w", "\n%{local_ip}", f"http://{address}:{port}/"],
                                capture_output=True, text=True)
        seen, _, used = result.stdout.rpartition("\n")
        return result.returncode, _unmapped(seen.strip()), used.strip()

    def from_pod(address: str, port: int) -> tuple[int, str]:
        result = in_debug_pod(kubectl, f"curl -s -m 3 http://{address}:{port}/")
        return result.returncode, _unmapped(result.stdout.strip())

    # a client outside the cluster (the host): only node-2, which runs the pod, answers, and the
    # pod sees the client's own address; under Cluster every node answers, masqueraded
    code, seen, used = from_host(nodes["node-2"], local)
    assert code == 0 and seen == used, (code, seen, used)
    for node in ("node-1", "node-3"):
        assert from_host(nodes[node], local)[0] == 7, node  # curl: connection refused
    for node in ("node-1", "node-2", "node-3"):
        code, seen, used = from_host(nodes[node], cluster)
        assert code == 0 and seen and seen != used, (node, code, seen, used)
    # a pod is inside the cluster: kube-proxy sends its traffic to any endpoint, source kept
    assert from_pod(nodes["node-2"], local) == (0, client_ip)
    assert from_pod(nodes["node-1"], local) == (0, client_ip)


def _unmapped(address: str) -> str:
    return address.removeprefix("[::ffff:").removesuffix("]")


def test_load_balancer_answers_on_every_node_address(kubectl):
    apply(kubectl, service("hostname-lb", {"app": "webserver"}, port=8081, type="LoadBalancer"))
    addresses = set(node_addresses(kubectl).values())
    wait_for("the node addresses as EXTERNAL-IP",
             lambda: set(kubectl("get", "svc", "hostname-lb", "-o",
                                 "jsonpath={.status.loadBalancer.ingress[*].ip}").split()) == addresses)
    row = kubectl("get", "svc", "hostname-lb").splitlines()[1]
    assert re.search(r"hostname-lb\s+LoadBalancer\s+10\.\S+\s+\S+\s+8081:3\d{4}/TCP", row), row
    for address in addresses:
        response = httpx.get(f"http://{address}:8081/", timeout=5)
        assert hellos(response.text), (address, response.text)


# -- DNS -----------------------------------------------------------------------------------------


def test_service_names_resolve_in_every_form(kubectl):
    address = cluster_ip(kubectl, "hostname-svc-clusterip")
    for name in ("hostname-svc-clusterip", "hostname-svc-clusterip.default",
                 "hostname-svc-clusterip.default.svc", "hostname-svc-clusterip.default.svc.cluster.local"):
        result = in_debug_pod(kubectl, f"getent hosts {name}")
        assert result.returncode == 0 and result.stdout.split()[0] == address, (name, result)
    resolv = in_debug_pod(kubectl, "cat /etc/resolv.conf").stdout
    assert "search default.svc.cluster.local svc.cluster.local cluster.local" in resolv, resolv
    assert re.search(r"^nameserver 10\.\d+\.0\.10$", resolv, re.M) and "options ndots:5" in resolv, resolv


def test_headless_service_resolves_to_the_pod_addresses(kubectl):
    apply(kubectl, service("hostname-headless", {"app": "webserver"}, clusterIP="None"))
    ips = {p["status"]["podIP"] for p in ready_pods(kubectl, "app=webserver")}
    wait_for("headless endpoints", lambda: endpoint_ips(kubectl, "hostname-headless") == ips)
    result = in_debug_pod(kubectl, "getent ahostsv4 hostname-headless | awk '{print $1}' | sort -u")
    assert set(result.stdout.split()) == ips, result


def test_external_name_is_a_cname_and_unknown_names_fail_fast(kubectl):
    result = in_debug_pod(kubectl, "nslookup externalname-svc")
    assert "canonical name = my.database.com" in result.stdout, result
    timed = in_debug_pod(kubectl, "s=$(date +%s%N); nslookup no-such-svc >/dev/null; rc=$?; "
                                  "echo $rc $(( ($(date +%s%N) - s) / 1000000 ))")
    rc, elapsed_ms = map(int, timed.stdout.split())
    assert rc != 0 and elapsed_ms < 2000, timed


# -- cleanup of one Service ----------------------------------------------------------------------


def test_deleting_a_service_removes_its_rules(kubectl):
    apply(kubectl, service("short-lived", {"app": "webserver"}, type="NodePort"))
    address, port = cluster_ip(kubectl, "short-lived"), node_port(kubectl, "short-lived")

    def rules() -> str:
        return subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True, check=True).stdout

    wait_for("the service's rules", lambda: address in rules() and f"--dport {port}" in rules())
    assert in_debug_pod(kubectl, "curl -s -m 2 short-lived:8080").returncode == 0
    kubectl("delete", "svc", "short-lived")
    wait_for("its rules gone", lambda: address not in rules() and f"--dport {port} " not in rules())
    gone = in_debug_pod(kubectl, f"curl -s -m 2 {address}:8080")
    assert not hellos(gone.stdout), gone  # no pod answers (whatever the host's default route does)
