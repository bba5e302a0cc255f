"""Kubernetes' restart back-off, as arithmetic on labels and timestamps.

The kubelet restarts a crashed container at once the first time, then waits 10 s, 20 s, 40 s …
up to 5 minutes, and forgets the streak once a container has run cleanly for 10 minutes. Here the
streak is not kept in memory: every container carries, as a label, how many quick crashes came
right before it (its *streak*). So after a restart of the agent — even ``kill -9`` — the curve
goes on exactly where it was, computed from ``docker inspect`` alone.

Worked example with the defaults (initial 10 s, maximum 300 s, reset after 600 s)::

    attempt  streak  ran   exits → next start after   next streak
    0        0       2 s   0 s (first restart: at once)  1
    1        1       2 s   10 s                          2
    2        2       2 s   20 s                          3
    3        3       2 s   40 s                          4
    …
    7        7       2 s   300 s (capped; 640 s)         8
    8        8       700 s 0 s (ran ≥ 600 s: reset)      1
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.config import BackoffPolicy


def delay_for(streak: int, policy: BackoffPolicy) -> float:
    """Seconds to wait before restarting a container whose streak of quick crashes is ``streak``."""
    if streak <= 0:
        return 0.0
    return min(policy.initial * (2 ** (streak - 1)), policy.maximum)


@dataclass(frozen=True)
class RestartPlan:
    delay: float       # seconds after the crash before the next start
    next_streak: int   # the streak label of the next container


def plan_restart(streak: int, ran_for: float, policy: BackoffPolicy) -> RestartPlan:
    """The wait and the next streak after a container with ``streak`` ran ``ran_for`` seconds."""
    effective = 0 if ran_for >= policy.reset_after else streak
    return RestartPlan(delay_for(effective, policy), effective + 1)
