"""Shared fixtures. Anything a test starts is torn down here, even when the test fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.controlplane import ControlPlaneProcess, free_port
from tests.support.kubectl import Kubectl

REPO = Path(__file__).resolve().parent.parent


def seeds_dir() -> Path:
    import os

    path = Path(os.environ.get("DOCKYARD_SEEDS", REPO.parent / "shared" / "seeds"))
    if not path.is_dir():
        raise RuntimeError(f"the seed notes are missing at {path}; set DOCKYARD_SEEDS")
    return path


@pytest.fixture
def control_plane(tmp_path):
    server = ControlPlaneProcess(tmp_path / "state", free_port())
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def kubectl(control_plane, tmp_path) -> Kubectl:
    return Kubectl(control_plane.kubeconfig, tmp_path / "kube-cache")
