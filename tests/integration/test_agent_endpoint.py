"""The agent's logs/exec endpoint against the real Docker engine, over real mutual TLS.

Containers are made here directly with docker-py and labelled as an agent labels them (a
run-unique cluster uid), so the endpoint is tested without the rest of the agent; the client
side is the API server's own pinning code (:class:`AgentTLS`). Everything is removed at teardown.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
import uuid

import docker
import httpx
import pytest
from websockets.sync.client import connect

from agent import labels
from agent.config import AgentConfig
from agent.endpoint import AgentEndpoint
from agent.labels import Owner
from orchestrator.api import errors
from orchestrator.api.agentendpoint import logs_path, stream_path
from orchestrator.api.remotecommand import (
    Channel, ExecOptions, StreamVerb, Subprotocol, TerminalSize, exit_code_of, frame, unframe,
)
from orchestrator.apiserver.agenttls import AgentAddress, AgentTLS
from orchestrator.cluster.pki import ensure_apiserver_client_cert, ensure_ca, ensure_server_cert
from orchestrator.cluster.statedir import StateDir

pytestmark = pytest.mark.docker

IMAGE = "alicek106/rr-test:echo-hostname"
NAMESPACE = "default"
POD = "web"
POD_UID = str(uuid.uuid4())
TIMESTAMPED = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")


@pytest.fixture(scope="module")
def docker_client():
    client = docker.from_env()
    client.ping()
    yield client
    client.close()


@pytest.fixture(scope="module")
def owner(docker_client):
    run = uuid.uuid4().hex
    owner = Owner(f"test-{run}", "node-a")
    yield owner
    for container in docker_client.containers.list(all=True, filters={"label": [f"{labels.CLUSTER}={owner.cluster_uid}"]}):
        container.remove(force=True)


def _run(client, owner: Owner, container: str, attempt: int, script: str, *, node: str | None = None,
         pod_uid: str = POD_UID, pod: str = POD):
    wanted = {**owner.labels(), labels.POD_NAMESPACE: NAMESPACE, labels.POD_NAME: pod, labels.POD_UID: pod_uid,
              labels.CONTAINER: container, labels.RESTART_COUNT: str(attempt)}
    if node:
        wanted[labels.NODE] = node
    return client.containers.run(IMAGE, ["sh", "-c", script], labels=wanted, detach=True,
                                 name=labels.container_name(owner.cluster_uid, NAMESPACE, pod, container,
                                                            pod_uid, attempt) + (f"-{node}" if node else ""))


@pytest.fixture(scope="module")
def pod_containers(docker_client, owner):
    """``app``: an exited first run and a running second one; ``once``: prints, then exits in
    about a second; the sandbox; and a container of *another node* named like ``app``."""
    previous = _run(docker_client, owner, "app", 0, "echo previous run; exit 1")
    previous.wait(timeout=30)
    _run(docker_client, owner, "app", 1, "echo current run; sleep 0.2; echo to stderr >&2; sleep 300")
    _run(docker_client, owner, "once", 0, "for i in 1 2 3; do echo line $i; sleep 0.3; done")
    _run(docker_client, owner, labels.SANDBOX, 0, "sleep 300")
    _run(docker_client, owner, "other", 0, "echo not yours; sleep 300", node="node-b")
    time.sleep(0.5)  # let the running ones print their first lines


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    state = StateDir(tmp_path_factory.mktemp("pki"))
    ensure_ca(state)
    ensure_server_cert(state, [])
    ensure_apiserver_client_cert(state)
    return state


@pytest.fixture(scope="module")
def endpoint(owner, pki, pod_containers, tmp_path_factory):
    config = AgentConfig(server="https://127.0.0.1:1", token="unused", node_name=owner.node_name,
                         state_dir=tmp_path_factory.mktemp("agent"), node_ip="127.0.0.1", listen="127.0.0.1:0")
    endpoint = AgentEndpoint(config, owner, pki.ca_cert.read_text()).start()
    yield endpoint
    endpoint.stop()


@pytest.fixture(scope="module")
def pinned(endpoint, pki) -> ssl.SSLContext:
    tls = AgentTLS(pki.kubelet_client_cert, pki.kubelet_client_key)
    address = AgentAddress("node-a", "127.0.0.1", endpoint.port, endpoint.fingerprint)
    return asyncio.run(tls.context(address))


def _logs(endpoint, context, container: str, **query) -> httpx.Response:
    url = f"https://127.0.0.1:{endpoint.port}{logs_path(NAMESPACE, POD, container)}"
    with httpx.Client(verify=context, timeout=10) as client:
        return client.get(url, params={"podUID": POD_UID, **query})


def test_logs_of_the_current_instance(endpoint, pinned):
    response = _logs(endpoint, pinned, "app")
    assert response.status_code == 200
    assert response.text == "current run\nto stderr\n"


def test_tail_and_timestamps(endpoint, pinned):
    response = _logs(endpoint, pinned, "app", tailLines="1", timestamps="true")
    lines = response.content.splitlines(keepends=True)
    assert len(lines) == 1 and TIMESTAMPED.match(lines[0]) and lines[0].endswith(b" to stderr\n")


def test_limit_bytes(endpoint, pinned):
    assert _logs(endpoint, pinned, "app", limitBytes="7").text == "current"


def test_previous_instance(endpoint, pinned):
    assert _logs(endpoint, pinned, "app", previous="true").text == "previous run\n"


def test_previous_when_there_is_none(endpoint, pinned):
    response = _logs(endpoint, pinned, "once", previous="true")
    assert response.status_code == 400
    assert response.json()["message"] == 'previous terminated container "once" in pod "web" not found'


def test_follow_streams_each_line_as_it_comes_and_ends_when_the_container_stops(endpoint, pinned, docker_client,
                                                                              owner):
    _run(docker_client, owner, "ticker", 0, "echo tick 1; sleep 1; echo tick 2; sleep 1; echo tick 3")
    url = f"https://127.0.0.1:{endpoint.port}{logs_path(NAMESPACE, POD, 'ticker')}"
    arrivals = []
    started = time.monotonic()
    with httpx.Client(verify=pinned, timeout=10) as client:
        with client.stream("GET", url, params={"podUID": POD_UID, "follow": "true"}) as response:
            for line in response.iter_lines():
                arrivals.append((line, time.monotonic() - started))
    assert [line for line, _ in arrivals] == ["tick 1", "tick 2", "tick 3"]
    assert arrivals[0][1] < 1.5 <= arrivals[-1][1] < 8  # line by line, not at the end


def test_only_own_containers_are_visible(endpoint, pinned):
    for container in ("other", labels.SANDBOX, "missing"):
        response = _logs(endpoint, pinned, container)
        assert response.status_code == 400
        assert response.json()["message"] == f'container "{container}" in pod "web" is waiting to start: ContainerCreating'
    wrong_uid = _logs(endpoint, pinned, "app", podUID=str(uuid.uuid4()))
    assert wrong_uid.status_code == 400


def _exec(endpoint, context, container: str, command: list[str], *, stdin: bytes | None = None,
          resize: TerminalSize | None = None):
    query = ExecOptions(tuple(command), container, stdin=stdin is not None or resize is not None,
                        stderr=resize is None, tty=resize is not None).to_query()
    url = (f"wss://127.0.0.1:{endpoint.port}{stream_path(StreamVerb.EXEC, NAMESPACE, POD, container)}?"
           + httpx.QueryParams([*query, ("podUID", POD_UID)]).__str__())
    out: dict[int, bytes] = {Channel.STDOUT: b"", Channel.STDERR: b"", Channel.ERROR: b""}
    with connect(url, ssl=context, subprotocols=[Subprotocol.V5.value], open_timeout=10) as ws:
        assert ws.subprotocol == Subprotocol.V5.value
        if resize is not None:
            ws.send(frame(Channel.RESIZE, resize.payload()))
        if stdin is not None:
            ws.send(frame(Channel.STDIN, stdin))
            ws.send(frame(Channel.CLOSE, bytes([Channel.STDIN])))
        for message in ws:
            channel, payload = unframe(message)
            out[channel] += payload
    return out[Channel.STDOUT], out[Channel.STDERR], json.loads(out[Channel.ERROR])


def test_exec_output_and_exit_code(endpoint, pinned):
    stdout, stderr, status = _exec(endpoint, pinned, "app", ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (stdout, stderr) == (b"out\n", b"err\n")
    assert exit_code_of(status) == 3
    assert status["message"].endswith("[sh -c echo out; echo err >&2; exit 3], exit code 3")


def test_exec_success_and_stdin(endpoint, pinned):
    stdout, _, status = _exec(endpoint, pinned, "app", ["cat"], stdin=b"hello\nworld\n")
    assert stdout == b"hello\nworld\n"
    assert status["status"] == "Success"


def test_exec_with_a_terminal_of_the_clients_size(endpoint, pinned):
    stdout, _, status = _exec(endpoint, pinned, "app", ["sh", "-c", "sleep 0.5; stty size; tty"],
                              resize=TerminalSize(100, 30))
    assert re.fullmatch(rb"30 100\r\n/dev/pts/\d+\r\n", stdout)
    assert status["status"] == "Success"


def test_exec_needs_a_running_container_of_ours(endpoint, pinned):
    for container in ("once", "other", labels.SANDBOX):
        if container == "once":
            _wait_exited(container)
        _, _, status = _exec(endpoint, pinned, container, ["true"])
        assert status["status"] == "Failure" and status["message"] == f'container not found ("{container}")'


def _wait_exited(container: str) -> None:
    client = docker.from_env()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = client.containers.list(filters={"label": [f"{labels.CONTAINER}={container}",
                                                          f"{labels.POD_UID}={POD_UID}"]})
        if not found:
            return
        time.sleep(0.1)
    raise AssertionError(f"{container} did not exit")


def test_clients_without_the_apiserver_certificate_are_refused(endpoint, pki, tmp_path):
    url = f"https://127.0.0.1:{endpoint.port}{logs_path(NAMESPACE, POD, 'app')}"
    trusting = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    trusting.check_hostname = False
    trusting.verify_mode = ssl.CERT_NONE
    # no client certificate at all
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        httpx.get(url, params={"podUID": POD_UID}, verify=trusting)
    # the API server's *serving* certificate: CA-signed, but its EKU is serverAuth only
    serving = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    serving.check_hostname = False
    serving.verify_mode = ssl.CERT_NONE
    serving.load_cert_chain(pki.server_cert, pki.server_key)
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        httpx.get(url, params={"podUID": POD_UID}, verify=serving)
    # a client certificate from another cluster's CA
    other = StateDir(tmp_path / "other")
    ensure_ca(other)
    ensure_apiserver_client_cert(other)
    foreign = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    foreign.check_hostname = False
    foreign.verify_mode = ssl.CERT_NONE
    foreign.load_cert_chain(other.kubelet_client_cert, other.kubelet_client_key)
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        httpx.get(url, params={"podUID": POD_UID}, verify=foreign)


def test_stopping_with_a_follower_attached_is_quick(owner, pki, tmp_path):
    config = AgentConfig(server="https://127.0.0.1:1", token="unused", node_name=owner.node_name, state_dir=tmp_path,
                         listen="127.0.0.1:0")
    endpoint = AgentEndpoint(config, owner, pki.ca_cert.read_text()).start()
    tls = AgentTLS(pki.kubelet_client_cert, pki.kubelet_client_key)
    context = asyncio.run(tls.context(AgentAddress("node-a", "127.0.0.1", endpoint.port, endpoint.fingerprint)))
    url = f"https://127.0.0.1:{endpoint.port}{logs_path(NAMESPACE, POD, 'app')}"
    with httpx.Client(verify=context, timeout=10) as client:
        with client.stream("GET", url, params={"podUID": POD_UID, "follow": "true"}) as response:
            assert next(response.iter_lines()) == "current run"
            started = time.monotonic()
            endpoint.stop()  # the container keeps running and is quiet: only the stop ends this
            assert time.monotonic() - started < 5


def test_a_wrong_pin_is_refused(endpoint, pki):
    tls = AgentTLS(pki.kubelet_client_cert, pki.kubelet_client_key)
    address = AgentAddress("node-a", "127.0.0.1", endpoint.port, "0" * 64)
    with pytest.raises(errors.ApiError) as refused:
        asyncio.run(tls.context(address))
    assert refused.value.code == 503 and "refusing to talk to it" in refused.value.message


def test_the_serving_certificate_survives_a_restart(owner, pki, endpoint, tmp_path):
    config = AgentConfig(server="https://127.0.0.1:1", token="unused", node_name="node-c", state_dir=tmp_path,
                         listen="127.0.0.1:0")
    first = AgentEndpoint(config, owner, pki.ca_cert.read_text()).fingerprint
    assert AgentEndpoint(config, owner, pki.ca_cert.read_text()).fingerprint == first
    assert first != endpoint.fingerprint


def test_the_node_routes_answer_the_api_server_and_nobody_else(owner, pki, tmp_path):
    """``/healthz`` and ``/pods``, which ``nodes/NAME/proxy`` reaches: as authenticated as the rest."""
    running = {"metadata": {"name": "web", "namespace": NAMESPACE, "uid": POD_UID}, "spec": {"nodeName": "node-a"}}
    config = AgentConfig(server="https://127.0.0.1:1", token="unused", node_name=owner.node_name, state_dir=tmp_path,
                         listen="127.0.0.1:0")
    endpoint = AgentEndpoint(config, owner, pki.ca_cert.read_text(), pods=lambda: [running]).start()
    try:
        tls = AgentTLS(pki.kubelet_client_cert, pki.kubelet_client_key)
        context = asyncio.run(tls.context(AgentAddress("node-a", "127.0.0.1", endpoint.port, endpoint.fingerprint)))
        base = f"https://127.0.0.1:{endpoint.port}"
        with httpx.Client(verify=context, timeout=10) as client:
            health = client.get(f"{base}/healthz")
            assert (health.status_code, health.text) == (200, "ok")
            assert client.get(f"{base}/pods").json() == {"kind": "PodList", "apiVersion": "v1", "metadata": {},
                                                         "items": [running]}
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
            httpx.get(f"{base}/healthz", verify=False)  # no client certificate
    finally:
        endpoint.stop()
