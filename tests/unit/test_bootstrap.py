"""Joining without a network: the cluster uid, cluster-info's shape and who may read it, the CA pin,
the agent's token bookkeeping, and `dockyard token create|list|revoke` on a state directory."""

from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path

import pytest

from orchestrator.api.clusternetwork import ClusterNetwork

from agent.config import AgentConfig
from agent.join import (
    JoinError, fetch_cluster_info, load_or_exchange_token, read_node_token, save_node_token,
)
from orchestrator.api import errors
from orchestrator.api.bootstrap import CLUSTER_INFO_NAME, CLUSTER_INFO_NAMESPACE, PublicClusterInfo, ca_cert_hash
from orchestrator.api.registry import kind_for
from orchestrator.apiserver.auth import Attributes, authorize
from orchestrator.apiserver.requestinfo import Verb
from orchestrator.cli.main import main
from orchestrator.cluster import StateDir, TokenBook, ca_fingerprint, ca_pem, init_cluster
from orchestrator.cluster.identity import admin_identity, anonymous_identity, bootstrap_identity, node_identity


@pytest.fixture
def state(tmp_path) -> StateDir:
    state = StateDir(tmp_path / "dy")
    init_cluster(state, cluster_name="lab", api_host="127.0.0.1", api_port=6443)
    return state


# -- the cluster uid ------------------------------------------------------------------------------


def test_a_cluster_gets_a_uid_once_and_keeps_it(state):
    uid = json.loads(state.cluster_json.read_text())["uid"]
    assert uuid.UUID(uid).version == 4
    init_cluster(state, cluster_name="lab", api_host="127.0.0.1", api_port=7000)
    assert json.loads(state.cluster_json.read_text())["uid"] == uid


def test_a_cluster_from_before_uids_gets_one(state):
    raw = json.loads(state.cluster_json.read_text())
    del raw["uid"]
    state.cluster_json.write_text(json.dumps(raw))
    made = init_cluster(state, cluster_name="lab", api_host="127.0.0.1", api_port=6443)
    assert made.info.uid and json.loads(state.cluster_json.read_text())["uid"] == made.info.uid
    again = init_cluster(state, cluster_name="lab", api_host="127.0.0.1", api_port=6443)
    assert again.info.uid == made.info.uid


# -- cluster-info and the CA pin ------------------------------------------------------------------


def test_cluster_info_round_trips_through_its_configmap(state):
    network = ClusterNetwork(cluster_cidr="10.245.0.0/16", service_cidr="10.112.0.0/12")
    info = PublicClusterInfo("lab", "u-1", ca_pem(state), "https://127.0.0.1:6443", network)
    configmap = info.to_configmap()
    assert configmap["metadata"] == {"name": "cluster-info", "namespace": "kube-public"}
    assert set(configmap["data"]) == {"cluster-name", "cluster-uid", "ca.crt", "server", "cluster-cidr",
                                      "service-cidr", "node-cidr-mask-size", "cluster-domain"}
    assert PublicClusterInfo.from_configmap(configmap) == info


def test_cluster_info_of_a_server_before_the_pod_network_means_the_default_plan(state):
    configmap = PublicClusterInfo("lab", "u-1", ca_pem(state), "https://127.0.0.1:6443").to_configmap()
    for key in ("cluster-cidr", "service-cidr", "node-cidr-mask-size", "cluster-domain"):
        del configmap["data"][key]
    assert PublicClusterInfo.from_configmap(configmap).network == ClusterNetwork()


def test_a_foreign_cluster_info_says_what_is_missing():
    with pytest.raises(ValueError, match="cluster-uid, ca.crt"):
        PublicClusterInfo.from_configmap({"data": {"cluster-name": "x", "server": "https://x"}})


def test_the_pin_is_kubeadms_public_key_hash(state):
    assert ca_cert_hash(ca_pem(state)) == ca_fingerprint(state)
    assert ca_cert_hash(ca_pem(state).encode()) == ca_fingerprint(state)


# -- who may read cluster-info --------------------------------------------------------------------


CONFIGMAP = kind_for("v1", "ConfigMap")


def attrs(verb: Verb, namespace: str = CLUSTER_INFO_NAMESPACE, name: str | None = CLUSTER_INFO_NAME) -> Attributes:
    return Attributes(verb, CONFIGMAP, namespace, name, None)


@pytest.mark.parametrize("identity", [anonymous_identity(), bootstrap_identity("abc"), node_identity("n1"),
                                      admin_identity()])
def test_everyone_may_get_cluster_info(identity):
    authorize(identity, attrs(Verb.GET), api=None)


