"""The ReplicaSet controller's pure planning: claiming, scale up/down, deletion order, status (no Docker)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from orchestrator.api.podstatus import is_available
from orchestrator.controllers.owners import claim
from orchestrator.controllers.replicaset_plan import (
    BURST_REPLICAS, POD_DELETION_COST, Failure, ReplicaFailureReason, compute_status, deletion_order,
    next_availability, plan_replicas, pod_from_template, slow_start_batches,
)

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=timezone.utc)
RS_UID = "rs-uid"


def ts(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rs(replicas: int = 3, *, min_ready: int = 0, deleting: bool = False, status: dict | None = None,
       owner_uid: str | None = None) -> dict:
    meta = {"name": "web", "namespace": "default", "uid": RS_UID, "generation": 4}
    if deleting:
        meta["deletionTimestamp"] = ts(0)
    if owner_uid:
        meta["ownerReferences"] = [{"kind": "Deployment", "name": "d", "uid": owner_uid, "controller": True}]
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta,
            "spec": {"replicas": replicas, "minReadySeconds": min_ready,
                     "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web", "tier": "front"},
                                               "annotations": {"note": "x"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
            "status": status or {}}


def pod(name: str, *, labels: dict | None = None, owner: str | None = RS_UID, node: str | None = "node-1",
        phase: str = "Running", ready_ago: float | None = 60, created_ago: float = 120, restarts: int = 0,
        deleting: bool = False, cost: int | None = None) -> dict:
    meta: dict = {"name": name, "namespace": "default", "uid": f"uid-{name}", "resourceVersion": "1",
                  "labels": {"app": "web"} if labels is None else labels, "creationTimestamp": ts(created_ago)}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": owner,
                                    "controller": True}]
    if deleting:
        meta["deletionTimestamp"] = ts(0)
    if cost is not None:
        meta["annotations"] = {POD_DELETION_COST: str(cost)}
    ready = {"type": "Ready", "status": "True" if ready_ago is not None else "False",
             "lastTransitionTime": ts(ready_ago if ready_ago is not None else created_ago)}
    return {"metadata": meta, "spec": {"nodeName": node} if node else {},
            "status": {"phase": phase, "conditions": [ready],
                       "containerStatuses": [{"name": "c", "restartCount": restarts}]}}


def names(pods) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


# ── claiming ─────────────────────────────────────────────────────────────────────────────────


def test_claim_keeps_adopts_releases_and_ignores():
    pods = [
        pod("mine"),
        pod("orphan", owner=None),
        pod("orphan-other-app", owner=None, labels={"app": "db"}),
        pod("relabelled", labels={"app": "debug"}),
        pod("someone-elses", owner="other-uid"),
        pod("terminating", deleting=True),
        pod("finished", phase="Succeeded"),
        pod("finished-orphan", owner=None, phase="Failed"),
    ]
    claimed = claim(rs(), pods)
    assert names(claimed.owned) == ["mine", "orphan"]
    assert names(claimed.adopt) == ["orphan"]
    assert names(claimed.release) == ["relabelled"]


def test_a_replicaset_being_deleted_neither_adopts_nor_releases():
    claimed = claim(rs(deleting=True), [pod("mine"), pod("orphan", owner=None), pod("relabelled", labels={})])
    assert (names(claimed.owned), claimed.adopt, claimed.release) == (["mine"], [], [])


# ── creating ─────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("count, batches", [
    (0, []), (1, [1]), (2, [1, 1]), (3, [1, 2]), (7, [1, 2, 4]), (10, [1, 2, 4, 3]), (16, [1, 2, 4, 8, 1]),
])
def test_slow_start_batches_double(count, batches):
    assert slow_start_batches(count) == batches
    assert sum(batches) == count


def test_pod_from_template_is_named_labelled_and_owned():
    made = pod_from_template(rs())
    assert made["metadata"] == {
        "generateName": "web-", "namespace": "default", "labels": {"app": "web", "tier": "front"},
        "annotations": {"note": "x"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": RS_UID,
                             "controller": True, "blockOwnerDeletion": True}]}
    assert made["spec"] == {"containers": [{"name": "c", "image": "nginx"}]}
    assert (made["apiVersion"], made["kind"]) == ("v1", "Pod")


# ── how many ─────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("replicas, pods, create, deleted", [
    (3, [], 3, []),
    (3, ["a", "b", "c"], 0, []),
    (5, ["a", "b"], 3, []),
    (0, ["a", "b"], 0, ["a", "b"]),
    (1000, [], BURST_REPLICAS, []),
])
def test_plan_replicas_counts(replicas, pods, create, deleted):
    plan = plan_replicas(rs(replicas), [pod(n) for n in pods], [], NOW)
    assert plan.create == create and sorted(names(plan.delete)) == deleted


def test_terminating_and_finished_pods_are_replaced_not_counted():
    pods = [pod("a"), pod("b", deleting=True), pod("c", phase="Failed")]
    owned = claim(rs(3), pods).owned
    assert plan_replicas(rs(3), owned, owned, NOW).create == 2


def test_a_replicaset_being_deleted_makes_no_pods():
    assert plan_replicas(rs(3, deleting=True), [], [], NOW).create == 0


# ── which pods go first ──────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("first, second, why", [
    (pod("unassigned", node=None, phase="Pending", ready_ago=None), pod("assigned"), "unassigned first"),
    (pod("pending", phase="Pending", ready_ago=None), pod("running", ready_ago=None), "Pending before Running"),
    (pod("unknown", phase="Unknown", ready_ago=None), pod("running", ready_ago=None), "Unknown before Running"),
    (pod("pending", phase="Pending", ready_ago=None), pod("unknown", phase="Unknown", ready_ago=None),
     "Pending before Unknown"),
    (pod("not-ready", ready_ago=None), pod("ready"), "not ready first"),
    (pod("cheap", cost=-5, restarts=0), pod("dear", cost=10, restarts=9), "lower deletion cost first"),
    (pod("recent", ready_ago=2), pod("long-ready", ready_ago=3600), "more recently ready first"),
    (pod("crashy", restarts=5), pod("steady", restarts=1), "more restarts first"),
    (pod("young", created_ago=5, ready_ago=None), pod("old", created_ago=7200, ready_ago=None), "newer first"),
])
def test_deletion_order_rules(first, second, why):
    assert names(deletion_order([second, first], [], NOW)) == names([first, second]), why
    assert names(deletion_order([first, second], [], NOW)) == names([first, second]), why


def test_pods_on_crowded_nodes_go_first():
    crowded, alone = pod("crowded", node="node-1"), pod("alone", node="node-2")
    related = [crowded, alone, pod("sibling-1", node="node-1", owner="old-rs"), pod("gone", node="node-2",
                                                                                    deleting=True)]
    assert names(deletion_order([alone, crowded], related, NOW)) == ["crowded", "alone"]


def test_ready_times_in_the_same_power_of_two_bucket_tie_on_uid_not_age():
    # 40 s and 50 s ago are both in [2^35, 2^36) ns: Kubernetes treats them alike and picks by uid
    a, b = pod("a", ready_ago=50), pod("b", ready_ago=40)
    assert names(deletion_order([b, a], [], NOW)) == ["a", "b"]


def test_scale_down_keeps_the_best_pods():
    pods = [pod("ready-old", ready_ago=3600, created_ago=4000), pod("pending", phase="Pending", ready_ago=None),
            pod("not-ready", ready_ago=None), pod("unassigned", node=None, phase="Pending", ready_ago=None)]
    plan = plan_replicas(rs(1), pods, pods, NOW)
    assert names(plan.delete) == ["unassigned", "pending", "not-ready"]


# ── status ───────────────────────────────────────────────────────────────────────────────────


def test_status_counts_labelled_ready_and_available():
    owned = [pod("a", labels={"app": "web", "tier": "front"}, ready_ago=30),
             pod("b", labels={"app": "web"}, ready_ago=5),
             pod("c", ready_ago=None)]
    status = compute_status(rs(3, min_ready=10), owned, NOW, ts(0), None)
    assert status == {"replicas": 3, "fullyLabeledReplicas": 1, "readyReplicas": 2, "availableReplicas": 1,
                      "observedGeneration": 4}


def test_status_leaves_zero_counts_out_but_keeps_replicas():
    assert compute_status(rs(0), [], NOW, ts(0), None) == {"replicas": 0, "observedGeneration": 4}


@pytest.mark.parametrize("ready_ago, available", [(9, False), (10, False), (11, True)])
def test_available_means_ready_for_more_than_min_ready_seconds(ready_ago, available):
    assert is_available(pod("a", ready_ago=ready_ago), 10, NOW) is available


def test_next_availability_points_at_the_first_pod_to_turn_available():
    owned = [pod("a", ready_ago=3), pod("b", ready_ago=8), pod("c", ready_ago=60), pod("d", ready_ago=None)]
    wait = next_availability(rs(4, min_ready=10), owned, NOW)
    assert 2.0 < wait < 2.5
    assert next_availability(rs(4, min_ready=0), owned, NOW) is None


def test_replica_failure_condition_is_set_kept_and_removed():
    failure = Failure(ReplicaFailureReason.FAILED_CREATE, 'Error creating: pods "web-" is forbidden')
    failed = compute_status(rs(), [], NOW, ts(60), failure)
    assert failed["conditions"] == [{"type": "ReplicaFailure", "status": "True", "lastTransitionTime": ts(60),
                                     "reason": "FailedCreate", "message": failure.message}]
    again = compute_status(rs(status=failed), [], NOW, ts(0), Failure(failure.reason, "another message"))
    assert again["conditions"] == failed["conditions"]
    assert "conditions" not in compute_status(rs(status=failed), [], NOW, ts(0), None)
