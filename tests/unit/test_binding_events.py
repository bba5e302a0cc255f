"""The binding subresource, the control plane's event recorder, taints and conditions (no Docker)."""

from __future__ import annotations

from enum import Enum

import pytest

from orchestrator.api import errors
from orchestrator.api.conditions import set_condition
from orchestrator.api.core import EventType
from orchestrator.api.meta import ConditionStatus
from orchestrator.api.pod import PodConditionReason, PodConditionType
from orchestrator.api.registry import kind_for
from orchestrator.api.taints import first_untolerated, tolerates
from orchestrator.apiserver.binding import bind
from orchestrator.scheduler.plan import binding_for
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.controllers.events import EventRecorder
from orchestrator.controlplane.localclient import LocalClient
from orchestrator.store import MemoryStore

POD, NS, EVENT = kind_for("v1", "Pod"), kind_for("v1", "Namespace"), kind_for("v1", "Event")


class Reason(str, Enum):
    TESTED = "Tested"


@pytest.fixture
def api() -> ObjectAPI:
    made = ObjectAPI(MemoryStore())
    made.create(NS, None, {"metadata": {"name": "default"}})
    return made


def new_pod(api: ObjectAPI, name: str = "web") -> dict:
    return api.create(POD, "default", {"metadata": {"name": name},
                                       "spec": {"containers": [{"name": "c", "image": "nginx"}]}}).object


# ── binding ──────────────────────────────────────────────────────────────────────────────────


def test_binding_sets_node_annotations_and_condition_in_one_write(api):
    pod = new_pod(api)
    bound = bind(api, "default", "web", binding_for(pod, "node-1", {"why": "it was free"}))
    assert bound["spec"]["nodeName"] == "node-1"
    assert bound["metadata"]["annotations"] == {"why": "it was free"}
    assert [(c["type"], c["status"]) for c in bound["status"]["conditions"]] == [("PodScheduled", "True")]
    assert int(bound["metadata"]["resourceVersion"]) == int(pod["metadata"]["resourceVersion"]) + 1


@pytest.mark.parametrize("body, code, message", [
    ({"target": {"kind": "Node", "name": "node-2"}}, 409,
     'Operation cannot be fulfilled on pods/binding "web": pod web is already assigned to node "node-1"'),
    ({"metadata": {"name": "other"}, "target": {"name": "node-2"}}, 400, "name in URL does not match"),
    ({"target": {"kind": "Pod", "name": "x"}}, 422,
     'Binding "web" is invalid: target.kind: Unsupported value: "Pod": supported values: "Node", "<empty>"'),
    ({"target": {}}, 422, 'Binding "web" is invalid: target.name: Required value'),
])
def test_binding_refusals(api, body, code, message):
    bind(api, "default", "web", binding_for(new_pod(api), "node-1"))
    with pytest.raises(errors.ApiError) as error:
        bind(api, "default", "web", body)
    assert error.value.code == code and message in error.value.message


def test_a_decision_about_a_deleted_pod_never_binds_its_namesake(api):
    old = new_pod(api)
    api.delete(POD, "default", "web")
    new_pod(api)
    with pytest.raises(errors.ApiError) as error:
        bind(api, "default", "web", binding_for(old, "node-1"))
    assert error.value.code == 409 and "Precondition failed: UID in precondition" in error.value.message


def test_a_pod_being_deleted_cannot_be_bound(api):
    held = api.create(POD, "default", {"metadata": {"name": "leaving", "finalizers": ["example.com/hold"]},
                                       "spec": {"containers": [{"name": "c", "image": "nginx"}]}}).object
    api.delete(POD, "default", "leaving")  # the finalizer keeps it, marked for deletion
    with pytest.raises(errors.ApiError) as error:
        bind(api, "default", "leaving", binding_for(held, "node-1"))
    assert error.value.code == 409
    assert "pod leaving is being deleted, cannot be assigned to a host" in error.value.message


