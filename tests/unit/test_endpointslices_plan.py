"""The EndpointSlice plan: conditions, port sets, the 100-endpoint limit, few writes (pure)."""

from __future__ import annotations

import itertools

from orchestrator.controllers.endpointslices_plan import (
    CONTROLLER_NAME, MAX_ENDPOINTS_PER_SLICE, SlicePlan, plan_slices, slice_labels,
)
from tests.support.endpointobjects import pod, service

_names = itertools.count()


def store(plan: SlicePlan, existing: list[dict]) -> list[dict]:
    """What the store holds after the plan is applied (names for created slices, as generateName)."""
    by_name = {s["metadata"]["name"]: s for s in existing}
    for slice_ in plan.delete:
        del by_name[slice_["metadata"]["name"]]
    for slice_ in plan.update:
        assert slice_["metadata"]["name"] in by_name, "an update of a slice that does not exist"
        by_name[slice_["metadata"]["name"]] = slice_
    for slice_ in plan.create:
        name = f"{slice_['metadata']['generateName']}{next(_names):05d}"
        by_name[name] = {**slice_, "metadata": {**slice_["metadata"], "name": name}}
    return sorted(by_name.values(), key=lambda s: s["metadata"]["name"])


def endpoints_of(slices: list[dict]) -> dict[str, list[str]]:
    return {s["metadata"]["name"]: [e["targetRef"]["name"] for e in s["endpoints"]] for s in slices}


