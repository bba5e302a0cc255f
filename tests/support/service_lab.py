"""A pod network on the real kernel and Docker, without a control plane: the service proxy's test bench.

:class:`ServiceLab` builds what an agent host has when the proxy runs — a run-unique Docker bridge
network over a free /16 (the bridge named as the cluster's, gateway .1), two local node addresses
on that bridge (node-1 .11, node-2 .12 as /32s) — plus what tests need to look at it: containers
with static pod IPs, and an *outside* client in a network namespace of its own, reaching the host
over a veth pair from another free range (a NodePort client on another interface, whose source
address is neither a pod's nor the host's).

The cluster uid is random, so the proxy's chains (``DY-<TAG>-…``), the bridge ``dy-<tag>``, the
netns and the veth carry names no other run uses. :meth:`ServiceLab.close` removes every container,
the network, the addresses, the namespace and every iptables chain and jump of the cluster, even
when building failed half way; it is what the fixtures call in ``finally``.
"""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path
import time
import uuid
from dataclasses import dataclass, field

import docker
from docker.types import IPAMConfig, IPAMPool

from orchestrator.api.clusternetwork import ClusterNetwork

from agent.network.clusterview import NetworkSnapshot
from agent.network.names import bridge_name, chain_prefix, cluster_tag
from agent.network.proxy import ServiceProxy, cleanup
from tests.support.address_ranges import free_cluster_cidr
from tests.support.waiting import wait_for

ECHO_IMAGE = "alicek106/rr-test:echo-hostname"
CLIENT_IMAGE = "alicek106/ubuntu:curl"
LABEL = "io.dockyard.test.service-proxy"

#: busybox httpd CGI answering ``HOSTNAME REMOTE_ADDR``: who answered, and whom it saw
_ADDR_CGI = '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\necho "$(hostname) $REMOTE_ADDR"\n'
_ECHO_COMMAND = ["sh", "-c", 'printf "%s" "$ADDR_CGI" > /www/cgi-bin/addr && chmod +x /www/cgi-bin/addr '
                 '&& exec httpd -f -p 80 -h /www']
#: a UDP server answering every datagram with ``udp HOSTNAME``
_UDP_COMMAND = ["perl", "-MIO::Socket::INET", "-e",
                'my $s = IO::Socket::INET->new(LocalPort => $ENV{PORT}, Proto => "udp") or die "bind: $!"; '
                'chomp(my $me = `hostname`); while ($s->recv(my $m, 1024)) { $s->send("udp $me\\n") }']


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=check)


