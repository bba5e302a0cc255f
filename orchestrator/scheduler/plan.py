"""One scheduling decision: filter → score → pick, and the words that explain it. Pure.

:func:`decide` takes a pod and the snapshot of nodes and returns either a :class:`Placement`
(the chosen node, every candidate's scores, the nodes ruled out and why) or
:class:`Unschedulable` (Kubernetes' FitError message). Randomness comes in as an argument, so a
test can pin the tie-break.

A learner should be able to see *why* a pod went where it went, so a placement carries two
renderings of its reasons: :func:`scores_annotation`, the per-node totals as JSON for the pod's
``scheduler.dockyard.io/scores`` annotation, and :func:`explain`, one line for the ``NodeScores``
Event that ``kubectl describe pod`` shows, e.g.::

    node-3 won with 297 = least-allocated 97 + 2×spread 100; node-2 297 = 97 + 2×100,
    node-1 195 = 95 + 2×50; tie between node-2, node-3 broken at random;
    ruled out: node-4 (node(s) were unschedulable)
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Mapping

from orchestrator.scheduler.filters import Rejection, fit_error, rejections
from orchestrator.scheduler.scores import SPREAD_WEIGHT, NodeScore, score_nodes
from orchestrator.scheduler.snapshot import NodeInfo, PodInfo

SCORES_ANNOTATION = "scheduler.dockyard.io/scores"
#: how many nodes the explanation names before summarising the rest (the annotation has them all)
EXPLAIN_LIMIT = 5


@dataclass(frozen=True)
class Placement:
    node: str
    scores: tuple[NodeScore, ...]                     # every candidate, best first
    rejected: Mapping[str, tuple[Rejection, ...]]     # nodes ruled out, with why
    tied: tuple[str, ...]                             # the best-scoring nodes the winner was drawn from


@dataclass(frozen=True)
class Unschedulable:
    message: str
    rejected: Mapping[str, tuple[Rejection, ...]]


def decide(pod: PodInfo, nodes: Mapping[str, NodeInfo], rng: random.Random) -> Placement | Unschedulable:
    rejected: dict[str, tuple[Rejection, ...]] = {}
    feasible: list[NodeInfo] = []
    for name in sorted(nodes):
        reasons = rejections(pod, nodes[name])
        if reasons:
            rejected[name] = tuple(reasons)
        else:
            feasible.append(nodes[name])
    if not feasible:
        return Unschedulable(fit_error(len(nodes), rejected), rejected)
    scores = score_nodes(pod, feasible)
    tied = tuple(score.node for score in scores if score.total == scores[0].total)
    return Placement(rng.choice(tied), tuple(scores), rejected, tied)


def binding_for(pod: dict, node: str, annotations: dict[str, str] | None = None) -> dict:
    """The decision as the scheduler posts it to ``pods/{name}/binding``: pinned to the pod's uid (so it
    cannot land on a pod re-created under the same name), annotated with its reasons."""
    meta = pod["metadata"]
    binding_meta = {"name": meta["name"], "namespace": meta.get("namespace"), "uid": meta["uid"]}
    if annotations:
        binding_meta["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "Binding", "metadata": binding_meta,
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}


def scores_annotation(placement: Placement) -> str:
    """``{"node-3": 297, "node-2": 297, "node-1": 195}``: every candidate's total, best first."""
    return json.dumps({score.node: score.total for score in placement.scores}, separators=(", ", ": "))


def _formula(score: NodeScore) -> str:
    return f"{score.least_allocated} + {SPREAD_WEIGHT}×{score.spread}"


def explain(placement: Placement) -> str:
    """One line saying why the winner won (see the module docstring for an example)."""
    winner = next(score for score in placement.scores if score.node == placement.node)
    others = [score for score in placement.scores if score.node != placement.node]
    parts = [f"{winner.node} won with {winner.total} = least-allocated {winner.least_allocated} + "
             f"{SPREAD_WEIGHT}×spread {winner.spread}"]
    if others:
        shown = ", ".join(f"{score.node} {score.total} = {_formula(score)}" for score in others[:EXPLAIN_LIMIT])
        if len(others) > EXPLAIN_LIMIT:
            shown += f" and {len(others) - EXPLAIN_LIMIT} more (see annotation {SCORES_ANNOTATION})"
        parts.append(shown)
    if len(placement.tied) > 1:
        parts.append(f"tie between {', '.join(sorted(placement.tied))} broken at random")
    if placement.rejected:
        names = sorted(placement.rejected)
        shown = ", ".join(f"{name} ({', '.join(map(str, placement.rejected[name]))})"
                          for name in names[:EXPLAIN_LIMIT])
        if len(names) > EXPLAIN_LIMIT:
            shown += f" and {len(names) - EXPLAIN_LIMIT} more"
        parts.append(f"ruled out: {shown}")
    return "; ".join(parts)
