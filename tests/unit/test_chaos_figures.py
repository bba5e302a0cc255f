"""The chaos run's schedule and figures, on literal records (the run itself is
``tests/chaos/test_chaos_under_load.py``)."""

from __future__ import annotations

from collections import Counter

from tests.support.chaos_figures import (
    CONTAINER_RESTARTS, RESCHEDULE, PodFigures, RequestFigures, Run, StepOutcome, WriteFigures, pod_figures,
    request_figures, table, write_figures,
)
from tests.support.chaos_schedule import TARGETED, WITH_DOWNTIME, Fault, Step, describe, plan

WORKERS = ["worker-1", "worker-2", "worker-3"]


# -- the schedule ------------------------------------------------------------------------------

def test_the_same_seed_plays_the_same_schedule_and_another_seed_another():
    assert plan(7, 3, WORKERS) == plan(7, 3, WORKERS)
    assert plan(7, 3, WORKERS) != plan(8, 3, WORKERS)
    assert describe(7, plan(7, 1, WORKERS)) == describe(7, plan(7, 1, WORKERS))


def test_every_round_plays_every_fault_once_against_a_worker_where_it_needs_one():
    steps = plan(12345, 4, WORKERS)
    assert len(steps) == 4 * len(Fault)
    for start in range(0, len(steps), len(Fault)):
        assert Counter(step.fault for step in steps[start:start + len(Fault)]) == Counter(Fault)
    for step in steps:
        assert sorted(step.workers) == (WORKERS if step.fault in TARGETED else [])
        assert (1.0 <= step.downtime <= 3.0) if step.fault in WITH_DOWNTIME else step.downtime == 0


def test_a_targeted_fault_hits_the_first_worker_it_prefers_that_runs_the_app():
    step = Step(Fault.DRAIN, ("worker-3", "worker-1", "worker-2"))
    assert step.target({"worker-1", "worker-2"}) == "worker-1"
    assert step.target({"worker-3"}) == "worker-3"
    assert step.target(set()) == "worker-3"  # none runs it: the first all the same
    assert Step(Fault.ROLLOUT).target({"worker-1"}) is None


# -- acknowledged writes -----------------------------------------------------------------------

def test_an_acknowledged_write_missing_or_changed_at_the_end_is_lost():
    lines = [{"seq": 1, "outcome": "acked"}, {"seq": 2, "outcome": "acked"}, {"seq": 3, "outcome": "acked"},
             {"seq": 4, "outcome": "unknown"}, {"seq": 5, "outcome": "unknown"}, {"seq": 6, "outcome": "refused"}]
    stored = {"w-000001": {"seq": "1"}, "w-000003": {"seq": "30"}, "w-000005": {"seq": "5"}}
    assert write_figures(lines, stored) == WriteFigures(acked=3, lost=(2, 3), refused=1, unknown=2, unknown_stored=1)


# -- requests ----------------------------------------------------------------------------------

def test_the_longest_gap_runs_between_answered_requests_and_counts_the_run_edges():
    lines = [{"t": 10.0, "ok": True}, {"t": 11.0, "ok": False}, {"t": 13.5, "ok": True}, {"t": 14.0, "ok": True},
             {"t": 99.0, "ok": False}]  # after the run: not counted
    assert request_figures(lines, began=9.0, ended=15.0) == RequestFigures(total=4, failed=1, longest_gap=3.5,
                                                                            gap_began=10.0)
    assert request_figures([{"t": 10.0, "ok": False}], began=9.0, ended=15.0).longest_gap == 6.0


# -- duplicate pods ----------------------------------------------------------------------------

def line(kind: str, uid: str, name: str, node: str | None = "worker-1", phase: str = "Running",
         deleting: bool = False) -> dict:
    return {"t": 0.0, "type": kind, "uid": uid, "name": name, "node": node, "phase": phase, "deleting": deleting}


def test_a_rollout_within_max_surge_has_no_duplicates():
    lines = [line("LIST", "a", "web-a"), line("LIST", "b", "web-b"),
             line("ADDED", "c", "web-c", node=None, phase="Pending"),       # the surge pod
             line("MODIFIED", "c", "web-c"),
             line("MODIFIED", "a", "web-a", deleting=True),                # terminating: no longer active
             line("ADDED", "d", "web-d", node=None, phase="Pending"),
             line("DELETED", "a", "web-a", deleting=True)]
    figures = pod_figures(lines, limit=3)
    assert (figures.max_active, figures.duplicates, figures.oddities) == (3, 0, [])


def test_more_active_pods_than_replicas_plus_surge_are_duplicates():
    lines = [line("ADDED", uid, f"web-{uid}") for uid in "abcde"]
    assert pod_figures(lines, limit=3).duplicates == 2


def test_a_pod_that_moves_node_or_returns_after_its_deletion_is_an_oddity():
    lines = [line("ADDED", "a", "web-a"), line("MODIFIED", "a", "web-a", node="worker-2"),
             line("DELETED", "b", "web-b"), line("ADDED", "b", "web-b")]
    figures = pod_figures(lines, limit=3)
    assert figures.oddities == ["pod web-a (a) moved from worker-1 to worker-2", "pod web-b (b) is back after its deletion"]
    assert figures.duplicates == 2


def test_a_relist_replaces_what_was_held():
    lines = [line("ADDED", "a", "web-a"), line("ADDED", "b", "web-b"), {"type": "EXPIRED"},
             line("LIST", "b", "web-b"), line("LIST", "c", "web-c"), line("ADDED", "d", "web-d")]
    assert pod_figures(lines, limit=3).max_active == 3  # a went while the watch was expired


def test_ended_pods_are_not_active():
    lines = [line("ADDED", "a", "web-a", phase="Failed"), line("ADDED", "b", "web-b")]
    assert pod_figures(lines, limit=1).duplicates == 0


# -- the table ---------------------------------------------------------------------------------

def test_the_table_names_every_figure_and_the_command_that_reproduces_it():
    outcomes = [StepOutcome(Step(Fault.PARTITION, ("worker-2", "worker-1")), "worker-2", 100.0, 120.0,
                            {RESCHEDULE: 9.0}),
                StepOutcome(Step(Fault.KILL_AGENT, ("worker-1",), 1.5), "worker-1", 121.0, 130.0,
                            {CONTAINER_RESTARTS: 0})]
    run = Run(seed=42, rounds=1, workers=3, command="make chaos CHAOS_SEED=42 CHAOS_ROUNDS=1", began=90.0,
              ended=131.0, steps=outcomes,
              writes=WriteFigures(acked=200, lost=(), refused=0, unknown=3, unknown_stored=1),
              requests=RequestFigures(total=300, failed=4, longest_gap=2.5, gap_began=101.0),
              pods=PodFigures(limit=4, max_active=4), leftovers={"namespaces": [], "links": []})
    text = table(run, [{"t": 105.0, "ok": False}, {"t": 125.0, "ok": True}])
    assert "seed 42" in text and "make chaos CHAOS_SEED=42 CHAOS_ROUNDS=1" in text
    rows = {row.split("  ")[0]: row for row in text.splitlines()}
    assert rows["acknowledged writes lost"].split()[-4:] == ["0", "of", "200", "0"]
    assert "2.5 s (step 1)" in rows["longest gap without an answered request"]
    assert "9.0 s" in rows["time to reschedule after machine loss"]
    assert text.splitlines()[-2].startswith("   1. cut a machine off the LAN") and "on worker-2" in text
    assert "1 failed" in text.splitlines()[-2] and "0 failed" in text.splitlines()[-1]