@dataclass
class ServiceLab:
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    network: ClusterNetwork | None = None
    nodes: dict[str, str] = field(default_factory=dict)    # node name → its address on the bridge
    client_ip: str = ""                                     # the outside client's address (in the netns)
    proxy: ServiceProxy | None = None
    _engine: docker.DockerClient = field(default_factory=docker.from_env)
    _containers: list[str] = field(default_factory=list)
    _docker_network: str = ""
    _netns: str = ""

    # -- building ----------------------------------------------------------------------------

    def open(self) -> ServiceLab:
        cluster_cidr = free_cluster_cidr()
        service_cidr = _another_free_range(cluster_cidr)
        self.network = ClusterNetwork(cluster_cidr=cluster_cidr, service_cidr=service_cidr)
        self._docker_network = f"dytest-proxy-{self.tag}"
        self._engine.networks.create(
            self._docker_network, driver="bridge", labels={LABEL: self.uid},
            options={"com.docker.network.bridge.name": self.bridge},
            ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=cluster_cidr, gateway=self.network.gateway)]))
        for ordinal, node in enumerate(("node-1", "node-2"), start=1):
            self.nodes[node] = self.network.local_node_address(ordinal)
            run("ip", "addr", "add", f"{self.nodes[node]}/32", "dev", self.bridge)
        self._open_outside_client(_another_free_range(cluster_cidr, service_cidr))
        self.proxy = ServiceProxy(self.uid, self.network, self.nodes)
        return self

    def _open_outside_client(self, free_range: str) -> None:
        block = next(ipaddress.IPv4Network(free_range).subnets(new_prefix=30))
        host_side, self.client_ip = (str(block.network_address + 1), str(block.network_address + 2))
        self._netns = f"dyt-{self.tag}"
        run("ip", "netns", "add", self._netns)
        run("ip", "link", "add", self.veth_host, "type", "veth", "peer", "name", self.veth_ns)
        run("ip", "link", "set", self.veth_ns, "netns", self._netns)
        run("ip", "addr", "add", f"{host_side}/30", "dev", self.veth_host)
        run("ip", "link", "set", self.veth_host, "up")
        for command in (("ip", "addr", "add", f"{self.client_ip}/30", "dev", self.veth_ns),
                        ("ip", "link", "set", self.veth_ns, "up"), ("ip", "link", "set", "lo", "up"),
                        ("ip", "route", "add", "default", "via", host_side)):
            run("ip", "netns", "exec", self._netns, *command)

    def pod_ip(self, node_index: int, host: int) -> str:
        """An address in the ``node_index``-th node block (1-based), e.g. pod_ip(2, 10) = 10.X.2.10."""
        return str(ipaddress.IPv4Network(self.network.node_cidr(node_index)).network_address + host)

    def service_ip(self, host: int) -> str:
        return str(self.network.services.network_address + host)

    def start_echo(self, name: str, ip: str) -> str:
        """An echo-hostname backend at ``ip``: ``GET /`` → ``<p>Hello, NAME</p>``, ``GET /cgi-bin/addr`` →
        ``NAME CLIENT-ADDRESS``."""
        self._start(ECHO_IMAGE, name, ip, _ECHO_COMMAND, {"ADDR_CGI": _ADDR_CGI})
        wait_for(f"backend {name} at {ip} to answer", lambda: self.host_get(f"http://{ip}/", timeout=1))
        return ip

    def start_udp(self, name: str, ip: str, port: int) -> str:
        return self._start(CLIENT_IMAGE, name, ip, _UDP_COMMAND, {"PORT": str(port)})

    def start_client(self, name: str, ip: str) -> str:
        return self._start(CLIENT_IMAGE, name, ip, ["sleep", "infinity"], {})

    def _start(self, image: str, name: str, ip: str, command: list[str], environment: dict) -> str:
        container = self._engine.containers.create(
            image, command, name=f"dytest-{self.tag}-{name}", hostname=name, labels={LABEL: self.uid},
            environment=environment, detach=True, network=self._docker_network,
            networking_config={self._docker_network: self._engine.api.create_endpoint_config(ipv4_address=ip)})
        self._containers.append(container.id)
        container.start()
        self._hairpin_ports()
        return ip

    def _hairpin_ports(self) -> None:
        """Let the bridge send a frame back out of the port it came in by: a pod reaching its own
        Service is DNATed to itself, and br_netfilter then bridges the frame straight back (the
        kubelet's ``--hairpin-mode=hairpin-veth`` does this for every pod). Masquerading, the
        proxy's half of hairpinning, makes the pod answer through the gateway."""
        for port in Path("/sys/class/net", self.bridge, "brif").glob("*/hairpin_mode"):
            port.write_text("1")

    # -- using -------------------------------------------------------------------------------

    def sync(self, services: list[dict], endpoints: list[dict] | None = None, nodes: dict[str, str] | None = None,
             force: bool = False) -> None:
        """What the agent holding the host lock does on every change (``nodes``: the local nodes, by
        default both)."""
        self.proxy.local_nodes = dict(nodes or self.nodes)
        self.proxy.sync(NetworkSnapshot(services=tuple(services), endpoints=tuple(endpoints or ())), force=force)

    def exec(self, name: str, script: str, shell: str = "bash") -> subprocess.CompletedProcess:
        """Run a ``script`` in one of the lab's containers (busybox ones have ``sh`` only)."""
        return run("docker", "exec", f"dytest-{self.tag}-{name}", shell, "-c", script, check=False)

    def outside(self, *argv: str) -> subprocess.CompletedProcess:
        """Run a command as the outside client (in its network namespace)."""
        return run("ip", "netns", "exec", self._netns, *argv, check=False)

    @staticmethod
    def host_get(url: str, timeout: float = 2) -> str:
        """GET from the host itself ('' when it fails)."""
        return run("curl", "-sS", "--max-time", str(timeout), url, check=False).stdout

    def saved(self) -> str:
        return run("iptables-save").stdout

    # -- names -------------------------------------------------------------------------------

    @property
    def tag(self) -> str:
        return cluster_tag(self.uid)

    @property
    def bridge(self) -> str:
        return bridge_name(self.uid)

    @property
    def prefix(self) -> str:
        return chain_prefix(self.uid)

    @property
    def veth_host(self) -> str:
        return f"dyv-{self.tag}h"

    @property
    def veth_ns(self) -> str:
        return f"dyv-{self.tag}n"

    # -- tearing down ------------------------------------------------------------------------

    def close(self) -> None:
        """Remove everything the lab made; each step runs even if another failed, errors come last."""
        failures = []
        steps = [lambda: cleanup(self.uid)]
        steps += [lambda cid=cid: self._engine.api.remove_container(cid, force=True) for cid in self._containers]
        if self._docker_network:
            steps.append(self._remove_network)
        if self._netns:
            steps += [lambda: run("ip", "netns", "del", self._netns, check=False),
                      lambda: run("ip", "link", "del", self.veth_host, check=False)]
        for step in steps:
            try:
                step()
            except Exception as error:  # noqa: BLE001 - keep tearing down, report at the end
                failures.append(repr(error))
        self._engine.close()
        if failures:
            raise RuntimeError("service lab teardown incomplete: " + "; ".join(failures))

    def _remove_network(self) -> None:
        # removing the network removes its bridge, and the node addresses with it
        for _ in range(20):
            try:
                self._engine.networks.get(self._docker_network).remove()
                return
            except docker.errors.NotFound:
                return
            except docker.errors.APIError:
                time.sleep(0.5)  # a container still detaching
        self._engine.networks.get(self._docker_network).remove()


def _another_free_range(*taken: str) -> str:
    for _ in range(50):
        candidate = free_cluster_cidr()
        if candidate not in taken:
            return candidate
    raise RuntimeError(f"no free /16 besides {taken}")
