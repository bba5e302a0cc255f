"""The ReplicaSet controller on the in-memory store and the real ObjectAPI (no Docker, no HTTP)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from orchestrator.api.registry import kind_for
from orchestrator.apiserver.admission import Admission, AdmissionPolicy
from orchestrator.api.options import PatchType
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.controllers.replicaset import ReplicaSetController, ReplicasNotReached
from orchestrator.client.informer import Change
from orchestrator.client.protocol import WatchEventType
from tests.support.driven import drive

POD, NS, EVENT = kind_for("v1", "Pod"), kind_for("v1", "Namespace"), kind_for("v1", "Event")
RS = kind_for("apps/v1", "ReplicaSet")
KEY = ("default", "web")


@pytest.fixture
def controller(api) -> ReplicaSetController:
    return drive(ReplicaSetController, api)


def replicaset(replicas: int = 3, namespace: str = "default", min_ready: int = 0) -> dict:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": namespace},
            "spec": {"replicas": replicas, "minReadySeconds": min_ready, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx:latest"}]}}}}


def bare_pod(name: str, labels: dict) -> dict:
    return {"metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "nginx:latest"}]}}


def pods(api: ObjectAPI, namespace: str = "default") -> list[dict]:
    return api.list(POD, namespace)[0]


def owned(api: ObjectAPI, rs: dict) -> list[str]:
    return sorted(p["metadata"]["name"] for p in pods(api)
                  if any(r["uid"] == rs["metadata"]["uid"] and r.get("controller")
                         for r in p["metadata"].get("ownerReferences") or []))


def events(api: ObjectAPI, reason: str, namespace: str = "default") -> list[str]:
    return [e["message"] for e in api.list(EVENT, namespace)[0] if e["reason"] == reason]


def mark_ready(api: ObjectAPI, name: str, since: datetime) -> None:
    stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    current = api.get(POD, "default", name)
    api.update(POD, "default", name, {**current, "status": {
        "phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": stamp}]}},
        subresource="status")


def test_creates_named_owned_pods_and_reports_status(api, controller):
    rs = api.create(RS, "default", replicaset(3)).object
    controller.reconcile(KEY)
    made = pods(api)
    assert len(made) == 3
    for p in made:
        assert p["metadata"]["name"].startswith("web-") and len(p["metadata"]["name"]) == len("web-") + 5
        assert p["metadata"]["labels"] == {"app": "web"}
        assert p["metadata"]["ownerReferences"] == [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": rs["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}]
    assert sorted(events(api, "SuccessfulCreate")) == sorted(f"Created pod: {p['metadata']['name']}" for p in made)
    controller.reconcile(KEY)  # the pods' events bring this pass: it counts them
    assert api.get(RS, "default", "web")["status"] == {"replicas": 3, "fullyLabeledReplicas": 3,
                                                      "observedGeneration": 1}


def test_a_restarted_controller_counts_what_exists_and_never_duplicates(api, controller):
    rs = api.create(RS, "default", replicaset(5)).object
    for index in range(2):  # a previous control plane got this far before it died
        api.create(POD, "default", {**bare_pod(f"web-old{index}", {"app": "web"}), "metadata": {
            "name": f"web-old{index}", "labels": {"app": "web"}, "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": rs["metadata"]["uid"],
                "controller": True}]}})
    drive(ReplicaSetController, api).reconcile(KEY)
    assert len(pods(api)) == 5
    controller.reconcile(KEY)
    controller.reconcile(KEY)
    assert len(pods(api)) == 5 and len(events(api, "SuccessfulCreate")) == 3


def test_scale_down_deletes_the_least_valuable_pods_first(api, controller):
    api.create(RS, "default", replicaset(3))
    controller.reconcile(KEY)
    names = sorted(p["metadata"]["name"] for p in pods(api))
    now = datetime.now(timezone.utc)
    mark_ready(api, names[0], now - timedelta(hours=1))
    mark_ready(api, names[1], now - timedelta(seconds=5))  # ready, but only just
    api.patch(RS, "default", "web", PatchType.MERGE, {"spec": {"replicas": 1}})
    controller.reconcile(KEY)
    assert [p["metadata"]["name"] for p in pods(api)] == [names[0]]
    assert sorted(events(api, "SuccessfulDelete")) == sorted(f"Deleted pod: {n}" for n in names[1:])


def test_adopts_a_matching_orphan_instead_of_creating(api, controller):
    rs = api.create(RS, "default", replicaset(2)).object
    api.create(POD, "default", bare_pod("stray", {"app": "web"}))
    api.create(POD, "default", bare_pod("unrelated", {"app": "db"}))
    controller.reconcile(KEY)
    assert "stray" in owned(api, rs) and len(owned(api, rs)) == 2
    assert "ownerReferences" not in api.get(POD, "default", "unrelated")["metadata"]


def test_releases_a_relabelled_pod_and_replaces_it(api, controller):
    rs = api.create(RS, "default", replicaset(2)).object
    controller.reconcile(KEY)
    debugged = owned(api, rs)[0]
    api.patch(POD, "default", debugged, PatchType.MERGE, {"metadata": {"labels": {"app": "debug"}}})
    controller.reconcile(KEY)
    assert "ownerReferences" not in api.get(POD, "default", debugged)["metadata"]
    assert len(owned(api, rs)) == 2 and debugged not in owned(api, rs)


def test_refused_creations_set_replica_failure_then_clear_it(api, controller):
    privileged = replicaset(4)
    privileged["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    api.admission = Admission(AdmissionPolicy(allow_privileged=True))
    api.create(RS, "default", privileged)
    api.admission = Admission(AdmissionPolicy(allow_privileged=False))  # restarted without the flag
    with pytest.raises(ReplicasNotReached):
        controller.reconcile(KEY)
    # slow start: one refused request, not four
    assert len(events(api, "FailedCreate")) == 1 and not pods(api)
    assert events(api, "FailedCreate")[0].startswith("Error creating: ")
    condition = api.get(RS, "default", "web")["status"]["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"]) == ("ReplicaFailure", "True", "FailedCreate")
    assert "--allow-privileged" in condition["message"]
    api.admission = Admission(AdmissionPolicy(allow_privileged=True))  # and back with it
    controller.reconcile(KEY)
    assert len(pods(api)) == 4 and "conditions" not in api.get(RS, "default", "web")["status"]


def test_available_replicas_wait_for_min_ready_seconds_and_the_key_comes_back(api):
    clock = {"now": datetime.now(timezone.utc).replace(microsecond=0)}
    controller = drive(ReplicaSetController, api, clock=lambda: clock["now"])
    api.create(RS, "default", replicaset(1, min_ready=10))
    controller.reconcile(KEY)
    name = pods(api)[0]["metadata"]["name"]
    mark_ready(api, name, clock["now"])
    controller.reconcile(KEY)
    status = api.get(RS, "default", "web")["status"]
    assert status.get("readyReplicas") == 1 and "availableReplicas" not in status
    while (woken := controller.queue.get(timeout=0.01)) is not None:  # the changes' keys, due now
        controller.queue.done(woken)
    assert len(controller.queue) == 1  # and the key queued for later, when the pod turns available
    clock["now"] += timedelta(seconds=11)
    controller.reconcile(KEY)
    assert api.get(RS, "default", "web")["status"]["availableReplicas"] == 1


def test_pod_events_wake_the_owner_and_the_replicasets_that_could_adopt(api, controller):
    rs = api.create(RS, "default", replicaset(1)).object
    orphan = api.create(POD, "default", bare_pod("orphan", {"app": "web"})).object
    other = api.create(POD, "default", bare_pod("other", {"app": "db"})).object
    owned_pod = {**bare_pod("child", {"app": "web"})}
    owned_pod["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                                 "uid": rs["metadata"]["uid"], "controller": True}]
    child = api.create(POD, "default", owned_pod).object
    keys = [list(controller.keys_for(Change(POD, WatchEventType.ADDED, pod))) for pod in (orphan, other, child)]
    assert keys == [[KEY], [], [KEY]]
    assert list(controller.resync_keys()) == [KEY]
