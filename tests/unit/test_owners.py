"""Ownership (orchestrator.controllers.owners): which owners a change of a dependent wakes."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.api.registry import kind_for
from orchestrator.client.protocol import WatchEventType as EventType
from orchestrator.controllers.owners import owner_keys

REPLICA_SET = kind_for("apps/v1", "ReplicaSet")
TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:latest"}]}}


def make_rs(api, name: str, app: str = "web") -> None:
    api.create(REPLICA_SET, "default", {"metadata": {"name": name}, "spec": {
        "replicas": 1, "selector": {"matchLabels": {"app": app}},
        "template": {**TEMPLATE, "metadata": {"labels": {"app": app}}}}})


def pod(name: str = "p", owner: str | None = None, app: str = "web", **meta) -> dict:
    refs = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "uid": f"uid-{owner}", "controller": True}]
    return {"metadata": {"name": name, "namespace": "default", "labels": {"app": app},
                         **({"ownerReferences": refs} if owner else {}), **meta},
            "status": {"phase": "Running"}}


@dataclass(frozen=True)
class Event:
    type: EventType
    object: dict
    previous: dict | None


def event(type_: EventType, obj: dict, previous: dict | None = None) -> Event:
    return Event(type_, obj, previous)


def keys(api, change: Event) -> list[tuple[str, str]]:
    owners = api.list(REPLICA_SET, "default")[0]
    return list(owner_keys("ReplicaSet", change.object, change.previous, change.type is EventType.DELETED, owners))


def test_an_owned_dependent_wakes_only_its_controller(api):
    make_rs(api, "a")
    make_rs(api, "b")
    assert keys(api, event(EventType.MODIFIED, pod(owner="a"), pod(owner="a"))) == [("default", "a")]
    assert keys(api, event(EventType.DELETED, pod(owner="a"))) == [("default", "a")]


def test_a_live_orphan_wakes_every_owner_whose_selector_matches(api):
    make_rs(api, "a")
    make_rs(api, "b")
    make_rs(api, "other", app="db")
    assert sorted(keys(api, event(EventType.ADDED, pod()))) == [("default", "a"), ("default", "b")]


def test_a_release_wakes_the_old_owner_once_and_the_others_that_may_adopt(api):
    make_rs(api, "a")
    make_rs(api, "b")
    assert keys(api, event(EventType.MODIFIED, pod(), pod(owner="a"))) == [("default", "a"), ("default", "b")]


def test_gone_terminating_or_finished_orphans_are_never_adopted(api):
    make_rs(api, "a")
    assert keys(api, event(EventType.DELETED, pod())) == []
    assert keys(api, event(EventType.MODIFIED, pod(deletionTimestamp="2026-01-01T00:00:00Z"))) == []
    assert keys(api, event(EventType.MODIFIED, {**pod(), "status": {"phase": "Succeeded"}})) == []
