"""Filters: may this pod run on this node? When not, each filter says why in Kubernetes' words.

One filter per concern, in the order of Kubernetes' default filter plugins (NodeUnschedulable,
TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit). A node is judged by the first filter
that rejects it, as the scheduling framework stops at the first failing plugin, so a rejected node
contributes the reasons of one filter: usually one, but the resources filter reports every
shortage at once ("Too many pods", "Insufficient cpu", "Insufficient memory").

Readiness. Kubernetes has no Ready filter: its node lifecycle controller taints a node that is
not Ready (``node.kubernetes.io/not-ready:NoSchedule``, or ``unreachable`` when the Ready
condition is Unknown) and the taint filter keeps pods off. dockyard reads the Ready condition
directly — a new or failing node is avoided at once, not after the controller's next pass — and
treats it as that taint, so the rejection reads as in Kubernetes
(``node(s) had untolerated taint {node.kubernetes.io/not-ready: }``) and a pod tolerating the
taint may still land there. A cordoned node is likewise passed over unless the pod tolerates
``node.kubernetes.io/unschedulable:NoSchedule``.

A pod that fits nowhere gets Kubernetes' FitError message: every node's reasons counted, each
"count reason" string sorted as a string, joined with commas::

    0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient memory.

(Kubernetes 1.32 appends what preemption found; dockyard does not preempt, so it ends there.)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Mapping, Sequence

from orchestrator.api.meta import ConditionStatus
from orchestrator.api.taints import WellKnownTaint, first_untolerated, is_tolerated, taint
from orchestrator.scheduler.snapshot import NodeInfo, PodInfo

#: what Kubernetes says when the cluster has no nodes at all (ErrNoNodesAvailable)
NO_NODES_MESSAGE = "no nodes available to schedule pods"


class Misfit(str, Enum):
    """Why a node cannot take a pod: the ``ErrReason…`` strings of Kubernetes' filter plugins."""

    UNSCHEDULABLE = "node(s) were unschedulable"
    UNTOLERATED_TAINT = "node(s) had untolerated taint"
    NODE_SELECTOR = "node(s) didn't match Pod's node affinity/selector"
    HOST_PORTS = "node(s) didn't have free ports for the requested pod ports"
    TOO_MANY_PODS = "Too many pods"
    INSUFFICIENT_CPU = "Insufficient cpu"
    INSUFFICIENT_MEMORY = "Insufficient memory"


@dataclass(frozen=True)
class Rejection:
    misfit: Misfit
    detail: str = ""  # the taint, for UNTOLERATED_TAINT: "{key: value}"

    def __str__(self) -> str:
        return f"{self.misfit.value} {self.detail}" if self.detail else self.misfit.value


Filter = Callable[[PodInfo, NodeInfo], list[Rejection]]


def node_unschedulable(pod: PodInfo, node: NodeInfo) -> list[Rejection]:
    """``kubectl cordon`` sets ``spec.unschedulable``; only pods tolerating it may still come."""
    if node.unschedulable and not is_tolerated(taint(WellKnownTaint.UNSCHEDULABLE), pod.tolerations):
        return [Rejection(Misfit.UNSCHEDULABLE)]
    return []


def readiness_taint(node: NodeInfo) -> dict | None:
    """The taint Kubernetes would have put on this node for its Ready condition (None when Ready)."""
    if node.ready == ConditionStatus.TRUE.value:
        return None
    if node.ready == ConditionStatus.UNKNOWN.value:
        return taint(WellKnownTaint.UNREACHABLE)
    return taint(WellKnownTaint.NOT_READY)


def taint_toleration(pod: PodInfo, node: NodeInfo) -> list[Rejection]:
    implied = readiness_taint(node)
    found = first_untolerated(((implied,) if implied else ()) + node.taints, pod.tolerations)
    if found is None:
        return []
    return [Rejection(Misfit.UNTOLERATED_TAINT, f"{{{found.get('key', '')}: {found.get('value') or ''}}}")]


def node_selector(pod: PodInfo, node: NodeInfo) -> list[Rejection]:
    if all(node.labels.get(key) == value for key, value in pod.node_selector.items()):
        return []
    return [Rejection(Misfit.NODE_SELECTOR)]


def host_ports(pod: PodInfo, node: NodeInfo) -> list[Rejection]:
    if any(wanted.conflicts(used) for wanted in pod.host_ports for used in node.host_ports):
        return [Rejection(Misfit.HOST_PORTS)]
    return []


def resources_fit(pod: PodInfo, node: NodeInfo) -> list[Rejection]:
    """Requests against ``allocatable`` minus what bound pods hold; a zero request always fits."""
    found = []
    if node.pod_count + 1 > node.allocatable_pods:
        found.append(Rejection(Misfit.TOO_MANY_PODS))
    if pod.requests.cpu > 0 and pod.requests.cpu > node.allocatable.cpu - node.requested.cpu:
        found.append(Rejection(Misfit.INSUFFICIENT_CPU))
    if pod.requests.memory > 0 and pod.requests.memory > node.allocatable.memory - node.requested.memory:
        found.append(Rejection(Misfit.INSUFFICIENT_MEMORY))
    return found


FILTERS: tuple[Filter, ...] = (node_unschedulable, taint_toleration, node_selector, host_ports, resources_fit)


def rejections(pod: PodInfo, node: NodeInfo) -> list[Rejection]:
    """Why ``pod`` cannot go to ``node`` (the first filter that says no), or [] when it fits."""
    for check in FILTERS:
        found = check(pod, node)
        if found:
            return found
    return []


def fit_error(total_nodes: int, rejected: Mapping[str, Sequence[Rejection]]) -> str:
    """Kubernetes' message for a pod that fits on none of ``total_nodes`` nodes."""
    if total_nodes == 0:
        return NO_NODES_MESSAGE
    counts = Counter(str(rejection) for reasons in rejected.values() for rejection in reasons)
    histogram = sorted(f"{count} {reason}" for reason, count in counts.items())
    return f"0/{total_nodes} nodes are available: {', '.join(histogram)}."
