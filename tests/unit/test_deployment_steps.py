"""The Deployment controller's planner as tables: given a Deployment, its ReplicaSets and pods,
which steps does one pass take (orchestrator.controllers.deployment_steps, pure).

Each plan is summarised in words a reader can check against the rollout docstrings: ReplicaSets
are named by their image (``v1``), so ``scale v1 3→2`` reads as "the old ReplicaSet shrinks".
The controller tests (``test_deployment_controller.py``) drive the same planner through the
object API; these pin down single passes, including the worked examples of
:mod:`orchestrator.controllers.rollout` and :mod:`orchestrator.controllers.deployment_steps`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from orchestrator.controllers import deployment_plan as plan
from orchestrator.controllers.deployment_steps import (
    RECREATE_POLL_SECONDS, AdoptReplicaSet, CreateReplicaSet, LookAgain, PruneReplicaSet, ReleaseReplicaSet,
    RollBack, ScaleReplicaSet, SetRevision, Step, SyncReplicaSet, WriteStatus, plan_pass,
)

NOW = datetime(2026, 12, 7, 12, 0, 0, tzinfo=timezone.utc)
UID = "deploy-uid"


def deployment(replicas: int = 3, image: str = "v1", revision: int | None = None, **spec) -> dict:
    annotations = {"kubernetes.io/change-cause": f"image {image}"}
    if revision is not None:
        annotations[plan.Annotation.REVISION.value] = str(revision)
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "uid": UID, "generation": 1,
                         "annotations": annotations},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                     "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}, **spec},
            "status": {}}


def replica_set(d: dict, image: str, replicas: int, *, available: int | None = None, pods: int | None = None,
                revision: int = 1, age: int = 0, sized_for: int | None = None) -> dict:
    """The ReplicaSet ``d`` made for ``image``, sized ``replicas`` (as the Deployment controller
    last sized it for ``sized_for`` replicas), with its pods' counts in its status."""
    at = {**d, "spec": {**d["spec"], "replicas": sized_for if sized_for is not None else d["spec"]["replicas"],
                        "template": {**d["spec"]["template"],
                                     "spec": {"containers": [{"name": "c", "image": image}]}}}}
    rs = plan.new_rs_object(at, replicas, revision)
    created = (NOW - timedelta(minutes=60 - age)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rs["metadata"].update(uid=f"rs-{image}", creationTimestamp=created, generation=1, resourceVersion="7")
    pods = replicas if pods is None else pods
    available = replicas if available is None else available
    rs["status"] = {"replicas": pods, "readyReplicas": available, "availableReplicas": available,
                    "observedGeneration": 1}
    return rs


@dataclass
class Case:
    deployment: dict
    replica_sets: list[dict]
    expected: list[str]
    pods: list[dict] = field(default_factory=list)


def summary(steps: list[Step], replica_sets: list[dict]) -> list[str]:
    """One line per step; ReplicaSets named by image, status writes by their counts."""
    image_of = {rs["metadata"]["name"]: rs["spec"]["template"]["spec"]["containers"][0]["image"]
                for rs in replica_sets}
    size_of = {rs["metadata"]["name"]: rs["spec"]["replicas"] for rs in replica_sets}
    lines = []
    for step in steps:
        match step:
            case CreateReplicaSet(body, _):
                image_of[body["metadata"]["name"]] = body["spec"]["template"]["spec"]["containers"][0]["image"]
                size_of[body["metadata"]["name"]] = body["spec"]["replicas"]
                lines.append(f"create {image_of[body['metadata']['name']]} with {body['spec']['replicas']}")
            case ScaleReplicaSet(name, replicas, _, _):
                lines.append(f"scale {image_of[name]} {size_of[name]}→{replicas}")
                size_of[name] = replicas
            case SetRevision(revision):
                lines.append(f"revision {revision}")
            case SyncReplicaSet(name, _, _):
                lines.append(f"sync {image_of[name]}")
            case AdoptReplicaSet(rs, _):
                lines.append(f"adopt {image_of[rs['metadata']['name']]}")
            case ReleaseReplicaSet(rs, _):
                lines.append(f"release {image_of[rs['metadata']['name']]}")
            case PruneReplicaSet(rs):
                lines.append(f"prune {image_of[rs['metadata']['name']]}")
            case WriteStatus(status):
                lines.append("status " + (f"collision {status['collisionCount']}" if "replicas" not in status else
                                          f"{status['updatedReplicas']}/{status['replicas']} updated, "
                                          f"{status['availableReplicas']} available"))
            case RollBack(failed, template, _, _):
                lines.append(f"roll back from {image_of[failed]} to {template['spec']['containers'][0]['image']}")
            case LookAgain(after):
                lines.append(f"look again in {after:g}s")
    return lines


def _rolling_cases() -> dict[str, Case]:
    d1, d2 = deployment(3, "v1", revision=1), deployment(3, "v2", revision=1)
    d3 = deployment(3, "v3", revision=3, revisionHistoryLimit=1)
    # while a rollout is under way, every pass also asks to look again when the progress
    # deadline (600 s, plus a second) would run out
    deadline = "look again in 601s"
    return {
        # no ReplicaSet yet: the first one gets every replica at once (surge room 3+1)
        "first rollout": Case(deployment(3, "v1"), [], [
            "create v1 with 3", "revision 1", "status 0/0 updated, 0 available", deadline]),
        "steady state": Case(d1, [replica_set(d1, "v1", 3)], ["status 3/3 updated, 3 available"]),
        # rollout.py's example: 3 replicas, 25%/25% → surge 1, unavailable 0
        "set image: the new ReplicaSet takes the surge": Case(d2, [replica_set(d2, "v1", 3)], [
            "create v2 with 1", "revision 2", "status 0/3 updated, 3 available", deadline]),
        "new pod not yet available: nobody may go": Case(d2, [
            replica_set(d2, "v1", 3), replica_set(d2, "v2", 1, available=0, revision=2, age=1)], [
            "revision 2", "status 1/4 updated, 3 available", deadline]),
        "new pod available: one old goes": Case(d2, [
            replica_set(d2, "v1", 3), replica_set(d2, "v2", 1, revision=2, age=1)], [
            "revision 2", "scale v1 3→2", "status 1/4 updated, 4 available", deadline]),
        # the old ReplicaSet still reports 3 pods: growing now would make 5 > 3 + surge
        "old pod not gone yet: the new one waits": Case(d2, [
            replica_set(d2, "v1", 2, pods=3), replica_set(d2, "v2", 1, revision=2, age=1)], [
            "revision 2", "status 1/4 updated, 3 available", deadline]),
        "old pod gone: the new one grows": Case(d2, [
            replica_set(d2, "v1", 2), replica_set(d2, "v2", 1, revision=2, age=1)], [
            "revision 2", "scale v2 1→2", "status 1/3 updated, 3 available", deadline]),
        "done: the old one stays, scaled to 0, within the history limit": Case(deployment(3, "v2", revision=2), [
            replica_set(d2, "v1", 0), replica_set(d2, "v2", 3, revision=2, age=1)], [
            "status 3/3 updated, 3 available"]),
        "done: beyond revisionHistoryLimit 1 the oldest is pruned": Case(d3, [
            replica_set(d3, "v1", 0), replica_set(d3, "v2", 0, revision=2, age=1),
            replica_set(d3, "v3", 3, revision=3, age=2)], [
            "prune v1", "status 3/3 updated, 3 available"]),
        # 10 replicas: surge 3, unavailable 2 → between 8 available and 13 pods
        "ten replicas: the new ReplicaSet gets the whole surge, two old go at once": Case(
            deployment(10, "v2", revision=1), [replica_set(deployment(10), "v1", 10)], [
                "create v2 with 3", "revision 2", "scale v1 10→8", "status 0/10 updated, 10 available", deadline]),
        "undo: the old template comes back under a new revision": Case(deployment(3, "v1", revision=2), [
            replica_set(d1, "v1", 0, revision=1), replica_set(d1, "v2", 3, revision=2, age=1)], [
            "sync v1", "revision 3", "scale v1 0→1", "status 0/3 updated, 3 available", deadline]),
    }


def _other_cases() -> dict[str, Case]:
    recreate = {"strategy": {"type": "Recreate"}}
    deadline = "look again in 601s"
    r2 = deployment(3, "v2", revision=1, **recreate)
    old_pod = {"metadata": {"name": "web-v1-a", "namespace": "default",
                            "ownerReferences": [{"uid": "rs-v1", "controller": True}]}, "status": {"phase": "Running"}}
    paused = deployment(3, "v2", revision=1, paused=True)
    scaled, mid = deployment(20, "v2", revision=2), deployment(10, "v2", revision=2)
    orphan = replica_set(deployment(3), "v1", 3)
    orphan["metadata"]["ownerReferences"] = []
    clash = replica_set(deployment(3, "v2"), "v9", 1)
    clash["metadata"]["name"] = plan.new_rs_object(deployment(3, "v2"), 1, 1)["metadata"]["name"]
    clash["metadata"]["ownerReferences"] = []
    clash["metadata"]["labels"] = {"app": "other"}
    return {
        "recreate: every old pod goes first": Case(r2, [replica_set(r2, "v1", 3)], [
            "scale v1 3→0", "status 0/3 updated, 3 available"]),
        "recreate: waits while an old pod still runs": Case(r2, [replica_set(r2, "v1", 0, pods=1)], [
            "status 0/1 updated, 0 available", f"look again in {RECREATE_POLL_SECONDS:g}s"], pods=[old_pod]),
        "recreate: then the new ReplicaSet starts with every replica": Case(r2, [replica_set(r2, "v1", 0, pods=0)], [
            "create v2 with 3", "revision 2", "status 0/0 updated, 0 available", deadline]),
        "paused: a new template rolls nothing out": Case(paused, [replica_set(paused, "v1", 3)], [
            "status 0/3 updated, 3 available", deadline]),
        # rollout.py's proportional example: 10 → 20 mid-rollout, old 8 and new 5 (max-replicas 13)
        "scaled mid-rollout: both grow in proportion": Case(scaled, [
            replica_set(mid, "v1", 8), replica_set(mid, "v2", 5, available=0, revision=2, age=1)], [
            "scale v1 8→15", "scale v2 5→10", "status 5/13 updated, 8 available", deadline]),
        "an orphan the selector matches is adopted": Case(deployment(3, "v1", revision=1), [orphan], [
            "adopt v1", "status 3/3 updated, 3 available"]),
        "a name taken by another template bumps the collision count": Case(deployment(3, "v2", revision=1), [
            replica_set(deployment(3), "v1", 3), clash], ["status collision 1"]),
    }


@pytest.mark.parametrize(("name", "case"), [*_rolling_cases().items(), *_other_cases().items()],
                         ids=[*_rolling_cases(), *_other_cases()])
def test_one_pass(name: str, case: Case) -> None:
    steps = plan_pass(case.deployment, case.replica_sets, case.pods, NOW)
    assert summary(steps, case.replica_sets) == case.expected


def test_a_deployment_being_deleted_gets_its_status_only():
    d = {**deployment(3, "v2", revision=1), "metadata": {**deployment()["metadata"],
                                                         "deletionTimestamp": "2026-12-07T11:00:00Z"}}
    steps = plan_pass(d, [replica_set(d, "v1", 3)], [], NOW)
    assert [type(step) for step in steps] == [WriteStatus]


def test_the_progress_deadline_rolls_back_once_with_the_opt_in():
    d = deployment(3, "v2", revision=2, progressDeadlineSeconds=10)
    d["metadata"]["annotations"][plan.Annotation.AUTO_ROLLBACK.value] = "true"
    stale = (NOW - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    d["status"] = {"replicas": 4, "updatedReplicas": 1, "availableReplicas": 3, "readyReplicas": 3,
                   "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                                   "lastUpdateTime": stale, "lastTransitionTime": stale,
                                   "message": 'ReplicaSet "x" is progressing.'}]}
    rss = [replica_set(d, "v1", 3), replica_set(d, "v2", 1, available=0, revision=2, age=1)]
    steps = plan_pass(d, rss, [], NOW)
    assert summary(steps, rss) == ["status 1/4 updated, 3 available", "roll back from v2 to v1"]
    [written] = [s.status for s in steps if isinstance(s, WriteStatus)]
    exceeded = {**d, "status": written}
    assert summary(plan_pass(exceeded, rss, [], NOW), rss) == ["status 1/4 updated, 3 available"]


def test_every_scale_names_what_moved_in_its_event():
    d2 = deployment(3, "v2", revision=1)
    steps = plan_pass(d2, [replica_set(d2, "v1", 3), replica_set(d2, "v2", 1, revision=2, age=1)], [], NOW)
    [scale] = [s for s in steps if isinstance(s, ScaleReplicaSet)]
    assert scale.event == f"Scaled down replica set {scale.name} from 3 to 2"
    [create] = [s for s in plan_pass(deployment(3, "v1"), [], [], NOW) if isinstance(s, CreateReplicaSet)]
    assert create.event == f"Scaled up replica set {create.body['metadata']['name']} from 0 to 3"
