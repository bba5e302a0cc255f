"""Every verb of ``kubectl --help`` (kubectl 1.32) against a cluster made by ``dockyard up``: each
gets a clean answer, never a Go panic.

The verbs come from kubectl's own help, so a kubectl that grows a verb fails
:func:`test_every_verb_has_arguments` until the table below says how to run it. Each verb runs
with arguments a learner would type (:data:`VERBS`, one or more command lines per verb, in
order) with stdin closed. A clean answer is exit 0, or a non-zero exit with a message on stderr;
``diff`` exits 1 to say "there are differences". Verbs that stream until stopped
(:data:`STREAMING`) are stopped after a few seconds: still running then is fine too. A panic —
kubectl's ``panic:`` line or a goroutine trace — never passes, whatever the exit code.

What dockyard does not serve gets the answer a Kubernetes server without that feature gives
(:data:`UNSERVED`): the API group or the metrics API is simply not there.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.waiting import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.kubectl]

APP = "alicek106/rr-test:echo-hostname"
TOOLS = "alicek106/ubuntu:curl"

#: how to run each verb: command lines run in order ({configmap:NAME} is a manifest of a ConfigMap
#: NAME, {kustomization} a directory with one, {tmp} a scratch directory)
VERBS: dict[str, list[list[str]]] = {
    # Basic Commands (Beginner)
    "create": [["create", "-f", "{configmap:sweep-create}"]],
    "expose": [["expose", "deployment", "web", "--port=80", "--name=sweep-expose"]],
    "run": [["run", "sweep-run", f"--image={APP}", "--restart=Never", "--", "true"]],
    "set": [["set", "image", "deployment/web", f"web={APP}"], ["set", "env", "deployment/web", "--list"]],
    # Basic Commands (Intermediate)
    "explain": [["explain", "pods.spec.containers"]],
    "get": [["get", "pods,deployments,services", "-o", "wide"], ["get", "pod", "target", "-o", "yaml"]],
    "edit": [["edit", "configmap", "sweep-edit"]],     # KUBE_EDITOR=true: no change made
    "delete": [["create", "-f", "{configmap:sweep-delete}"], ["delete", "configmap", "sweep-delete"]],
    # Deploy Commands
    "rollout": [["rollout", "status", "deployment/web", "--timeout=60s"], ["rollout", "history", "deployment/web"]],
    "scale": [["scale", "deployment/web", "--replicas=1"]],
    "autoscale": [["autoscale", "deployment", "web", "--max=2"]],
    # Cluster Management Commands
    "certificate": [["certificate", "approve", "sweep-csr"]],
    "cluster-info": [["cluster-info"]],
    "top": [["top", "nodes"], ["top", "pods"]],
    "cordon": [["cordon", "node-1"], ["uncordon", "node-1"]],
    "uncordon": [["uncordon", "node-1"]],
    "drain": [["drain", "node-1", "--dry-run=client", "--ignore-daemonsets", "--force"]],
    "taint": [["taint", "nodes", "node-1", "sweep=yes:NoSchedule"], ["taint", "nodes", "node-1", "sweep:NoSchedule-"]],
    # Troubleshooting and Debugging Commands
    "describe": [["describe", "pod", "target"], ["describe", "node", "node-1"]],
    "logs": [["logs", "target"]],
    "attach": [["attach", "target"]],
    "exec": [["exec", "target", "--", "true"]],
    "port-forward": [["port-forward", "pod/target", "0:80"]],
    "proxy": [["proxy", "--port=0"]],
    "cp": [["cp", "target:/etc/hostname", "{tmp}/hostname"]],
    "auth": [["auth", "can-i", "get", "pods"], ["auth", "whoami"]],
    "debug": [["debug", "target", f"--image={TOOLS}", "-c", "sweep", "--profile=general", "--", "true"]],
    "events": [["events"]],
    # Advanced Commands
    "diff": [["diff", "-f", "{configmap:sweep-edit}"]],
    "apply": [["apply", "-f", "{configmap:sweep-apply}"]],
    "patch": [["patch", "configmap", "sweep-edit", "-p", '{"data":{"patched":"yes"}}']],
    "replace": [["replace", "-f", "{configmap:sweep-edit}"]],
    "wait": [["wait", "--for=condition=Ready", "pod/target", "--timeout=60s"]],
    "kustomize": [["kustomize", "{kustomization}"]],
    # Settings Commands
    "label": [["label", "pod", "target", "sweep=yes", "--overwrite"]],
    "annotate": [["annotate", "pod", "target", "sweep=yes", "--overwrite"]],
    "completion": [["completion", "bash"]],
    # Other Commands
    "api-resources": [["api-resources"]],
    "api-versions": [["api-versions"]],
    "config": [["config", "view"]],
    "plugin": [["plugin", "list"]],
    "version": [["version"]],
}

#: verbs that stream until stopped, and how long they get
STREAMING = frozenset({"attach", "port-forward", "proxy"})
STREAM_FOR = 5.0

#: exit codes that mean success for a verb besides 0 (diff: "the objects differ")
ALSO_SUCCESS = {"diff": {1}}

#: what a Kubernetes server without the feature answers, as kubectl prints it
UNSERVED = {
    ("autoscale", "deployment", "web", "--max=2"):
        "Error from server (NotFound): the server could not find the requested resource",
    ("certificate", "approve", "sweep-csr"):
        'error: the server doesn\'t have a resource type "certificatesigningrequests"',
    ("top", "nodes"): "error: Metrics API not available",
    ("top", "pods"): "error: Metrics API not available",
}

#: a Go panic: the runtime's first line, or a goroutine's stack header
PANIC = re.compile(r"^panic: |^goroutine \d+ \[", re.MULTILINE)


def help_verbs() -> list[str]:
    """The verbs ``kubectl --help`` lists, section by section (Usage and what follows excluded)."""
    text = subprocess.run(["kubectl", "--help"], capture_output=True, text=True, check=True).stdout
    commands = text.split("\nUsage:", 1)[0]
    return re.findall(r"^  ([a-z][a-z-]*)\s{2,}\S", commands, re.MULTILINE)


@dataclass(frozen=True)
class Answer:
    argv: list[str]
    returncode: int | None      # None: still running when stopped (a streaming verb)
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (f"kubectl {' '.join(self.argv)} → {self.returncode}\n--- stdout:\n{self.stdout[-2000:]}"
                f"\n--- stderr:\n{self.stderr[-4000:]}")


@dataclass
class Sweep:
    command: list[str]   # kubectl with this cluster's kubeconfig and cache
    files: dict[str, str]

    def fill(self, arg: str) -> str:
        for placeholder, path in self.files.items():
            arg = arg.replace(placeholder, path)
        return arg

    def run(self, args: list[str], *, streaming: bool) -> Answer:
        argv = [self.fill(arg) for arg in args]
        env = {**os.environ, "KUBE_EDITOR": "true"}
        process = subprocess.Popen([*self.command, *argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
        try:
            stdout, stderr = process.communicate(timeout=STREAM_FOR if streaming else 120)
            return Answer(argv, process.returncode, stdout, stderr)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate(timeout=10)
            if not streaming:
                raise AssertionError(f"kubectl {' '.join(argv)} did not answer in 120s:\n{stdout}\n{stderr}") from None
            return Answer(argv, None, stdout, stderr)


def configmap(name: str) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}})


@pytest.fixture(scope="module")
def sweep(cluster_factory, tmp_path_factory) -> Sweep:
    cluster = cluster_factory(nodes=1)
    kubectl = cluster.kubectl()
    scratch = tmp_path_factory.mktemp("sweep")
    files = {"{tmp}": str(scratch)}
    for name in ("sweep-create", "sweep-delete", "sweep-edit", "sweep-apply"):
        (scratch / f"{name}.json").write_text(configmap(name))
        files[f"{{configmap:{name}}}"] = str(scratch / f"{name}.json")
    kustomization = scratch / "kustomization"
    kustomization.mkdir()
    (kustomization / "configmap.json").write_text(configmap("sweep-kustomized"))
    (kustomization / "kustomization.yaml").write_text("resources:\n- configmap.json\n")
    files["{kustomization}"] = str(kustomization)

    kubectl("apply", "-f", files["{configmap:sweep-edit}"])
    kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "target", "labels": {"app": "target"}},
        "spec": {"containers": [{"name": "app", "image": APP}]}}))
    kubectl("apply", "-f", "-", input=kubectl("create", "deployment", "web", f"--image={APP}", "--dry-run=client",
                                              "-o", "json"))
    kubectl("wait", "--for=condition=Ready", "pod/target", "--timeout=90s", timeout=100)
    wait_for("the web deployment to be available", lambda: kubectl(
        "get", "deployment", "web", "-o", "jsonpath={.status.availableReplicas}") == "1", timeout=90)
    return Sweep(kubectl.command(), files)


def test_the_help_is_kubectl_1_32s():
    version = json.loads(subprocess.run(["kubectl", "version", "--client", "-o", "json"], capture_output=True,
                                        text=True, check=True).stdout)["clientVersion"]
    assert version["gitVersion"].startswith("v1.32."), version


def test_every_verb_has_arguments():
    verbs = help_verbs()
    assert len(verbs) >= 40, verbs
    assert sorted(verbs) == sorted(VERBS), "add a row to VERBS for each new verb, drop a row for one gone"


@pytest.mark.parametrize("verb", list(VERBS))
def test_every_verb_answers_cleanly(sweep: Sweep, verb: str):
    for args in VERBS[verb]:
        answer = sweep.run(args, streaming=verb in STREAMING)
        assert not PANIC.search(answer.stdout + answer.stderr), f"kubectl panicked:\n{answer.describe()}"
        if answer.returncode not in (None, 0, *ALSO_SUCCESS.get(verb, ())):
            assert answer.stderr.strip(), f"a failure without a message:\n{answer.describe()}"
        expected = UNSERVED.get(tuple(args))
        if expected is not None:
            assert (answer.returncode, answer.stderr.strip().splitlines()[-1:]) == (1, [expected]), answer.describe()
