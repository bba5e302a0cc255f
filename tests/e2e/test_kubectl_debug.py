"""``kubectl debug`` on a cluster made by ``dockyard up``: ephemeral containers added to a running
pod by the real kubectl 1.32, run by the real agent in real Docker, read back with ``logs``,
``describe`` and an interactive terminal; and node debugging, which needs a cluster that allows
privileged pods.

``kubectl debug node/NAME`` and ``kubectl debug POD --copy-to=NEW`` create their pod with kubectl's
typed client, which sends it as protobuf (:mod:`orchestrator.api.wire`); the node debugger pod
kubectl builds is also posted as JSON, which the admission rules must judge the same.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.support.cluster import LAB_KNOBS
from tests.support.terminal import on_a_terminal
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.kubectl]

APP = "alicek106/rr-test:echo-hostname"    # busybox httpd: its processes are serve.sh and httpd
TOOLS = "alicek106/ubuntu:curl"            # the debugging image: sh, ps, curl


def target_pod(name: str) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
                       "spec": {"containers": [{"name": "app", "image": APP}]}})


@pytest.fixture(scope="module")
def lab(cluster_factory):
    cluster = cluster_factory(nodes=1)
    kubectl = cluster.kubectl()
    kubectl("apply", "-f", "-", input=target_pod("target"))
    kubectl("wait", "--for=condition=Ready", "pod/target", "--timeout=90s", timeout=100)
    return kubectl


def ephemeral_state(kubectl, pod: str, container: str) -> dict:
    statuses = json.loads(kubectl("get", "pod", pod, "-o", "json"))["status"].get("ephemeralContainerStatuses") or []
    return next((s["state"] for s in statuses if s["name"] == container), {})


def finished(kubectl, pod: str, container: str) -> dict:
    """The terminated state of an ephemeral container, once it has one."""
    return wait_for(f"ephemeral container {container} to finish",
                    lambda: ephemeral_state(kubectl, pod, container).get("terminated"),
                    explain=lambda: kubectl.run("describe", "pod", pod, check=False).stdout, timeout=60)


def test_debug_runs_a_command_in_an_ephemeral_container_shown_by_logs_and_describe(lab):
    result = lab.run("debug", "target", f"--image={TOOLS}", "-c", "dbg", "--", "sh", "-c", "echo ok")
    assert result.returncode == 0, result.stderr

    assert (finished(lab, "target", "dbg")["exitCode"], finished(lab, "target", "dbg")["reason"]) == (0, "Completed")
    assert lab("logs", "target", "-c", "dbg") == "ok\n"
    described = lab("describe", "pod", "target")
    section = described.split("Ephemeral Containers:\n", 1)[1]
    assert section.startswith("  dbg:\n"), described
    assert f"Image:         {TOOLS}" in section and "Reason:       Completed" in section
    # the pod itself is untouched: still running its own container, never restarted
    pod = json.loads(lab("get", "pod", "target", "-o", "json"))
    assert pod["status"]["phase"] == "Running" and pod["status"]["containerStatuses"][0]["restartCount"] == 0


def test_an_interactive_debug_session_on_a_terminal(lab):
    """``kubectl debug -it`` waits for the container, attaches to its shell on the terminal, and
    says the container will not be restarted once the shell exits."""
    argv = lab.command("debug", "-it", "target", f"--image={TOOLS}", "-c", "shell", "--profile=general", "--", "sh")
    session = on_a_terminal(argv, [("command prompt", "echo answer-$((6*7))\r"), ("answer-42", "exit\r")], timeout=90)
    assert session.returncode == 0, session.output
    assert "answer-42" in session.output
    assert "Session ended, the ephemeral container will not be restarted" in session.output
    assert finished(lab, "target", "shell")["exitCode"] == 0
    assert lab.run("attach", "target", "-c", "shell", check=False).returncode != 0  # it is gone for good


def test_target_shares_the_target_containers_processes(lab):
    lab("debug", "target", f"--image={TOOLS}", "-c", "peek", "--target=app", "--", "ps", "-e", "-o", "comm=")
    lab("debug", "target", f"--image={TOOLS}", "-c", "alone", "--", "ps", "-e", "-o", "comm=")
    finished(lab, "target", "peek")
    finished(lab, "target", "alone")
    assert {"serve.sh", "httpd", "ps"} <= set(lab("logs", "target", "-c", "peek").split())
    assert lab("logs", "target", "-c", "alone").split() == ["ps"]  # without --target, only its own


def test_ephemeral_containers_can_only_be_added(lab):
    """A name already taken, a target that does not exist, an existing ephemeral container changed:
    refused in Kubernetes' words, and nothing is written."""
    def debug(*args: str):
        return lab.run("debug", "target", f"--image={TOOLS}", "--profile=general", *args, check=False)

    debug("-c", "keep", "--", "true")
    before = json.loads(lab("get", "pod", "target", "-o", "json"))["spec"]["ephemeralContainers"]

    taken = debug("-c", "app", "--", "true")
    missing = debug("-c", "x", "--target=nosuch", "--", "true")
    changed = debug("-c", "keep", "--", "false")

    duplicate = 'The Pod "target" is invalid: spec.ephemeralContainers[{}].name: Duplicate value: "app"'
    assert (taken.returncode, taken.stderr.strip()) == (1, duplicate.format(len(before)))
    assert missing.returncode == 1 and missing.stderr.strip().endswith(
        f'spec.ephemeralContainers[{len(before)}].targetContainerName: Not found: "nosuch"')
    assert changed.returncode == 1 and changed.stderr.startswith(
        'The Pod "target" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers "keep" '
        "may not be changed\n  keep.")  # then what kubectl's patch would have changed
    assert json.loads(lab("get", "pod", "target", "-o", "json"))["spec"]["ephemeralContainers"] == before


