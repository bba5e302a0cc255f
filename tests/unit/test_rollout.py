"""Rolling-update arithmetic: fencepost tables, step tables and property tests for the bounds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.api.templatehash import safe_encode, template_hash
from orchestrator.controllers.rollout import (
    InvalidFencepost, RSView, fenceposts, max_unavailable, new_rs_replicas, proportional_sizes, scale_down_old,
    scaled_value,
)


@pytest.mark.parametrize("surge, unavailable, replicas, expected", [
    ("25%", "25%", 1, (1, 0)),
    ("25%", "25%", 3, (1, 0)),
    ("25%", "25%", 10, (3, 2)),
    (0, 0, 3, (0, 1)),          # both zero: unavailable becomes 1
    ("0%", "0%", 10, (0, 1)),
    (1, 0, 3, (1, 0)),
    (0, 1, 3, (0, 1)),
    ("50%", "50%", 3, (2, 1)),  # surge rounds up, unavailable down
    ("100%", 0, 10, (10, 0)),
    (None, None, 10, (3, 2)),   # unset means Kubernetes' 25%
])
def test_fenceposts(surge, unavailable, replicas, expected):
    assert fenceposts(surge, unavailable, replicas) == expected


def test_max_unavailable_never_exceeds_replicas():
    assert max_unavailable(0, 5, 3) == 3
    assert max_unavailable("25%", "25%", 0) == 0


@pytest.mark.parametrize("bad", ["25", "x%", "%", True])
def test_invalid_fencepost_says_what_to_use(bad):
    if bad == "25":
        assert scaled_value(bad, 10, True) == 25  # a digit string is an int on the wire
        return
    with pytest.raises(InvalidFencepost, match="percentage"):
        scaled_value(bad, 10, True)


def simulate(replicas: int, surge, unavailable, ready=lambda step, rs: True, steps: int = 100,
             lag: int = 0):
    """Run rolling-update steps as the controller does; pods of a scaled RS turn available when
    ``ready`` says so. An old RS told to shrink goes on reporting its previous availability for
    ``lag`` more steps, as its status does until its own controller's next pass.
    Yields (old replicas, new replicas, pods really available) after each change."""
    old = RSView("old", replicas, replicas, "1")
    old_available = replicas  # what really is available, whatever the status says
    new = RSView("new", 0, 0, "2")
    history = [(old.replicas, new.replicas, old_available + new.available)]
    stale_steps = 0
    for step in range(steps):
        size = new_rs_replicas(replicas, surge, [old, new], new)
        if size != new.replicas:
            new = RSView("new", size, new.available, "2")
        else:
            sizes = scale_down_old(replicas, surge, unavailable, new, [old])
            if sizes:
                old_available = min(old_available, sizes["old"])
                old, stale_steps = RSView("old", sizes["old"], old.available, "1"), lag + 1
            elif new.available == new.replicas and old.replicas == 0:
                break
        stale_steps = max(stale_steps - 1, 0)
        if not stale_steps:
            old = RSView("old", old.replicas, old_available, "1")
        if ready(step, new):
            new = RSView("new", new.replicas, new.replicas, "2")
        history.append((old.replicas, new.replicas, old_available + new.available))
    return history


def changes(history):
    out = [history[0][:2]]
    for old, new, _ in history[1:]:
        if (old, new) != out[-1]:
            out.append((old, new))
    return out


@pytest.mark.parametrize("replicas, surge, unavailable, steps", [
    (1, "25%", "25%", [(1, 0), (1, 1), (0, 1)]),
    (3, "25%", "25%", [(3, 0), (3, 1), (2, 1), (2, 2), (1, 2), (1, 3), (0, 3)]),
    (10, "25%", "25%", [(10, 0), (10, 3), (5, 3), (5, 8), (0, 8), (0, 10)]),
    (3, 0, 1, [(3, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2), (0, 3)]),
    (3, 1, 1, [(3, 0), (3, 1), (1, 1), (1, 3), (0, 3)]),
    (10, 0, 0, [(10, 0), (9, 0), (9, 1), (8, 1), (8, 2), (7, 2), (7, 3), (6, 3), (6, 4), (5, 4), (5, 5),
                (4, 5), (4, 6), (3, 6), (3, 7), (2, 7), (2, 8), (1, 8), (1, 9), (0, 9), (0, 10)]),
    (10, "100%", 0, [(10, 0), (10, 10), (0, 10)]),
])
def test_rollout_step_table_when_new_pods_become_available(replicas, surge, unavailable, steps):
    assert changes(simulate(replicas, surge, unavailable)) == steps


def test_image_that_never_starts_adds_one_pod_and_keeps_all_old_ones():
    """The seed's broken `set image` on 3 replicas with 25%/25%: 3 old + 1 new, and it stays so."""
    history = simulate(3, "25%", "25%", ready=lambda step, rs: False, steps=20)
    assert history[-1] == (3, 1, 3)


