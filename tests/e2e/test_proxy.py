"""The ``proxy`` subresources and ``kubectl proxy`` on a cluster made by ``dockyard up``: real
kubectl, real Docker, real pods answering over the pod network.

The apps: the seed's ``hostname-deployment`` behind ``hostname-svc-clusterip`` (a *named* port,
``web-port`` 8080 → 80), and ``echo``, a busybox httpd whose CGI scripts print what reached them
(``/cgi-bin/env``: the request's method, query and headers; ``/cgi-bin/body``: the size and
SHA-256 of the body), behind a Service with an unnamed port. A WebSocket goes through
``nodes/NAME/proxy`` to the agent's own exec route, the one WebSocket server every node has.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess

import httpx
import pytest
import yaml
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from orchestrator.cluster import TokenBook
from tests.conftest import REPO
from tests.support.controlplane import free_port
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.kubectl]

SEEDS = REPO / "examples" / "seed"
IMAGE = "alicek106/rr-test:echo-hostname"
NODE = "node-1"
SEED_SERVICE = "hostname-svc-clusterip"
HELLO = re.compile(r"<p>Hello, (hostname-deployment-[a-z0-9]+-[a-z0-9]+)</p>")

#: busybox httpd with two CGI scripts; a pod, so its default proxy port is its containerPort
ECHO_SCRIPT = r"""
mkdir -p /srv/cgi-bin
printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\nenv | sort\n' > /srv/cgi-bin/env
printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\necho "$REQUEST_METHOD $CONTENT_LENGTH"\nhead -c "${CONTENT_LENGTH:-0}" | sha256sum\n' > /srv/cgi-bin/body
chmod +x /srv/cgi-bin/env /srv/cgi-bin/body
exec httpd -f -p 8080 -h /srv
"""
OBJECTS = [
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "echo", "labels": {"app": "echo"}},
     "spec": {"containers": [{"name": "echo", "image": IMAGE, "command": ["sh", "-c", ECHO_SCRIPT],
                              "ports": [{"containerPort": 8080}],
                              "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo"},
     "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": 8080}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nobody"},
     "spec": {"selector": {"app": "nobody"}, "ports": [{"port": 80}]}},
    # never scheduled (no node has this label), so it never gets an address
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nowhere"},
     "spec": {"nodeSelector": {"no-such": "node"}, "containers": [{"name": "c", "image": IMAGE}]}},
]


@pytest.fixture(scope="module")
def lab(cluster_factory, tmp_path_factory):
    cluster = cluster_factory(nodes=1)
    kubectl = cluster.kubectl()
    manifest = tmp_path_factory.mktemp("proxy") / "objects.yaml"
    manifest.write_text(yaml.safe_dump_all(OBJECTS))
    kubectl("apply", "-f", str(SEEDS / "hostname-deployment.yaml"), "-f", str(SEEDS / "hostname-svc-clusterip.yaml"),
            "-f", str(manifest))
    kubectl("rollout", "status", "deployment/hostname-deployment", "--timeout=120s", timeout=130)
    kubectl("wait", "--for=condition=Ready", "pod/echo", "--timeout=90s", timeout=100)
    wait_for("the echo Service's endpoint", lambda: "8080" in kubectl("get", "endpoints", "echo"), timeout=30)
    wait_for(f"{SEED_SERVICE}'s three endpoints",
             lambda: kubectl("get", "endpoints", SEED_SERVICE, "-o", "jsonpath={.subsets[*].addresses[*].ip}")
             .count(" ") == 2, timeout=30)
    return cluster


def raw(lab, path: str) -> subprocess.CompletedProcess:
    return lab.kubectl().run("get", "--raw", path, check=False)


def services(name: str) -> str:
    return f"/api/v1/namespaces/default/services/{name}/proxy"


def pods(name: str) -> str:
    return f"/api/v1/namespaces/default/pods/{name}/proxy"


def env_of(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_services_proxy_by_port_number_and_by_port_name(lab):
    for service in (f"{SEED_SERVICE}:8080", f"{SEED_SERVICE}:web-port", f"http:{SEED_SERVICE}:web-port"):
        answer = raw(lab, services(service) + "/")
        assert answer.returncode == 0 and HELLO.search(answer.stdout), (service, answer.stdout, answer.stderr)
    # several requests are spread over the pods, as kube-apiserver picks an endpoint each time
    seen = {HELLO.search(raw(lab, services(f"{SEED_SERVICE}:8080") + "/").stdout).group(1) for _ in range(12)}
    assert len(seen) >= 2, seen
    # an unnamed single port needs no port in the path at all
    assert "REQUEST_METHOD=GET" in raw(lab, services("echo") + "/cgi-bin/env").stdout


def test_services_proxy_errors_are_kubernetes_own(lab):
    cases = {
        # the seed's only port is named, so no port at all matches none of its endpoints' ports
        services(SEED_SERVICE) + "/": f'(ServiceUnavailable): no endpoints available for service "{SEED_SERVICE}"',
        services(f"{SEED_SERVICE}:9999") + "/":
            f'(ServiceUnavailable): no service port 9999 found for service "{SEED_SERVICE}"',
        services(f"{SEED_SERVICE}:no-such-port") + "/":
            f'(ServiceUnavailable): no endpoints available for service "{SEED_SERVICE}:no-such-port"',
        services("nobody") + "/": '(ServiceUnavailable): no endpoints available for service "nobody"',
        services("missing:80") + "/": '(NotFound): services "missing" not found',
        services("ftp:echo:80") + "/": '(BadRequest): invalid service request "ftp:echo:80"',
    }
    for path, said in cases.items():
        answer = raw(lab, path)
        assert answer.returncode != 0 and answer.stderr.strip() == f"Error from server {said}", (path, answer.stderr)
    with lab.client() as http:
        response = http.get(services("nobody") + "/")
    assert response.status_code == 503 and response.json()["reason"] == "ServiceUnavailable"


def test_pods_proxy_reaches_the_pod_ip_with_query_and_headers(lab):
    kubectl = lab.kubectl()
    pod_ip = kubectl("get", "pod", "echo", "-o", "jsonpath={.status.podIP}")
    with lab.client() as http:
        # no port: the pod's first containerPort (8080)
        response = http.get(pods("echo") + "/cgi-bin/env", params={"a": "1", "b": "x y"},
                            headers={"X-Learner": "hello", "X-Forwarded-For": "192.0.2.7", "Connection": "X-Secret",
                                     "X-Secret": "hop-by-hop"})
    assert response.status_code == 200, response.text
    env = env_of(response.text)
    assert env["REQUEST_METHOD"] == "GET" and env["QUERY_STRING"] == "a=1&b=x+y"
    assert env["HTTP_X_LEARNER"] == "hello"
    assert env["HTTP_X_FORWARDED_URI"] == pods("echo") + "/cgi-bin/env"
    assert env["HTTP_X_FORWARDED_FOR"] == "192.0.2.7, 127.0.0.1"
    # the admin's token was for the API server, and a header Connection names is one hop's only
    assert "HTTP_AUTHORIZATION" not in env and "HTTP_X_SECRET" not in env
    assert response.headers["content-type"] == "text/plain"
    # a port by number, on another pod
    name = HELLO.search(raw(lab, services(f"{SEED_SERVICE}:8080") + "/").stdout).group(1)
    assert f"<p>Hello, {name}</p>" in raw(lab, pods(f"{name}:80") + "/").stdout
    assert pod_ip


def test_every_method_and_a_body_larger_than_the_api_limit_stream_through(lab):
    body = os.urandom(5 * 1024 * 1024)  # more than the 3 MiB the API takes for an object
    with lab.client() as http:
        response = http.post(services("echo:80") + "/cgi-bin/body", content=body)
        assert response.status_code == 200, response.text
        assert response.text.split() == ["POST", str(len(body)), hashlib.sha256(body).hexdigest(), "-"]
        for method in ("PUT", "PATCH", "DELETE"):
            answer = http.request(method, services("echo") + "/cgi-bin/env")
            assert env_of(answer.text)["REQUEST_METHOD"] == method, answer.text
        head = http.head(services("echo") + "/cgi-bin/env")
        assert head.status_code == 200 and head.content == b""


def test_redirects_are_left_to_the_client_and_lead_back_through_the_proxy(lab):
    with lab.client() as http:
        # kube-apiserver's own: .../proxy without a slash is sent to .../proxy/
        response = http.get(pods("echo"), params={"q": "1"})
        assert response.status_code == 301 and response.headers["location"] == pods("echo") + "/?q=1"
        # the app's: busybox httpd sends /cgi-bin to /cgi-bin/, which the client must reach through the proxy
        response = http.get(services("echo") + "/cgi-bin")
        assert response.status_code in (301, 302), response.text
        assert response.headers["location"] == services("echo") + "/cgi-bin/"


def test_pod_errors_are_kubernetes_own(lab):
    cases = {
        pods("nowhere") + "/": "(BadRequest): address not allowed",
        pods("missing") + "/": '(NotFound): pods "missing" not found',
        pods("a:b:c:d") + "/": '(BadRequest): invalid pod request "a:b:c:d"',
    }
    for path, said in cases.items():
        answer = raw(lab, path)
        assert answer.stderr.strip() == f"Error from server {said}", (path, answer.stderr)
    pod_ip = lab.kubectl()("get", "pod", "echo", "-o", "jsonpath={.status.podIP}")
    refused = raw(lab, pods("echo:9") + "/")
    assert refused.stderr.strip() == (f"Error from server (ServiceUnavailable): error trying to reach service: "
                                      f"dial tcp {pod_ip}:9: connect: connection refused")


def test_nodes_proxy_reaches_the_agent_over_its_authenticated_endpoint(lab):
    assert raw(lab, f"/api/v1/nodes/{NODE}/proxy/healthz").stdout == "ok"
    listed = json.loads(raw(lab, f"/api/v1/nodes/{NODE}/proxy/pods").stdout)
    assert listed["kind"] == "PodList"
    names = {pod["metadata"]["name"] for pod in listed["items"]}
    assert "echo" in names and "nowhere" not in names
    assert all(pod["spec"]["nodeName"] == NODE for pod in listed["items"])
    missing = raw(lab, "/api/v1/nodes/no-such-node/proxy/healthz")
    assert missing.stderr.strip() == 'Error from server (NotFound): nodes "no-such-node" not found'


def test_kubectl_proxy_reaches_a_services_app(lab, tmp_path):
    port = free_port()
    proxy = subprocess.Popen(lab.kubectl().command("proxy", f"--port={port}"), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        started = proxy.stdout.readline()
        assert f"Starting to serve on 127.0.0.1:{port}" in started, started
        base = f"http://127.0.0.1:{port}"

        def curl(*args: str) -> str:
            return subprocess.run(["curl", "-sS", "--fail-with-body", "--max-time", "30", *args], capture_output=True,
                                  text=True, check=True).stdout

        # as a person would: curl through kubectl proxy to the Service's app
        assert HELLO.search(curl(f"{base}{services(SEED_SERVICE + ':web-port')}/"))
        # curl announces a body this large with Expect: 100-continue, and streams it after
        body = tmp_path / "body"
        body.write_bytes(os.urandom(2 * 1024 * 1024))
        posted = curl("--data-binary", f"@{body}", f"{base}{services('echo:80')}/cgi-bin/body").split()
        assert posted[:3] == ["POST", str(2 * 1024 * 1024), hashlib.sha256(body.read_bytes()).hexdigest()]
        with httpx.Client(base_url=base, timeout=30) as http:
            # and the API itself, for free
            assert http.get("/api/v1/namespaces/default/pods/echo").json()["metadata"]["name"] == "echo"
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)


def test_a_node_token_is_forbidden_every_proxy(lab):
    token = TokenBook.for_state(lab.state).issue_node(NODE)
    paths = {"services/proxy": services(f"{SEED_SERVICE}:8080") + "/", "pods/proxy": pods("echo") + "/cgi-bin/env",
             "nodes/proxy": f"/api/v1/nodes/{NODE}/proxy/healthz"}
    with lab.client(token=token) as http:
        for resource, path in paths.items():
            for method in ("GET", "POST"):
                response = http.request(method, path)
                status = response.json()
                verb = "get" if method == "GET" else "create"
                assert response.status_code == 403 and status["reason"] == "Forbidden", (path, response.text)
                assert f'User "system:node:{NODE}" cannot {verb} resource "{resource}"' in status["message"]


def test_a_websocket_goes_through_the_proxy_too(lab):
    """The agent serves exec as a WebSocket, so ``nodes/NAME/proxy/exec/…`` carries one end to end:
    client → API server → agent (mutual TLS) and back, messages and subprotocol unchanged."""
    uid = lab.kubectl()("get", "pod", "echo", "-o", "jsonpath={.metadata.uid}")
    url = (lab.url.replace("https://", "wss://") + f"/api/v1/nodes/{NODE}/proxy/exec/default/echo/echo"
           f"?command=hostname&stdout=true&podUID={uid}")
    with connect(url, ssl=lab.ssl_context(), subprotocols=[Subprotocol("v5.channel.k8s.io")],
                 additional_headers={"Authorization": f"Bearer {lab.token()}"}, open_timeout=30) as socket_:
        assert socket_.subprotocol == "v5.channel.k8s.io"
        frames = []
        with contextlib.suppress(ConnectionClosed):
            while True:
                frames.append(socket_.recv(timeout=30))
    stdout = b"".join(frame[1:] for frame in frames if frame[:1] == b"\x01")
    final = json.loads(next(frame[1:] for frame in frames if frame[:1] == b"\x03"))
    assert (stdout, final["status"]) == (b"echo\n", "Success")
