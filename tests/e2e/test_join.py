"""Joining a real `dockyard server` over HTTPS: cluster-info is public and exactly that, a join
token is traded for a node token once per node, and the agent's client side (agent.join) finds the
cluster from nothing but the command `dockyard token create` prints."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agent.config import AgentConfig
from agent.join import JoinError, exchange_join_token, fetch_cluster_info, join_cluster
from orchestrator.api.bootstrap import CLUSTER_INFO_PATH, JOIN_PATH
from orchestrator.cluster import StateDir, TokenBook, ca_fingerprint
from tests.support.controlplane import ControlPlaneProcess, free_port


def state_of(control_plane) -> StateDir:
    return StateDir(control_plane.state_dir)


def token_create(control_plane, *args: str) -> dict[str, str]:
    """Run `dockyard token create` and return the flags of the command it prints."""
    result = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "token", "create", "--state-dir",
                             str(control_plane.state_dir), *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    assert words[:2] == ["dockyard", "agent"], result.stdout
    return dict(zip(words[2::2], words[3::2]))


def test_cluster_info_is_public_and_nothing_else_is(control_plane):
    cluster = json.loads(state_of(control_plane).cluster_json.read_text())
    with control_plane.client(token="") as anonymous:
        info = anonymous.get(CLUSTER_INFO_PATH)
        assert info.status_code == 200, info.text
        assert info.json()["data"] == {
            "cluster-name": cluster["name"], "cluster-uid": cluster["uid"],
            "ca.crt": state_of(control_plane).ca_cert.read_text(), "server": control_plane.url,
            # the address plan the agents build the pod network and DNS from (the defaults here)
            "cluster-cidr": "10.244.0.0/16", "service-cidr": "10.96.0.0/12", "node-cidr-mask-size": "24",
            "cluster-domain": "cluster.local"}
        assert anonymous.get("/api/v1/namespaces/kube-public/configmaps").status_code == 401
        assert anonymous.get("/api/v1/namespaces/default/configmaps/cluster-info").status_code == 401
        assert anonymous.get(CLUSTER_INFO_PATH, params={"watch": "true"}).status_code == 403
        assert anonymous.put(CLUSTER_INFO_PATH, json=info.json()).status_code == 401
        assert anonymous.delete(CLUSTER_INFO_PATH).status_code == 401
    with control_plane.client(token="dya_wrong") as wrong:
        assert wrong.get(CLUSTER_INFO_PATH).status_code == 401  # a bad token is not "no token"
    join = TokenBook.for_state(state_of(control_plane)).issue_join()
    with control_plane.client(token=join) as bootstrap:
        assert bootstrap.get(CLUSTER_INFO_PATH).status_code == 200
        assert bootstrap.get("/api/v1/namespaces/kube-public/configmaps").status_code == 403


def test_kubectl_sees_cluster_info_like_kubeadms(kubectl):
    data = json.loads(kubectl("get", "configmap", "cluster-info", "-n", "kube-public", "-o", "json"))["data"]
    assert data["ca.crt"].startswith("-----BEGIN CERTIFICATE-----") and data["server"].startswith("https://")


def test_a_new_machine_joins_with_the_printed_command(control_plane, tmp_path):
    flags = token_create(control_plane, "--node-name", "worker-1")
    assert flags["--server"] == control_plane.url
    config = AgentConfig(server=flags["--server"], token=flags["--token"], node_name=flags["--node-name"],
                         state_dir=tmp_path / "agent", ca_cert_hash=flags["--ca-cert-hash"])
    joined = join_cluster(config)
    assert joined.info.uid == json.loads(state_of(control_plane).cluster_json.read_text())["uid"]
    assert joined.token.startswith("dyn_")
    with control_plane.client(token=joined.token) as node:
        # the node token works, as that node and no more
        created = node.post("/api/v1/nodes", json={"apiVersion": "v1", "kind": "Node",
                                                   "metadata": {"name": "worker-1"}})
        assert created.status_code == 201, created.text
        assert node.patch("/api/v1/nodes/worker-2", json={}, headers={
            "Content-Type": "application/merge-patch+json"}).status_code == 403
    # A restart reuses the saved token: no second exchange (which the server would refuse).
    assert join_cluster(config).token == joined.token

    listing = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", "token", "list", "--state-dir",
                              str(control_plane.state_dir)], capture_output=True, text=True, timeout=30).stdout
    assert any(line.split()[1] == "join" and line.split()[-1] == "worker-1" for line in listing.splitlines()[1:])


def test_one_join_token_many_machines_but_each_name_once(control_plane, tmp_path):
    flags = token_create(control_plane)
    info = fetch_cluster_info(control_plane.url, ca_cert_hash=flags["--ca-cert-hash"])
    first = exchange_join_token(control_plane.url, info.ca_pem, flags["--token"], "worker-a")
    second = exchange_join_token(control_plane.url, info.ca_pem, flags["--token"], "worker-b")
    assert first != second
    with pytest.raises(JoinError, match="has joined before.*dockyard token revoke --node worker-a"):
        exchange_join_token(control_plane.url, info.ca_pem, flags["--token"], "worker-a")
    with pytest.raises(JoinError, match="invalid node name"):
        exchange_join_token(control_plane.url, info.ca_pem, flags["--token"], "Worker_C")


def test_only_a_join_token_can_be_exchanged(control_plane):
    with control_plane.client() as admin:
        refused = admin.post(JOIN_PATH, json={"nodeName": "x"})
        assert refused.status_code == 403 and "dockyard token create" in refused.json()["message"]
        assert admin.get(JOIN_PATH).status_code == 405
    with control_plane.client(token="") as anonymous:
        assert anonymous.post(JOIN_PATH, json={"nodeName": "x"}).status_code == 401


def test_a_revoked_or_expired_join_token_says_to_make_a_new_one(control_plane):
    book = TokenBook.for_state(state_of(control_plane))
    join = book.issue_join()
    book.revoke(join)
    ca = state_of(control_plane).ca_cert.read_text()
    with pytest.raises(JoinError, match="unknown, expired or revoked.*dockyard token create"):
        exchange_join_token(control_plane.url, ca, join, "late")


def test_the_pin_protects_against_another_cluster(control_plane, tmp_path):
    other = ControlPlaneProcess(tmp_path / "other", free_port())
    other.start()
    try:
        pin = ca_fingerprint(state_of(control_plane))
        with pytest.raises(JoinError, match="not the cluster the join command was made for"):
            fetch_cluster_info(other.url, ca_cert_hash=pin)
        with pytest.raises(JoinError, match="does not verify against the cluster CA"):
            fetch_cluster_info(other.url, ca_file=state_of(control_plane).ca_cert)
    finally:
        other.stop()


def test_cluster_info_follows_the_server_to_a_new_port(control_plane):
    uid = json.loads(state_of(control_plane).cluster_json.read_text())["uid"]
    control_plane.stop()
    moved = ControlPlaneProcess(control_plane.state_dir, free_port())
    moved.start()
    try:
        info = fetch_cluster_info(moved.url, ca_file=state_of(control_plane).ca_cert)
        assert info.server == moved.url and info.uid == uid
    finally:
        moved.stop()
