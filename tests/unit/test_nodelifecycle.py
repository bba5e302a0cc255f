"""Node lifecycle decisions and controller, default tolerations, eviction and drain planning (no Docker)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from orchestrator.api import errors
from orchestrator.api.clusternetwork import ClusterNetwork
from orchestrator.api.registry import kind_for
from orchestrator.apiserver.admission import Admission, AdmissionPolicy
from orchestrator.apiserver.discovery import api_resource_list
from orchestrator.apiserver.eviction import evict
from orchestrator.api.options import PatchType
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.cli.drain import DrainOptions, DrainProblem, plan_drain
from orchestrator.cli.lifecycle.plan import ClusterSpec, server_argv
from orchestrator.cli.main import _parser
from orchestrator.cli.servertuning import server_tuning_argv, server_tuning_config
from orchestrator.cluster.statedir import StateDir
from orchestrator.controllers.nodehealth import (
    NodeHealth, Observation, eviction_delay,  had_unhealthy_taint, observe, plan_health, wanted_taints,
)
from orchestrator.controllers.nodelifecycle import NodeLifecycleController
from orchestrator.client.informer import Change
from orchestrator.client.protocol import WatchEventType as EventType
from orchestrator.store import MemoryStore
from orchestrator.api.timestamps import format_rfc3339
from tests.support.driven import drive

NODE, POD, NS, EVENT = (kind_for("v1", k) for k in ("Node", "Pod", "Namespace", "Event"))
LEASE = kind_for("coordination.k8s.io/v1", "Lease")
T0 = datetime(2026, 1, 1, 10, 0, 0, tzinfo=timezone.utc)
GRACE = 40.0
UNREACHABLE_NO_EXECUTE = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute",
                          "timeAdded": format_rfc3339(T0)}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def node_with(status: str | None, heartbeat: datetime | None = T0, taints: list | None = None) -> dict:
    conditions = []
    if status is not None:
        conditions.append({"type": "Ready", "status": status, "reason": "KubeletReady",
                           "lastHeartbeatTime": format_rfc3339(heartbeat), "lastTransitionTime": format_rfc3339(T0)})
    conditions.append({"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": format_rfc3339(heartbeat or T0)})
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "node-1", "creationTimestamp": format_rfc3339(T0)},
            "spec": {"taints": taints} if taints else {}, "status": {"conditions": conditions}}


# ── health ───────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("status, age, health, writes, recheck", [
    ("True", 0, NodeHealth.READY, False, 40.0),
    ("True", 39, NodeHealth.READY, False, 1.0),
    ("True", 40, NodeHealth.READY, False, 0.0),
    ("True", 41, NodeHealth.UNKNOWN, True, None),
    ("False", 5, NodeHealth.NOT_READY, False, 35.0),
    ("False", 100, NodeHealth.UNKNOWN, True, None),
    ("Unknown", 100, NodeHealth.UNKNOWN, False, None),  # already marked: nothing more to write
    (None, 10, NodeHealth.NOT_READY, False, 30.0),  # never reported Ready
    (None, 50, NodeHealth.UNKNOWN, True, None),
])
def test_health_from_heartbeat_age(status, age, health, writes, recheck):
    plan = plan_health(node_with(status), at(age), GRACE, last_seen=T0)
    assert plan.health is health
    assert (plan.conditions is not None) is writes
    assert plan.recheck_after == recheck


def test_unknown_turns_every_condition_unknown_and_keeps_the_last_heartbeat():
    plan = plan_health(node_with("True"), at(60), GRACE, last_seen=T0)
    assert {c["type"]: (c["status"], c["reason"], c["message"]) for c in plan.conditions} == {
        "Ready": ("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."),
        "MemoryPressure": ("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")}
    ready = plan.conditions[0]
    assert ready["lastHeartbeatTime"] == format_rfc3339(T0)
    assert ready["lastTransitionTime"] == format_rfc3339(at(60))


def lease_renewed(when: datetime) -> dict:
    return {"metadata": {"name": "node-1", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40,
                     "renewTime": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}


def test_heartbeat_age_is_measured_on_our_clock():
    first = observe(None, node_with("True", heartbeat=T0), at(100))
    assert first == Observation(format_rfc3339(T0), None, at(100))  # first sight: a full grace period from now
    assert observe(first, node_with("True", heartbeat=T0), at(130)) is first  # unchanged: still 100
    skewed = node_with("True", heartbeat=T0 - timedelta(hours=1))  # the agent's clock is an hour late
    assert observe(first, skewed, at(131)).seen_at == at(131)  # it moved: that is what counts


def test_a_renewed_lease_is_a_heartbeat_too():
    """The kubelet's Lease is its frequent heartbeat: a node whose status sits still while its
    Lease moves is alive; one whose Lease also stops is not."""
    node = node_with("True", heartbeat=T0)
    first = observe(None, node, at(0), lease_renewed(at(0)))
    assert observe(first, node, at(10), lease_renewed(at(0))) is first
    renewed = observe(first, node, at(30), lease_renewed(at(30)))
    assert renewed.seen_at == at(30)
    assert plan_health(node, at(60), GRACE, renewed.seen_at).health is NodeHealth.READY
    assert plan_health(node, at(71), GRACE, renewed.seen_at).health is NodeHealth.UNKNOWN


# ── taints ───────────────────────────────────────────────────────────────────────────────────


def keys(taints):
    return [(t["key"], t["effect"]) for t in taints]


@pytest.mark.parametrize("health, expected", [
    (NodeHealth.READY, []),
    (NodeHealth.NOT_READY, [("node.kubernetes.io/not-ready", "NoSchedule"),
                            ("node.kubernetes.io/not-ready", "NoExecute")]),
    (NodeHealth.UNKNOWN, [("node.kubernetes.io/unreachable", "NoSchedule"),
                          ("node.kubernetes.io/unreachable", "NoExecute")]),
])
def test_taints_follow_health_and_keep_foreign_ones(health, expected):
    foreign = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    current = [foreign, {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]
    assert keys(wanted_taints(current, health, T0)) == [("dedicated", "NoSchedule"), *expected]


def test_no_execute_taint_records_when_it_was_added_and_keeps_it():
    first = wanted_taints([], NodeHealth.UNKNOWN, T0)
    assert first[1]["timeAdded"] == format_rfc3339(T0) and "timeAdded" not in first[0]
    assert wanted_taints(first, NodeHealth.UNKNOWN, at(30)) == first
    assert had_unhealthy_taint(first) and not had_unhealthy_taint([{"key": "dedicated", "effect": "NoSchedule"}])


# ── eviction windows ─────────────────────────────────────────────────────────────────────────


def pod_tolerating(*tolerations) -> dict:
    return {"metadata": {"name": "p"}, "spec": {"tolerations": list(tolerations)}}


DEFAULT_300 = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
               "tolerationSeconds": 300}


@pytest.mark.parametrize("pod, taints, now, due", [
    (pod_tolerating(), [], 0, None),  # no NoExecute taint: never
    (pod_tolerating(), [{"key": "x", "effect": "NoSchedule"}], 0, None),
    (pod_tolerating(), [UNREACHABLE_NO_EXECUTE], 0, 0.0),  # not tolerated: at once
    (pod_tolerating(DEFAULT_300), [UNREACHABLE_NO_EXECUTE], 0, 300.0),
    (pod_tolerating(DEFAULT_300), [UNREACHABLE_NO_EXECUTE], 299, 1.0),
    (pod_tolerating(DEFAULT_300), [UNREACHABLE_NO_EXECUTE], 301, 0.0),
    (pod_tolerating(DEFAULT_300, {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}),
     [UNREACHABLE_NO_EXECUTE], 10, 50.0),  # the shortest matching window wins
    (pod_tolerating({"operator": "Exists"}), [UNREACHABLE_NO_EXECUTE], 1000, None),  # for ever
])
def test_eviction_delay(pod, taints, now, due):
    assert eviction_delay(pod, taints, at(now)) == due


# ── the controller on the in-memory store ────────────────────────────────────────────────────


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def api() -> ObjectAPI:
    made = ObjectAPI(MemoryStore(), Admission(AdmissionPolicy(default_toleration_seconds=5)))
    made.create(NS, None, {"metadata": {"name": "default"}})
    made.create(NODE, None, node_with("True"))
    return made


def heartbeat(api: ObjectAPI, when: datetime, status: str = "True") -> None:
    """What the agent's Heartbeat writes: its own conditions, fresh."""
    api.patch(NODE, None, "node-1", PatchType.MERGE,
              {"status": {"conditions": [{"type": "Ready", "status": status, "reason": "KubeletReady",
                                          "lastHeartbeatTime": format_rfc3339(when)}]}}, subresource="status")


