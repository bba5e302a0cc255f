"""The cluster DNS server over real sockets, and a real resolver in a Docker container asking it.

Every server here listens on a run-unique loopback address (127.x.y.z, all of 127/8 is local on
Linux) and a port the kernel picks; the upstreams it forwards to are servers this module starts:
one that answers (dnslib's server with a fixed zone) and one that never does. The Docker test
makes a run-unique network, binds the DNS server on its gateway at port 53 (where a pod's
resolv.conf points), and runs ``dig``, ``nslookup`` and glibc's ``getent`` in a container whose
resolv.conf is the one a pod in namespace ``default`` gets. Everything is removed at teardown.
"""

from __future__ import annotations

import random
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import docker
import pytest
from dnslib import QTYPE, RCODE, RR, A, DNSRecord, EDNS0
from dnslib.server import BaseResolver, DNSLogger
from dnslib.server import DNSServer as DnslibServer

from agent.network.clusterview import NetworkSnapshot
from agent.network.dns.errors import BindFailure, DnsBindError
from agent.network.dns.resolver import Resolver
from agent.network.dns.server import DnsServer
from agent.network.dns.upstream import DEFAULT_TIMEOUT, Upstream
from agent.network.resolvconf import pod_resolv_conf
from orchestrator.api.clusternetwork import ClusterNetwork

pytestmark = pytest.mark.docker

RUN = uuid.uuid4().hex[:10]
NETWORK = ClusterNetwork()
TIMEOUT = DEFAULT_TIMEOUT  # the upstream deadline (2 s)
PROMPT = 1.0  # what "at once" means on a busy 2-core test machine: well under the deadline
CLIENT_TIMEOUT = 5.0
UPSTREAM_ZONE = {"www.example.com.": "192.0.2.80", "example.org.": "192.0.2.81"}
HEADLESS_ENDPOINTS = 40
CLIENT_IMAGE = "alicek106/ubuntu:curl"

