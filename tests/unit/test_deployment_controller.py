"""The Deployment controller on the in-memory store and the real ObjectAPI (no Docker, no HTTP).

No ReplicaSet controller runs here: the tests play its part by writing ReplicaSet statuses
(:func:`settle`), which is exactly the signal the Deployment controller reacts to.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from orchestrator.api.registry import kind_for
from orchestrator.api.options import DeleteOptions, PatchType
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.controllers.deployment import DeploymentController
from tests.support.driven import drive

NS, EVENT, POD = kind_for("v1", "Namespace"), kind_for("v1", "Event"), kind_for("v1", "Pod")
RS, DEPLOY = kind_for("apps/v1", "ReplicaSet"), kind_for("apps/v1", "Deployment")
KEY = ("default", "web")
REVISION = "deployment.kubernetes.io/revision"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def controller(api, clock) -> DeploymentController:
    return drive(DeploymentController, api, clock=clock)


def deployment(replicas: int = 3, image: str = "nginx:1.0", **spec) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "annotations": {"kubernetes.io/change-cause": f"image {image}"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}, **spec}}


def set_image(api: ObjectAPI, image: str) -> None:
    api.patch(DEPLOY, "default", "web", PatchType.STRATEGIC, {
        "metadata": {"annotations": {"kubernetes.io/change-cause": f"image {image}"}},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})


def replicasets(api: ObjectAPI) -> dict[str, dict]:
    return {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs for rs in api.list(RS, "default")[0]}


def sizes(api: ObjectAPI) -> dict[str, int]:
    return {image: rs["spec"]["replicas"] for image, rs in replicasets(api).items()}


def settle(api: ObjectAPI, image: str, available: int | None = None) -> None:
    """Play the ReplicaSet controller: all pods exist and are ready; ``available`` of them available."""
    rs = replicasets(api)[image]
    n = rs["spec"]["replicas"]
    api.update(RS, "default", rs["metadata"]["name"], {**rs, "status": {
        "replicas": n, "readyReplicas": n if available is None else available,
        "availableReplicas": n if available is None else available,
        "observedGeneration": rs["metadata"]["generation"]}}, subresource="status")


def condition(api: ObjectAPI, kind: str) -> dict:
    return next(c for c in api.get(DEPLOY, "default", "web")["status"]["conditions"] if c["type"] == kind)


def events(api: ObjectAPI, reason: str) -> list[str]:
    return [e["message"] for e in api.list(EVENT, "default")[0] if e["reason"] == reason]


def roll(api: ObjectAPI, controller: DeploymentController, image: str, passes: int = 20) -> None:
    """Reconcile, settling the new ReplicaSet each time, until the rollout is complete."""
    for _ in range(passes):
        controller.reconcile(KEY)
        for current in replicasets(api):
            settle(api, current)
        status = api.get(DEPLOY, "default", "web")["status"]
        if status.get("updatedReplicas") == status.get("replicas") == api.get(DEPLOY, "default", "web")["spec"][
                "replicas"] and sizes(api).get(image) == status.get("availableReplicas") and \
                sum(sizes(api).values()) == sizes(api)[image]:
            controller.reconcile(KEY)
            return
    raise AssertionError(f"rollout to {image} did not finish: {sizes(api)}")


def test_first_rollout_creates_name_hash_replicaset_with_annotations_and_status(api, controller):
    d = api.create(DEPLOY, "default", deployment(3)).object
    controller.reconcile(KEY)
    (rs,) = api.list(RS, "default")[0]
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["spec"]["replicas"] == 3
    assert rs["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
    annotations = rs["metadata"]["annotations"]
    assert annotations[REVISION] == "1" and annotations["kubernetes.io/change-cause"] == "image nginx:1.0"
    assert annotations["deployment.kubernetes.io/desired-replicas"] == "3"
    assert annotations["deployment.kubernetes.io/max-replicas"] == "4"
    assert api.get(DEPLOY, "default", "web")["metadata"]["annotations"][REVISION] == "1"
    assert events(api, "ScalingReplicaSet") == [f"Scaled up replica set web-{pod_hash} from 0 to 3"]
    assert condition(api, "Progressing")["reason"] == "NewReplicaSetCreated"
    settle(api, "nginx:1.0")
    controller.reconcile(KEY)
    status = api.get(DEPLOY, "default", "web")["status"]
    assert {k: status[k] for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                                    "unavailableReplicas", "observedGeneration")} == {
        "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
        "unavailableReplicas": 0, "observedGeneration": 1}
    assert condition(api, "Available")["reason"] == "MinimumReplicasAvailable"
    assert condition(api, "Progressing")["message"] == f'ReplicaSet "web-{pod_hash}" has successfully progressed.'


def test_broken_image_keeps_all_old_pods_and_adds_one(api, controller):
    api.create(DEPLOY, "default", deployment(3))
    roll(api, controller, "nginx:1.0")
    set_image(api, "nginx:broken")
    for _ in range(3):
        controller.reconcile(KEY)
        settle(api, "nginx:broken", available=0)
    assert sizes(api) == {"nginx:1.0": 3, "nginx:broken": 1}
    new = replicasets(api)["nginx:broken"]
    assert new["metadata"]["annotations"][REVISION] == "2"
    assert new["metadata"]["annotations"]["kubernetes.io/change-cause"] == "image nginx:broken"
    assert condition(api, "Progressing")["reason"] == "ReplicaSetUpdated"


def test_rolling_update_steps_and_undo_brings_the_old_template_back_under_a_new_revision(api, controller):
    api.create(DEPLOY, "default", deployment(3))
    roll(api, controller, "nginx:1.0")
    set_image(api, "nginx:2.0")
    roll(api, controller, "nginx:2.0")
    assert sizes(api) == {"nginx:1.0": 0, "nginx:2.0": 3}
    moves = events(api, "ScalingReplicaSet")
    assert any(m.endswith("from 3 to 2") and "down" in m for m in moves)
    # kubectl rollout undo: a JSON patch copying revision 1's template back
    old = replicasets(api)["nginx:1.0"]
    template = {**old["spec"]["template"], "metadata": {"labels": {"app": "web"}}}
    api.patch(DEPLOY, "default", "web", PatchType.JSON, [{"op": "replace", "path": "/spec/template", "value": template}])
    roll(api, controller, "nginx:1.0")
    assert sizes(api) == {"nginx:1.0": 3, "nginx:2.0": 0}
    assert replicasets(api)["nginx:1.0"]["metadata"]["name"] == old["metadata"]["name"]
    assert replicasets(api)["nginx:1.0"]["metadata"]["annotations"][REVISION] == "3"
    assert api.get(DEPLOY, "default", "web")["metadata"]["annotations"][REVISION] == "3"


def test_progress_deadline_exceeded_and_auto_rollback(api, controller, clock):
    body = deployment(3, progressDeadlineSeconds=5)
    body["metadata"]["annotations"]["deployment.dockyard.io/auto-rollback"] = "true"
    api.create(DEPLOY, "default", body)
    roll(api, controller, "nginx:1.0")
    set_image(api, "nginx:broken")
    controller.reconcile(KEY)
    settle(api, "nginx:broken", available=0)
    controller.reconcile(KEY)  # the new pod exists: that was progress, the deadline counts from here
    clock.now += timedelta(seconds=6)
    controller.reconcile(KEY)
    progressing = condition(api, "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    d = api.get(DEPLOY, "default", "web")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.0"
    # as `rollout undo` does: the restored revision's change-cause comes back with its template
    assert d["metadata"]["annotations"]["kubernetes.io/change-cause"] == "image nginx:1.0"
    assert "deployment.dockyard.io/auto-rollback" in d["metadata"]["annotations"]
    (message,) = events(api, "DeploymentRollback")
    assert "rolled back" in message and "to revision 1" in message
    controller.reconcile(KEY)  # the old template is the new one again: the broken RS goes to 0
    assert sizes(api) == {"nginx:1.0": 3, "nginx:broken": 0}
    assert len(events(api, "DeploymentRollback")) == 1
    settle(api, "nginx:1.0")
    settle(api, "nginx:broken")
    controller.reconcile(KEY)
    assert condition(api, "Progressing")["reason"] == "NewReplicaSetAvailable"


def test_auto_rollback_never_bounces_back_to_the_revision_it_fled(api, controller, clock):
    body = deployment(3, progressDeadlineSeconds=5)
    body["metadata"]["annotations"]["deployment.dockyard.io/auto-rollback"] = "true"
    api.create(DEPLOY, "default", body)
    controller.reconcile(KEY)  # revision 1 never becomes available either
    set_image(api, "nginx:broken")
    for _ in range(2):
        controller.reconcile(KEY)
        clock.now += timedelta(seconds=6)
    controller.reconcile(KEY)
    assert api.get(DEPLOY, "default", "web")["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.0"
    assert replicasets(api)["nginx:broken"]["metadata"]["annotations"]["deployment.dockyard.io/rolled-back"] == "true"
    for image in ("nginx:1.0", "nginx:broken"):  # the restored pods exist but are never available
        settle(api, image, available=0)
    controller.reconcile(KEY)
    assert condition(api, "Progressing")["reason"] == "ReplicaSetUpdated"  # that was progress: a new deadline
    clock.now += timedelta(seconds=6)
    controller.reconcile(KEY)  # revision 1 (now 3) times out as well: nothing left to go back to
    assert condition(api, "Progressing")["reason"] == "ProgressDeadlineExceeded"
    assert api.get(DEPLOY, "default", "web")["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.0"
    assert len(events(api, "DeploymentRollback")) == 1


def test_progress_deadline_without_opt_in_only_reports(api, controller, clock):
    api.create(DEPLOY, "default", deployment(3, progressDeadlineSeconds=5))
    roll(api, controller, "nginx:1.0")
    set_image(api, "nginx:broken")
    controller.reconcile(KEY)
    clock.now += timedelta(seconds=6)
    controller.reconcile(KEY)
    assert condition(api, "Progressing")["reason"] == "ProgressDeadlineExceeded"
    assert api.get(DEPLOY, "default", "web")["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:broken"
    assert events(api, "DeploymentRollback") == []


def test_the_new_replicaset_grows_only_once_the_old_one_reports_its_pods_gone(api, controller):
    api.create(DEPLOY, "default", deployment(10))
    roll(api, controller, "nginx:1.0")
    set_image(api, "nginx:broken")
    for _ in range(3):
        controller.reconcile(KEY)
        settle(api, "nginx:broken", available=0)
    # the old ReplicaSet was told 8, but still reports 10 pods: 10 + 3 new is the surge bound
    assert sizes(api) == {"nginx:1.0": 8, "nginx:broken": 3}
    settle(api, "nginx:1.0")
    controller.reconcile(KEY)
    assert sizes(api) == {"nginx:1.0": 8, "nginx:broken": 5}


def test_paused_deployment_does_not_roll_out_until_resumed(api, controller):
    api.create(DEPLOY, "default", deployment(3))
    roll(api, controller, "nginx:1.0")
    api.patch(DEPLOY, "default", "web", PatchType.MERGE, {"spec": {"paused": True}})
    set_image(api, "nginx:2.0")
    controller.reconcile(KEY)
    assert sizes(api) == {"nginx:1.0": 3}
    assert (condition(api, "Progressing")["status"], condition(api, "Progressing")["reason"]) == (
        "Unknown", "DeploymentPaused")
    api.patch(DEPLOY, "default", "web", PatchType.MERGE, {"spec": {"paused": False}})
    controller.reconcile(KEY)
    assert sizes(api) == {"nginx:1.0": 3, "nginx:2.0": 1}


def test_scaling_mid_rollout_is_proportional(api, controller):
    api.create(DEPLOY, "default", deployment(10))
    roll(api, controller, "nginx:1.0")
    set_image(api, "nginx:broken")
    for _ in range(4):
        controller.reconcile(KEY)
        settle(api, "nginx:1.0")  # the old pods told to go are gone
        settle(api, "nginx:broken", available=0)
    # 10 replicas: surge 3, unavailable 2 → 8 old stay available, 5 new never become so
    assert sizes(api) == {"nginx:1.0": 8, "nginx:broken": 5}
    api.patch(DEPLOY, "default", "web", PatchType.MERGE, {"spec": {"replicas": 20}})
    controller.reconcile(KEY)
    # 25 allowed (20 + 5 surge), 12 more: old round(8·25/13)=15, new round(5·25/13)=10
    assert sizes(api) == {"nginx:1.0": 15, "nginx:broken": 10}
    assert {rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"]
            for rs in replicasets(api).values()} == {"20"}


def test_recreate_scales_old_to_zero_before_the_new_one_starts(api, controller):
    api.create(DEPLOY, "default", deployment(3, strategy={"type": "Recreate"}))
    roll(api, controller, "nginx:1.0")
    set_image(api, "nginx:2.0")
    controller.reconcile(KEY)
    assert sizes(api) == {"nginx:1.0": 0}
    old = replicasets(api)["nginx:1.0"]
    api.create(POD, "default", {"metadata": {"name": "old-pod", "labels": {"app": "web"}, "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": old["metadata"]["name"], "uid": old["metadata"]["uid"],
         "controller": True}]}, "spec": {"containers": [{"name": "c", "image": "nginx:1.0"}]}})
    controller.reconcile(KEY)
    assert sizes(api) == {"nginx:1.0": 0}  # an old pod still runs: nothing new starts beside it
    api.delete(POD, "default", "old-pod", DeleteOptions(grace_period_seconds=0))
    controller.reconcile(KEY)
    assert sizes(api) == {"nginx:1.0": 0, "nginx:2.0": 3}


def test_revision_history_limit_prunes_oldest_scaled_down_replicasets(api, controller):
    api.create(DEPLOY, "default", deployment(1, revisionHistoryLimit=1))
    for image in ("nginx:1.0", "nginx:2.0", "nginx:3.0"):
        if image != "nginx:1.0":
            set_image(api, image)
        roll(api, controller, image)
    assert sorted(replicasets(api)) == ["nginx:2.0", "nginx:3.0"]


def test_orphan_replicaset_matching_the_selector_is_adopted(api, controller):
    d = api.create(DEPLOY, "default", deployment(1)).object
    api.create(RS, "default", {"metadata": {"name": "stray", "labels": {"app": "web"}},
                               "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                                        "template": {"metadata": {"labels": {"app": "web"}},
                                                     "spec": {"containers": [{"name": "c", "image": "old"}]}}}})
    controller.reconcile(KEY)
    stray = api.get(RS, "default", "stray")
    assert stray["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
