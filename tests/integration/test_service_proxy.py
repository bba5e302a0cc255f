"""The service proxy against the real kernel and Docker: what clients see through the rules it writes.

One :class:`~tests.support.service_lab.ServiceLab` per module: a run-unique bridge network over a
free /16 with node-1 (.11) and node-2 (.12) addresses on the bridge, echo-hostname backends at
static pod IPs (be1 on node-1; be2, be3 on node-2), a UDP backend, a client pod, and an outside
client in its own network namespace behind a veth pair. Each test syncs the Services it needs
(the proxy replaces the whole rule set each time) and looks from a pod, the host and outside.
Teardown removes the containers, network, addresses, namespace and every chain and jump.
"""

from __future__ import annotations

import http.server
import random
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

from agent.network.proxy import cleanup
from tests.support.service_lab import ServiceLab, run
from tests.support.service_objects import endpoints, service

pytestmark = pytest.mark.docker

HTTP = ({"port": 80, "protocol": "TCP"},)


@pytest.fixture(scope="module")
def lab():
    made = ServiceLab()
    try:
        made.open()
        made.start_client("client", made.pod_ip(3, 10))
        made.start_udp("udp1", made.pod_ip(1, 20), 9000)
        for name, ip in (("be1", made.pod_ip(1, 10)), ("be2", made.pod_ip(2, 10)), ("be3", made.pod_ip(2, 11))):
            made.start_echo(name, ip)
        yield made
    finally:
        made.close()


@pytest.fixture(scope="module")
def node_ports():
    """NodePorts unlikely to be any other cluster's on this host."""
    start = random.randrange(30000, 32000)
    return iter(range(start, start + 100))


def backends(lab: ServiceLab, *names: str) -> list[tuple[str, str]]:
    where = {"be1": (lab.pod_ip(1, 10), "node-1"), "be2": (lab.pod_ip(2, 10), "node-2"),
             "be3": (lab.pod_ip(2, 11), "node-2")}
    return [where[name] for name in names]


def hostnames(text: str) -> list[str]:
    return re.findall(r"Hello, (\S+)</p>", text)


def loop(count: int, url: str) -> str:
    return f"for i in $(seq {count}); do curl -sS --max-time 2 {url}; echo; done"


def get(where, url: str, count: int = 1) -> str:
    """``count`` GETs of ``url`` from ``where`` (:func:`in_pod`, :func:`on_host`, :func:`outside`)."""
    return where(loop(count, url)).stdout


def seen_by_backend(text: str) -> list[tuple[str, str]]:
    """``/cgi-bin/addr`` answers: (backend, the client address it saw; httpd shows it as ``[::ffff:a.b.c.d]``)."""
    return [(name, source.removeprefix("[::ffff:").removesuffix("]"))
            for name, source in (line.split() for line in text.splitlines() if line.strip())]


def connect(address: str, port: int) -> str:
    """A bash script opening a TCP connection: bash names the error (curl only says "Couldn't connect")."""
    return f"timeout 5 bash -c 'exec 3<>/dev/tcp/{address}/{port}'"


def assert_refused_at_once(run_script, address: str, port: int) -> None:
    """``run_script`` runs a bash script where the client is (a pod, the host, outside)."""
    started = time.monotonic()
    result = run_script(connect(address, port))
    assert "Connection refused" in result.stderr, f"expected a refusal, got {result.returncode}: {result.stderr}"
    assert time.monotonic() - started < 1.5


def in_pod(lab: ServiceLab):
    return lambda script: lab.exec("client", script)


def on_host(script: str) -> subprocess.CompletedProcess:
    return run("bash", "-c", script, check=False)


def outside(lab: ServiceLab):
    return lambda script: lab.outside("bash", "-c", script)


# -- ClusterIP -------------------------------------------------------------------------------


