"""``kubectl port-forward`` on a cluster made by ``dockyard up``: kubectl → API server → agent over
mutual TLS → a socket inside the pod's network namespace, over both of kubectl 1.32's transports
(the WebSocket tunnel it tries first, and the SPDY upgrade it falls back to, forced with
``KUBECTL_PORT_FORWARD_WEBSOCKETS=false``)."""

from __future__ import annotations

import concurrent.futures
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from orchestrator.cli.lifecycle.processes import records
from tests.support.portforward_client import PortForwardClient
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.kubectl]

BIG = "/usr/share/nginx/html/big.bin"
#: a second server in the pod that only 127.0.0.1 reaches (busybox httpd in the sidecar)
LOCAL_ONLY = "mkdir -p /tmp/w && echo local-only > /tmp/w/index.html && exec httpd -f -p 127.0.0.1:8081 -h /tmp/w"
WEB = [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
     "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                  "terminationGracePeriodSeconds": 1,
                  "containers": [
                      {"name": "nginx", "image": "nginx:latest", "ports": [{"containerPort": 80, "name": "web"}]},
                      {"name": "local", "image": "alicek106/rr-test:echo-hostname",
                       "command": ["sh", "-c", LOCAL_ONLY]}]}}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
     "spec": {"selector": {"app": "web"}, "ports": [{"name": "web", "port": 8080, "targetPort": "web"}]}},
]
TRANSPORTS = {"websocket": {}, "spdy": {"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}}
#: the request line kubectl's ``-v=6`` logs for the upgrade: how each transport shows itself
UPGRADE_LINE = {"websocket": "GET", "spdy": "POST"}


@pytest.fixture(scope="module")
def lab(cluster_factory, tmp_path_factory):
    cluster = cluster_factory(nodes=1)
    kubectl = cluster.kubectl()
    manifest = tmp_path_factory.mktemp("manifests") / "web.yaml"
    manifest.write_text(yaml.safe_dump_all(WEB))
    kubectl("apply", "-f", str(manifest))
    kubectl("rollout", "status", "deploy/web", "--timeout=120s", timeout=130)
    return cluster, kubectl


def web_pod(kubectl) -> str:
    return kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}")


class Forward:
    """A running ``kubectl port-forward``: its local ports by remote port, and its output.

    Its output is read as it comes, by threads: kubectl prints a line per connection, and a
    pipe nobody reads fills up and stops kubectl (after some 2,000 connections)."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.ports: dict[int, int] = {}
        self._out: list[str] = []
        self._err: list[str] = []
        self._listening = threading.Event()
        self._readers = [threading.Thread(target=self._read, args=(process.stdout, self._out), daemon=True),
                         threading.Thread(target=self._read, args=(process.stderr, self._err), daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)
            found = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)", line)
            if found:
                self.ports[int(found[2])] = int(found[1])
                self._listening.set()
        self._listening.set()  # it ended: nothing more to wait for

    def wait_listening(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.ports) < count:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"kubectl port-forward is not listening: {self.stop()}")
            self._listening.wait(0.1)

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str, str]:
        """Ctrl-C (or ``sig``); the exit code and everything kubectl printed."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        for reader in self._readers:
            reader.join(timeout=10)
        return self.process.returncode, "".join(self._out), "".join(self._err)


@contextmanager
def port_forward(kubectl, target: str, *ports: str, transport: str = "websocket") -> Iterator[Forward]:
    """``kubectl port-forward TARGET PORTS…`` (``:80`` picks a free local port) until the block
    ends; kubectl is always stopped and reaped, so its ports are free again afterwards."""
    process = subprocess.Popen(kubectl.command("port-forward", "-v=6", target, *ports), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, **TRANSPORTS[transport]})
    forward = Forward(process)
    try:
        forward.wait_listening(len(ports))
        yield forward
    finally:
        forward.stop(signal.SIGKILL)


def get(port: int, path: str = "/", timeout: float = 20) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Connection": "close"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# -- traffic ------------------------------------------------------------------------------------