def test_a_new_service_gets_one_labelled_owned_slice_with_each_pods_conditions():
    pods = [pod("a", "10.244.1.5"), pod("b", "10.244.1.6", ready=False), pod("c", "10.244.1.7", deleting=True)]
    plan = plan_slices(service(), pods, [])
    assert (len(plan.create), plan.update, plan.delete) == (1, [], [])
    [slice_] = plan.create
    assert slice_["metadata"]["generateName"] == "web-"
    assert slice_["metadata"]["labels"] == {"tier": "front", "kubernetes.io/service-name": "web",
                                            "endpointslice.kubernetes.io/managed-by": CONTROLLER_NAME}
    assert slice_["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                                      "uid": "svc-uid", "controller": True, "blockOwnerDeletion": True}]
    assert slice_["addressType"] == "IPv4"
    assert slice_["ports"] == [{"name": "", "port": 8080, "protocol": "TCP"}]
    assert [(e["addresses"], e["conditions"]) for e in slice_["endpoints"]] == [
        (["10.244.1.5"], {"ready": True, "serving": True, "terminating": False}),
        (["10.244.1.6"], {"ready": False, "serving": False, "terminating": False}),
        (["10.244.1.7"], {"ready": False, "serving": True, "terminating": True}),  # terminating stays, not ready
    ]
    assert slice_["endpoints"][0]["nodeName"] == "node-1"
    assert slice_["endpoints"][0]["targetRef"] == {"kind": "Pod", "namespace": "default", "name": "a", "uid": "uid-a"}


def test_publish_not_ready_addresses_makes_every_endpoint_ready():
    [slice_] = plan_slices(service(publishNotReadyAddresses=True), [pod("b", ready=False)], []).create
    assert slice_["endpoints"][0]["conditions"] == {"ready": True, "serving": False, "terminating": False}


def test_pods_offering_different_ports_go_to_different_slices():
    ports = [{"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"}]
    pods = [pod("a", "10.244.1.5", ports=[{"name": "web", "containerPort": 8080}]),
            pod("b", "10.244.1.6", ports=[{"name": "web", "containerPort": 80}]),
            pod("c", "10.244.1.7")]  # no port named web: listed with no ports
    created = plan_slices(service(ports), pods, []).create
    assert sorted((tuple(p["port"] for p in s["ports"]), tuple(e["addresses"][0] for e in s["endpoints"]))
                  for s in created) == [((), ("10.244.1.7",)), ((80,), ("10.244.1.6",)), ((8080,), ("10.244.1.5",))]


def test_at_most_one_hundred_endpoints_per_slice_and_a_new_pod_fills_a_slice_with_room():
    pods = [pod(f"p{i:03d}", f"10.244.{1 + i // 250}.{1 + i % 250}") for i in range(250)]
    slices = store(plan_slices(service(), pods, []), [])
    assert MAX_ENDPOINTS_PER_SLICE == 100
    assert sorted(len(s["endpoints"]) for s in slices) == [50, 100, 100]
    assert plan_slices(service(), pods, slices) == SlicePlan()  # nothing changed: nothing written
    plan = plan_slices(service(), [*pods, pod("new", "10.244.9.9")], slices)
    assert (plan.create, plan.delete, len(plan.update)) == ([], [], 1)
    assert len(plan.update[0]["endpoints"]) == 51


def test_an_endpoint_stays_in_its_slice_and_only_that_slice_is_rewritten():
    pods = [pod(f"p{i:03d}", f"10.244.1.{i + 1}") for i in range(150)]
    slices = store(plan_slices(service(), pods, []), [])
    before = endpoints_of(slices)
    unready = [pod("p120", "10.244.1.121", ready=False) if p["metadata"]["name"] == "p120" else p for p in pods]
    plan = plan_slices(service(), unready, slices)
    [updated] = plan.update
    assert (plan.create, plan.delete) == ([], [])
    assert endpoints_of([updated]) == {updated["metadata"]["name"]: before[updated["metadata"]["name"]]}
    assert "p120" in before[updated["metadata"]["name"]]


def test_a_service_without_endpoints_keeps_one_empty_placeholder_slice():
    plan = plan_slices(service(), [], [])
    [placeholder] = plan.create
    assert (placeholder["ports"], placeholder["endpoints"]) == ([], [])
    slices = store(plan, [])
    assert plan_slices(service(), [], slices) == SlicePlan()
    # the first pod turns the placeholder into its slice instead of creating another
    plan = plan_slices(service(), [pod("a")], slices)
    assert (plan.create, plan.delete, [u["metadata"]["name"] for u in plan.update]) == \
        ([], [], [slices[0]["metadata"]["name"]])
    # and the last pod's departure turns it back into the placeholder
    slices = store(plan, slices)
    plan = plan_slices(service(), [], slices)
    assert (plan.create, plan.delete) == ([], []) and plan.update[0]["endpoints"] == []


def test_slices_of_an_older_service_of_the_same_name_are_deleted():
    old = store(plan_slices({**service(), "metadata": {**service()["metadata"], "uid": "old-uid"}}, [pod("a")], []), [])
    plan = plan_slices(service(), [pod("a")], old)
    # the new service's slice reuses nothing of the old owner's: it is deleted, a new one created
    assert [s["metadata"]["name"] for s in plan.delete] == [old[0]["metadata"]["name"]]
    assert len(plan.create) == 1 and plan.update == []


def test_a_service_being_deleted_gets_no_new_slices():
    deleting = {**service(), "metadata": {**service()["metadata"], "deletionTimestamp": "2026-01-01T10:00:00Z"}}
    assert plan_slices(deleting, [pod("a")], []).create == []


def test_changed_service_labels_are_written_to_its_slices():
    slices = store(plan_slices(service(), [pod("a")], []), [])
    relabelled = {**service(), "metadata": {**service()["metadata"], "labels": {"tier": "back"}}}
    [updated] = plan_slices(relabelled, [pod("a")], slices).update
    assert updated["metadata"]["labels"]["tier"] == "back"
    assert slice_labels(relabelled)["kubernetes.io/service-name"] == "web"


def test_reserved_labels_of_the_service_do_not_override_the_controllers():
    svc = {**service(), "metadata": {**service()["metadata"],
                                     "labels": {"endpointslice.kubernetes.io/managed-by": "someone",
                                                "kubernetes.io/service-name": "other"}}}
    labels = slice_labels(svc)
    assert labels["endpointslice.kubernetes.io/managed-by"] == CONTROLLER_NAME
    assert labels["kubernetes.io/service-name"] == "web"