def test_a_pod_keeps_its_ephemeral_containers_out_of_a_plain_update(lab):
    pod = json.loads(lab("get", "pod", "target", "-o", "json"))
    pod["spec"]["ephemeralContainers"] = pod["spec"]["ephemeralContainers"][1:]
    refused = lab.run("replace", "-f", "-", input=json.dumps(pod), check=False)
    assert refused.returncode == 1
    assert 'The Pod "target" is invalid: spec: Forbidden: pod updates may not change fields other than' \
        in refused.stderr


def test_the_python_client_adds_and_reads_ephemeral_containers(lab):
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(config_file=str(lab.kubeconfig)))
    body = {"spec": {"ephemeralContainers": [{"name": "py", "image": TOOLS, "command": ["true"]}]}}
    patched = api.patch_namespaced_pod_ephemeralcontainers("target", "default", body)
    assert "py" in [c.name for c in patched.spec.ephemeral_containers]
    finished(lab, "target", "py")
    read = api.read_namespaced_pod_ephemeralcontainers("target", "default")
    statuses = {s.name: s for s in read.status.ephemeral_container_statuses}
    assert statuses["py"].state.terminated.exit_code == 0 and statuses["py"].ready is False
    # PUT: the whole pod back with one more
    before = [c.name for c in read.spec.ephemeral_containers]
    read.spec.ephemeral_containers.append(client.V1EphemeralContainer(name="put", image=TOOLS, command=["true"]))
    replaced = api.replace_namespaced_pod_ephemeralcontainers("target", "default", read)
    assert [c.name for c in replaced.spec.ephemeral_containers] == [*before, "put"]


def test_debug_copy_to_makes_a_copy_with_a_debug_container(lab):
    lab("debug", "target", "--copy-to=target-copy", f"--image={TOOLS}", "-c", "dbg", "--", "sh", "-c", "echo copy",
        timeout=90)
    copy = json.loads(lab("get", "pod", "target-copy", "-o", "json"))
    assert [c["name"] for c in copy["spec"]["containers"]] == ["app", "dbg"]
    wait_for("the copy's debug container to finish",
             lambda: "copy\n" == lab.run("logs", "target-copy", "-c", "dbg", check=False).stdout)


