"""`dockyard down`'s Docker cleanup on the real engine: everything labelled with the cluster's uid
goes (containers, running or not, then networks, then volumes), and nothing else does, not even
another cluster's objects on the same engine."""

from __future__ import annotations

import uuid

import docker
import pytest

from agent.labels import CLUSTER, cluster_filter
from agent.runtime.cleanup import remove_cluster_objects
from agent.runtime.errors import DockerUnavailable

pytestmark = pytest.mark.docker

PAUSE = "dockyard/pause:1.0"


@pytest.fixture
def engine():
    client = docker.from_env()
    run = uuid.uuid4().hex[:10]
    yield client, run
    # whatever a failed test left: only what carries this run's labels
    for uid in (f"doomed-{run}", f"bystander-{run}"):
        for container in client.containers.list(all=True, filters=cluster_filter(uid)):
            container.remove(force=True, v=True)
        for network in client.networks.list(filters=cluster_filter(uid)):
            network.remove()
        for volume in client.volumes.list(filters=cluster_filter(uid)):
            volume.remove(force=True)
    client.close()


def make_cluster_objects(client, uid: str) -> None:
    labels = {CLUSTER: uid}
    network = client.networks.create(f"dy-test-{uid}", labels=labels)
    volume = client.volumes.create(f"dy-test-{uid}", labels=labels)
    client.containers.run(PAUSE, name=f"dy-test-{uid}-running", labels=labels, detach=True,
                          network=network.name, volumes={volume.name: {"bind": "/data", "mode": "rw"}})
    client.containers.create(PAUSE, name=f"dy-test-{uid}-created", labels=labels)


def count(client, uid: str) -> tuple[int, int, int]:
    selector = cluster_filter(uid)
    return (len(client.containers.list(all=True, filters=selector)), len(client.networks.list(filters=selector)),
            len(client.volumes.list(filters=selector)))


def test_removes_one_cluster_and_nothing_else(engine):
    client, run = engine
    doomed, bystander = f"doomed-{run}", f"bystander-{run}"
    make_cluster_objects(client, doomed)
    make_cluster_objects(client, bystander)

    removed = remove_cluster_objects(doomed)
    assert (removed.containers, removed.networks, removed.volumes) == (2, 1, 1)
    assert count(client, doomed) == (0, 0, 0)
    assert count(client, bystander) == (2, 1, 1)
    assert client.containers.get(f"dy-test-{bystander}-running").status == "running"

    again = remove_cluster_objects(doomed)  # idempotent: a second `down` finds nothing to do
    assert (again.containers, again.networks, again.volumes) == (0, 0, 0)


def test_an_empty_uid_is_refused():
    with pytest.raises(ValueError, match="cluster uid is required"):
        remove_cluster_objects("")


def test_an_unreachable_engine_says_what_to_check():
    with pytest.raises(DockerUnavailable, match="cannot reach the Docker engine at tcp://127.0.0.1:9.*dockerd"):
        remove_cluster_objects("anything", docker_host="tcp://127.0.0.1:9")