SNAPSHOT = NetworkSnapshot(
    services=(
        {"metadata": {"name": "web", "namespace": "default", "resourceVersion": "7"},
         "spec": {"clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"],
                  "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}},
        {"metadata": {"name": "big", "namespace": "default"}, "spec": {"clusterIP": "None"}},
        {"metadata": {"name": "ext", "namespace": "default"},
         "spec": {"type": "ExternalName", "externalName": "www.example.com"}},
        {"metadata": {"name": "ext-gone", "namespace": "default"},
         "spec": {"type": "ExternalName", "externalName": "gone.example.net"}},
    ),
    endpoints=(
        {"metadata": {"name": "big", "namespace": "default"},
         "subsets": [{"addresses": [{"ip": f"10.244.1.{n}"} for n in range(2, 2 + HEADLESS_ENDPOINTS)]}]},
    ),
)


def loopback_address() -> str:
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


# -- upstreams -------------------------------------------------------------------------------------


class FixedZone(BaseResolver):
    """A stand-in for the host's resolver: a few A records, NXDOMAIN for everything else."""

    def __init__(self) -> None:
        self.questions: list[tuple[str, str]] = []

    def resolve(self, request, handler):
        name, qtype = str(request.q.qname).lower(), QTYPE.get(request.q.qtype)
        self.questions.append((name, qtype))
        reply = request.reply()
        if name not in UPSTREAM_ZONE:
            reply.header.rcode = RCODE.NXDOMAIN
        elif qtype == "A":
            reply.add_answer(RR(name, QTYPE.A, ttl=60, rdata=A(UPSTREAM_ZONE[name])))
        return reply


@pytest.fixture(scope="module")
def upstream():
    zone, address = FixedZone(), loopback_address()
    quiet = DNSLogger(logf=lambda *_: None)
    udp = DnslibServer(zone, address=address, port=0, logger=quiet)
    port = udp.server.server_address[1]
    tcp = DnslibServer(zone, address=address, port=port, tcp=True, logger=quiet)
    servers = [udp, tcp]
    try:
        for server in servers:
            server.start_thread()
        yield Upstream(address, port), zone
    finally:
        for server in servers:
            server.stop()
            server.server.server_close()


@pytest.fixture(scope="module")
def silent_upstream():
    """A UDP port that takes every datagram and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((loopback_address(), 0))
        yield Upstream(*sock.getsockname())
    finally:
        sock.close()


@pytest.fixture
def start_server():
    started = []

    def start(upstreams, *, address: str | None = None, port: int = 0, snapshot=SNAPSHOT, **options) -> DnsServer:
        resolver = Resolver(NETWORK, lambda: snapshot, lambda: upstreams, timeout=TIMEOUT)
        server = DnsServer(resolver, address or loopback_address(), port, **options)
        server.start()
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def server(start_server, upstream):
    return start_server([upstream[0]])


def ask(server: DnsServer, name: str, qtype: str = "A", *, tcp: bool = False, edns: int | None = None) -> DNSRecord:
    request = DNSRecord.question(name, qtype)
    if edns:
        request.add_ar(EDNS0(udp_len=edns))
    reply = DNSRecord.parse(request.send(server.address, server.port, tcp=tcp, timeout=CLIENT_TIMEOUT))
    assert reply.header.id == request.header.id
    return reply


def addresses(reply: DNSRecord) -> list[str]:
    return [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]


# -- cluster names over UDP and TCP ----------------------------------------------------------------


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_cluster_names_over_both_transports(server, tcp: bool) -> None:
    reply = ask(server, "web.default.svc.cluster.local", tcp=tcp)
    assert (reply.header.rcode, reply.header.aa, addresses(reply)) == (RCODE.NOERROR, 1, ["10.96.0.20"])
    assert reply.rr[0].ttl == 5
    srv = ask(server, "_http._tcp.web.default.svc.cluster.local", "SRV", tcp=tcp)
    assert [(rr.rdata.port, str(rr.rdata.target)) for rr in srv.rr] == [(80, "web.default.svc.cluster.local.")]


def test_nxdomain_and_nodata_on_the_wire(server) -> None:
    nodata = ask(server, "web.default.svc.cluster.local", "AAAA")
    assert (nodata.header.rcode, nodata.rr, [QTYPE.get(rr.rtype) for rr in nodata.auth]) == (RCODE.NOERROR, [], ["SOA"])
    missing = ask(server, "nope.default.svc.cluster.local")
    assert (missing.header.rcode, [QTYPE.get(rr.rtype) for rr in missing.auth]) == (RCODE.NXDOMAIN, ["SOA"])


def test_a_big_answer_is_truncated_over_udp_and_whole_over_tcp(server) -> None:
    truncated = ask(server, "big.default.svc.cluster.local")
    assert (truncated.header.tc, truncated.rr) == (1, [])
    assert len(addresses(ask(server, "big.default.svc.cluster.local", tcp=True))) == HEADLESS_ENDPOINTS
    assert len(addresses(ask(server, "big.default.svc.cluster.local", edns=4096))) == HEADLESS_ENDPOINTS


def test_several_questions_on_one_tcp_connection(server) -> None:
    with socket.create_connection((server.address, server.port), timeout=CLIENT_TIMEOUT) as connection:
        for name, expected in [("web.default.svc.cluster.local", ["10.96.0.20"]), ("www.example.com", ["192.0.2.80"])]:
            request = DNSRecord.question(name)
            packet = request.pack()
            connection.sendall(len(packet).to_bytes(2, "big") + packet)
            length = int.from_bytes(connection.recv(2), "big")
            data = b""
            while len(data) < length:
                data += connection.recv(length - len(data))
            assert addresses(DNSRecord.parse(data)) == expected


def test_garbage_gets_formerr_and_the_server_keeps_answering(server) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(CLIENT_TIMEOUT)
        sock.sendto(b"\xbe\xefnot a dns message", (server.address, server.port))
        reply = DNSRecord.parse(sock.recv(512))
    assert (reply.header.id, reply.header.rcode) == (0xBEEF, RCODE.FORMERR)
    assert addresses(ask(server, "web.default.svc.cluster.local")) == ["10.96.0.20"]


# -- forwarding ------------------------------------------------------------------------------------


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_other_names_are_forwarded_to_the_upstream(server, upstream, tcp: bool) -> None:
    reply = ask(server, "www.example.com", tcp=tcp)
    assert (reply.header.rcode, addresses(reply)) == (RCODE.NOERROR, ["192.0.2.80"])
    assert ask(server, "nothing.example.com", tcp=tcp).header.rcode == RCODE.NXDOMAIN
    assert ("www.example.com.", "A") in upstream[1].questions


def test_external_name_gets_the_cname_and_the_targets_address(server) -> None:
    reply = ask(server, "ext.default.svc.cluster.local")
    assert [(QTYPE.get(rr.rtype), str(rr.rdata)) for rr in reply.rr] == [
        ("CNAME", "www.example.com."), ("A", "192.0.2.80")]
    gone = ask(server, "ext-gone.default.svc.cluster.local")  # the upstream says NXDOMAIN
    assert (gone.header.rcode, [QTYPE.get(rr.rtype) for rr in gone.rr]) == (RCODE.NOERROR, ["CNAME"])


def test_an_upstream_that_never_answers_means_servfail_within_the_timeout(start_server, silent_upstream) -> None:
    server = start_server([silent_upstream])
    for tcp in (False, True):  # TCP to a UDP-only port is refused at once
        started = time.monotonic()
        reply = ask(server, "www.example.com", tcp=tcp)
        elapsed = time.monotonic() - started
        assert reply.header.rcode == RCODE.SERVFAIL
        assert elapsed < TIMEOUT + 0.5, f"SERVFAIL took {elapsed:.2f} s"
    # an ExternalName whose target cannot be resolved still answers its CNAME, after the deadline
    external = ask(server, "ext.default.svc.cluster.local")
    assert (external.header.rcode, [QTYPE.get(rr.rtype) for rr in external.rr]) == (RCODE.NOERROR, ["CNAME"])


def test_a_dead_upstream_gives_way_to_the_next(start_server, silent_upstream, upstream) -> None:
    server = start_server([silent_upstream, upstream[0]])
    started = time.monotonic()
    assert addresses(ask(server, "example.org")) == ["192.0.2.81"]
    assert time.monotonic() - started < TIMEOUT + 0.5


def test_single_label_names_fail_at_once_even_with_a_dead_upstream(start_server, silent_upstream) -> None:
    server = start_server([silent_upstream])
    started = time.monotonic()
    assert ask(server, "unknown-svc").header.rcode == RCODE.NXDOMAIN
    assert ask(server, "unknown-svc.default.svc.cluster.local").header.rcode == RCODE.NXDOMAIN
    assert time.monotonic() - started < PROMPT


def test_hanging_forwards_neither_block_cluster_names_nor_pile_up(start_server, silent_upstream) -> None:
    server = start_server([silent_upstream], max_forwards=2)
    with ThreadPoolExecutor(max_workers=3) as pool:
        hanging = [pool.submit(ask, server, f"slow{n}.example.com") for n in range(2)]
        time.sleep(0.2)  # both are now waiting on the silent upstream
        started = time.monotonic()
        assert ask(server, "overflow.example.com").header.rcode == RCODE.SERVFAIL  # no slot left: at once
        assert addresses(ask(server, "web.default.svc.cluster.local")) == ["10.96.0.20"]
        assert time.monotonic() - started < PROMPT
        assert [future.result().header.rcode for future in hanging] == [RCODE.SERVFAIL] * 2


# -- lifecycle -------------------------------------------------------------------------------------


def test_stop_is_prompt_with_an_idle_connection_and_a_pending_forward(start_server, silent_upstream) -> None:
    server = start_server([silent_upstream])
    idle = socket.create_connection((server.address, server.port), timeout=CLIENT_TIMEOUT)
    asking = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        asking.sendto(DNSRecord.question("x.example.com").pack(), (server.address, server.port))
        time.sleep(0.1)  # the forward now waits on the silent upstream
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < PROMPT
        assert idle.recv(1) == b"", "stop() closes open TCP connections"
    finally:
        idle.close()
        asking.close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as again:
        again.bind((server.address, server.port))  # the port is free again


def test_a_taken_port_and_a_missing_address_are_named(start_server, upstream) -> None:
    running = start_server([upstream[0]])
    with pytest.raises(DnsBindError) as taken:
        DnsServer(running.resolver, running.address, running.port).start()
    assert taken.value.reason is BindFailure.ADDRESS_IN_USE
    assert f"{running.address}:{running.port}/udp" in str(taken.value)
    with pytest.raises(DnsBindError) as missing:
        DnsServer(running.resolver, "192.0.2.1", 0).start()  # TEST-NET-1: on no interface
    assert missing.value.reason is BindFailure.ADDRESS_NOT_AVAILABLE
    assert "no interface of this host has that address" in str(missing.value)


# -- a real resolver in a container ----------------------------------------------------------------


@pytest.fixture(scope="module")
def docker_client():
    client = docker.from_env()
    client.ping()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def pod_network(docker_client):
    """A run-unique Docker network; the DNS server listens on its gateway, as on the cluster's bridge."""
    name = f"dydns-{RUN}"
    network = docker_client.networks.create(name, driver="bridge", labels={"io.dockyard.test": RUN})
    try:
        network.reload()
        yield network, network.attrs["IPAM"]["Config"][0]["Gateway"]
    finally:
        for container in docker_client.containers.list(all=True, filters={"label": f"io.dockyard.test={RUN}"}):
            container.remove(force=True)
        network.remove()


def run_in_container(docker_client, network, resolv_conf, tmp_path, script: str) -> str:
    path = tmp_path / "resolv.conf"
    path.write_text(resolv_conf)
    container = docker_client.containers.run(
        CLIENT_IMAGE, ["bash", "-c", script], detach=True, name=f"dydns-{RUN}-{uuid.uuid4().hex[:6]}",
        labels={"io.dockyard.test": RUN}, network=network.name,
        volumes={str(path): {"bind": "/etc/resolv.conf", "mode": "ro"}})
    try:
        status = container.wait(timeout=60)
        output = container.logs().decode()
        assert status["StatusCode"] == 0, output
        return output
    finally:
        container.remove(force=True)


def test_real_resolvers_in_a_container_accept_the_answers(start_server, upstream, pod_network, docker_client,
                                                          tmp_path) -> None:
    network, gateway = pod_network
    server = start_server([upstream[0]], address=gateway, port=53)
    pod = {"metadata": {"namespace": "default"}, "spec": {}}
    resolv_conf = pod_resolv_conf(pod, NETWORK, "").replace(NETWORK.dns_service_ip, server.address)
    script = """
        set -u
        echo "== dig"; dig +short web.default.svc.cluster.local
        echo "== dig srv"; dig +short SRV _http._tcp.web.default.svc.cluster.local
        echo "== nslookup"; nslookup ext.default.svc.cluster.local
        echo "== getent web"; getent hosts web
        echo "== getent web.default"; getent hosts web.default
        echo "== getent external"; getent hosts www.example.com
        echo "== tcp"; dig +tcp +short big.default.svc.cluster.local | wc -l
        echo "== truncated"; dig +notcp +ignore +noedns big.default.svc.cluster.local | grep -o 'flags: [a-z ]*'
        echo "== unknown"; start=$(date +%s%N); getent hosts unknown-svc; echo "exit $?"
        echo "ms $(( ($(date +%s%N) - start) / 1000000 ))"
    """
    output = run_in_container(docker_client, network, resolv_conf, tmp_path, script)
    sections = dict(part.split("\n", 1) for part in output.split("== ")[1:])
    assert sections["dig"].split() == ["10.96.0.20"], output
    assert sections["dig srv"].split() == ["0", "100", "80", "web.default.svc.cluster.local."], output
    assert "canonical name = www.example.com." in sections["nslookup"], output
    assert "Address: 192.0.2.80" in sections["nslookup"], output
    assert sections["getent web"].split() == ["10.96.0.20", "web.default.svc.cluster.local"], output
    assert sections["getent web.default"].split()[0] == "10.96.0.20", output
    assert sections["getent external"].split() == ["192.0.2.80", "www.example.com"], output
    assert sections["tcp"].strip() == str(HEADLESS_ENDPOINTS), output
    assert "tc" in sections["truncated"].split(), output
    unknown = sections["unknown"].split()
    assert unknown[:2] == ["exit", "2"], output  # getent: key not found
    assert int(unknown[-1]) < 1000, f"an unknown name took {unknown[-1]} ms to fail"