def test_cluster_ip_reaches_every_backend_from_a_pod_and_from_the_host(lab):
    cluster_ip = lab.service_ip(20)
    lab.sync([service("web", cluster_ip=cluster_ip)], [endpoints("web", *backends(lab, "be1", "be2", "be3"),
                                                                 ports=HTTP)])
    url = f"http://{cluster_ip}/"
    for seen in (hostnames(get(in_pod(lab), url, 30)), hostnames(get(on_host, url, 30))):
        assert len(seen) == 30
        assert set(seen) == {"be1", "be2", "be3"}


def test_a_service_without_endpoints_refuses_at_once(lab, node_ports):
    cluster_ip, node_port = lab.service_ip(21), next(node_ports)
    lab.sync([service("empty", {"port": 80, "protocol": "TCP", "nodePort": node_port}, type="NodePort",
                      cluster_ip=cluster_ip)], [endpoints("empty", ports=HTTP)])
    assert_refused_at_once(in_pod(lab), cluster_ip, 80)
    assert_refused_at_once(on_host, cluster_ip, 80)
    assert_refused_at_once(outside(lab), lab.nodes["node-1"], node_port)


def test_client_ip_affinity_sends_a_client_to_one_backend(lab):
    cluster_ip = lab.service_ip(22)
    lab.sync([service("sticky", cluster_ip=cluster_ip, sessionAffinity="ClientIP")],
             [endpoints("sticky", *backends(lab, "be1", "be2", "be3"), ports=HTTP)])
    seen = hostnames(get(in_pod(lab), f"http://{cluster_ip}/", 20))
    assert len(seen) == 20 and len(set(seen)) == 1


def test_an_endpoint_reaching_its_own_service_is_answered(lab):
    """Hairpin: be1 is the only endpoint; without masquerading it would answer itself and drop the
    answer. (The lab sets hairpin mode on the bridge ports, as the kubelet does.)"""
    cluster_ip = lab.service_ip(23)
    lab.sync([service("self", cluster_ip=cluster_ip)], [endpoints("self", *backends(lab, "be1"), ports=HTTP)])
    # busybox's static wget crashes in these images; a bare HTTP request through nc does the same
    answer = lab.exec("be1", f'printf "GET /cgi-bin/addr HTTP/1.0\\r\\n\\r\\n" | nc -w 2 {cluster_ip} 80',
                      shell="sh").stdout
    assert seen_by_backend(answer.strip().splitlines()[-1]) == [("be1", lab.network.gateway)]  # after the headers


def test_an_endpoint_on_the_hosts_gateway_address_serves_pods_and_the_host(lab):
    """kube-dns' shape: a selectorless Service whose endpoint is the bridge gateway, where the host listens."""

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<p>Hello, the-host</p>")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer((lab.network.gateway, 0), Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        cluster_ip = lab.service_ip(24)
        lab.sync([service("on-host", cluster_ip=cluster_ip)],
                 [endpoints("on-host", (lab.network.gateway, None),
                            ports=({"port": server.server_address[1], "protocol": "TCP"},))])
        assert hostnames(get(in_pod(lab), f"http://{cluster_ip}/")) == ["the-host"]
        assert hostnames(get(on_host, f"http://{cluster_ip}/")) == ["the-host"]
    finally:
        server.shutdown()
        server.server_close()


def test_udp_service_answers_pods_and_the_host(lab):
    cluster_ip = lab.service_ip(25)
    lab.sync([service("echo-udp", {"port": 5353, "protocol": "UDP"}, cluster_ip=cluster_ip)],
             [endpoints("echo-udp", (lab.pod_ip(1, 20), "node-1"), ports=({"port": 9000, "protocol": "UDP"},))])
    # head reads the whole datagram at once (bash's read would take one byte of it and drop the rest)
    answer = lab.exec("client", f"exec 3<>/dev/udp/{cluster_ip}/5353; printf ping >&3; timeout 3 head -n 1 <&3").stdout
    assert answer.strip() == "udp udp1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(b"ping", (cluster_ip, 5353))
        assert sock.recv(1024).strip() == b"udp udp1"