def test_200_requests_over_20_parallel_connections_to_a_deployment(lab):
    _, kubectl = lab
    with port_forward(kubectl, "deploy/web", ":80") as forward:
        port = forward.ports[80]

        def ten(_: int) -> int:
            return sum(status == 200 and b"Welcome to nginx" in body for status, body in (get(port) for _ in range(10)))

        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            answered = sum(pool.map(ten, range(20)))
        code, out, err = forward.stop()
    assert answered == 200, err
    assert out.count("Handling connection for") == 200
    assert code == 0 and "E1" not in err and "Unhandled Error" not in err, err


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_10_mb_download_arrives_intact(lab, transport):
    _, kubectl = lab
    pod = web_pod(kubectl)
    remote = kubectl("exec", pod, "-c", "nginx", "--", "sh", "-c",
                     f"test -f {BIG} || head -c 10485760 /dev/urandom > {BIG}; sha256sum {BIG}").split()[0]
    with port_forward(kubectl, f"pod/{pod}", ":80", transport=transport) as forward:
        status, body = get(forward.ports[80], "/big.bin", timeout=60)
        code, _, err = forward.stop()
    assert status == 200 and len(body) == 10 * 1024 * 1024
    assert hashlib.sha256(body).hexdigest() == remote
    # the transport really was the one asked for: the upgrade's method in kubectl's log
    assert re.search(rf"{UPGRADE_LINE[transport]} https://\S+/pods/{pod}/portforward 101 Switching Protocols", err), err
    assert code == 0


def test_a_port_bound_to_127_0_0_1_in_the_pod_and_several_pairs(lab):
    """The sidecar listens on 127.0.0.1:8081 only: from outside the pod (its IP) nothing answers,
    through port-forward it does, since the agent connects inside the pod's network namespace."""
    _, kubectl = lab
    pod_ip = kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].status.podIP}")
    with pytest.raises(OSError):
        socket.create_connection((pod_ip, 8081), timeout=3).close()
    with port_forward(kubectl, "deploy/web", ":8081", ":80") as forward:
        assert get(forward.ports[8081]) == (200, b"local-only\n")
        assert b"Welcome to nginx" in get(forward.ports[80])[1]


def test_svc_name_reaches_a_pod_behind_the_service(lab):
    """kubectl resolves ``svc/web :web`` to a pod of the Service and the named port to 80."""
    _, kubectl = lab
    with port_forward(kubectl, "svc/web", ":web") as forward:
        status, body = get(forward.ports[80])
    assert status == 200 and b"Welcome to nginx" in body


# -- a refused connection -------------------------------------------------------------------------

@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_refused_connection_gets_the_kubelets_error(lab, transport):
    """Nothing listens on 9999. The connection is refused with the kubelet's message, which
    kubectl prints; kubectl 1.32 (client-go since 1.23) then ends the whole forward, as it does
    against Kubernetes. The next port-forward works at once."""
    _, kubectl = lab
    pod = web_pod(kubectl)
    uid = kubectl("get", "pod", pod, "-o", "jsonpath={.metadata.uid}")
    with port_forward(kubectl, "deploy/web", ":9999", transport=transport) as forward:
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            get(forward.ports[9999])
        forward.process.wait(timeout=15)  # kubectl hangs up by itself
        code, _, err = forward.stop()
    assert (f"an error occurred forwarding {forward.ports[9999]} -> 9999: error forwarding port 9999 to pod {pod}, "
            f"uid {uid}: failed to connect to localhost:9999 inside namespace") in err, err
    assert "IPv4: dial tcp4 127.0.0.1:9999: connect: connection refused" in err, err
    assert "error: lost connection to pod" in err and code == 1, err
    with port_forward(kubectl, "deploy/web", ":80", transport=transport) as again:
        assert get(again.ports[80])[0] == 200