# ── events ───────────────────────────────────────────────────────────────────────────────────


def test_recorder_writes_kubectl_shaped_events_and_aggregates_repeats(api):
    pod = new_pod(api)
    recorder = EventRecorder(LocalClient(api), "tester")
    first = recorder.record(pod, EventType.WARNING, Reason.TESTED, "it happened")
    assert first["involvedObject"] == {"kind": "Pod", "apiVersion": "v1", "name": "web", "namespace": "default",
                                       "uid": pod["metadata"]["uid"],
                                       "resourceVersion": pod["metadata"]["resourceVersion"]}
    assert (first["type"], first["reason"], first["count"], first["source"], first["reportingComponent"]) == \
        ("Warning", "Tested", 1, {"component": "tester"}, "tester")
    assert first["metadata"]["name"].startswith("web.") and first["firstTimestamp"] == first["lastTimestamp"]
    again = recorder.record(pod, EventType.WARNING, Reason.TESTED, "it happened")
    assert again["metadata"]["name"] == first["metadata"]["name"] and again["count"] == 2
    recorder.record(pod, EventType.WARNING, Reason.TESTED, "something else")
    assert len(api.list(EVENT, "default")[0]) == 2


def test_recorder_starts_over_when_its_event_was_deleted_and_never_raises(api):
    pod = new_pod(api)
    recorder = EventRecorder(LocalClient(api), "tester")
    first = recorder.record(pod, EventType.NORMAL, Reason.TESTED, "once")
    api.delete(EVENT, "default", first["metadata"]["name"])
    second = recorder.record(pod, EventType.NORMAL, Reason.TESTED, "once")
    assert second["count"] == 1 and second["metadata"]["name"] != first["metadata"]["name"]
    ghost = {**pod, "metadata": {**pod["metadata"], "namespace": "nowhere"}}
    assert recorder.record(ghost, EventType.NORMAL, Reason.TESTED, "lost") is None


# ── taints and conditions ────────────────────────────────────────────────────────────────────

TAINT = {"key": "gpu", "value": "yes", "effect": "NoSchedule"}


@pytest.mark.parametrize("toleration, expected", [
    ({"key": "gpu", "operator": "Equal", "value": "yes", "effect": "NoSchedule"}, True),
    ({"key": "gpu", "value": "yes"}, True),                      # no effect: every effect
    ({"key": "gpu", "operator": "Exists"}, True),
    ({"operator": "Exists"}, True),                              # tolerates everything
    ({"key": "gpu", "value": "no"}, False),
    ({"key": "gpu", "operator": "Exists", "effect": "NoExecute"}, False),
    ({"key": "other", "operator": "Exists"}, False),
])
def test_tolerates(toleration, expected):
    assert tolerates(toleration, TAINT) is expected


def test_first_untolerated_keeps_node_order_and_ignores_prefer_no_schedule():
    taints = [{"key": "soft", "effect": "PreferNoSchedule"}, TAINT, {"key": "b", "effect": "NoExecute"}]
    assert first_untolerated(taints, []) == TAINT
    assert first_untolerated(taints, [{"key": "gpu", "operator": "Exists"}])["key"] == "b"


def test_set_condition_moves_transition_time_only_when_status_changes():
    kind = PodConditionType.POD_SCHEDULED
    first = set_condition(None, kind, ConditionStatus.FALSE, "10:00", reason=PodConditionReason.UNSCHEDULABLE,
                          message="no room")
    reworded = set_condition(first, kind, ConditionStatus.FALSE, "10:05", reason=PodConditionReason.UNSCHEDULABLE,
                             message="still no room")
    assert reworded[0]["lastTransitionTime"] == "10:00" and reworded[0]["message"] == "still no room"
    done = set_condition([{"type": "Ready", "status": "False"}, *reworded], kind, ConditionStatus.TRUE, "10:07")
    assert done == [{"type": "Ready", "status": "False"},
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": "10:07"}]
