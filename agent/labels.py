"""Docker labels are the agent's memory.

Every container, volume and network an agent creates carries these labels, so an agent that
restarts (even after ``kill -9``) rebuilds its whole view from ``docker ps`` and adopts what is
running, and several agents (and several clusters) can share one Docker engine without ever
touching each other's objects: an agent only lists, stops or removes what carries *its* cluster
uid and node name. ``dockyard down`` finds everything of a cluster by the cluster label alone.

The label set mirrors what the kubelet keeps on its containers (pod uid, container name, the
hash of the container spec, the restart count), under our own prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "io.dockyard"

CLUSTER = f"{PREFIX}.cluster"            # the cluster's uid (cluster.json / kube-public/cluster-info)
NODE = f"{PREFIX}.node"                  # the Node name of the agent that owns the object
POD_UID = f"{PREFIX}.pod.uid"
POD_NAME = f"{PREFIX}.pod.name"
POD_NAMESPACE = f"{PREFIX}.pod.namespace"
CONTAINER = f"{PREFIX}.container.name"   # the container's name in the pod spec; SANDBOX for pause
SPEC_HASH = f"{PREFIX}.container.hash"   # hash of the container spec the container was made from
RESTART_COUNT = f"{PREFIX}.container.restart-count"
BACKOFF_STREAK = f"{PREFIX}.container.backoff-streak"  # quick crashes in a row (agent.sync)
GRACE_PERIOD = f"{PREFIX}.pod.termination-grace-period"
ROLE = f"{PREFIX}.role"                  # sandbox | app | volume | network

#: the container name the pause container carries, as the kubelet's "POD"
SANDBOX = "POD"


@dataclass(frozen=True)
class Owner:
    """Who an agent is, as far as Docker objects go."""

    cluster_uid: str
    node_name: str

    def labels(self) -> dict[str, str]:
        return {CLUSTER: self.cluster_uid, NODE: self.node_name}

    def filters(self, **extra: str) -> dict[str, list[str]]:
        """Docker ``filters={"label": […]}`` selecting only this agent's objects."""
        wanted = {**self.labels(), **extra}
        return {"label": [f"{key}={value}" for key, value in wanted.items()]}


def cluster_filter(cluster_uid: str) -> dict[str, list[str]]:
    """Everything of one cluster, on every node: what ``dockyard down`` removes."""
    return {"label": [f"{CLUSTER}={cluster_uid}"]}


_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]")


def container_name(cluster_uid: str, namespace: str, pod: str, container: str, pod_uid: str, attempt: int) -> str:
    """``dy_<container>_<pod>_<namespace>_<uid8>_<attempt>_<cluster8>``, the kubelet's
    ``k8s_…`` pattern: readable in ``docker ps`` and unique per restart attempt and cluster."""
    parts = [container, pod, namespace, pod_uid[:8], str(attempt), cluster_uid[:8]]
    return "dy_" + "_".join(_UNSAFE.sub("-", part) for part in parts)
