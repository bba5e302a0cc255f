"""The node agent's heartbeat Lease: what it writes, who may write it, what is refused."""

from __future__ import annotations

import pytest

from agent.node import node_lease
from orchestrator.api import errors
from orchestrator.api.registry import kind_for
from orchestrator.api.validation import validate
from orchestrator.apiserver.auth import Attributes, authorize
from orchestrator.apiserver.requestinfo import Verb
from orchestrator.cluster.identity import node_identity

LEASE = kind_for("coordination.k8s.io/v1", "Lease")


def test_the_lease_names_its_node_as_holder_and_owner():
    lease = node_lease({"metadata": {"name": "node-2", "uid": "u-2"}})
    assert lease["metadata"]["namespace"] == "kube-node-lease" and lease["metadata"]["name"] == "node-2"
    assert lease["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": "node-2", "uid": "u-2"}]
    assert lease["spec"]["holderIdentity"] == "node-2" and lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["spec"]["renewTime"].endswith("Z") and len(lease["spec"]["renewTime"]) == len("2026-12-06T08:00:00.123456Z")


@pytest.mark.parametrize("verb", [Verb.GET, Verb.UPDATE, Verb.PATCH])
def test_a_node_may_renew_its_own_lease(verb):
    authorize(node_identity("node-2"), Attributes(verb, LEASE, "kube-node-lease", "node-2", None), api=None)
    authorize(node_identity("node-2"), Attributes(Verb.CREATE, LEASE, "kube-node-lease", None, None), api=None)


@pytest.mark.parametrize(("namespace", "name", "verb"), [
    ("kube-node-lease", "node-1", Verb.UPDATE),   # another node's
    ("default", "node-2", Verb.UPDATE),            # outside kube-node-lease
    ("kube-node-lease", "node-2", Verb.DELETE),
    ("kube-node-lease", None, Verb.LIST),
])
def test_but_no_other_lease(namespace, name, verb):
    with pytest.raises(errors.ApiError) as raised:
        authorize(node_identity("node-2"), Attributes(verb, LEASE, namespace, name, None), api=None)
    assert raised.value.code == 403


def test_a_lease_of_no_duration_is_invalid():
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "x", "namespace": "kube-node-lease"}, "spec": {"leaseDurationSeconds": 0}}
    with pytest.raises(errors.ApiError, match="spec.leaseDurationSeconds"):
        validate(LEASE, lease)
