"""The scheduler: filters, scores and FitError messages as tables; the loop on the in-memory store."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.api.registry import kind_for
from orchestrator.api.options import DeleteOptions, PatchType
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.scheduler.filters import Misfit, Rejection, fit_error, rejections
from orchestrator.scheduler.plan import SCORES_ANNOTATION, Placement, Unschedulable, decide, explain
from orchestrator.api.registry import KINDS
from orchestrator.client.informer import Change
from orchestrator.client.protocol import WatchEventType
from orchestrator.scheduler.scheduler import PassIncomplete, Scheduler, may_unblock
from orchestrator.scheduler.scores import least_allocated, score_nodes, spread
from orchestrator.scheduler.snapshot import PodInfo, Resources, build_snapshot, pod_requests, spread_key
from orchestrator.store import Watcher
from tests.support.driven import drive

POD, NODE, NS, EVENT = (kind_for("v1", "Pod"), kind_for("v1", "Node"), kind_for("v1", "Namespace"),
                        kind_for("v1", "Event"))


def node(name: str, cpu="2", memory="4Gi", pods="110", ready="True", labels=None, taints=None,
         unschedulable=False) -> dict:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    resources = {"cpu": cpu, "memory": memory, "pods": pods}
    conditions = [{"type": "Ready", "status": ready, "lastHeartbeatTime": now}] if ready else []
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                                  **(labels or {})}},
            "spec": {"unschedulable": unschedulable, "taints": taints or []},
            "status": {"capacity": resources, "allocatable": resources, "conditions": conditions,
                       "addresses": [{"type": "Hostname", "address": name}]}}


def pod(name: str, cpu=None, memory=None, node_name=None, labels=None, selector=None, tolerations=None,
        host_port=None, phase=None, scheduler=None) -> dict:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    container: dict = {"name": "app", "image": "nginx:latest", "resources": {"requests": requests} if requests else {}}
    if host_port:
        container["ports"] = [{"containerPort": 80, "hostPort": host_port}]
    spec: dict = {"containers": [container]}
    for key, value in (("nodeName", node_name), ("nodeSelector", selector), ("tolerations", tolerations),
                       ("schedulerName", scheduler)):
        if value:
            spec[key] = value
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default",
                                                             "labels": labels or {"app": name}}, "spec": spec}
    if phase:
        body["status"] = {"phase": phase}
    return body


def info(**kwargs) -> PodInfo:
    return PodInfo.of(pod("p", **kwargs))


# ── filters ──────────────────────────────────────────────────────────────────────────────────

FILTER_CASES = [
    ("fits", node("n"), {}, [], []),
    ("cordoned", node("n", unschedulable=True), {}, [], ["node(s) were unschedulable"]),
    ("cordoned but tolerated", node("n", unschedulable=True),
     {"tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]},
     [], []),
    ("not ready", node("n", ready="False"), {}, [], ["node(s) had untolerated taint {node.kubernetes.io/not-ready: }"]),
    ("no Ready condition yet", node("n", ready=None), {}, [],
     ["node(s) had untolerated taint {node.kubernetes.io/not-ready: }"]),
    ("unreachable", node("n", ready="Unknown"), {}, [],
     ["node(s) had untolerated taint {node.kubernetes.io/unreachable: }"]),
    ("not ready but tolerated", node("n", ready="False"),
     {"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}]}, [], []),
    ("NoSchedule taint", node("n", taints=[{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]), {}, [],
     ["node(s) had untolerated taint {gpu: yes}"]),
    ("NoExecute taint", node("n", taints=[{"key": "dedicated", "value": "db", "effect": "NoExecute"}]), {}, [],
     ["node(s) had untolerated taint {dedicated: db}"]),
    ("PreferNoSchedule only discourages", node("n", taints=[{"key": "a", "effect": "PreferNoSchedule"}]),
     {}, [], []),
    ("taint tolerated by value", node("n", taints=[{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]),
     {"tolerations": [{"key": "gpu", "operator": "Equal", "value": "yes", "effect": "NoSchedule"}]}, [], []),
    ("toleration with the wrong value", node("n", taints=[{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]),
     {"tolerations": [{"key": "gpu", "value": "no"}]}, [], ["node(s) had untolerated taint {gpu: yes}"]),
    ("tolerate everything", node("n", taints=[{"key": "gpu", "value": "yes", "effect": "NoExecute"}]),
     {"tolerations": [{"operator": "Exists"}]}, [], []),
    ("nodeSelector matches", node("n", labels={"disktype": "ssd"}), {"selector": {"disktype": "ssd"}}, [], []),
    ("nodeSelector does not", node("n"), {"selector": {"disktype": "ssd"}}, [],
     ["node(s) didn't match Pod's node affinity/selector"]),
    ("hostPort taken", node("n"), {"host_port": 8080}, [pod("other", node_name="n", host_port=8080)],
     ["node(s) didn't have free ports for the requested pod ports"]),
    ("hostPort of a finished pod is free", node("n"), {"host_port": 8080},
     [pod("other", node_name="n", host_port=8080, phase="Succeeded")], []),
    ("other hostPort", node("n"), {"host_port": 8080}, [pod("other", node_name="n", host_port=8081)], []),
    ("too much memory", node("n", memory="1Gi"), {"memory": "2Gi"}, [], ["Insufficient memory"]),
    ("memory used by bound pods", node("n", memory="1Gi"), {"memory": "600Mi"},
     [pod("other", node_name="n", memory="500Mi")], ["Insufficient memory"]),
    ("exactly full still fits", node("n", memory="1Gi"), {"memory": "524Mi"},
     [pod("other", node_name="n", memory="500Mi")], []),
    ("too much cpu and memory", node("n", cpu="1", memory="1Gi"), {"cpu": "1500m", "memory": "2Gi"}, [],
     ["Insufficient cpu", "Insufficient memory"]),
    ("no requests always fit", node("n", cpu="1"), {}, [pod("other", node_name="n", cpu="1")], []),
    ("too many pods", node("n", pods="1"), {}, [pod("other", node_name="n")], ["Too many pods"]),
    ("first failing filter wins", node("n", unschedulable=True, memory="1Gi"), {"memory": "2Gi"}, [],
     ["node(s) were unschedulable"]),
]


@pytest.mark.parametrize("case, node_obj, pod_args, bound, expected", FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
def test_filters(case, node_obj, pod_args, bound, expected):
    snapshot = build_snapshot([node_obj], bound)
    assert [str(r) for r in rejections(info(**pod_args), snapshot["n"])] == expected


# ── the FitError message ─────────────────────────────────────────────────────────────────────

UNSCHED, MEMORY, CPU = Rejection(Misfit.UNSCHEDULABLE), Rejection(Misfit.INSUFFICIENT_MEMORY), \
    Rejection(Misfit.INSUFFICIENT_CPU)

MESSAGE_CASES = [
    (3, {"a": [UNSCHED], "b": [MEMORY], "c": [MEMORY]},
     "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient memory."),
    (3, {"a": [MEMORY], "b": [MEMORY], "c": [MEMORY]}, "0/3 nodes are available: 3 Insufficient memory."),
    (2, {"a": [CPU, MEMORY], "b": [MEMORY]}, "0/2 nodes are available: 1 Insufficient cpu, 2 Insufficient memory."),
    # sorted as strings, like Go's sort.Strings: "10 …" comes before "2 …"
    (12, {**{f"m{i}": [MEMORY] for i in range(10)}, "x": [UNSCHED], "y": [UNSCHED]},
     "0/12 nodes are available: 10 Insufficient memory, 2 node(s) were unschedulable."),
    (1, {"a": [Rejection(Misfit.UNTOLERATED_TAINT, "{gpu: yes}")]},
     "0/1 nodes are available: 1 node(s) had untolerated taint {gpu: yes}."),
    (0, {}, "no nodes available to schedule pods"),
]


@pytest.mark.parametrize("total, rejected, message", MESSAGE_CASES)
def test_fit_error_message(total, rejected, message):
    assert fit_error(total, rejected) == message


# ── requests and scores ──────────────────────────────────────────────────────────────────────

def test_pod_requests_follow_kubernetes_accounting():
    spec = {"containers": [{"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                           {"name": "b", "resources": {}}],
            "initContainers": [{"name": "init", "resources": {"requests": {"cpu": "500m"}}}]}
    assert pod_requests(spec) == Resources(500, 64 * 2**20)
    assert pod_requests(spec, nonzero=True) == Resources(500, 264 * 2**20)
    assert pod_requests({**spec, "overhead": {"cpu": "100m", "memory": "10Mi"}}) == Resources(600, 74 * 2**20)


def test_least_allocated_worked_example():
    held = [pod("a", node_name="n", cpu="1100m", memory="1Gi")]
    snapshot = build_snapshot([node("n", cpu="2", memory="4Gi")], held)
    assert least_allocated(info(cpu="100m", memory="200Mi"), snapshot["n"]) == 55


def test_spread_worked_example():
    nodes = [node("node-1"), node("node-2"), node("node-3")]
    bound = [pod("w1", node_name="node-1", labels={"app": "web"}), pod("w2", node_name="node-1", labels={"app": "web"}),
             pod("w3", node_name="node-2", labels={"app": "web"}), pod("x", node_name="node-3", labels={"app": "db"})]
    snapshot = build_snapshot(nodes, bound)
    scores = spread(info(labels={"app": "web"}), list(snapshot.values()))
    assert scores == {"node-1": 0, "node-2": 50, "node-3": 100}


def test_spread_counts_one_controllers_pods_whatever_their_labels():
    owner = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u-1", "controller": True}]
    first = pod("a", node_name="node-1", labels={"v": "1"})
    first["metadata"]["ownerReferences"] = owner
    other = pod("b", labels={"v": "2"})
    other["metadata"]["ownerReferences"] = owner
    snapshot = build_snapshot([node("node-1"), node("node-2")], [first])
    assert spread(PodInfo.of(other), list(snapshot.values())) == {"node-1": 0, "node-2": 100}


@given(st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 8 * 2**30)), min_size=1, max_size=6),
       st.integers(1, 4000), st.integers(1, 8 * 2**30))
def test_scores_stay_between_0_and_100_and_best_comes_first(held, cpu, memory):
    nodes = [node(f"n{i}", cpu="4", memory="8Gi") for i in range(len(held))]
    bound = [pod(f"p{i}", node_name=f"n{i}", cpu=f"{c}m", memory=str(m), labels={"app": "x"})
             for i, (c, m) in enumerate(held) if c and m]
    snapshot = build_snapshot(nodes, bound)
    scores = score_nodes(info(cpu=f"{cpu}m", memory=str(memory), labels={"app": "x"}), list(snapshot.values()))
    assert all(0 <= s.least_allocated <= 100 and 0 <= s.spread <= 100 for s in scores)
    assert [s.total for s in scores] == sorted((s.total for s in scores), reverse=True)


def test_decide_breaks_ties_at_random_among_the_best_only():
    snapshot = build_snapshot([node("a"), node("b"), node("c", memory="1Gi")], [])
    chosen = {decide(info(), snapshot, random.Random(seed)).node for seed in range(40)}
    assert chosen == {"a", "b"}  # c is as free in cpu but has less memory, so it scores lower
    placement = decide(info(), snapshot, random.Random(1))
    assert isinstance(placement, Placement) and placement.tied == ("a", "b")
    assert "tie between a, b broken at random" in explain(placement)


def test_decide_unschedulable_names_every_node():
    snapshot = build_snapshot([node("a", memory="1Gi"), node("b", unschedulable=True)], [])
    decision = decide(info(memory="2Gi"), snapshot, random.Random(0))
    assert isinstance(decision, Unschedulable)
    assert decision.message == "0/2 nodes are available: 1 Insufficient memory, 1 node(s) were unschedulable."


# ── the loop, on the in-memory store ─────────────────────────────────────────────────────────


@pytest.fixture
def scheduler(api) -> Scheduler:
    return drive(Scheduler, api, rng=random.Random(7))


def events_for(api: ObjectAPI, name: str) -> list[dict]:
    return [e for e in api.list(EVENT, "default")[0] if e["involvedObject"]["name"] == name]


def condition(pod_obj: dict) -> dict:
    return next(c for c in pod_obj["status"]["conditions"] if c["type"] == "PodScheduled")


def test_spreads_three_pods_over_three_nodes_and_says_why(api, scheduler):
    for name in ("node-1", "node-2", "node-3"):
        api.create(NODE, None, node(name))
    for index in range(3):
        api.create(POD, "default", pod(f"web-{index}", labels={"app": "web"}))
    scheduler.schedule_pending()
    pods = {p["metadata"]["name"]: p for p in api.list(POD, "default")[0]}
    assert sorted(p["spec"]["nodeName"] for p in pods.values()) == ["node-1", "node-2", "node-3"]
    web0 = pods["web-0"]
    assert condition(web0)["status"] == "True"
    scores = json.loads(web0["metadata"]["annotations"][SCORES_ANNOTATION])
    assert set(scores) == {"node-1", "node-2", "node-3"} and scores[web0["spec"]["nodeName"]] == max(scores.values())
    events = {e["reason"]: e for e in events_for(api, "web-0")}
    assert events["Scheduled"]["message"] == f"Successfully assigned default/web-0 to {web0['spec']['nodeName']}"
    assert (events["Scheduled"]["type"], events["Scheduled"]["source"]) == ("Normal", {"component": "default-scheduler"})
    assert events["Scheduled"]["involvedObject"]["uid"] == web0["metadata"]["uid"]
    assert events["NodeScores"]["message"].startswith(f"{web0['spec']['nodeName']} won with ")
    # the third pod saw the first two: two nodes already had one, so spreading left it one choice
    assert "2×spread 100" in events_for(api, "web-2")[1]["message"]


def test_unschedulable_pod_waits_counts_its_retries_and_lands_when_a_node_fits(api, scheduler):
    api.create(NODE, None, node("node-1", unschedulable=True))
    api.create(NODE, None, node("node-2", memory="1Gi"))
    api.create(NODE, None, node("node-3", memory="1Gi"))
    api.create(POD, "default", pod("big", memory="3Gi"))
    scheduler.schedule_pending()
    message = "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient memory."
    big = api.get(POD, "default", "big")
    assert "nodeName" not in big["spec"] and big["status"]["phase"] == "Pending"
    assert condition(big) | {"lastTransitionTime": None} == {
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
        "lastTransitionTime": None}
    scheduler.schedule_pending()
    assert api.get(POD, "default", "big")["metadata"]["resourceVersion"] == big["metadata"]["resourceVersion"], \
        "a retry with the same outcome rewrote the pod"
    [failed] = events_for(api, "big")
    assert (failed["type"], failed["reason"], failed["message"], failed["count"]) == \
        ("Warning", "FailedScheduling", message, 2)
    api.create(NODE, None, node("node-4", memory="8Gi"))
    scheduler.schedule_pending()
    big = api.get(POD, "default", "big")
    assert big["spec"]["nodeName"] == "node-4" and condition(big)["status"] == "True"


def test_leaves_other_schedulers_pods_deleted_pods_and_bound_pods_alone(api, scheduler):
    api.create(NODE, None, node("node-1"))
    api.create(POD, "default", pod("custom", scheduler="my-scheduler"))
    api.create(POD, "default", pod("pinned", node_name="node-1"))
    scheduler.schedule_pending()
    assert "nodeName" not in api.get(POD, "default", "custom")["spec"]
    assert events_for(api, "custom") == [] and events_for(api, "pinned") == []


def test_higher_priority_pods_are_placed_first(api, scheduler):
    api.create(NODE, None, node("only", memory="1Gi"))
    api.create(POD, "default", pod("early", memory="700Mi"))
    urgent = pod("urgent", memory="700Mi")
    urgent["spec"]["priority"] = 1000
    api.create(POD, "default", urgent)
    scheduler.schedule_pending()
    assert api.get(POD, "default", "urgent")["spec"]["nodeName"] == "only"
    assert "nodeName" not in api.get(POD, "default", "early")["spec"]


def test_a_pod_whose_binding_is_refused_does_not_stall_the_others(api, scheduler, monkeypatch):
    api.create(NODE, None, node("node-1"))
    api.create(POD, "default", pod("a"))
    api.create(POD, "default", pod("b"))
    real_update = api.update

    def refuse_a(rk, namespace, name, body, **kwargs):
        if name == "a" and kwargs.get("subresource") == "binding":
            from orchestrator.api import errors
            raise errors.forbidden("admin", "create", "pods/binding", "", "default", "not today")
        return real_update(rk, namespace, name, body, **kwargs)

    monkeypatch.setattr(api, "update", refuse_a)
    with pytest.raises(PassIncomplete, match="default/a"):
        scheduler.schedule_pending()
    assert api.get(POD, "default", "b")["spec"]["nodeName"] == "node-1"
    [refused] = events_for(api, "a")
    assert refused["reason"] == "FailedScheduling" and refused["message"].startswith("binding rejected: ")


# ── what wakes the scheduler ─────────────────────────────────────────────────────────────────


def _events(api: ObjectAPI, write) -> list[Change]:
    """The changes ``write`` makes, as an informer would hand them to the scheduler."""
    watcher = Watcher(api.store, api.store.revision())
    try:
        write()
        found = []
        while (event := watcher.next(timeout=0.05)) is not None:
            kind = next(rk for rk in KINDS if rk.qualified_resource == event.key.resource)
            found.append(Change(kind, WatchEventType(event.type.value), event.object, event.previous))
        return found
    finally:
        watcher.close()


def test_own_writes_and_heartbeats_do_not_wake_it_but_real_changes_do(api, scheduler):
    created = api.create(NODE, None, node("node-1", memory="1Gi")).object
    beat = {**created, "status": {**created["status"], "conditions": [
        {"type": "Ready", "status": "True", "lastHeartbeatTime": "2030-01-01T00:00:00Z"}]}}
    assert not any(map(may_unblock, _events(api, lambda: api.update(NODE, None, "node-1", beat, subresource="status"))))
    assert any(map(may_unblock, _events(api, lambda: api.patch(NODE, None, "node-1", PatchType.MERGE,
                                                               {"spec": {"unschedulable": True}}))))
    added = _events(api, lambda: api.create(POD, "default", pod("big", memory="3Gi")))
    assert any(map(may_unblock, added))
    marked = _events(api, scheduler.schedule_pending)  # writes the Unschedulable condition and an Event
    assert marked and not any(map(may_unblock, marked))
    api.create(POD, "default", pod("small"))
    api.patch(NODE, None, "node-1", PatchType.MERGE, {"spec": {"unschedulable": False}})
    bound = _events(api, scheduler.schedule_pending)  # binds "small": no reason to look again
    assert not any(map(may_unblock, bound))
    freed = _events(api, lambda: api.delete(POD, "default", "small", DeleteOptions(grace_period_seconds=0)))
    assert any(map(may_unblock, freed))


def test_a_terminating_pod_does_not_count_when_spreading():
    pod = {"metadata": {"namespace": "default", "name": "web-1", "labels": {"app": "web"},
                        "ownerReferences": [{"controller": True, "uid": "rs-1"}]}}
    assert spread_key(pod) == ("owner", "rs-1")
    pod["metadata"]["deletionTimestamp"] = "2026-12-06T08:00:00Z"
    assert spread_key(pod) is None
