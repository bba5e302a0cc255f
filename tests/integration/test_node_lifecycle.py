"""Issue 4's node lifecycle, on the real Docker engine: cordon, drain, and a node that is lost.

One three-node cluster serves the module, with lab-short control-plane knobs (a node is Unknown
after 5 s without heartbeats, pods tolerate that for 5 s). The node-loss test comes last because
it stops an agent; it brings it back at the end.
"""

from __future__ import annotations

import json
import os
import signal
import time

import docker
import pytest

from agent import labels
from orchestrator.cli.lifecycle.processes import records
from tests.support.cluster import LAB_KNOBS
from tests.support import waiting

pytestmark = pytest.mark.docker

ECHO = "alicek106/rr-test:echo-hostname"
GRACE, TOLERATION = 5, 5


@pytest.fixture(scope="module")
def cluster(cluster_factory):
    return cluster_factory(nodes=3, extra_args=(*LAB_KNOBS, "--node-monitor-grace-period", str(GRACE),
                                                "--default-not-ready-toleration-seconds", str(TOLERATION)))


def wait_for(what: str, check, cluster, timeout: float = 40, every: float = 0.3):
    return waiting.wait_for(what, check, cluster.logs, timeout, every)


def bare_pod(name: str, node: str | None = None) -> str:
    spec = {"containers": [{"name": "web", "image": ECHO}], "terminationGracePeriodSeconds": 1}
    if node:
        spec["nodeName"] = node
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"test": "nodelife"}},
                       "spec": spec})


def pods(kubectl) -> dict[str, dict]:
    items = json.loads(kubectl("get", "pods", "-l", "test=nodelife", "-o", "json"))["items"]
    return {p["metadata"]["name"]: p for p in items}


def running(kubectl, names) -> bool:
    current = pods(kubectl)
    return all(current.get(n, {}).get("status", {}).get("phase") == "Running" for n in names)


def node(kubectl, name: str) -> dict:
    return json.loads(kubectl("get", "node", name, "-o", "json"))


def events_for(kubectl, name: str) -> list[tuple[str, str]]:
    items = json.loads(kubectl("get", "events", "-A", "--field-selector", f"involvedObject.name={name}",
                               "-o", "json"))["items"]
    return [(e["reason"], e["message"]) for e in items]


def workload(kind: str, name: str, replicas: int) -> str:
    """A ReplicaSet or Deployment of echo pods labelled ``rs=NAME``."""
    template = {"metadata": {"labels": {"test": "nodelife", "rs": name}},
                "spec": {"containers": [{"name": "web", "image": ECHO}], "terminationGracePeriodSeconds": 1}}
    return json.dumps({"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name},
                       "spec": {"replicas": replicas, "selector": {"matchLabels": {"rs": name}}, "template": template}})


def replicas_by_node(kubectl, rs: str) -> dict[str, str]:
    """Running pods of ReplicaSet ``rs``: name → node."""
    return {name: p["spec"].get("nodeName") for name, p in pods(kubectl).items()
            if p["metadata"].get("labels", {}).get("rs") == rs and p["status"].get("phase") == "Running"}


def cleanup(kubectl) -> None:
    kubectl("delete", "deploy,rs", "--all", "--wait=true")
    kubectl("delete", "pods", "-l", "test=nodelife", "--grace-period", "0", "--force", "--wait=true")


def test_cordon_keeps_new_pods_off_the_node_until_uncordon(cluster, kubectl):
    result = cluster.dockyard("cordon", "node-1")
    assert (result.returncode, result.stdout) == (0, "node/node-1 cordoned\n"), result.stderr
    assert cluster.dockyard("cordon", "node-1").stdout == "node/node-1 already cordoned\n"
    assert node(kubectl, "node-1")["spec"]["unschedulable"] is True
    try:
        for i in range(4):
            kubectl("apply", "-f", "-", input=bare_pod(f"spread-{i}"))
        wait_for("4 pods running", lambda: running(kubectl, [f"spread-{i}" for i in range(4)]), cluster)
        assert "node-1" not in {p["spec"]["nodeName"] for p in pods(kubectl).values()}
        assert kubectl("uncordon", "node-1").strip() == "node/node-1 uncordoned"
        assert "unschedulable" not in node(kubectl, "node-1")["spec"]
        assert kubectl("cordon", "node-1").strip() == "node/node-1 cordoned"  # real kubectl too
    finally:
        assert cluster.dockyard("uncordon", "node-1").stdout == "node/node-1 uncordoned\n"
        cleanup(kubectl)


def test_drain_refuses_bare_pods_without_force_and_evicts_them_with_it(cluster, kubectl):
    kubectl("apply", "-f", "-", input=bare_pod("lonely", "node-2"))
    kubectl("apply", "-f", "-", input=workload("ReplicaSet", "movers", 3))
    wait_for("lonely running", lambda: running(kubectl, ["lonely"]), cluster)
    wait_for("movers' 3 replicas running", lambda: len(replicas_by_node(kubectl, "movers")) == 3, cluster)
    on_node_2 = sorted(name for name, where in replicas_by_node(kubectl, "movers").items() if where == "node-2")
    try:
        refused = cluster.dockyard("drain", "node-2")
        assert refused.returncode == 1
        assert refused.stdout == "node/node-2 cordoned\n"
        assert "error: cannot delete Pods that declare no controller (use --force to override): default/lonely" \
            in refused.stderr
        assert "lonely" in pods(kubectl)

        drained = cluster.dockyard("drain", "node-2", "--force", "--timeout", "60s")
        assert drained.returncode == 0, drained.stderr
        lines = drained.stdout.splitlines()
        assert (lines[0], lines[-1]) == ("node/node-2 already cordoned", "node/node-2 drained")
        assert sorted(lines[1:-1]) == sorted([f"evicting pod default/{n}" for n in ["lonely", *on_node_2]]
                                             + [f"pod/{n} evicted" for n in ["lonely", *on_node_2]])
        assert "Warning: deleting Pods that declare no controller: default/lonely" in drained.stderr
        assert "lonely" not in pods(kubectl)
        # the owner replaces what was evicted, and not on the cordoned node
        wait_for("movers back to 3 replicas, none on node-2", lambda: (
            lambda placed: len(placed) == 3 and "node-2" not in placed.values())(replicas_by_node(kubectl, "movers")),
            cluster, timeout=30)
    finally:
        cluster.dockyard("uncordon", "node-2")
        cleanup(kubectl)


