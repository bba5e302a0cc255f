"""``kubectl logs`` / ``kubectl exec`` (and ``dockyard logs`` / ``exec``, and the Python client)
through a real API server to a real agent endpoint over mutual TLS, against real containers.

The node is assembled by hand so this runs without the rest of the agent: an
:class:`AgentEndpoint` in this process, a Node object publishing its address, port and certificate
pin, pods bound to it, and Docker containers labelled as the agent labels its own. Everything
carries a run-unique cluster uid and is removed at teardown.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid

import docker
import pytest
from kubernetes import client as k8s, config as k8s_config
from kubernetes.stream import stream
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from agent import labels
from agent.config import AgentConfig
from agent.endpoint import AgentEndpoint
from agent.labels import Owner
from orchestrator.api.agentendpoint import SERVING_CERT_ANNOTATION
from orchestrator.cluster.tokens import TokenBook
from orchestrator.cluster.statedir import StateDir
from tests.support.controlplane import ControlPlaneProcess, free_port
from tests.support.kubectl import Kubectl
from tests.support.terminal import COLUMNS, ROWS, on_a_terminal

pytestmark = [pytest.mark.docker, pytest.mark.kubectl]

IMAGE = "alicek106/rr-test:echo-hostname"
NODE = "node-a"
TICKER = "echo current run; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    base = tmp_path_factory.mktemp("logs-exec")
    server = ControlPlaneProcess(base / "state", free_port()).start()
    owner = Owner(f"test-{uuid.uuid4().hex}", NODE)
    docker_client = docker.from_env()
    endpoint = None
    try:
        config = AgentConfig(server=server.url, token="unused", node_name=NODE, state_dir=base / "agent",
                             node_ip="127.0.0.1", listen="127.0.0.1:0")
        endpoint = AgentEndpoint(config, owner, StateDir(server.state_dir).ca_cert.read_text()).start()
        with server.client() as api:
            _register_node(api, endpoint)
            web = _pod(api, "web", ["app"])
            duo = _pod(api, "duo", ["app", "side"])
        previous = _run(docker_client, owner, web, "app", 0, "echo previous run; exit 1")
        previous.wait(timeout=30)
        _run(docker_client, owner, web, "app", 1, TICKER)
        _run(docker_client, owner, duo, "app", 0, "echo I am app; sleep 300")
        _run(docker_client, owner, duo, "side", 0, "echo I am side; sleep 300")
        time.sleep(0.5)
        yield server, Kubectl(server.kubeconfig, base / "kube-cache")
    finally:
        if endpoint is not None:
            endpoint.stop()
        server.stop()
        for container in docker_client.containers.list(
                all=True, filters={"label": [f"{labels.CLUSTER}={owner.cluster_uid}"]}):
            container.remove(force=True)
        docker_client.close()


def _register_node(api, endpoint: AgentEndpoint) -> None:
    """A Node as an agent registers it: status in the create (the node lifecycle controller starts
    writing the node's conditions at once, so a later status PUT would race it)."""
    node = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": NODE, "annotations": {SERVING_CERT_ANNOTATION: endpoint.fingerprint}},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": endpoint.port}}}}
    created = api.post("/api/v1/nodes", json=node)
    assert created.status_code == 201, created.text


def _pod(api, name: str, containers: list[str]) -> dict:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"nodeName": NODE, "containers": [{"name": c, "image": IMAGE} for c in containers]}}
    created = api.post("/api/v1/namespaces/default/pods", json=pod)
    assert created.status_code == 201, created.text
    return created.json()


def _run(client, owner: Owner, pod: dict, container: str, attempt: int, script: str):
    meta = pod["metadata"]
    wanted = {**owner.labels(), labels.POD_NAMESPACE: "default", labels.POD_NAME: meta["name"],
              labels.POD_UID: meta["uid"], labels.CONTAINER: container, labels.RESTART_COUNT: str(attempt)}
    return client.containers.run(IMAGE, ["sh", "-c", script], labels=wanted, detach=True,
                                 name=labels.container_name(owner.cluster_uid, "default", meta["name"], container,
                                                            meta["uid"], attempt))


def _dockyard(server: ControlPlaneProcess, verb: str, *args: str, input: str | None = None
             ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orchestrator.cli.main", verb, "--kubeconfig", str(server.kubeconfig),
                           *args], capture_output=True, text=True, input=input, timeout=60)


# -- logs -------------------------------------------------------------------------------------


def test_kubectl_logs(stage):
    _, kubectl = stage
    assert kubectl("logs", "web").startswith("current run\ntick 1\n")
    assert kubectl("logs", "web", "--previous") == "previous run\n"
    last = kubectl("logs", "web", "--tail=1", "--timestamps").splitlines()
    assert len(last) == 1 and last[0].split(" ", 1)[1].startswith("tick ")


def test_kubectl_logs_follow_streams_new_lines(stage):
    _, kubectl = stage
    lines = kubectl.first_lines(3, "logs", "-f", "--tail=1", "web")
    numbers = [int(line.split()[1]) for line in lines]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3, lines


