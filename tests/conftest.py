"""Shared fixtures. Anything a test starts is torn down here, even when the test fails."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from tests.support.cluster import ClusterFactory, LocalCluster
from tests.support.controlplane import ControlPlaneProcess, free_port
from tests.support.image_archive import ImageArchive
from tests.support.kubectl import Kubectl
from tests.support.machines import MachineFactory

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def control_plane(tmp_path):
    server = ControlPlaneProcess(tmp_path / "state", free_port())
    try:
        yield server.start()
    finally:
        # A connection the test can no longer reach may still be open: the official client's
        # refused request keeps its connection alive from the exception's traceback, a reference
        # cycle. The server would wait for it (2 s, uvicorn's graceful-shutdown timeout); the cycle
        # collector closes it, as the end of a client process would.
        gc.collect()
        server.stop()


@pytest.fixture
def kubectl(control_plane, tmp_path) -> Kubectl:
    return Kubectl(control_plane.kubeconfig, tmp_path / "kube-cache")


@pytest.fixture
def cluster(tmp_path) -> LocalCluster:
    """A one-node cluster from `dockyard up`, removed with `dockyard down --purge` afterwards."""
    local = LocalCluster(tmp_path / "cluster", nodes=1)
    try:
        yield local.up()
    finally:
        local.teardown()


@pytest.fixture(scope="module")
def cluster_factory(tmp_path_factory) -> ClusterFactory:
    """``cluster_factory(nodes=3)`` stands up a cluster shared by a module's tests; all of them
    come down when the module is done."""
    factory = ClusterFactory(tmp_path_factory.mktemp("clusters"))
    try:
        yield factory
    finally:
        factory.teardown()


@pytest.fixture(scope="session")
def image_archive(tmp_path_factory) -> ImageArchive:
    """The offline images saved once per session, for machines with engines of their own."""
    return ImageArchive(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="module")
def machine_factory(image_archive) -> MachineFactory:
    """``machine_factory(workers=2, images=(…))`` stands up separate machines (each a network
    namespace with its own Docker engine, joined over a LAN; see :mod:`tests.support.machines`)
    shared by a module's tests; all of them come down when the module is done."""
    factory = MachineFactory(image_archive)
    try:
        yield factory
    finally:
        factory.teardown()
