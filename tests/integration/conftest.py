"""Fixtures the integration tests share: one real cluster per test module.

A module gets three agents on this machine unless it defines its own ``cluster`` (two nodes,
lab knobs); ``kubectl`` is the real kubectl against whichever cluster the module has, and
``engine`` a Docker client to look at what the agents made.
"""

from __future__ import annotations

import docker
import pytest


@pytest.fixture(scope="module")
def cluster(cluster_factory):
    return cluster_factory(nodes=3)


@pytest.fixture(scope="module")
def kubectl(cluster):
    tool = cluster.kubectl()
    tool.cluster_logs = cluster.logs  # for failure messages: what the control plane and agents said
    return tool


@pytest.fixture(scope="module")
def engine():
    client = docker.from_env()
    yield client
    client.close()