def test_the_session_keeps_serving_its_other_connections_after_a_refused_one(lab):
    """What kubectl cannot show (it hangs up first): in one session, a connection that is
    refused leaves one in flight and later ones working."""
    cluster, kubectl = lab
    pod = web_pod(kubectl)
    client = PortForwardClient(cluster.url, f"/api/v1/namespaces/default/pods/{pod}/portforward",
                               cluster.token(), cluster.ssl_context())
    try:
        assert client.status == 101, client.response_head
        assert b"x-stream-protocol-version: portforward.k8s.io" in client.response_head.lower()
        in_flight = client.open(80)
        in_flight.send(b"GET / HTTP/1.0\r\n")  # half a request, the rest after the refusal
        refused = client.open(9999)
        assert "failed to connect to localhost:9999" in refused.error_message()
        assert client.streams[refused.data].reset
        in_flight.send(b"\r\n")
        assert b"Welcome to nginx" in in_flight.read_until_end()
        in_flight.reset()
        assert in_flight.error_message() == ""
        later = client.open(80)
        later.send(b"GET / HTTP/1.0\r\n\r\n")
        assert b"Welcome to nginx" in later.read_until_end()
        assert not client.goaway.is_set()
    finally:
        client.close()


# -- who may --------------------------------------------------------------------------------------

@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_node_token_gets_403_on_pods_portforward(lab, transport):
    cluster, kubectl = lab
    pod = web_pod(kubectl)
    node_token = (cluster.state_dir / "agents" / "node-1" / "node-token").read_text().strip()
    path = f"/api/v1/namespaces/default/pods/{pod}/portforward"
    if transport == "spdy":
        client = PortForwardClient(cluster.url, path, node_token, cluster.ssl_context())
        client.close()
        status, answer = client.status, client.body
    else:
        with cluster.client(token=node_token) as http_client:
            response = http_client.get(path, headers={
                "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "SPDY/3.1+portforward.k8s.io"})
        status, answer = response.status_code, response.content
    assert status == 403, answer
    assert json.loads(answer)["message"] == ('pods/portforward is forbidden: User "system:node:node-1" cannot create '
                                             'resource "pods/portforward" in API group "" in the namespace "default"')


# -- the end --------------------------------------------------------------------------------------

def agent_pid(cluster) -> int:
    return next(record.pid for record in records(cluster.state) if record.name.startswith("agent-"))


def session_leftovers(pid: int) -> list[str]:
    """Open pidfds and pod network namespaces in the agent: one of each per open session (the
    agent's own namespace, held by its socket thread, is not a pod's)."""
    own = os.readlink(f"/proc/{pid}/ns/net")
    links = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            links.append(os.readlink(fd))
        except OSError:
            continue
    return [link for link in links if link == "anon_inode:[pidfd]" or (link.startswith("net:[") and link != own)]


def test_ctrl_c_then_the_pods_deletion_end_everything_cleanly(lab):
    cluster, kubectl = lab
    pid = agent_pid(cluster)
    threads = len(os.listdir(f"/proc/{pid}/task"))
    with port_forward(kubectl, "deploy/web", ":80") as forward:
        held = [socket.create_connection(("127.0.0.1", forward.ports[80])) for _ in range(5)]
        for sock in held:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # keep-alive: the connections stay open
            assert b"200 OK" in sock.recv(65536)
        assert len(session_leftovers(pid)) == 2  # this session's pidfd and namespace
        code, _, err = forward.stop()
        for sock in held:
            sock.close()
    assert code == 0, err
    wait_for("the agent to close the session", lambda: not session_leftovers(pid), explain=lambda: str(session_leftovers(pid)))

    pod = web_pod(kubectl)
    with port_forward(kubectl, f"pod/{pod}", ":80") as forward:
        assert get(forward.ports[80])[0] == 200
        kubectl("delete", "pod", pod, "--wait=false")
        forward.process.wait(timeout=60)  # the sandbox exits after the 1 s grace period
        code, _, err = forward.stop()
    assert code == 1 and "error: lost connection to pod" in err, err
    wait_for("the agent to close the session", lambda: not session_leftovers(pid), explain=lambda: str(session_leftovers(pid)))
    assert len(os.listdir(f"/proc/{pid}/task")) <= threads + 1  # at most the socket thread, made once
    kubectl("rollout", "status", "deploy/web", "--timeout=120s", timeout=130)
