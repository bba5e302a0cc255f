"""``dockyard cordon|uncordon|drain NODE``: take a node out of scheduling, and empty it.

The same requests and words as kubectl 1.32:

* **cordon / uncordon** send a strategic merge patch of ``spec.unschedulable`` and print
  ``node/node-1 cordoned`` (or ``already cordoned``); the scheduler then passes the node over.
* **drain** cordons, lists the node's pods, decides which may go (:func:`plan_drain`, pure), then
  posts one ``Eviction`` per pod to ``pods/{name}/eviction`` (``evicting pod default/x``) and
  waits until each is gone or replaced by a pod of another uid (``pod/x evicted``), then prints
  ``node/node-1 drained``. A pod nobody owns would simply be lost, so kubectl refuses it unless
  ``--force`` (``cannot delete Pods that declare no controller (use --force to override)``); the
  same for DaemonSet pods (``--ignore-daemonsets`` leaves them) and pods with ``emptyDir`` data
  (``--delete-emptydir-data``). Pods that already finished may always go.

PodDisruptionBudgets do not exist in dockyard, so an eviction is never refused to protect one;
a drain relies on the pods' owners (ReplicaSets) to start replacements on the other nodes.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import TextIO

from orchestrator.api.podstatus import is_finished
from orchestrator.cli.client import ApiClient, ClientError
from orchestrator.cli.durations import duration_argument

NODES_PATH = "/api/v1/nodes"
STRATEGIC = "application/strategic-merge-patch+json"
_POLL = 0.25


class DrainProblem(str, Enum):
    """kubectl's words for pods a drain will not (or only with a flag) remove."""

    DAEMONSET_FATAL = "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"
    DAEMONSET_WARNING = "ignoring DaemonSet-managed Pods"
    UNMANAGED_FATAL = "cannot delete Pods that declare no controller (use --force to override)"
    UNMANAGED_WARNING = "deleting Pods that declare no controller"
    LOCAL_STORAGE_FATAL = "cannot delete Pods with local storage (use --delete-emptydir-data to override)"
    LOCAL_STORAGE_WARNING = "deleting Pods with local storage"


@dataclass(frozen=True)
class DrainOptions:
    force: bool = False
    ignore_daemonsets: bool = False
    delete_emptydir_data: bool = False


@dataclass
class DrainPlan:
    evict: list[dict] = field(default_factory=list)
    errors: dict[DrainProblem, list[str]] = field(default_factory=dict)
    warnings: dict[DrainProblem, list[str]] = field(default_factory=dict)

    def error_text(self) -> str:
        return "; ".join(f"{problem.value}: {', '.join(pods)}" for problem, pods in self.errors.items())

    def warning_text(self) -> str:
        return "; ".join(f"{problem.value}: {', '.join(pods)}" for problem, pods in self.warnings.items())


def _controller(pod: dict) -> dict | None:
    return next((ref for ref in pod["metadata"].get("ownerReferences") or [] if ref.get("controller")), None)


def plan_drain(pods: list[dict], options: DrainOptions) -> DrainPlan:
    """Which of a node's pods a drain evicts, and what it refuses or warns about (kubectl's filters,
    in kubectl's order: DaemonSet, local storage, unreplicated)."""
    plan = DrainPlan()
    for pod in pods:
        meta = pod["metadata"]
        shown = f"{meta.get('namespace', 'default')}/{meta['name']}"
        finished = is_finished(pod)
        owner = _controller(pod)
        if owner is not None and owner.get("kind") == "DaemonSet":
            problem = DrainProblem.DAEMONSET_WARNING if options.ignore_daemonsets else DrainProblem.DAEMONSET_FATAL
            (plan.warnings if options.ignore_daemonsets else plan.errors).setdefault(problem, []).append(shown)
            continue
        if not finished and any("emptyDir" in v for v in (pod.get("spec") or {}).get("volumes") or []):
            if not options.delete_emptydir_data:
                plan.errors.setdefault(DrainProblem.LOCAL_STORAGE_FATAL, []).append(shown)
                continue
            plan.warnings.setdefault(DrainProblem.LOCAL_STORAGE_WARNING, []).append(shown)
        if owner is None and not finished:
            if not options.force:
                plan.errors.setdefault(DrainProblem.UNMANAGED_FATAL, []).append(shown)
                continue
            plan.warnings.setdefault(DrainProblem.UNMANAGED_WARNING, []).append(shown)
        plan.evict.append(pod)
    return plan


