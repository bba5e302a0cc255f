"""Whole local clusters on the real Docker engine, stood up and torn down with `dockyard up` /
`dockyard down --purge` exactly as users do: every node becomes Ready, pods become containers
labelled with their cluster, `down --purge` leaves no process, container, network, volume,
iptables rule, bridge address or route, and two clusters on one engine never see or touch each
other."""

from __future__ import annotations

import json
import subprocess
import time

import docker
import pytest

from orchestrator.api.clusternetwork import ClusterNetwork
from orchestrator.cli.lifecycle.processes import alive, records
from tests.support.cluster import LocalCluster
from tests.support.leftovers import docker_objects, host_objects

pytestmark = pytest.mark.docker


def run_pod(cluster: LocalCluster, name: str, node: str) -> None:
    """A pod bound straight to ``node`` (no scheduler involved), waited for until Running."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "web", "image": "alicek106/rr-test:echo-hostname"}]}}
    cluster.kubectl()("apply", "-f", "-", input=json.dumps(pod))
    deadline = time.monotonic() + 60
    phase = ""
    while time.monotonic() < deadline:
        phase = cluster.kubectl()("get", "pod", name, "-o", "jsonpath={.status.phase}")
        if phase == "Running":
            return
        time.sleep(0.5)
    raise AssertionError(f"pod {name} is {phase!r}, not Running, after 60 s\n{cluster.logs()}")


def ready_nodes(cluster: LocalCluster) -> dict[str, str]:
    lines = cluster.kubectl()("get", "nodes", "--no-headers").splitlines()
    return {line.split()[0]: line.split()[1] for line in lines}


def test_up_two_nodes_then_down_purge_leaves_nothing(tmp_path):
    cluster = LocalCluster(tmp_path / "state", nodes=2)
    try:
        result = cluster.up().up_result
        assert "waiting for nodes: 2/2 Ready" in result.stderr
        assert f"export KUBECONFIG={cluster.kubeconfig}" in result.stdout
        assert ready_nodes(cluster) == {"node-1": "Ready", "node-2": "Ready"}
        assert cluster.run_up().stdout.count("is already running") == 1  # a no-op
        leases = cluster.kubectl()("get", "leases", "-n", "kube-node-lease", "--no-headers").split("\n")
        assert [line.split()[:2] for line in leases if line] == [["node-1", "node-1"], ["node-2", "node-2"]]
        assert "HolderIdentity:  node-1" in cluster.kubectl()("describe", "node", "node-1")

        run_pod(cluster, "web-1", "node-1")
        run_pod(cluster, "web-2", "node-2")
        made = docker_objects(cluster.uid)
        assert len(made["containers"]) >= 4 and made["networks"], made  # pause + app per pod
        host = host_objects(cluster.uid)
        assert any("-j DNAT" in rule for rule in host["rules"]), host  # the kubernetes and kube-dns Services
        network = json.loads(cluster.state.cluster_json.read_text())["flags"]
        gateway = network["cluster-cidr"].replace("0.0/16", "0.1")
        assert sorted(host["bridge"]) == sorted([gateway, gateway[:-1] + "11", gateway[:-1] + "12"]), host
        processes = records(cluster.state)
        assert [p.name for p in processes] == ["server", "agent-node-1", "agent-node-2"]

        down = cluster.down("--purge")
        assert down.returncode == 0, down.stdout + down.stderr
        assert not any(alive(p) for p in processes)
        assert docker_objects(cluster.uid) == {"containers": [], "networks": [], "volumes": []}
        assert host_objects(cluster.uid) == {"rules": [], "bridge": [], "routes": []}
        assert not cluster.state_dir.exists()
    finally:
        cluster.teardown()


def test_two_clusters_side_by_side_do_not_see_each_other(tmp_path):
    first = LocalCluster(tmp_path / "a", nodes=1)
    second = LocalCluster(tmp_path / "b", nodes=1)
    try:
        first.up()
        second.up()
        assert first.uid != second.uid
        plans = [json.loads(cluster.state.cluster_json.read_text())["flags"] for cluster in (first, second)]
        for key in ("cluster-cidr", "service-cidr"):  # taken so that no address is shared
            assert plans[0][key] != plans[1][key], plans
        run_pod(first, "in-a", "node-1")
        run_pod(second, "in-b", "node-1")
        assert first.kubectl()("get", "pods", "-o", "name").split() == ["pod/in-a"]
        assert second.kubectl()("get", "pods", "-o", "name").split() == ["pod/in-b"]
        ours, theirs = docker_objects(first.uid), docker_objects(second.uid)
        assert ours["containers"] and theirs["containers"]
        assert not set(ours["containers"]) & set(theirs["containers"])
        assert not set(ours["networks"]) & set(theirs["networks"])

        assert first.down("--purge").returncode == 0
        assert docker_objects(first.uid)["containers"] == []
        assert sorted(docker_objects(second.uid)["containers"]) == sorted(theirs["containers"])
        client = docker.from_env()
        try:
            assert all(client.containers.get(name).status == "running" for name in theirs["containers"])
        finally:
            client.close()
        assert ready_nodes(second) == {"node-1": "Ready"}
        assert second.kubectl()("get", "pod", "in-b", "-o", "jsonpath={.status.phase}") == "Running"
        assert host_objects(first.uid) == {"rules": [], "bridge": [], "routes": []}
        assert host_objects(second.uid)["rules"] and host_objects(second.uid)["bridge"]
    finally:
        first.teardown()
        second.teardown()


def test_an_unreachable_docker_engine_is_reported_before_anything_starts(tmp_path):
    cluster = LocalCluster(tmp_path / "state", nodes=1, env={"DOCKER_HOST": "tcp://127.0.0.1:9"})
    try:
        result = cluster.run_up(timeout=60)
        assert result.returncode == 1
        # a new cluster's ranges are chosen from what Docker uses, first of all
        assert "the cluster's pod network: cannot reach the Docker engine" in result.stderr, result.stderr
        assert "stopped" not in result.stderr
        assert records(cluster.state) == []
    finally:
        cluster.env = {}  # tear down against the real engine
        cluster.teardown()


def test_an_agent_that_cannot_start_is_reported_and_only_what_up_started_is_stopped(tmp_path):
    cluster = LocalCluster(tmp_path / "state", nodes=1)
    taken = None
    try:
        cluster.up()
        # node-2's address is already on another interface: its agent cannot start
        flags = json.loads(cluster.state.cluster_json.read_text())["flags"]
        taken = ClusterNetwork.from_data(flags).local_node_address(2)
        subprocess.run(["ip", "address", "add", f"{taken}/32", "dev", "lo"], check=True)
        cluster.nodes = 2
        result = cluster.run_up(timeout=60)
        assert result.returncode == 1
        assert "the agent-node-2 process" in result.stderr and "exited" in result.stderr, result.stderr
        assert f"the node address {taken} (--node-ip) already belongs to lo" in result.stderr  # its log's tail
        assert "stopped agent-node-2" in result.stderr and "stopped server" not in result.stderr
        assert [p.name for p in records(cluster.state)] == ["server", "agent-node-1"]
        assert ready_nodes(cluster)["node-1"] == "Ready"
    finally:
        if taken:
            subprocess.run(["ip", "address", "del", f"{taken}/32", "dev", "lo"], check=False)
        cluster.teardown()