def test_kubectl_logs_container_choice(stage):
    _, kubectl = stage
    defaulted = kubectl.run("logs", "duo")
    assert defaulted.stdout == "I am app\n"
    assert 'Defaulted container "app" out of: app, side' in defaulted.stderr
    assert kubectl("logs", "duo", "-c", "side") == "I am side\n"
    wrong = kubectl.run("logs", "duo", "-c", "nope", check=False)
    assert (wrong.returncode, wrong.stderr) == (1, "error: container nope is not valid for pod duo\n")
    never = kubectl.run("logs", "duo", "-c", "side", "--previous", check=False)
    assert never.stderr.strip() == ('Error from server (BadRequest): previous terminated container "side" '
                                    'in pod "duo" not found')


def test_dockyard_logs(stage):
    server, _ = stage
    result = _dockyard(server, "logs", "web", "--previous")
    assert (result.returncode, result.stdout) == (0, "previous run\n")
    result = _dockyard(server, "logs", "duo", "--tail", "1")
    assert result.stdout == "I am app\n"
    assert 'Defaulted container "app" out of: app, side' in result.stderr
    wrong = _dockyard(server, "logs", "duo", "-c", "nope")
    assert (wrong.returncode, wrong.stderr) == (1, "error: container nope is not valid for pod duo\n")


# -- exec -------------------------------------------------------------------------------------


def test_kubectl_exec_passes_output_and_exit_code(stage):
    _, kubectl = stage
    result = kubectl.run("exec", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\ncommand terminated with exit code 3\n"
    assert kubectl("exec", "duo", "-c", "side", "--", "sh", "-c", "echo $((6 * 7))") == "42\n"


def test_kubectl_exec_with_stdin(stage):
    _, kubectl = stage
    assert kubectl("exec", "-i", "web", "--", "cat", input="hello\nworld\n") == "hello\nworld\n"


def test_kubectl_exec_errors(stage):
    _, kubectl = stage
    missing = kubectl.run("exec", "nosuch", "--", "true", check=False)
    assert missing.returncode == 1
    assert 'pods "nosuch" not found' in missing.stderr
    stopped = kubectl.run("exec", "web", "--", "no-such-binary", check=False)
    assert stopped.returncode == 126
    assert "executable file not found" in stopped.stdout


def test_dockyard_exec(stage):
    server, _ = stage
    result = _dockyard(server, "exec", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (result.returncode, result.stdout) == (3, "out\n")
    assert result.stderr == "err\ncommand terminated with exit code 3\n"
    piped = _dockyard(server, "exec", "-i", "web", "--", "cat", input="round trip\n")
    assert (piped.returncode, piped.stdout) == (0, "round trip\n")
    refused = _dockyard(server, "exec", "duo", "-c", "nope", "--", "true")
    assert refused.returncode == 1
    assert refused.stderr.strip() == "Error from server (BadRequest): container nope is not valid for pod duo"


@pytest.mark.parametrize("tool", ["kubectl", "dockyard"])
def test_exec_with_a_terminal(stage, tool):
    server, kubectl = stage
    program = (kubectl.command("exec") if tool == "kubectl" else
               [sys.executable, "-m", "orchestrator.cli.main", "exec", "--kubeconfig", str(server.kubeconfig)])
    session = on_a_terminal([*program, "-it", "web", "--", "sh", "-c", "sleep 0.5; stty size; tty; exit 4"],
                            timeout=30)
    output = session.output
    assert session.returncode == 4
    assert re.search(rf"{ROWS} {COLUMNS}\r\n/dev/pts/\d+\r\n", output), output
    assert output.endswith("command terminated with exit code 4\r\n"), output


def test_python_client_exec_over_v4(stage):
    server, _ = stage
    api = k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=str(server.kubeconfig)))
    session = stream(api.connect_get_namespaced_pod_exec, "web", "default",
                     command=["sh", "-c", "echo from python; exit 5"], stdout=True, stderr=True, stdin=False,
                     tty=False, _preload_content=False)
    session.run_forever(timeout=10)
    assert session.read_stdout() == "from python\n"
    assert session.returncode == 5


@pytest.mark.parametrize("subresource", ["exec?command=true&stdout=true", "attach?stdout=true"])
def test_exec_and_attach_need_more_than_a_node_token(stage, subresource):
    server, _ = stage
    tokens = TokenBook.for_state(StateDir(server.state_dir))
    url = f"wss://127.0.0.1:{server.port}/api/v1/namespaces/default/pods/web/{subresource}"
    for token in (tokens.issue_node(NODE), tokens.issue_node("node-b"), "not-a-token"):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, ssl=server.ssl_context(), additional_headers={"Authorization": f"Bearer {token}"},
                    subprotocols=["v5.channel.k8s.io"], open_timeout=10)
        assert refused.value.response.status_code in (401, 403)
