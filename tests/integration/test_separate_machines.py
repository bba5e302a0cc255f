"""dockyard across separate machines, joined the way real machines join (:mod:`tests.support.machines`).

A control machine runs ``dockyard server``; two worker machines, each a network namespace with its
own Docker engine, run ``dockyard agent`` with a token from ``dockyard token create``; kubectl and
curl run from a workstation on the same LAN. The Vagrant cluster's set-up, in seconds.

What only shows across machines:

* **routes** (flannel's host-gw, :mod:`agent.network.routes`): each worker routes the other's pod
  range via the other's LAN address and answers ARP for remote pods on its bridge; a stale route of
  the cluster goes, a route that is not the cluster's stays; a node no machine can reach is
  reported as a Node event while the others are routed all the same;
* **pod to pod**: a Deployment of two replicas lands one pod on each machine (the scheduler's
  spreading); a pod on one machine reaches a pod on the other by pod IP, in both directions, and
  the other pod sees the caller's own pod IP (pod traffic is not masqueraded between machines);
* **Services**: from a pod on either machine, the Service answers by name (cluster DNS on each
  machine's bridge gateway) and by ClusterIP, with backends on both machines, the asking pod
  among them (hairpin);
* **NodePort**: each machine's LAN address answers, from the workstation and from the other
  machines, with backends on both machines (the Cluster policy forwards across).

The kernel-level tests of the route planner's edge cases (a node changing address, cleanup) stay
in ``tests/integration/test_agent_routes.py``, with synthetic nodes in a namespace.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable

import pytest
import yaml

from tests.support.image_archive import CURL, ECHO_HOSTNAME, PAUSE
from tests.support.kubectl import Kubectl
from tests.support.machines import SeparateMachines
from tests.support.waiting import wait_for

pytestmark = pytest.mark.docker

# A sidecar answering on :8080 with the address the request came from (busybox httpd's CGI REMOTE_ADDR).
PEER_ADDRESS_SERVER = r"""
mkdir -p /tmp/peer/cgi-bin
printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%%s\\n" "$REMOTE_ADDR"\n' > /tmp/peer/cgi-bin/index.cgi
chmod +x /tmp/peer/cgi-bin/index.cgi
trap 'exit 0' TERM
httpd -f -p 8080 -h /tmp/peer & wait
"""

ECHO = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "echo"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "echo"}},
             "template": {"metadata": {"labels": {"app": "echo"}},
                          "spec": {"terminationGracePeriodSeconds": 2, "containers": [
                              {"name": "web", "image": ECHO_HOSTNAME, "ports": [{"containerPort": 80}]},
                              {"name": "peer", "image": ECHO_HOSTNAME, "command": ["sh", "-c", PEER_ADDRESS_SERVER],
                               "ports": [{"containerPort": 8080}]}]}}}}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo"},
           "spec": {"type": "NodePort", "selector": {"app": "echo"},
                    "ports": [{"name": "web", "port": 80, "targetPort": 80}]}}
# The client lives on worker-1, the only machine with the 170 MB curl image.
CLIENT = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
          "spec": {"nodeName": "worker-1", "terminationGracePeriodSeconds": 1,
                   "containers": [{"name": "curl", "image": CURL, "command": ["sleep", "infinity"]}]}}


@pytest.fixture(scope="module")
def machines(machine_factory):
    return machine_factory(workers=2, images=(PAUSE, ECHO_HOSTNAME), more_images={"worker-1": (CURL,)})


@pytest.fixture(scope="module")
def kubectl(machines):
    return machines.kubectl()


@pytest.fixture(scope="module")
def app(machines, kubectl):
    """The echo Deployment and its NodePort Service, and the client pod; the pods by node."""
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all([ECHO, SERVICE, CLIENT]))
    kubectl("rollout", "status", "deployment/echo", "--timeout=120s", timeout=130)
    kubectl("wait", "--for=condition=Ready", "pod/client", "--timeout=120s", timeout=130)
    pods = json.loads(kubectl("get", "pods", "-l", "app=echo", "-o", "json"))["items"]
    return {pod["spec"]["nodeName"]: {"name": pod["metadata"]["name"], "ip": pod["status"]["podIP"]} for pod in pods}


def node_cidrs(kubectl: Kubectl) -> dict[str, str]:
    nodes = json.loads(kubectl("get", "nodes", "-o", "json"))["items"]
    return {node["metadata"]["name"]: node["spec"]["podCIDR"] for node in nodes if node["spec"].get("podCIDR")}


def routes(machines: SeparateMachines, name: str) -> dict[str, str | None]:
    table = json.loads(machines.run_on(name, "ip", "-j", "-4", "route").stdout)
    return {route["dst"]: route.get("gateway") for route in table}


def client_get(kubectl: Kubectl, url: str) -> str:
    return kubectl("exec", "client", "--", "curl", "-sS", "--max-time", "5", url)


def peer_address(text: str) -> str:
    """The caller's address as :data:`PEER_ADDRESS_SERVER` reports it (httpd listens on IPv6 too,
    so an IPv4 caller shows as ``[::ffff:10.244.1.2]``)."""
    return text.strip().removeprefix("[::ffff:").removesuffix("]")


def hostnames(text: str) -> set[str]:
    return set(re.findall(r"Hello, ([\w-]+)", text))


def answered_by_every_pod(app: dict[str, dict[str, str]], ask: Callable[[], str], what: str) -> None:
    """``ask()`` (one request) until both pods, one on each machine, have answered."""
    expected = {pod["name"] for pod in app.values()}
    seen: set[str] = set()

    def both() -> bool:
        seen.update(hostnames(ask()))
        return seen == expected

    wait_for(f"{what} answered by {sorted(expected)}", both, explain=lambda: f"answered by {sorted(seen)}",
             timeout=60, every=0.1)


# -- routes ------------------------------------------------------------------------------------

def test_each_machine_routes_the_other_machines_pod_range_via_its_lan_address(machines, kubectl):
    cidrs = node_cidrs(kubectl)
    assert set(cidrs) == {"worker-1", "worker-2"}

    def routed() -> bool:
        return (routes(machines, "worker-1").get(cidrs["worker-2"]) == machines.address("worker-2")
                and routes(machines, "worker-2").get(cidrs["worker-1"]) == machines.address("worker-1"))

    wait_for("each worker's route to the other's pods", routed, explain=machines.logs, timeout=30)
    for name in ("worker-1", "worker-2"):
        assert cidrs[name] not in routes(machines, name)  # its own pods are on its bridge, no route
        bridges = [line.split(":")[1].strip() for line in machines.run_on(name, "ip", "-o", "link", "show",
                                                                            "type", "bridge").stdout.splitlines()]
        assert len(bridges) == 1, bridges  # the cluster's pod bridge, and no docker0
        proxy_arp = machines.run_on(name, "cat", f"/proc/sys/net/ipv4/conf/{bridges[0]}/proxy_arp").stdout
        assert proxy_arp.strip() == "1"
    assert not [dst for dst in routes(machines, "control") if dst.startswith("10.244.")]  # no agent there


def test_a_stale_route_of_the_cluster_goes_and_a_foreign_route_stays(machines, kubectl):
    lan = ipaddress.IPv4Network(f"{machines.address('worker-1')}/24", strict=False)
    gone_node = str(lan.network_address + 99)  # a node that left while its route stayed
    stale, foreign = "10.244.200.0/24", "10.8.0.0/16"
    for destination in (stale, foreign):
        done = machines.run_on("worker-1", "ip", "route", "add", destination, "via", gone_node)
        assert done.returncode == 0, done.stderr
    wait_for("the stale route to be removed", lambda: stale not in routes(machines, "worker-1"),
             explain=machines.logs, timeout=30)  # the periodic resync finds it
    assert routes(machines, "worker-1")[foreign] == gone_node
    machines.run_on("worker-1", "ip", "route", "delete", foreign)


def test_an_unreachable_node_is_reported_and_the_others_are_routed_all_the_same(machines, kubectl):
    far = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "far-away"}}
    kubectl("apply", "-f", "-", input=yaml.safe_dump(far))
    try:
        kubectl("patch", "node", "far-away", "--subresource=status", "--type=merge", "-p",
                json.dumps({"status": {"addresses": [{"type": "InternalIP", "address": "203.0.113.5"}]}}))
        far_cidr = wait_for("a pod CIDR for far-away", lambda: node_cidrs(kubectl).get("far-away"), timeout=30)
        described = kubectl.wait_described("node", "worker-1", text="203.0.113.5", timeout=30)
        assert "HostNetworkingFailed" in described and f"{far_cidr} via 203.0.113.5" in described
        assert "InternalIP" in described  # what to check
        cidrs = node_cidrs(kubectl)
        assert routes(machines, "worker-1")[cidrs["worker-2"]] == machines.address("worker-2")
        assert far_cidr not in routes(machines, "worker-1")
    finally:
        kubectl("delete", "node", "far-away", "--ignore-not-found")


# -- pods and Services across machines -----------------------------------------------------

def test_the_deployment_spreads_over_both_machines(app, kubectl):
    assert set(app) == {"worker-1", "worker-2"}
    cidrs = node_cidrs(kubectl)
    for node, pod in app.items():
        assert ipaddress.IPv4Address(pod["ip"]) in ipaddress.IPv4Network(cidrs[node])


def test_a_pod_reaches_a_pod_on_the_other_machine_by_ip_and_is_seen_by_its_own_ip(app, kubectl):
    client_ip = json.loads(kubectl("get", "pod", "client", "-o", "json"))["status"]["podIP"]
    far = app["worker-2"]
    assert f"Hello, {far['name']}" in client_get(kubectl, f"http://{far['ip']}/")
    assert peer_address(client_get(kubectl, f"http://{far['ip']}:8080/")) == client_ip

    # and back: worker-2's pod to worker-1's (busybox wget, by IP)
    near = app["worker-1"]
    answer = kubectl("exec", far["name"], "-c", "web", "--", "timeout", "5", "wget", "-qO-",
                     f"http://{near['ip']}:8080/")
    assert peer_address(answer) == far["ip"]


def test_a_pod_reaches_the_service_by_name_and_cluster_ip_with_backends_on_both_machines(app, kubectl):
    cluster_ip = kubectl("get", "service", "echo", "-o", "jsonpath={.spec.clusterIP}")
    for url in ("http://echo/", "http://echo.default.svc.cluster.local/", f"http://{cluster_ip}/"):
        answered_by_every_pod(app, lambda: client_get(kubectl, url), url)


def test_a_pod_on_the_other_machine_resolves_and_reaches_the_service_through_its_own_machine(app, kubectl):
    """worker-2 runs its own cluster DNS and service rules: its pod asks them (busybox's nslookup
    and wget, by address: a static busybox wget cannot look names up). One of the answers comes
    from the asking pod itself, through the Service: hairpin mode on its bridge port."""
    cluster_ip = kubectl("get", "service", "echo", "-o", "jsonpath={.spec.clusterIP}")
    pod = app["worker-2"]["name"]
    looked_up = kubectl("exec", pod, "-c", "web", "--", "nslookup", "echo.default.svc.cluster.local")
    assert re.search(rf"Address:\s+{re.escape(cluster_ip)}\s*$", looked_up, re.MULTILINE), looked_up
    answered_by_every_pod(app, lambda: kubectl("exec", pod, "-c", "web", "--", "timeout", "5", "wget", "-qO-",
                                               f"http://{cluster_ip}/"), f"{cluster_ip} from worker-2")


def test_the_node_port_answers_on_each_machines_lan_address(app, machines, kubectl):
    node_port = kubectl("get", "service", "echo", "-o", "jsonpath={.spec.ports[0].nodePort}")
    for worker in ("worker-1", "worker-2"):
        url = f"http://{machines.address(worker)}:{node_port}/"
        answered_by_every_pod(app, lambda: machines.run_on_lan("curl", "-sS", "--max-time", "5", url).stdout,
                              f"{url} from the workstation")
        for other in {"control", "worker-1", "worker-2"} - {worker}:
            answer = machines.run_on(other, "curl", "-sS", "--max-time", "5", url)
            assert hostnames(answer.stdout) & {pod["name"] for pod in app.values()}, (other, answer.stderr)