def test_kubectl_drain_uses_the_eviction_subresource(cluster, kubectl):
    kubectl("apply", "-f", "-", input=bare_pod("evictee", "node-3"))
    wait_for("evictee running", lambda: running(kubectl, ["evictee"]), cluster)
    try:
        result = kubectl.run("drain", "node-3", "--force", "--timeout=60s", check=False)
        assert result.returncode == 0, result.stderr + cluster.logs()
        lines = result.stdout.splitlines()
        assert lines[0] == "node/node-3 cordoned"
        assert "evicting pod default/evictee" in lines
        assert "pod/evictee evicted" in lines
        assert lines[-1] == "node/node-3 drained"
        assert "evictee" not in pods(kubectl)
    finally:
        kubectl("uncordon", "node-3")
        cleanup(kubectl)


def test_lost_node_turns_unknown_is_tainted_and_its_pods_are_evicted(cluster, kubectl):
    kubectl("apply", "-f", "-", input=bare_pod("stranded", "node-3"))
    kubectl("apply", "-f", "-", input=bare_pod("safe", "node-1"))
    kubectl("apply", "-f", "-", input=workload("Deployment", "keeper", 3))
    wait_for("pods running", lambda: running(kubectl, ["stranded", "safe"]), cluster)
    wait_for("keeper's 3 replicas running", lambda: len(replicas_by_node(kubectl, "keeper")) == 3, cluster)
    (agent,) = [r for r in records(cluster.state) if r.name == "agent-node-3"]
    os.kill(agent.pid, signal.SIGTERM)
    stopped_at = time.monotonic()  # its last heartbeat was at most a heartbeat interval (1 s) before
    engine = docker.from_env()
    try:
        wait_for("the agent to exit", lambda: not os.path.exists(f"/proc/{agent.pid}") or
                 open(f"/proc/{agent.pid}/stat").read().split()[2] == "Z", cluster)
        lost = engine.containers.list(all=True, filters={"label": [f"{labels.CLUSTER}={cluster.uid}",
                                                                   f"{labels.NODE}=node-3"]})
        for container in lost:
            container.remove(force=True)

        def unknown():
            current = node(kubectl, "node-3")
            ready = next(c for c in current["status"]["conditions"] if c["type"] == "Ready")
            taints = {(t["key"], t["effect"]) for t in current["spec"].get("taints") or []}
            return ready["status"] == "Unknown" and ("node.kubernetes.io/unreachable", "NoExecute") in taints \
                and current
        current = wait_for("node-3 Unknown and tainted", unknown, cluster, timeout=GRACE + 15)
        ready = next(c for c in current["status"]["conditions"] if c["type"] == "Ready")
        assert (ready["reason"], ready["message"]) == ("NodeStatusUnknown", "Kubelet stopped posting node status.")
        assert kubectl("get", "node", "node-3").splitlines()[1].split()[1] == "NotReady"

        wait_for("stranded evicted", lambda: "stranded" not in pods(kubectl), cluster, timeout=TOLERATION + 15)
        # silent for the grace period, then tolerated for the window: never sooner (1 s of slack for
        # the last heartbeat, 1 s for heartbeat times' one-second resolution)
        assert time.monotonic() - stopped_at >= GRACE + TOLERATION - 2
        assert "safe" in pods(kubectl)
        assert ("NodeNotReady", "Node node-3 status is now: NodeNotReady") in events_for(kubectl, "node-3")
        assert ("TaintManagerEviction", "Marking for deletion Pod default/stranded") in events_for(kubectl, "stranded")
        # the Deployment's pods on node-3 went the same way, were replaced on the healthy nodes,
        # and the Deployment is fully available again
        wait_for("keeper back to 3 replicas, none on node-3", lambda: (
            lambda placed: len(placed) == 3 and "node-3" not in placed.values())(replicas_by_node(kubectl, "keeper")),
            cluster, timeout=30)
        wait_for("keeper available", lambda: json.loads(kubectl("get", "deploy", "keeper", "-o", "json"))
                 ["status"].get("availableReplicas") == 3, cluster, timeout=30)
    finally:
        engine.close()
        assert cluster.run_up().returncode == 0  # the agent comes back
    wait_for("node-3 Ready and untainted", lambda: not node(kubectl, "node-3")["spec"].get("taints") and
             kubectl("get", "node", "node-3").splitlines()[1].split()[1] == "Ready", cluster)
    assert ("NodeReady", "Node node-3 status is now: NodeReady") in events_for(kubectl, "node-3")
    cleanup(kubectl)