# -- NodePort, LoadBalancer and the traffic policies -----------------------------------------


def test_nodeport_answers_on_each_node_address_and_masquerades_with_the_cluster_policy(lab, node_ports):
    node_port = next(node_ports)
    lab.sync([service("np", {"port": 80, "protocol": "TCP", "nodePort": node_port}, type="NodePort",
                      cluster_ip=lab.service_ip(30))], [endpoints("np", *backends(lab, "be1", "be2"), ports=HTTP)])
    for address in lab.nodes.values():
        answers = seen_by_backend(get(outside(lab), f"http://{address}:{node_port}/cgi-bin/addr", 10))
        assert len(answers) == 10
        assert {source for _, source in answers} == {lab.network.gateway}  # the client's address is hidden
        assert len(hostnames(get(on_host, f"http://{address}:{node_port}/", 3))) == 3
        assert len(hostnames(get(in_pod(lab), f"http://{address}:{node_port}/", 3))) == 3


def test_local_policy_answers_only_where_a_backend_runs_and_keeps_the_clients_address(lab, node_ports):
    node_port = next(node_ports)
    lab.sync([service("np-local", {"port": 80, "protocol": "TCP", "nodePort": node_port}, type="NodePort",
                      cluster_ip=lab.service_ip(31), externalTrafficPolicy="Local")],
             [endpoints("np-local", *backends(lab, "be2"), ports=HTTP)])
    node1, node2 = lab.nodes["node-1"], lab.nodes["node-2"]
    assert seen_by_backend(get(outside(lab), f"http://{node2}:{node_port}/cgi-bin/addr", 5)) == \
        [("be2", lab.client_ip)] * 5
    assert_refused_at_once(outside(lab), node1, node_port)
    # the host's own requests are a client of the node it addresses, too
    assert hostnames(get(on_host, f"http://{node2}:{node_port}/")) == ["be2"]
    assert_refused_at_once(on_host, node1, node_port)
    # pods are exempt, as in kube-proxy: they reach the service through any node
    assert hostnames(get(in_pod(lab), f"http://{node1}:{node_port}/")) == ["be2"]


def test_load_balancer_ips_answer_on_the_service_port_with_either_policy(lab, node_ports):
    node1, node2 = lab.nodes["node-1"], lab.nodes["node-2"]
    ingress = {"loadBalancer": {"ingress": [{"ip": node1}, {"ip": node2}]}}
    lab.sync([service("lb", {"port": 8080, "protocol": "TCP", "nodePort": next(node_ports), "targetPort": 80},
                      type="LoadBalancer", cluster_ip=lab.service_ip(32), status=ingress),
              service("lb-local", {"port": 8081, "protocol": "TCP", "nodePort": next(node_ports), "targetPort": 80},
                      type="LoadBalancer", cluster_ip=lab.service_ip(33), status=ingress,
                      externalTrafficPolicy="Local")],
             [endpoints("lb", *backends(lab, "be1", "be2", "be3"), ports=HTTP),
              endpoints("lb-local", *backends(lab, "be3"), ports=HTTP)])
    assert set(hostnames(get(outside(lab), f"http://{node1}:8080/", 30))) == {"be1", "be2", "be3"}
    assert seen_by_backend(get(outside(lab), f"http://{node2}:8081/cgi-bin/addr", 3)) == \
        [("be3", lab.client_ip)] * 3
    assert_refused_at_once(outside(lab), node1, 8081)


