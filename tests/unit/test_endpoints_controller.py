"""The endpoints controller on the in-memory store and the real ObjectAPI (no Docker, no HTTP)."""

from __future__ import annotations

import pytest

from orchestrator.api import errors
from orchestrator.api.registry import kind_for
from orchestrator.apiserver.auth import Attributes, authorize
from orchestrator.apiserver.requestinfo import Verb
from orchestrator.api.options import DeleteOptions
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.cluster.identity import node_identity
from orchestrator.controllers.endpoints import EndpointsController
from orchestrator.controllers.endpointslices_plan import CONTROLLER_NAME
from orchestrator.client.informer import Change
from orchestrator.client.protocol import WatchEventType as EventType
from tests.support.driven import drive

NS, POD, SERVICE = kind_for("v1", "Namespace"), kind_for("v1", "Pod"), kind_for("v1", "Service")
ENDPOINTS, SLICE = kind_for("v1", "Endpoints"), kind_for("discovery.k8s.io/v1", "EndpointSlice")
KEY = ("default", "web")


@pytest.fixture
def controller(api) -> EndpointsController:
    return drive(EndpointsController, api)


def create_service(api: ObjectAPI, name: str = "web", **spec) -> dict:
    return api.create(SERVICE, "default", {"metadata": {"name": name}, "spec": {
        "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}], **spec}}).object


def run_pod(api: ObjectAPI, name: str, ip: str, ready: bool = True, labels: dict | None = None) -> dict:
    """A pod as the scheduler and its agent leave it: bound, Running, with an IP."""
    pod = api.create(POD, "default", {"metadata": {"name": name, "labels": labels or {"app": "web"}},
                                      "spec": {"nodeName": "node-1",
                                               "containers": [{"name": "c", "image": "nginx"}]}}).object
    return set_ready(api, pod, ip, ready)


def set_ready(api: ObjectAPI, pod: dict, ip: str, ready: bool) -> dict:
    status = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
              "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    return api.update(POD, "default", pod["metadata"]["name"], {**pod, "status": status}, subresource="status").object


def ips(endpoints: dict) -> tuple[list[str], list[str]]:
    subsets = endpoints.get("subsets") or []
    return ([a["ip"] for s in subsets for a in s.get("addresses") or []],
            [a["ip"] for s in subsets for a in s.get("notReadyAddresses") or []])


def slices(api: ObjectAPI) -> list[dict]:
    return api.list(SLICE, "default")[0]


def test_a_service_gets_endpoints_and_a_slice_that_follow_readiness(api, controller):
    create_service(api)
    a = run_pod(api, "a", "10.244.1.5")
    run_pod(api, "b", "10.244.1.6", ready=False)
    run_pod(api, "other", "10.244.1.7", labels={"app": "other"})
    controller.reconcile(KEY)
    assert ips(api.get(ENDPOINTS, "default", "web")) == (["10.244.1.5"], ["10.244.1.6"])
    [slice_] = slices(api)
    assert slice_["metadata"]["name"].startswith("web-") and len(slice_["metadata"]["name"]) == len("web-") + 5
    assert [(e["addresses"][0], e["conditions"]["ready"]) for e in slice_["endpoints"]] == \
        [("10.244.1.5", True), ("10.244.1.6", False)]
    set_ready(api, api.get(POD, "default", "a"), a["status"]["podIP"], ready=False)
    controller.reconcile(KEY)
    assert ips(api.get(ENDPOINTS, "default", "web")) == ([], ["10.244.1.5", "10.244.1.6"])


def test_a_pass_with_nothing_new_writes_nothing(api, controller):
    create_service(api)
    run_pod(api, "a", "10.244.1.5")
    controller.reconcile(KEY)
    revision = api.store.revision()
    controller.reconcile(KEY)
    assert api.store.revision() == revision


def test_a_terminating_pod_leaves_the_endpoints_but_stays_in_the_slice_as_terminating(api, controller):
    create_service(api)
    run_pod(api, "a", "10.244.1.5")
    api.delete(POD, "default", "a", DeleteOptions(grace_period_seconds=30))  # bound to a node: graceful
    controller.reconcile(KEY)
    assert ips(api.get(ENDPOINTS, "default", "web")) == ([], [])
    [endpoint] = slices(api)[0]["endpoints"]
    assert endpoint["conditions"] == {"ready": False, "serving": True, "terminating": True}


def test_selectorless_and_external_name_services_are_left_to_their_owners(api, controller):
    create_service(api, "manual", selector=None)
    api.create(ENDPOINTS, "default", {"metadata": {"name": "manual"},
                                      "subsets": [{"addresses": [{"ip": "192.168.1.9"}], "ports": [{"port": 5432}]}]})
    create_service(api, "name", selector=None, type="ExternalName", externalName="example.com", ports=[])
    run_pod(api, "a", "10.244.1.5")
    controller.reconcile(("default", "manual"))
    controller.reconcile(("default", "name"))
    assert ips(api.get(ENDPOINTS, "default", "manual")) == (["192.168.1.9"], [])
    assert [e["metadata"]["name"] for e in api.list(ENDPOINTS, "default")[0]] == ["manual"]
    assert slices(api) == []


def test_a_deleted_services_endpoints_are_deleted(api, controller):
    create_service(api)
    run_pod(api, "a", "10.244.1.5")
    controller.reconcile(KEY)
    api.delete(SERVICE, "default", "web")
    controller.reconcile(KEY)
    assert api.list(ENDPOINTS, "default")[0] == []


def test_the_first_resync_also_visits_endpoints_left_without_a_service(api, controller):
    api.create(ENDPOINTS, "default", {"metadata": {"name": "orphan"}})
    create_service(api)
    assert controller.resync_keys() == [("default", "orphan"), KEY]
    assert controller.resync_keys() == [KEY]


def pod_event(type_: EventType, obj: dict, previous: dict | None = None) -> Change:
    return Change(POD, type_, obj, previous)


def test_pod_events_wake_matching_services_only_when_endpoints_could_change(api, controller):
    create_service(api)
    create_service(api, "other", selector={"app": "other"})
    create_service(api, "manual", selector=None)
    pod = run_pod(api, "a", "10.244.1.5")
    assert list(controller.keys_for(pod_event(EventType.ADDED, pod))) == [KEY]
    restarted = {**pod, "status": {**pod["status"], "containerStatuses": [{"name": "c", "restartCount": 1}]}}
    assert list(controller.keys_for(pod_event(EventType.MODIFIED, restarted, pod))) == []
    unready = {**pod, "status": {**pod["status"], "conditions": [{"type": "Ready", "status": "False"}]}}
    assert list(controller.keys_for(pod_event(EventType.MODIFIED, unready, pod))) == [KEY]
    relabelled = {**pod, "metadata": {**pod["metadata"], "labels": {"app": "other"}}}
    assert sorted(controller.keys_for(pod_event(EventType.MODIFIED, relabelled, pod))) == \
        [("default", "other"), KEY]  # the old service loses it, the new one gains it
    assert list(controller.keys_for(pod_event(EventType.DELETED, pod, pod))) == [KEY]


def test_deleting_a_managed_slice_wakes_its_service_and_it_comes_back(api, controller):
    create_service(api)
    run_pod(api, "a", "10.244.1.5")
    controller.reconcile(KEY)
    [slice_] = slices(api)
    removed = api.delete(SLICE, "default", slice_["metadata"]["name"])
    event = Change(SLICE, EventType.DELETED, removed, removed)
    assert list(controller.keys_for(event)) == [KEY]
    controller.reconcile(KEY)
    [again] = slices(api)
    assert again["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == CONTROLLER_NAME
    assert [e["addresses"] for e in again["endpoints"]] == [["10.244.1.5"]]


def test_slices_managed_by_someone_else_are_never_touched(api, controller):
    create_service(api)
    foreign = api.create(SLICE, "default", {"metadata": {"name": "web-mine", "labels": {
        "kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "me"}},
        "addressType": "IPv4", "endpoints": [{"addresses": ["192.168.1.1"]}], "ports": []}).object
    controller.reconcile(KEY)
    assert api.get(SLICE, "default", "web-mine") == foreign
    assert len(slices(api)) == 2  # ours is the placeholder: no pods yet


@pytest.mark.parametrize("rk", [SERVICE, ENDPOINTS, SLICE, kind_for("v1", "Node")])
@pytest.mark.parametrize("verb", [Verb.GET, Verb.LIST, Verb.WATCH])
def test_node_agents_may_read_what_the_service_proxy_and_dns_need(rk, verb):
    authorize(node_identity("node-1"), Attributes(verb, rk, None if rk.kind == "Node" else "default",
                                                  None if verb is not Verb.GET else "x", None), api=None)


@pytest.mark.parametrize("rk", [SERVICE, ENDPOINTS, SLICE])
def test_but_not_write_it(rk):
    with pytest.raises(errors.ApiError) as refused:
        authorize(node_identity("node-1"), Attributes(Verb.UPDATE, rk, "default", "x", None), api=None)
    assert refused.value.code == 403
