"""Taints and tolerations: which pods a node repels, and which pods shrug that off.

A taint on a node (``key=value:Effect``) keeps pods away unless they carry a matching
toleration. The matching rule is Kubernetes' ``Toleration.ToleratesTaint``
(k8s.io/api/core/v1/toleration.go):

* a toleration with an ``effect`` matches only taints with that effect (empty: every effect);
* a toleration with a ``key`` matches only taints with that key (empty key with ``Exists``:
  every taint — the "tolerate everything" toleration);
* ``operator: Exists`` ignores the value; ``Equal`` (the default) needs the values equal.

The well-known taints are the ones Kubernetes itself puts on nodes: a cordoned node behaves as if
tainted ``node.kubernetes.io/unschedulable:NoSchedule``, a node that is not Ready as if tainted
``node.kubernetes.io/not-ready`` (or ``unreachable`` when its agent stopped reporting). The
scheduler and the node lifecycle both speak in these terms, so a pod tolerating one of them
(DaemonSet-style) is treated alike everywhere.

Pure functions over wire-form dicts (``{"key", "operator", "value", "effect"}``).
"""

from __future__ import annotations

from enum import Enum
from typing import Iterable

from orchestrator.api.node import TaintEffect
from orchestrator.api.scheduling import TolerationOperator


class WellKnownTaint(str, Enum):
    NOT_READY = "node.kubernetes.io/not-ready"
    UNREACHABLE = "node.kubernetes.io/unreachable"
    UNSCHEDULABLE = "node.kubernetes.io/unschedulable"


#: effects that keep a pod from being scheduled onto a node (PreferNoSchedule only discourages)
SCHEDULING_EFFECTS = frozenset({TaintEffect.NO_SCHEDULE.value, TaintEffect.NO_EXECUTE.value})


def taint(key: WellKnownTaint, effect: TaintEffect = TaintEffect.NO_SCHEDULE) -> dict:
    return {"key": key.value, "effect": effect.value}


def tolerates(toleration: dict, node_taint: dict) -> bool:
    """Whether one toleration matches one taint (``ToleratesTaint``)."""
    if toleration.get("effect") and toleration["effect"] != node_taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != node_taint.get("key"):
        return False
    operator = toleration.get("operator") or TolerationOperator.EQUAL.value
    if operator == TolerationOperator.EXISTS.value:
        return True
    if operator == TolerationOperator.EQUAL.value:
        return (toleration.get("value") or "") == (node_taint.get("value") or "")
    return False


def is_tolerated(node_taint: dict, tolerations: Iterable[dict] | None) -> bool:
    return any(tolerates(toleration, node_taint) for toleration in tolerations or ())


def first_untolerated(taints: Iterable[dict] | None, tolerations: Iterable[dict] | None,
                      effects: frozenset[str] = SCHEDULING_EFFECTS) -> dict | None:
    """The first taint with one of ``effects`` that no toleration matches, in the node's order
    (``FindMatchingUntoleratedTaint``); ``None`` when the pod tolerates them all."""
    tolerations = list(tolerations or ())
    for node_taint in taints or ():
        if node_taint.get("effect") in effects and not is_tolerated(node_taint, tolerations):
            return node_taint
    return None