# -- debugging a node --------------------------------------------------------------------------


def node_debugger(node: str, name: str, command: list[str]) -> str:
    """The pod ``kubectl debug node/NODE --profile=general -- COMMAND`` builds (kubectl 1.32's
    ``generateNodeDebugPod`` and general profile): the host's namespaces and its root at /host."""
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "containers": [{"name": "debugger", "image": TOOLS, "command": command,
                        "terminationMessagePolicy": "File", "volumeMounts": [{"name": "host-root",
                                                                             "mountPath": "/host"}]}],
        "hostIPC": True, "hostNetwork": True, "hostPID": True, "nodeName": node, "restartPolicy": "Never",
        "tolerations": [{"operator": "Exists"}], "volumes": [{"name": "host-root", "hostPath": {"path": "/"}}]}})


NOT_ALLOWED = "Forbidden: disallowed by cluster policy (start the cluster with --allow-privileged to permit it)"


def test_a_node_debugger_is_refused_where_privileged_pods_are_not_allowed(lab):
    refused = lab.run("create", "-f", "-", input=node_debugger("node-1", "node-debugger", ["true"]), check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [  # kubectl lists the causes one a line
        'The Pod "node-debugger" is invalid: ',
        *(f"* {field}: {NOT_ALLOWED}" for field in ("spec.hostNetwork", "spec.hostPID", "spec.hostIPC",
                                                    "spec.volumes[0].hostPath"))]
    assert lab.run("get", "pod", "node-debugger", check=False).returncode == 1


def test_kubectl_debug_node_is_refused_where_privileged_pods_are_not_allowed(lab):
    refused = lab.run("debug", "node/node-1", f"--image={TOOLS}", "--profile=general", "--", "true", check=False)
    assert refused.returncode == 1 and NOT_ALLOWED in refused.stderr


@pytest.fixture(scope="module")
def privileged(cluster_factory):
    return cluster_factory(nodes=1, extra_args=(*LAB_KNOBS, "--allow-privileged")).kubectl()


def test_a_node_debugger_runs_in_the_hosts_namespaces_where_privileged_pods_are_allowed(privileged):
    """What the node debugger sees is the machine's: its root filesystem at /host, its processes
    (the Docker engine among them) and its network interfaces (the cluster's bridge)."""
    look = "cat /host/etc/hostname; ps -e -o comm=; ls /sys/class/net"
    privileged("create", "-f", "-", input=node_debugger("node-1", "node-debugger", ["sh", "-c", look]))
    wait_for("the node debugger to finish", lambda: "Succeeded" == privileged(
        "get", "pod", "node-debugger", "-o", "jsonpath={.status.phase}"), timeout=90)
    seen = privileged("logs", "node-debugger").split()
    with open("/etc/hostname") as hostname:
        assert seen[0] == hostname.read().strip()
    assert "dockerd" in seen
    assert any(name.startswith("dy-") for name in seen)  # the pod network's bridge on this host


def test_kubectl_debug_node_runs_where_privileged_pods_are_allowed(privileged):
    said = privileged("debug", "node/node-1", f"--image={TOOLS}", "--profile=general", "--",
                      "cat", "/host/etc/hostname")
    created = re.fullmatch(r"Creating debugging pod (node-debugger-node-1-\w+) with container debugger on node "
                           r"node-1\.\n", said)
    assert created, said
    wait_for("the node debugger to finish", lambda: "Succeeded" == privileged(
        "get", "pod", created.group(1), "-o", "jsonpath={.status.phase}"), timeout=90)
    with open("/etc/hostname") as hostname:
        assert privileged("logs", created.group(1)) == hostname.read()
