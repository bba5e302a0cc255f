"""Scores: of the nodes a pod fits on, which suits it best? Each score runs from 0 to 100.

* **least allocated** (Kubernetes' NodeResourcesFit, LeastAllocated strategy): for cpu and
  memory, the share of the node still free once this pod is placed,
  ``(allocatable - requested) * 100 // allocatable``, then the average of the two — integer
  arithmetic, as Kubernetes does. "Requested" uses the non-zero requests of
  :mod:`.snapshot`, so best-effort pods weigh on a node too.
  Example: 2 CPUs with 1100m held plus this pod's 100m → (2000 − 1200) × 100 // 2000 = 40;
  4Gi memory with 1Gi held plus 200Mi → 70; least allocated = (40 + 70) // 2 = 55.
* **spread** (Kubernetes' former SelectorSpread; today default PodTopologySpread constraints do
  this): how many pods of the same owner (:func:`.snapshot.spread_key`) each candidate node
  already runs. The node with the most scores 0, a node with none 100, the rest in proportion,
  ``100 * (most - count) // most``; when no candidate runs any, all score 100.
  Example: a ReplicaSet with 2 pods on node-1, 1 on node-2 and none on node-3 → 0, 50, 100.

``total = 1 × least allocated + 2 × spread``: Kubernetes' default plugin weights
(NodeResourcesFit 1, PodTopologySpread 2), so keeping one owner's pods apart outweighs a slightly
emptier node. The highest total wins; ties are broken at random (:mod:`.plan`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from orchestrator.scheduler.snapshot import NodeInfo, PodInfo

MAX_SCORE = 100
LEAST_ALLOCATED_WEIGHT = 1
SPREAD_WEIGHT = 2


@dataclass(frozen=True)
class NodeScore:
    node: str
    least_allocated: int
    spread: int

    @property
    def total(self) -> int:
        return LEAST_ALLOCATED_WEIGHT * self.least_allocated + SPREAD_WEIGHT * self.spread


def _free_share(requested: int, allocatable: int) -> int:
    if allocatable <= 0 or requested > allocatable:
        return 0
    return (allocatable - requested) * MAX_SCORE // allocatable


def least_allocated(pod: PodInfo, node: NodeInfo) -> int:
    after = node.nonzero_requested + pod.nonzero_requests
    shares = [_free_share(used, offered) for used, offered in
              ((after.cpu, node.allocatable.cpu), (after.memory, node.allocatable.memory)) if offered > 0]
    return sum(shares) // len(shares) if shares else 0


def spread(pod: PodInfo, nodes: Sequence[NodeInfo]) -> dict[str, int]:
    counts = {node.name: node.spread_counts[pod.spread] if pod.spread is not None else 0 for node in nodes}
    most = max(counts.values(), default=0)
    if most == 0:
        return {name: MAX_SCORE for name in counts}
    return {name: MAX_SCORE * (most - count) // most for name, count in counts.items()}


def score_nodes(pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[NodeScore]:
    """Every candidate node's scores, best total first (then by name, for a stable display)."""
    spreads = spread(pod, nodes)
    scores = [NodeScore(node.name, least_allocated(pod, node), spreads[node.name]) for node in nodes]
    return sorted(scores, key=lambda score: (-score.total, score.node))
