"""Issue 4's ReplicaSet controller on a real three-node cluster, driven by the real kubectl.

The seed's ReplicaSet comes up spread over the nodes and heals, scales and cascades; a second
ReplicaSet (echo-hostname pods with a 1 s grace period, so they go fast) shows adoption of an
orphan and the release of a relabelled pod. Each test removes what it made.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO
from tests.support.waiting import wait_for

pytestmark = pytest.mark.docker

SEED_RS = REPO / "examples" / "seed" / "replicaset-nginx.yaml"
ECHO = "alicek106/rr-test:echo-hostname"


def pods(kubectl, selector: str) -> list[dict]:
    return json.loads(kubectl("get", "pods", "-l", selector, "-o", "json"))["items"]


def live(kubectl, selector: str) -> list[dict]:
    return [p for p in pods(kubectl, selector) if not p["metadata"].get("deletionTimestamp")]


def running(items: list[dict]) -> bool:
    return all(p["status"].get("phase") == "Running" for p in items)


def rs_row(kubectl, name: str) -> list[str]:
    """NAME DESIRED CURRENT READY AGE, as kubectl prints them."""
    return kubectl("get", "rs", name, "--no-headers").split()


def test_seed_replicaset_spreads_heals_scales_and_cascades(cluster, kubectl):
    selector = "app=my-nginx-pods-label"
    explain = lambda: (kubectl.run("describe", "rs", "replicaset-nginx", check=False).stdout  # noqa: E731
                       + kubectl("get", "pods", "-o", "wide") + cluster.logs())
    kubectl("apply", "-f", str(SEED_RS))
    try:
        wait_for("3/3 ready", lambda: rs_row(kubectl, "replicaset-nginx")[1:4] == ["3", "3", "3"], explain)
        first = live(kubectl, selector)
        assert len(first) == 3 and running(first)
        assert len({p["spec"]["nodeName"] for p in first}) == 3, "one pod per node"
        assert all(p["metadata"]["name"].startswith("replicaset-nginx-") for p in first)
        events = kubectl("describe", "rs", "replicaset-nginx")
        assert all(f"Created pod: {p['metadata']['name']}" in events for p in first)

        # a deleted pod is replaced
        victim = first[0]["metadata"]["name"]
        kubectl("delete", "pod", victim, "--wait=false")
        wait_for("a replacement", lambda: (names := {p["metadata"]["name"] for p in live(kubectl, selector)})
                 and victim not in names and len(names) == 3, explain)
        wait_for("3/3 ready again", lambda: rs_row(kubectl, "replicaset-nginx")[1:4] == ["3", "3", "3"], explain)

        # scale down through the scale subresource
        assert "scaled" in kubectl("scale", "rs", "replicaset-nginx", "--replicas=1")
        wait_for("1 pod left", lambda: len(pods(kubectl, selector)) == 1, explain)
        wait_for("1/1", lambda: rs_row(kubectl, "replicaset-nginx")[1:4] == ["1", "1", "1"], explain)
        assert kubectl("describe", "rs", "replicaset-nginx").count("Deleted pod: ") == 2
    finally:
        # deleting the ReplicaSet deletes its pods (the garbage collector, background propagation)
        kubectl("delete", "rs", "replicaset-nginx", "--ignore-not-found", "--wait=true")
    wait_for("the pods to go with their ReplicaSet", lambda: not pods(kubectl, selector), explain, timeout=90)


def test_adopts_an_orphan_and_releases_a_relabelled_pod(kubectl, cluster):
    selector = "app=rs-adopt"
    template = {"metadata": {"labels": {"app": "rs-adopt"}},
                "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "echo", "image": ECHO}]}}
    orphan = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "rs-adopt-orphan", **template["metadata"]},
              "spec": template["spec"]}
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs-adopt"},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "rs-adopt"}}, "template": template}}
    explain = lambda: (kubectl.run("describe", "rs", "rs-adopt", check=False).stdout  # noqa: E731
                       + kubectl("get", "pods", "-o", "wide", "--show-labels") + cluster.logs())
    released = None
    try:
        kubectl("apply", "-f", "-", input=json.dumps(orphan))
        kubectl("apply", "-f", "-", input=json.dumps(rs))
        uid = json.loads(kubectl("get", "rs", "rs-adopt", "-o", "json"))["metadata"]["uid"]
        wait_for("2/2 ready", lambda: rs_row(kubectl, "rs-adopt")[1:4] == ["2", "2", "2"], explain)
        owners = json.loads(kubectl("get", "pod", "rs-adopt-orphan", "-o", "json"))["metadata"]["ownerReferences"]
        assert owners == [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs-adopt", "uid": uid,
                           "controller": True, "blockOwnerDeletion": True}]
        assert len(live(kubectl, selector)) == 2, "the orphan counted: only one pod was created"

        released = "rs-adopt-orphan"
        kubectl("label", "pod", released, "app=debug", "--overwrite")
        wait_for("the relabelled pod released",
                 lambda: not json.loads(kubectl("get", "pod", released, "-o", "json"))["metadata"].get(
                     "ownerReferences"), explain)
        wait_for("a replacement", lambda: len(live(kubectl, selector)) == 2 and running(live(kubectl, selector))
                 and released not in {p["metadata"]["name"] for p in live(kubectl, selector)}, explain)
    finally:
        kubectl("delete", "rs", "rs-adopt", "--ignore-not-found", "--wait=true")
        if released:
            kubectl("delete", "pod", released, "--ignore-not-found", "--wait=false")
    wait_for("the pods to go", lambda: not pods(kubectl, selector) and not pods(kubectl, "app=debug"), explain,
             timeout=60)
