"""Rolling-update arithmetic: how many pods a Deployment's ReplicaSets may have, step by step.

Pure functions over :class:`RSView` (a ReplicaSet reduced to the numbers the maths needs), after
Kubernetes' ``pkg/controller/deployment/rolling.go``, ``sync.go`` and ``util/deployment_util.go``.
The Deployment planner (:mod:`orchestrator.controllers.deployment_steps`) builds the views,
asks here what each ReplicaSet's ``spec.replicas`` should become, and plans the scaling.

**Fenceposts.** ``maxSurge`` and ``maxUnavailable`` are ints or percentages of ``replicas``;
surge rounds *up*, unavailable rounds *down*, and if both come out 0 unavailable becomes 1 (or
the rollout could never move). Worked example, the default 25%/25%:

===========  =====================  ===========================  ============================
replicas     maxSurge (⌈25 %⌉)      maxUnavailable (⌊25 %⌋)      pods may range over
===========  =====================  ===========================  ============================
1            1                      0                            1 available … 2 total
3            1                      0                            3 available … 4 total
10           3                      2                            8 available … 13 total
===========  =====================  ===========================  ============================

So on 3 replicas, ``set image`` to an image that never starts adds exactly 1 new pod and keeps
all 3 old ones: the new one never becomes available, so no old one may go.

**One step** of a rolling update (``rolloutRolling``) is: scale the new ReplicaSet up as far as
``replicas + maxSurge`` total allows (:func:`new_rs_replicas`); if nothing changed, scale old ones
down (:func:`scale_down_old`): first their *unhealthy* replicas (never counted as available, so
removing them cannot hurt availability — ``cleanupUnhealthyReplicas``), then healthy ones while
more than ``replicas - maxUnavailable`` stay available. The controller repeats on every change.

**Counting for the surge** is where dockyard is stricter than Kubernetes, which sums the
ReplicaSets' ``spec.replicas``: when an old ReplicaSet has just been told to shrink from 3 to 2,
its third pod lives on until its ReplicaSet controller deletes it, and a new pod created in that
moment makes one pod too many. Here each ReplicaSet counts as the larger of ``spec.replicas`` and
``status.replicas`` (the pods it had at its last pass), so the new ReplicaSet grows only once the
old one reports the pod gone: the surge bound holds for the pods that exist, not just on paper.

**Counting availability** is stricter for the same reason: an old ReplicaSet just told to shrink
from 6 to 5 still reports 6 available (its status counts the pods its last pass started from),
and trusting that would let the next step take away one ready pod too many. Each ReplicaSet's
availability counts as at most its ``spec.replicas`` (:meth:`RSView.available_to_keep`): no more
of its pods than that will stay.

**Proportional scaling** (:func:`proportional_sizes`): when ``replicas`` changes mid-rollout,
every active ReplicaSet grows or shrinks in proportion to its size, so a rollout half done stays
half done; rounding leftovers go to the largest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Kubernetes' default for both ``maxSurge`` and ``maxUnavailable``
DEFAULT_FENCEPOST = "25%"

#: a ``maxSurge``/``maxUnavailable`` as written: a count, a percentage ("25%"), or unset (the default)
Fencepost = int | str | None


class InvalidFencepost(ValueError):
    """A ``maxSurge``/``maxUnavailable`` that is neither an int nor ``"N%"``."""


@dataclass(frozen=True)
class RSView:
    """What the arithmetic needs to know about one ReplicaSet."""

    name: str
    replicas: int  # spec.replicas
    available: int = 0  # status.availableReplicas
    created: str = ""  # creationTimestamp: older ReplicaSets sort first
    max_replicas: int | None = None  # the deployment.kubernetes.io/max-replicas annotation
    pods: int = 0  # status.replicas: the active pods it had at its controller's last pass

    @property
    def available_to_keep(self) -> int:
        """Available pods it will still have once its controller has caught up with ``replicas``."""
        return min(self.available, self.replicas)


def scaled_value(value: Fencepost, total: int, round_up: bool) -> int:
    """An int-or-percent resolved against ``total`` (``GetScaledValueFromIntOrPercent``).

    ``scaled_value("25%", 10, True) == 3``; ``scaled_value("25%", 10, False) == 2``; ``scaled_value(2, 10, …) == 2``.
    """
    if value is None:
        value = DEFAULT_FENCEPOST
    if isinstance(value, bool):
        raise InvalidFencepost(f"invalid value {value!r}: use an integer or a percentage such as \"25%\"")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.endswith("%") or not text[:-1].isdigit():
        if text.isdigit():
            return int(text)
        raise InvalidFencepost(f"invalid value {value!r}: use an integer or a percentage such as \"25%\"")
    exact = int(text[:-1]) * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def fenceposts(max_surge: Fencepost, max_unavailable: Fencepost, replicas: int) -> tuple[int, int]:
    """``(surge, unavailable)`` for ``replicas`` (``ResolveFenceposts``): both 0 → unavailable 1."""
    surge = scaled_value(max_surge, replicas, True)
    unavailable = scaled_value(max_unavailable, replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_unavailable(max_surge: Fencepost, max_unavailable_value: Fencepost, replicas: int) -> int:
    """How many of ``replicas`` may be unavailable (``MaxUnavailable``), never more than all of them."""
    if replicas == 0:
        return 0
    return min(fenceposts(max_surge, max_unavailable_value, replicas)[1], replicas)


def total_replicas(rss: list[RSView]) -> int:
    return sum(rs.replicas for rs in rss)


def pods_at_most(rss: list[RSView]) -> int:
    """How many pods the ReplicaSets may have right now: wanted or not yet removed."""
    return sum(max(rs.replicas, rs.pods) for rs in rss)


def new_rs_replicas(replicas: int, max_surge: Fencepost, all_rss: list[RSView], new_rs: RSView | None) -> int:
    """What the new ReplicaSet may grow to now (``NewRSNewReplicas`` for RollingUpdate).

    Example: 3 replicas, surge 1, old RS at 3, new RS at 0 → total may reach 4, so the new RS
    gets 1. With the old RS later at 2 — and reporting 2 pods, not the 3 it had — the new RS may
    reach 2.
    """
    current = new_rs.replicas if new_rs else 0
    if current >= replicas:
        return replicas
    surge = scaled_value(max_surge, replicas, True)
    room = replicas + surge - pods_at_most(all_rss)
    if room <= 0:
        return current
    return current + min(room, replicas - current)


def _by_age(rss: list[RSView]) -> list[RSView]:
    return sorted(rss, key=lambda rs: (rs.created, rs.name))


def scale_down_old(replicas: int, max_surge: Fencepost, max_unavailable_value: Fencepost, new_rs: RSView | None,
                   old_rss: list[RSView]) -> dict[str, int]:
    """New ``spec.replicas`` for the old ReplicaSets that must shrink (``reconcileOldReplicaSets``).

    Example: 3 replicas, 25%/25% (surge 1, unavailable 0); old RS 3/3 available, new RS 1 with 0
    available → ``{}``: all pods 4, minimum available 3, the new pod is unavailable, so
    4 - 3 - 1 = 0 may go. Once the new pod is available: 4 - 3 - 0 = 1 → ``{"old": 2}``.
    """
    if total_replicas(old_rss) == 0:
        return {}
    new_replicas = new_rs.replicas if new_rs else 0
    all_pods = total_replicas(old_rss) + new_replicas
    min_available = replicas - max_unavailable(max_surge, max_unavailable_value, replicas)
    new_unavailable = new_replicas - (new_rs.available_to_keep if new_rs else 0)
    budget = all_pods - min_available - new_unavailable
    if budget <= 0:
        return {}
    sizes: dict[str, int] = {}
    # 1. unhealthy replicas of old ReplicaSets first: removing them cannot reduce availability
    cleaned = 0
    for rs in _by_age(old_rss):
        if cleaned >= budget:
            break
        unhealthy = rs.replicas - rs.available_to_keep
        if rs.replicas == 0 or unhealthy <= 0:
            continue
        down = min(budget - cleaned, unhealthy)
        sizes[rs.name] = rs.replicas - down
        cleaned += down
    # 2. then healthy ones, as long as enough stay available overall
    available = sum(rs.available_to_keep for rs in old_rss) + (new_rs.available_to_keep if new_rs else 0)
    allowed = available - min_available
    removed = 0
    for rs in _by_age(old_rss):
        if removed >= allowed:
            break
        current = sizes.get(rs.name, rs.replicas)
        if current == 0:
            continue
        down = min(current, allowed - removed)
        sizes[rs.name] = current - down
        removed += down
    return {name: size for name, size in sizes.items()}


def _fraction(rs: RSView, replicas: int, surge: int, observed_replicas: int) -> int:
    """How much ``rs`` should grow or shrink for the new size (``getReplicaSetFraction``)."""
    if replicas == 0:
        return -rs.replicas
    allowed = replicas + surge
    annotated = rs.max_replicas if rs.max_replicas else observed_replicas
    if not annotated:
        return 0
    # Go's math.Round: halves away from zero
    return int(math.floor(rs.replicas * allowed / annotated + 0.5)) - rs.replicas


def proportional_sizes(replicas: int, max_surge: Fencepost, active: list[RSView], observed_replicas: int) -> dict[str, int]:
    """Every active ReplicaSet's new size after ``replicas`` changed mid-rollout (``scale``).

    Example: 10 replicas (surge 3) mid-rollout with old 8 and new 5 (13 pods, ``max-replicas`` 13),
    scaled to 20 (surge 5, 25 allowed): 12 more to hand out; old gets round(8·25/13) - 8 = 7, new
    round(5·25/13) - 5 = 5, leftover 0 → ``{"old": 15, "new": 10}``.
    """
    surge = scaled_value(max_surge, replicas, True)
    allowed = replicas + surge if replicas > 0 else 0
    to_add = allowed - total_replicas(active)
    # larger first, so the rounding leftover lands on the largest; on ties newer first when growing
    # (ReplicaSetsBySizeNewer), older first when shrinking (ReplicaSetsBySizeOlder)
    by_age = sorted(active, key=lambda rs: (rs.created, rs.name), reverse=to_add > 0)
    ordered = sorted(by_age, key=lambda rs: -rs.replicas)  # stable: ties keep their age order
    sizes: dict[str, int] = {}
    added = 0
    for rs in ordered:
        proportion = 0
        if to_add != 0 and rs.replicas != 0 and added != to_add:
            fraction = _fraction(rs, replicas, surge, observed_replicas)
            remaining = to_add - added
            proportion = min(fraction, remaining) if to_add > 0 else max(fraction, remaining)
        sizes[rs.name] = rs.replicas + proportion
        added += proportion
    if ordered and to_add != 0:
        first = ordered[0].name
        sizes[first] = max(0, sizes[first] + to_add - added)
    return sizes