def test_with_one_local_node_every_local_address_is_that_nodes(lab, node_ports):
    """A real machine: one node, and NodePorts on all of the host's addresses (here the gateway too)."""
    cluster_port, local_port, elsewhere_port = next(node_ports), next(node_ports), next(node_ports)
    lab.sync([service("one-cluster", {"port": 80, "protocol": "TCP", "nodePort": cluster_port}, type="NodePort",
                      cluster_ip=lab.service_ip(40)),
              service("one-local", {"port": 80, "protocol": "TCP", "nodePort": local_port}, type="NodePort",
                      cluster_ip=lab.service_ip(41), externalTrafficPolicy="Local"),
              service("one-elsewhere", {"port": 80, "protocol": "TCP", "nodePort": elsewhere_port}, type="NodePort",
                      cluster_ip=lab.service_ip(42), externalTrafficPolicy="Local")],
             [endpoints("one-cluster", *backends(lab, "be2"), ports=HTTP),
              endpoints("one-local", *backends(lab, "be1"), ports=HTTP),
              endpoints("one-elsewhere", *backends(lab, "be2"), ports=HTTP)],
             nodes={"node-1": lab.nodes["node-1"]})
    gateway, node2_address = lab.network.gateway, lab.nodes["node-2"]
    assert hostnames(get(outside(lab), f"http://{gateway}:{cluster_port}/")) == ["be2"]
    assert seen_by_backend(get(outside(lab), f"http://{node2_address}:{local_port}/cgi-bin/addr")) == \
        [("be1", lab.client_ip)]
    assert_refused_at_once(outside(lab), gateway, elsewhere_port)


# -- the rules themselves --------------------------------------------------------------------


def our_chains(lab: ServiceLab) -> set[str]:
    return {line[1:].split()[0] for line in lab.saved().splitlines() if line.startswith(f":{lab.prefix}")}


def test_removing_a_service_removes_its_rules_and_keeps_the_others(lab):
    web_ip, gone_ip = lab.service_ip(50), lab.service_ip(51)
    web = service("web", cluster_ip=web_ip)
    web_endpoints = endpoints("web", *backends(lab, "be1"), ports=HTTP)
    lab.sync([web, service("gone", cluster_ip=gone_ip)], [web_endpoints, endpoints("gone", *backends(lab, "be2"),
                                                                                   ports=HTTP)])
    assert hostnames(get(in_pod(lab), f"http://{gone_ip}/")) == ["be2"]
    with_gone = our_chains(lab)
    lab.sync([web], [web_endpoints])
    remaining = our_chains(lab)
    assert len(with_gone - remaining) == 2  # gone's service and endpoint chains
    assert gone_ip not in lab.saved()
    assert hostnames(get(in_pod(lab), f"http://{gone_ip}/")) == []
    assert hostnames(get(in_pod(lab), f"http://{web_ip}/")) == ["be1"]
    # every jump once, however many syncs ran
    assert lab.saved().count(f"dockyard cluster {lab.uid}") == 7


def test_without_privileges_the_error_says_to_run_as_root(lab):
    result = run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                 f"from agent.network.proxy import cleanup; cleanup({lab.uid!r})", check=False)
    assert result.returncode != 0
    assert "IptablesError" in result.stderr and "must run as root or with the CAP_NET_ADMIN capability" in result.stderr


def test_cleanup_leaves_no_chain_or_jump_and_touches_nothing_else(lab):
    cluster_ip = lab.service_ip(60)
    last = [service("last", cluster_ip=cluster_ip)], [endpoints("last", *backends(lab, "be1"), ports=HTTP)]
    lab.sync(*last)
    before = lab.saved()
    assert lab.prefix in before
    dockers_own = [line for line in before.splitlines() if lab.bridge in line and lab.prefix not in line]
    assert dockers_own  # Docker's rules for the lab's bridge, which cleanup must leave alone

    assert cleanup(lab.uid) is True
    after = lab.saved()
    assert lab.prefix not in after and lab.uid not in after
    assert [line for line in after.splitlines() if lab.bridge in line] == dockers_own
    assert hostnames(get(in_pod(lab), f"http://{cluster_ip}/")) == []
    assert cleanup(lab.uid) is False

    # rules someone removed come back with the next forced resync
    lab.sync(*last, force=True)
    assert hostnames(get(in_pod(lab), f"http://{cluster_ip}/")) == ["be1"]
