"""Kubernetes object semantics of ObjectAPI and the garbage collector, on the in-memory store."""

from __future__ import annotations

import pytest

from orchestrator.api import errors
from orchestrator.api.registry import kind_for
from orchestrator.api.options import DeleteOptions, PatchType, PropagationPolicy
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.controllers.garbagecollector import CheckOwners, Finalize, GarbageCollector, OwnerGone
from orchestrator.controllers.namespace import NamespaceController
from orchestrator.store import MemoryStore
from tests.support.driven import drive

POD, RS, DEPLOY, NS = (kind_for("v1", "Pod"), kind_for("apps/v1", "ReplicaSet"),
                       kind_for("apps/v1", "Deployment"), kind_for("v1", "Namespace"))


@pytest.fixture
def api() -> ObjectAPI:
    made = ObjectAPI(MemoryStore())
    for name in ("default", "lab"):
        made.create(NS, None, {"metadata": {"name": name}})
    return made


def deployment(name="web", replicas=2, image="nginx:1.27") -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}}}


def pod(name="p", owner: dict | None = None, node: str | None = None) -> dict:
    meta: dict = {"name": name, "labels": {"app": "web"}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                    "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                    "controller": True}]
    spec: dict = {"containers": [{"name": "c", "image": "nginx:1.27"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def test_server_sets_identity_and_defaults(api):
    made = api.create(DEPLOY, "default", deployment()).object
    meta = made["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z") and meta["generation"] == 1
    assert made["spec"]["strategy"]["type"] == "RollingUpdate"
    created_pod = api.create(POD, "default", pod()).object
    assert created_pod["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


def test_generation_moves_with_spec_only(api):
    api.create(DEPLOY, "default", deployment())
    labelled = api.patch(DEPLOY, "default", "web", PatchType.MERGE, {"metadata": {"labels": {"a": "b"}}}).object
    assert labelled["metadata"]["generation"] == 1
    scaled = api.patch(DEPLOY, "default", "web", PatchType.MERGE, {"spec": {"replicas": 5}}).object
    assert scaled["metadata"]["generation"] == 2


def test_main_resource_ignores_status_and_status_subresource_ignores_spec(api):
    made = api.create(DEPLOY, "default", deployment()).object
    sneaky = {**made, "status": {"replicas": 9}}
    assert api.update(DEPLOY, "default", "web", sneaky).object.get("status") == {}
    status_write = {**made, "spec": {**made["spec"], "replicas": 7}, "status": {"replicas": 2}}
    status_write["metadata"] = {**made["metadata"], "resourceVersion": None}
    updated = api.update(DEPLOY, "default", "web", status_write, subresource="status").object
    assert updated["status"] == {"replicas": 2} and updated["spec"]["replicas"] == 2


def test_identical_update_writes_nothing(api):
    made = api.create(DEPLOY, "default", deployment()).object
    again = api.update(DEPLOY, "default", "web", made).object
    assert again["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]


def test_stale_resource_version_conflicts(api):
    made = api.create(DEPLOY, "default", deployment()).object
    api.patch(DEPLOY, "default", "web", PatchType.MERGE, {"spec": {"replicas": 3}})
    with pytest.raises(errors.ApiError) as error:
        api.update(DEPLOY, "default", "web", made)
    assert error.value.code == 409


def test_bound_pods_terminate_gracefully_and_unbound_go_at_once(api):
    api.create(POD, "default", pod("free"))
    api.delete(POD, "default", "free")
    with pytest.raises(errors.ApiError):
        api.get(POD, "default", "free")
    api.create(POD, "default", pod("bound", node="node-1"))
    marked = api.delete(POD, "default", "bound")
    assert marked["metadata"]["deletionTimestamp"] and marked["metadata"]["deletionGracePeriodSeconds"] == 30
    shorter = api.delete(POD, "default", "bound", DeleteOptions(grace_period_seconds=5))
    assert shorter["metadata"]["deletionGracePeriodSeconds"] == 5
    api.delete(POD, "default", "bound", DeleteOptions(grace_period_seconds=0))
    with pytest.raises(errors.ApiError):
        api.get(POD, "default", "bound")


def test_generate_name(api):
    body = pod()
    body["metadata"] = {"generateName": "web-", "labels": {}}
    name = api.create(POD, "default", body).object["metadata"]["name"]
    assert name.startswith("web-") and len(name) == len("web-") + 5


def test_background_deletion_cascades_through_the_gc(api):
    owner = api.create(RS, "default", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}).object
    api.create(POD, "default", pod("child", owner))
    api.create(POD, "default", pod("stranger"))
    api.delete(RS, "default", "rs", DeleteOptions(propagation=PropagationPolicy.BACKGROUND))
    drive(GarbageCollector, api).reconcile(OwnerGone(owner["metadata"]["uid"]))
    assert [p["metadata"]["name"] for p in api.list(POD, "default")[0]] == ["stranger"]


def test_a_dependent_created_after_its_owner_went_is_collected_by_itself(api):
    owner = api.create(DEPLOY, "default", deployment()).object
    api.create(POD, "default", pod("kept", owner))
    api.delete(DEPLOY, "default", "web", DeleteOptions(propagation=PropagationPolicy.ORPHAN))
    drive(GarbageCollector, api).reconcile(Finalize(DEPLOY.qualified_resource, "default", "web"))
    api.create(DEPLOY, "default", deployment())  # same name, new uid: not the late pod's owner
    api.create(POD, "default", pod("late", owner))
    gc = drive(GarbageCollector, api)
    gc.reconcile(CheckOwners(POD.qualified_resource, "default", "kept"))
    gc.reconcile(CheckOwners(POD.qualified_resource, "default", "late"))
    assert [p["metadata"]["name"] for p in api.list(POD, "default")[0]] == ["kept"]


def test_foreground_deletion_waits_for_dependents(api):
    owner = api.create(DEPLOY, "default", deployment()).object
    api.create(POD, "default", pod("child", owner))
    api.delete(DEPLOY, "default", "web", DeleteOptions(propagation=PropagationPolicy.FOREGROUND))
    assert api.get(DEPLOY, "default", "web")["metadata"]["finalizers"] == ["foregroundDeletion"]
    gc = drive(GarbageCollector, api)
    key = Finalize(DEPLOY.qualified_resource, "default", "web")
    with pytest.raises(Exception):
        gc.reconcile(key)  # dependents are deleted (in the foreground too): the owner waits
    assert api.get(POD, "default", "child")["metadata"]["finalizers"] == ["foregroundDeletion"]
    gc.reconcile(Finalize(POD.qualified_resource, "default", "child"))  # the pod has no dependents
    assert api.list(POD, "default")[0] == []
    gc.reconcile(key)
    with pytest.raises(errors.ApiError):
        api.get(DEPLOY, "default", "web")


def test_orphan_deletion_strips_owner_references(api):
    owner = api.create(DEPLOY, "default", deployment()).object
    api.create(POD, "default", pod("child", owner))
    api.delete(DEPLOY, "default", "web", DeleteOptions(propagation=PropagationPolicy.ORPHAN))
    drive(GarbageCollector, api).reconcile(Finalize(DEPLOY.qualified_resource, "default", "web"))
    assert "ownerReferences" not in api.get(POD, "default", "child")["metadata"]
    with pytest.raises(errors.ApiError):
        api.get(DEPLOY, "default", "web")


def test_namespace_deletion_empties_then_removes(api):
    api.create(DEPLOY, "lab", deployment())
    api.delete(NS, None, "lab")
    assert api.get(NS, None, "lab")["status"]["phase"] == "Terminating"
    with pytest.raises(errors.ApiError) as refused:
        api.create(POD, "lab", pod())
    assert refused.value.code == 403
    controller = drive(NamespaceController, api)
    controller.reconcile("lab")
    controller.reconcile("lab")
    with pytest.raises(errors.ApiError):
        api.get(NS, None, "lab")


def test_builtin_namespace_cannot_be_deleted(api):
    with pytest.raises(errors.ApiError) as error:
        api.delete(NS, None, "default")
    assert error.value.code == 403


def test_services_get_cluster_ips_and_node_ports_without_collisions(api):
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"},
           "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "nodePort": 30080}]}}
    made = api.create(kind_for("v1", "Service"), "default", svc).object
    assert made["spec"]["clusterIP"].startswith("10.") and made["spec"]["ports"][0]["nodePort"] == 30080
    svc["metadata"]["name"] = "b"
    with pytest.raises(errors.ApiError) as error:
        api.create(kind_for("v1", "Service"), "default", svc)
    assert "provided port is already allocated" in error.value.message