def running_pod(api: ObjectAPI, name: str, **spec) -> dict:
    pod = api.create(POD, "default", {"metadata": {"name": name},
                                      "spec": {"nodeName": "node-1", **spec,
                                               "containers": [{"name": "c", "image": "nginx"}]}}).object
    return api.update(POD, "default", name, {**pod, "status": {
        "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}, subresource="status").object


def reasons(api: ObjectAPI) -> list[tuple[str, str, str]]:
    events = api.list(EVENT, None)[0]
    return [(e["involvedObject"]["name"], e["reason"], e["message"]) for e in events]


def test_silent_node_turns_unknown_is_tainted_and_its_pods_go_after_the_window(api):
    clock = Clock()
    controller = drive(NodeLifecycleController, api, grace_seconds=GRACE, clock=clock)
    running_pod(api, "web")
    controller.reconcile("node-1")
    assert not api.get(NODE, None, "node-1")["spec"].get("taints")

    clock.now = at(41)
    controller.reconcile("node-1")
    node = api.get(NODE, None, "node-1")
    assert node["status"]["conditions"][0]["status"] == "Unknown"
    assert keys(node["spec"]["taints"]) == [("node.kubernetes.io/unreachable", "NoSchedule"),
                                            ("node.kubernetes.io/unreachable", "NoExecute")]
    pod = api.get(POD, "default", "web")
    assert [c["status"] for c in pod["status"]["conditions"] if c["type"] == "Ready"] == ["False"]
    assert ("node-1", "NodeNotReady", "Node node-1 status is now: NodeNotReady") in reasons(api)
    assert ("web", "NodeNotReady", "Node is not ready") in reasons(api)

    clock.now = at(45)  # the default toleration (5 s here) is still running
    controller.reconcile("node-1")
    api.get(POD, "default", "web")

    clock.now = at(47)
    controller.reconcile("node-1")
    with pytest.raises(errors.ApiError) as gone:
        api.get(POD, "default", "web")
    assert gone.value.code == 404
    assert ("web", "TaintManagerEviction", "Marking for deletion Pod default/web") in reasons(api)
    assert [r for r in reasons(api) if r[1] == "NodeNotReady" and r[0] == "node-1"] == \
        [("node-1", "NodeNotReady", "Node node-1 status is now: NodeNotReady")]  # once


def test_returning_heartbeats_make_the_node_ready_and_untainted(api):
    clock = Clock()
    controller = drive(NodeLifecycleController, api, grace_seconds=GRACE, clock=clock)
    controller.reconcile("node-1")
    clock.now = at(60)
    controller.reconcile("node-1")
    heartbeat(api, at(61))
    clock.now = at(62)
    controller.reconcile("node-1")
    node = api.get(NODE, None, "node-1")
    assert not node["spec"].get("taints")
    assert node["status"]["conditions"][0]["status"] == "True"
    assert ("node-1", "NodeReady", "Node node-1 status is now: NodeReady") in reasons(api)


def test_a_node_whose_lease_is_renewed_stays_ready_without_status_writes(api):
    clock = Clock()
    controller = drive(NodeLifecycleController, api, grace_seconds=GRACE, clock=clock)
    api.create(NS, None, {"metadata": {"name": "kube-node-lease"}})
    api.create(LEASE, "kube-node-lease", lease_renewed(T0))
    controller.reconcile("node-1")
    for second in (30, 60, 90):
        lease = api.get(LEASE, "kube-node-lease", "node-1")
        api.update(LEASE, "kube-node-lease", "node-1", {**lease, **lease_renewed(at(second))})
        clock.now = at(second + 1)
        controller.reconcile("node-1")
    node = api.get(NODE, None, "node-1")
    assert node["status"]["conditions"][0]["status"] == "True" and not node["spec"].get("taints")
    clock.now = at(91 + GRACE + 1)  # and then the Lease stops too
    controller.reconcile("node-1")
    assert api.get(NODE, None, "node-1")["status"]["conditions"][0]["status"] == "Unknown"


def test_lease_changes_wake_the_node_they_are_named_after(api):
    controller = drive(NodeLifecycleController, api, grace_seconds=GRACE, clock=Clock())
    lease = {**lease_renewed(T0), "kind": "Lease", "apiVersion": "coordination.k8s.io/v1"}
    lease["metadata"] = {**lease["metadata"], "name": "node-1", "namespace": "kube-node-lease"}
    assert list(controller.keys_for(Change(LEASE, EventType.MODIFIED, lease))) == ["node-1"]
    elsewhere = {**lease, "metadata": {**lease["metadata"], "namespace": "default"}}  # a Lease of someone else's
    assert list(controller.keys_for(Change(LEASE, EventType.MODIFIED, elsewhere))) == []


def test_agent_reporting_not_ready_gets_the_not_ready_taint(api):
    clock = Clock()
    controller = drive(NodeLifecycleController, api, grace_seconds=GRACE, clock=clock)
    heartbeat(api, at(5), status="False")
    clock.now = at(6)
    controller.reconcile("node-1")
    assert keys(api.get(NODE, None, "node-1")["spec"]["taints"]) == [
        ("node.kubernetes.io/not-ready", "NoSchedule"), ("node.kubernetes.io/not-ready", "NoExecute")]


def test_an_agent_reporting_not_ready_has_its_pods_marked_not_ready_once(api):
    """Its Docker engine is down, say: Services must stop sending its pods traffic at once, as in
    Kubernetes, not after the grace period. The agent, which is alive, may set them Ready again
    (its engine is back) while the node is still tainted: it is not overruled."""
    clock = Clock()
    controller = drive(NodeLifecycleController, api, grace_seconds=GRACE, clock=clock)
    pod = running_pod(api, "web", tolerations=[{"operator": "Exists"}])  # stays, whatever the taints
    heartbeat(api, at(5), status="False")
    clock.now = at(6)
    controller.reconcile("node-1")
    marked = api.get(POD, "default", "web")
    assert [c["status"] for c in marked["status"]["conditions"] if c["type"] == "Ready"] == ["False"]
    assert ("web", "NodeNotReady", "Node is not ready") in reasons(api)

    api.update(POD, "default", "web", {**marked, "status": pod["status"]}, subresource="status")  # the agent
    heartbeat(api, at(7), status="False")
    clock.now = at(8)
    controller.reconcile("node-1")
    again = api.get(POD, "default", "web")
    assert [c["status"] for c in again["status"]["conditions"] if c["type"] == "Ready"] == ["True"]


def test_a_restarted_control_plane_gives_every_node_a_full_grace_period(api):
    clock = Clock()
    clock.now = at(3600)  # the node's last heartbeat is an hour old: the control plane was down
    drive(NodeLifecycleController, api, grace_seconds=GRACE, clock=clock).reconcile("node-1")
    assert api.get(NODE, None, "node-1")["status"]["conditions"][0]["status"] == "True"


def test_a_fresher_heartbeat_is_never_overwritten(api):
    controller = drive(NodeLifecycleController, api, grace_seconds=GRACE, clock=Clock())
    controller.reconcile("node-1")  # sees the heartbeat of T0 at T0
    stale = api.get(NODE, None, "node-1")
    heartbeat(api, at(50))  # lands between the controller's read and its write
    with pytest.raises(errors.ApiError) as conflict:
        controller._sync(stale, at(60))
    assert conflict.value.code == 409
    assert api.get(NODE, None, "node-1")["status"]["conditions"][0]["status"] == "True"
    controller.reconcile("node-1")  # reads again: the heartbeat moved, so the node is fresh
    assert api.get(NODE, None, "node-1")["status"]["conditions"][0]["status"] == "True"


# ── admission, eviction subresource, discovery ───────────────────────────────────────────────


def test_pods_get_default_not_ready_and_unreachable_tolerations(api):
    pod = api.create(POD, "default", {"metadata": {"name": "a"},
                                      "spec": {"containers": [{"name": "c", "image": "nginx"}]}}).object
    assert pod["spec"]["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 5}]
    own = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
           "tolerationSeconds": 1}
    pod = api.create(POD, "default", {"metadata": {"name": "b"}, "spec": {
        "tolerations": [own], "containers": [{"name": "c", "image": "nginx"}]}}).object
    assert [t["key"] for t in pod["spec"]["tolerations"]] == ["node.kubernetes.io/unreachable",
                                                              "node.kubernetes.io/not-ready"]
    assert pod["spec"]["tolerations"][0] == own


def test_eviction_deletes_the_pod_and_checks_the_name(api):
    running_pod(api, "web")
    with pytest.raises(errors.ApiError) as wrong:
        evict(api, "default", "web", {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "x"}})
    assert wrong.value.code == 400
    evict(api, "default", "web", {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web"},
                                  "deleteOptions": {"gracePeriodSeconds": 0}})
    with pytest.raises(errors.ApiError):
        api.get(POD, "default", "web")


def test_discovery_lists_pods_eviction_as_policy_v1_eviction():
    entry = next(r for r in api_resource_list("v1")["resources"] if r["name"] == "pods/eviction")
    assert (entry["group"], entry["version"], entry["kind"], entry["verbs"]) == ("policy", "v1", "Eviction", ["create"])


# ── drain planning ───────────────────────────────────────────────────────────────────────────


def drain_pod(name, owner_kind=None, phase="Running", empty_dir=False) -> dict:
    meta = {"name": name, "namespace": "default"}
    if owner_kind:
        meta["ownerReferences"] = [{"kind": owner_kind, "name": "o", "uid": "u", "controller": True}]
    spec = {"volumes": [{"name": "scratch", "emptyDir": {}}]} if empty_dir else {}
    return {"metadata": meta, "spec": spec, "status": {"phase": phase}}


@pytest.mark.parametrize("options, evicted, errors_, warnings", [
    (DrainOptions(), [], {DrainProblem.UNMANAGED_FATAL: ["default/bare"],
                          DrainProblem.DAEMONSET_FATAL: ["default/ds"],
                          DrainProblem.LOCAL_STORAGE_FATAL: ["default/scratch"]}, {}),
    (DrainOptions(force=True, ignore_daemonsets=True, delete_emptydir_data=True),
     ["rs-pod", "bare", "done", "scratch"], {},
     {DrainProblem.UNMANAGED_WARNING: ["default/bare"], DrainProblem.DAEMONSET_WARNING: ["default/ds"],
      DrainProblem.LOCAL_STORAGE_WARNING: ["default/scratch"]}),
])
def test_drain_plan(options, evicted, errors_, warnings):
    pods = [drain_pod("rs-pod", "ReplicaSet"), drain_pod("bare"), drain_pod("ds", "DaemonSet"),
            drain_pod("done", phase="Succeeded"), drain_pod("scratch", "ReplicaSet", empty_dir=True)]
    plan = plan_drain(pods, options)
    assert sorted(p["metadata"]["name"] for p in plan.evict) == sorted(evicted or ["rs-pod", "done"])
    assert plan.errors == errors_
    assert plan.warnings == warnings


def test_drain_refusal_reads_as_kubectl():
    plan = plan_drain([drain_pod("bare")], DrainOptions())
    assert plan.error_text() == \
        "cannot delete Pods that declare no controller (use --force to override): default/bare"


# ── the knobs: dockyard server and dockyard up ───────────────────────────────────────────────


def test_up_passes_the_control_plane_knobs_to_the_server(tmp_path):
    up = _parser().parse_args(["up", "--node-monitor-grace-period", "4",
                               "--default-not-ready-toleration-seconds", "5"])
    knobs = tuple(server_tuning_argv(up))
    assert knobs == ("--node-monitor-grace-period", "4.0", "--default-not-ready-toleration-seconds", "5")
    argv = server_argv(ClusterSpec(StateDir(tmp_path), 3, 7443, "lab", server_tuning=knobs), ClusterNetwork())
    server = _parser().parse_args(argv[argv.index("server"):])
    assert server_tuning_config(server) == {"node_monitor_grace_period": 4.0,
                                            "default_not_ready_toleration_seconds": 5}
    assert server_tuning_config(_parser().parse_args(["server"])) == {}  # Kubernetes' defaults stay
