"""Removing everything one cluster made in Docker: what ``dockyard down`` does after the agents stop.

Every container, network and volume an agent creates carries ``io.dockyard.cluster=<uid>``
(:mod:`agent.labels`), so one label filter finds all of a cluster on an engine and nothing of
anyone else's, not even another dockyard cluster's sharing the engine. Order matters to Docker:
containers first (a network with endpoints, or a volume in use, cannot be removed), then
networks, then volumes. Containers go in parallel with bounded concurrency, each failure
collected and reported together rather than stopping at the first.

This lives in the agent's runtime package because only that package may import ``docker``; the
``dockyard down`` command calls :func:`remove_cluster_objects`.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import docker
from docker.errors import APIError, DockerException, NotFound
from docker.models.networks import Network
from docker.models.volumes import Volume

from agent.labels import Owner, cluster_filter
from agent.runtime.engine import connect
from agent.runtime.errors import ContainerRuntimeError, DockerUnavailable

#: removals in flight at once; Docker serialises much of the work, more threads add nothing
PARALLELISM = 8


class CleanupIncomplete(ContainerRuntimeError):
    """Some objects of the cluster could not be removed; the message lists them."""


@dataclass(frozen=True)
class Removed:
    containers: int
    networks: int
    volumes: int

    def __str__(self) -> str:
        return f"{self.containers} container(s), {self.networks} network(s), {self.volumes} volume(s)"


def remove_cluster_objects(cluster_uid: str, docker_host: str | None = None) -> Removed:
    """Force-remove every container, network and volume labelled with ``cluster_uid``."""
    if not cluster_uid:
        raise ValueError("a cluster uid is required: an empty one would match unlabelled objects")
    client = connect(docker_host)
    selector = cluster_filter(cluster_uid)
    failures: list[str] = []
    try:
        # summaries only: a container the agents remove meanwhile must not fail an inspect here
        summaries = client.api.containers(all=True, filters=selector)
        containers = [summary["Id"] for summary in summaries]
        names = [name.lstrip("/") for summary in summaries for name in summary.get("Names") or []]
        with ThreadPoolExecutor(PARALLELISM) as pool:
            failures += [f for f in pool.map(lambda cid: _remove_container(client, cid), containers) if f]
        networks = client.networks.list(filters=selector)
        failures += [f for f in (_remove_network(client, n, selector, names) for n in networks) if f]
        volumes = client.volumes.list(filters=selector)
        failures += [f for f in map(_remove_volume, volumes) if f]
    except DockerException as error:
        raise DockerUnavailable(f"listing the cluster's Docker objects failed: {error}") from None
    finally:
        client.close()
    if failures:
        raise CleanupIncomplete(
            f"could not remove {len(failures)} Docker object(s) of cluster {cluster_uid}: "
            + "; ".join(failures) + ". Remove them with `docker rm -f` / `docker network rm` / "
            f"`docker volume rm` (they carry the label io.dockyard.cluster={cluster_uid})")
    return Removed(len(containers), len(networks), len(volumes))


def remove_node_containers(cluster_uid: str, node: str, docker_host: str | None = None) -> int:
    """Force-remove the containers of one node of the cluster (``dockyard down --node``: the
    machine died, and its containers with it); how many there were."""
    if not cluster_uid or not node:
        raise ValueError("a cluster uid and a node name are required")
    client = connect(docker_host)
    try:
        containers = [c["Id"] for c in client.api.containers(all=True, filters=Owner(cluster_uid, node).filters())]
        with ThreadPoolExecutor(PARALLELISM) as pool:
            failures = [f for f in pool.map(lambda cid: _remove_container(client, cid), containers) if f]
    except DockerException as error:
        raise DockerUnavailable(f"listing node {node}'s containers failed: {error}") from None
    finally:
        client.close()
    if failures:
        raise CleanupIncomplete(f"could not remove {len(failures)} container(s) of node {node}: " + "; ".join(failures))
    return len(containers)


def _remove_container(client: docker.DockerClient, container_id: str) -> str | None:
    try:
        client.api.remove_container(container_id, force=True, v=True)  # v: its anonymous volumes too
    except NotFound:
        pass  # gone already: that is what we wanted
    except APIError as error:
        if error.status_code != 409:  # 409: its removal is already in progress
            return f"container {container_id[:12]}: {error.explanation}"
    return None


def _remove_network(client: docker.DockerClient, network: Network, selector: dict, removed: list[str],
                    attempts: int = 10, pause: float = 0.3) -> str | None:
    """Remove the network, though it may still say "active endpoints" for a moment.

    Docker releases a removed container's endpoint a moment after the removal returns, so ask
    again. Meanwhile, remove any container of the cluster that appeared after the first sweep (an
    agent's create still in flight when it stopped), and force-disconnect the containers already
    removed, by name, which releases an endpoint their removal left behind (what
    ``docker network disconnect -f`` does).
    """
    for attempt in range(attempts):
        try:
            network.remove()
            return None
        except NotFound:
            return None
        except APIError as error:
            if "active endpoints" not in str(error.explanation) or attempt == attempts - 1:
                return f"network {network.name}: {error.explanation}"
        for late in client.api.containers(all=True, filters=selector):
            _remove_container(client, late["Id"])
        for name in removed:
            try:
                client.api.disconnect_container_from_network(name, network.id, force=True)
            except (NotFound, APIError):
                pass  # not on this network any more: nothing to release
        time.sleep(pause)
    return None


def _remove_volume(volume: Volume) -> str | None:
    try:
        volume.remove(force=True)
    except NotFound:
        pass
    except APIError as error:
        return f"volume {volume.name}: {error.explanation}"
    return None