# -- the commands ---------------------------------------------------------------------------


def add_node_parsers(verbs: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """The three verbs' parsers (the caller adds the common --kubeconfig)."""
    parsers = []
    for verb, text in (("cordon", "mark a node unschedulable"), ("uncordon", "mark a node schedulable again")):
        parsers.append(verbs.add_parser(verb, help=text))
        parsers[-1].add_argument("node")
    drain = verbs.add_parser("drain", help="cordon a node and evict its pods (kubectl drain)")
    drain.add_argument("node")
    drain.add_argument("--force", action="store_true", help="also evict pods no controller owns (they are lost)")
    drain.add_argument("--ignore-daemonsets", action="store_true", help="leave DaemonSet-managed pods")
    drain.add_argument("--delete-emptydir-data", action="store_true", help="evict pods with emptyDir data too")
    drain.add_argument("--grace-period", type=int, default=-1,
                       help="seconds each pod gets to stop (default -1: the pod's own grace period)")
    drain.add_argument("--timeout", type=duration_argument, default=0.0,
                       help="give up after this long, e.g. 60s (default 0: wait for ever)")
    return [*parsers, drain]


def set_unschedulable(client: ApiClient, node: str, unschedulable: bool, out: TextIO) -> None:
    current = client.request("GET", f"{NODES_PATH}/{node}")
    word = "cordoned" if unschedulable else "uncordoned"
    if bool((current.get("spec") or {}).get("unschedulable")) == unschedulable:
        out.write(f"node/{node} already {word}\n")
        return
    client.request("PATCH", f"{NODES_PATH}/{node}", body={"spec": {"unschedulable": True if unschedulable else None}},
                   content_type=STRATEGIC)
    out.write(f"node/{node} {word}\n")


def run_cordon(client: ApiClient, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    set_unschedulable(client, args.node, args.verb == "cordon", out)
    return 0


def run_drain(client: ApiClient, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    set_unschedulable(client, args.node, True, out)
    pods = client.request("GET", "/api/v1/pods", params={"fieldSelector": f"spec.nodeName={args.node}"})["items"]
    plan = plan_drain([p for p in pods if not p["metadata"].get("deletionTimestamp")],
                      DrainOptions(args.force, args.ignore_daemonsets, args.delete_emptydir_data))
    if plan.errors:
        problem = plan.error_text()
        err.write(f'error: unable to drain node "{args.node}" due to error: {problem}, continuing command...\n'
                  f"There are pending nodes to be drained:\n {args.node}\nerror: {problem}\n")
        return 1
    if plan.warnings:
        err.write(f"Warning: {plan.warning_text()}\n")
    deadline = time.monotonic() + args.timeout if args.timeout else None
    for pod in plan.evict:
        meta = pod["metadata"]
        out.write(f"evicting pod {meta['namespace']}/{meta['name']}\n")
        out.flush()
        _evict(client, pod, args.grace_period)
    for pod in plan.evict:
        if not _wait_gone(client, pod, deadline):
            err.write(f"error: unable to drain node \"{args.node}\" due to error: global timeout reached: "
                      f"{args.timeout:g}s, continuing command...\n"
                      f"There are pending nodes to be drained:\n {args.node}\n")
            return 1
        out.write(f"pod/{pod['metadata']['name']} evicted\n")
        out.flush()
    out.write(f"node/{args.node} drained\n")
    return 0


def _evict(client: ApiClient, pod: dict, grace_period: int) -> None:
    meta = pod["metadata"]
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": meta["name"], "namespace": meta["namespace"]}}
    if grace_period >= 0:
        eviction["deleteOptions"] = {"gracePeriodSeconds": grace_period}
    try:
        client.request("POST", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/eviction", body=eviction)
    except ClientError as error:
        if error.code != 404:
            raise


def _wait_gone(client: ApiClient, pod: dict, deadline: float | None) -> bool:
    """Until the pod answers 404 or a pod of the same name but another uid took its place."""
    meta = pod["metadata"]
    while deadline is None or time.monotonic() < deadline:
        current = client.get_or_none(f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}")
        if current is None or current["metadata"].get("uid") != meta["uid"]:
            return True
        time.sleep(_POLL)
    return False