@pytest.mark.parametrize("request_attrs", [
    attrs(Verb.LIST, name=None), attrs(Verb.WATCH), attrs(Verb.UPDATE), attrs(Verb.PATCH), attrs(Verb.DELETE),
    attrs(Verb.GET, name="other"), attrs(Verb.GET, namespace="default"),
])
@pytest.mark.parametrize("identity", [anonymous_identity(), bootstrap_identity("abc")])
def test_but_nothing_else(identity, request_attrs):
    with pytest.raises(errors.ApiError) as raised:
        authorize(identity, request_attrs, api=None)
    assert raised.value.code == 403


# -- the agent's side -------------------------------------------------------------------------------


def config(tmp_path: Path, token: str) -> AgentConfig:
    # a server nobody listens on: these paths must not touch the network
    return AgentConfig(server="https://127.0.0.1:9", token=token, node_name="n1", state_dir=tmp_path / "agent")


def test_a_node_token_is_used_as_is(tmp_path):
    assert load_or_exchange_token(config(tmp_path, "dyn_given"), ca_pem="unused") == "dyn_given"


def test_a_saved_token_wins_over_a_join_token(tmp_path):
    save_node_token(tmp_path / "agent", "dyn_saved")
    assert load_or_exchange_token(config(tmp_path, "dyj_join"), ca_pem="unused") == "dyn_saved"


def test_the_saved_token_is_private(tmp_path):
    path = save_node_token(tmp_path / "agent", "dyn_secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_node_token(tmp_path / "agent") == "dyn_secret"
    assert read_node_token(tmp_path / "nowhere") is None


def test_an_unknown_kind_of_token_is_refused(tmp_path):
    with pytest.raises(JoinError, match="node token .* or a join token"):
        load_or_exchange_token(config(tmp_path, "dya_admin"), ca_pem="unused")


@pytest.mark.parametrize("pin", ["md5:abc", "sha256:xyz", "sha256:" + "a" * 63, "a" * 64])
def test_a_malformed_pin_is_refused_before_any_connection(pin):
    with pytest.raises(JoinError, match="sha256:<64 hex digits>"):
        fetch_cluster_info("https://127.0.0.1:9", ca_cert_hash=pin)


def test_some_trust_is_required():
    with pytest.raises(JoinError, match="--ca-file .* or --ca-cert-hash"):
        fetch_cluster_info("https://127.0.0.1:9")


def test_a_ca_file_that_contradicts_the_pin_is_refused(state):
    with pytest.raises(JoinError, match="not the expected"):
        fetch_cluster_info("https://127.0.0.1:9", ca_file=state.ca_cert, ca_cert_hash="sha256:" + "0" * 64)


# -- dockyard token ---------------------------------------------------------------------------------


def test_token_create_prints_the_join_command(state, capsys):
    assert main(["token", "create", "--state-dir", str(state.root), "--ttl", "2h", "--node-name", "w1"]) == 0
    out, err = capsys.readouterr()
    words = out.split()
    assert words[:2] == ["dockyard", "agent"]
    flags = dict(zip(words[2::2], words[3::2]))
    assert flags["--server"] == "https://127.0.0.1:6443"
    assert flags["--ca-cert-hash"] == ca_fingerprint(state)
    assert flags["--node-name"] == "w1"
    identity = TokenBook.for_state(state).authenticate(flags["--token"])
    assert identity is not None and identity.is_bootstrap
    assert "expires in 2h" in err

    assert main(["token", "list", "--state-dir", str(state.root)]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == ["ID", "KIND", "USER", "CREATED", "EXPIRES", "JOINED"]
    join_ids = [line.split()[0] for line in listing if line.split()[1] == "join"]
    assert len(join_ids) == 1 and flags["--token"] not in "\n".join(listing)  # ids only, never secrets

    assert main(["token", "revoke", join_ids[0], "--state-dir", str(state.root)]) == 0
    assert TokenBook.for_state(state).authenticate(flags["--token"]) is None
    assert main(["token", "revoke", join_ids[0], "--state-dir", str(state.root)]) == 1


def test_token_revoke_node(state, capsys):
    book = TokenBook.for_state(state)
    node_token = book.issue_node("w2")
    assert main(["token", "revoke", "--node", "w2", "--state-dir", str(state.root)]) == 0
    assert book.authenticate(node_token) is None
    assert main(["token", "revoke", "--node", "w2", "--state-dir", str(state.root)]) == 1


def test_token_create_needs_a_cluster(tmp_path, capsys):
    assert main(["token", "create", "--state-dir", str(tmp_path / "empty")]) == 1
    assert "no cluster in" in capsys.readouterr().err


def test_a_never_expiring_token(state, capsys):
    assert main(["token", "create", "--state-dir", str(state.root), "--ttl", "0"]) == 0
    assert "never expires" in capsys.readouterr().err
    assert [r.expires for r in TokenBook.for_state(state).records() if r.kind.value == "join"] == [None]