def test_unhealthy_old_replicas_go_first():
    """cleanupUnhealthyReplicas: an old RS's unavailable pods are removed without touching availability."""
    old = RSView("old", 3, 1, "1")
    new = RSView("new", 1, 0, "2")
    # 4 pods, min available 3 (10%→0 unavailable on 3? no: 0 → 1 when surge is 0 too; here surge 1)
    assert scale_down_old(3, 1, 0, new, [old]) == {}
    older = RSView("older", 2, 0, "0")
    # all 6 pods, min available 3, new unavailable 1 → budget 2: the two dead pods of "older" go
    assert scale_down_old(3, 1, 0, new, [older, old]) == {"older": 0}


def test_an_old_replica_set_is_not_counted_as_more_available_than_it_will_stay():
    """6 replicas, 25 %/25 % (surge 2, unavailable 1). The old RS was just told to shrink 6 → 5
    and still reports 6 available (its last pass counted the pod it is deleting); the new RS has
    1 of 3 available. One more old pod may go, not two: 4 old + 1 new stay ≥ 5 ready."""
    old = RSView("old", 5, 6, "1", pods=6)
    new = RSView("new", 3, 1, "2", pods=3)
    assert scale_down_old(6, "25%", "25%", new, [old]) == {"old": 4}


@pytest.mark.parametrize("replicas, active, observed, expected", [
    # mid-rollout 10 → 20 (worked example in the docstring)
    (20, [RSView("old", 8, 8, "1", 13), RSView("new", 5, 0, "2", 13)], 13, {"old": 15, "new": 10}),
    # 10 → 5 mid-rollout: allowed 5 + 2 = 7, 6 to remove
    (5, [RSView("old", 8, 8, "1", 13), RSView("new", 5, 0, "2", 13)], 13, {"old": 4, "new": 3}),
    # 10 → 11: one more pod (14 allowed), and it goes to the largest
    (11, [RSView("old", 8, 8, "1", 13), RSView("new", 5, 0, "2", 13)], 13, {"old": 9, "new": 5}),
    # scale to zero empties everything
    (0, [RSView("old", 2, 2, "1", 4), RSView("new", 2, 0, "2", 4)], 4, {"old": 0, "new": 0}),
])
def test_proportional_scaling(replicas, active, observed, expected):
    sizes = proportional_sizes(replicas, "25%", active, observed)
    assert sizes == expected
    assert sum(sizes.values()) == (replicas + scaled_value("25%", replicas, True) if replicas else 0)


fencepost = st.one_of(st.integers(min_value=0, max_value=5),
                      st.integers(min_value=0, max_value=100).map(lambda p: f"{p}%"))


@settings(max_examples=100, deadline=None)
@given(replicas=st.integers(min_value=1, max_value=20), surge=fencepost, unavailable=fencepost,
       readiness=st.lists(st.booleans(), min_size=1, max_size=20), lag=st.integers(min_value=0, max_value=3))
def test_bounds_hold_whatever_becomes_ready(replicas, surge, unavailable, readiness, lag):
    """Never more than replicas + maxSurge pods; never fewer than replicas - maxUnavailable
    available, even while an old ReplicaSet's status lags behind its scale-down."""
    max_surge, max_unav = fenceposts(surge, unavailable, replicas)
    max_unav = min(max_unav, replicas)
    history = simulate(replicas, surge, unavailable,
                       ready=lambda step, rs: readiness[step % len(readiness)], steps=150, lag=lag)
    for old, new, available in history:
        assert old + new <= replicas + max_surge
        assert available >= replicas - max_unav


@settings(max_examples=100, deadline=None)
@given(replicas=st.integers(min_value=1, max_value=20), surge=fencepost, unavailable=fencepost,
       lag=st.integers(min_value=0, max_value=3))
def test_rollout_always_completes_when_pods_become_available(replicas, surge, unavailable, lag):
    assert simulate(replicas, surge, unavailable, lag=lag)[-1] == (0, replicas, replicas)


def test_template_hash_is_kubernetes_shaped_and_stable():
    template = {"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": [{"name": "n", "image": "nginx"}]}}
    first = template_hash(template)
    assert first == template_hash({"spec": template["spec"], "metadata": template["metadata"]})
    assert set(first) <= set("bcdfghjklmnpqrstvwxz2456789") and 1 <= len(first) <= 10
    assert template_hash(template, 1) != first  # a collision count moves the hash
    # kubectl's `my-nginx-deployment-7484748b57` is the FNV sum 3040304613 through the safe alphabet
    assert safe_encode("3040304613") == "7484748b57"
