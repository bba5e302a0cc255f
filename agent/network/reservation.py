"""Choosing a new local cluster's address ranges, and taking them before anyone else can.

Docker refuses two networks on overlapping subnets, and two clusters on one host must not share
Service addresses either (both proxies would claim the same virtual IPs). So ``dockyard up``, when
it makes a cluster, asks this host what is in use — every Docker network's subnets and the
kernel's routes — and takes the first free pair of ranges
(:func:`~orchestrator.api.clusternetwork.first_free_network`). The pod network is then created at
once, under a host-wide lock held from the look to the creation, so a second ``up`` running at
the same moment sees the range taken. The plan lives on in ``cluster.json``; a cluster keeps its
ranges for life.
"""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.api.clusternetwork import ClusterNetwork, first_free_network

from agent.labels import Owner
from agent.network import ip
from agent.network.podnet import ensure_pod_network, pod_network_spec
from agent.runtime.docker_runtime import DockerRuntime

#: held while a new cluster's ranges are chosen and its network made
LOCK_FILE = Path(tempfile.gettempdir()) / "dockyard-address-plan.lock"


@contextmanager
def address_plan_lock() -> Iterator[None]:
    with open(LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def subnets_in_use(docker_host: str | None = None) -> list[str]:
    """Subnets of every Docker network of the engine and destinations of the host's routes."""
    runtime = DockerRuntime(Owner("", ""), docker_host)
    docker_subnets = [subnet for network in runtime.networks() for subnet in network.subnets]
    return docker_subnets + [route.destination for route in ip.routes()]


def choose_network() -> ClusterNetwork:
    """The first free plan; call it holding :func:`address_plan_lock` and reserve before letting go."""
    return first_free_network(subnets_in_use())


def reserve_network(cluster_name: str, cluster_uid: str, network: ClusterNetwork) -> None:
    """Create the cluster's pod network now (its agents find it made)."""
    runtime = DockerRuntime(Owner(cluster_uid, ""))
    ensure_pod_network(runtime, pod_network_spec(cluster_name, cluster_uid, network))
