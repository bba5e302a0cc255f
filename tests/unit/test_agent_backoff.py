"""The crash back-off curve of :mod:`agent.backoff`, checked against the kubelet's.

The kubelet restarts a crashed container at once the first time, then waits 10 s, 20 s, 40 s …
capped at 300 s, and forgets the streak once a container ran for 10 minutes
(pkg/kubelet/kuberuntime ``doBackOff`` over ``flowcontrol.Backoff``). The table below is the
worked example of backoff.py's docstring, with the rows its ``…`` elides filled in.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.backoff import RestartPlan, delay_for, plan_restart
from agent.config import BackoffPolicy

KUBELET = BackoffPolicy()  # 10 s, 300 s, 600 s


def test_defaults_are_the_kubelets() -> None:
    assert (KUBELET.initial, KUBELET.maximum, KUBELET.reset_after) == (10.0, 300.0, 600.0)


@pytest.mark.parametrize(
    ("streak", "ran", "delay", "next_streak"),
    [
        (0, 2, 0, 1),        # first restart: at once
        (1, 2, 10, 2),
        (2, 2, 20, 3),
        (3, 2, 40, 4),
        (4, 2, 80, 5),
        (5, 2, 160, 6),
        (6, 2, 300, 7),      # 320 s, capped
        (7, 2, 300, 8),      # 640 s, capped
        (8, 700, 0, 1),      # ran ≥ 600 s: the streak is forgotten
    ],
)
def test_docstring_curve(streak: int, ran: float, delay: float, next_streak: int) -> None:
    assert plan_restart(streak, ran, KUBELET) == RestartPlan(delay, next_streak)


@pytest.mark.parametrize(("streak", "delay"), [(-1, 0), (0, 0), (1, 10), (2, 20), (5, 160), (6, 300), (50, 300)])
def test_delay_for(streak: int, delay: float) -> None:
    assert delay_for(streak, KUBELET) == delay


@pytest.mark.parametrize(
    ("ran", "delay", "next_streak"),
    [
        (0, 40, 4),          # never ran (exited at once): still a quick crash
        (599.9, 40, 4),      # just short of the reset
        (600, 0, 1),         # exactly reset_after of clean running
        (6000, 0, 1),
    ],
)
def test_reset_after_clean_running(ran: float, delay: float, next_streak: int) -> None:
    assert plan_restart(3, ran, KUBELET) == RestartPlan(delay, next_streak)


def test_after_a_reset_the_curve_starts_over() -> None:
    """Reset → immediate restart; the next quick crash waits the initial 10 s again."""
    after_reset = plan_restart(9, 900, KUBELET)
    assert after_reset == RestartPlan(0, 1)
    assert plan_restart(after_reset.next_streak, 1, KUBELET) == RestartPlan(10, 2)


def test_lab_policy_is_tunable() -> None:
    """A crash-loop lab with 0.5 s doubling up to 2 s shows the whole curve in seconds."""
    lab = BackoffPolicy(initial=0.5, maximum=2.0, reset_after=5.0)
    assert [delay_for(s, lab) for s in range(6)] == [0, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert plan_restart(4, 5.0, lab) == RestartPlan(0, 1)


@pytest.mark.parametrize("maximum", [10.0, 25.0, 300.0])
def test_cap_at_maximum(maximum: float) -> None:
    policy = BackoffPolicy(initial=10.0, maximum=maximum)
    assert max(delay_for(s, policy) for s in range(100)) == maximum
    assert delay_for(1000, policy) == maximum   # no overflow for a very long streak


policies = st.builds(
    lambda initial, factor, reset: BackoffPolicy(initial=initial, maximum=initial * factor, reset_after=reset),
    st.floats(min_value=0.01, max_value=60), st.floats(min_value=1, max_value=100),
    st.floats(min_value=1, max_value=3600),
)


@given(policy=policies, runs=st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=40))
def test_delays_never_decrease_within_a_streak_and_never_exceed_maximum(policy: BackoffPolicy,
                                                                        runs: list[float]) -> None:
    streak, delays = 0, []
    for fraction in runs:   # every run shorter than reset_after: one unbroken streak
        plan = plan_restart(streak, fraction * policy.reset_after * 0.999, policy)
        delays.append(plan.delay)
        assert plan.next_streak == streak + 1
        streak = plan.next_streak
    assert delays[0] == 0                       # the first restart is immediate
    assert delays == sorted(delays)
    assert all(0 <= d <= policy.maximum for d in delays)


@given(policy=policies, streak=st.integers(min_value=0, max_value=200), extra=st.floats(min_value=0, max_value=1e6))
def test_a_long_clean_run_always_resets(policy: BackoffPolicy, streak: int, extra: float) -> None:
    assert plan_restart(streak, policy.reset_after + extra, policy) == RestartPlan(0, 1)
