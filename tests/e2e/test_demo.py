"""``make demo``'s script on a simulated fresh machine: a 3-node cluster, the echo-hostname
Deployment behind a NodePort, and ten requests answered by pods on different nodes."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO
from tests.support.labs import LabRun, Step

pytestmark = pytest.mark.docker


def test_demo_answers_from_pods_on_different_nodes(tmp_path):
    run = LabRun(REPO / "examples", tmp_path / "home")
    try:
        # the `dockyard` on PATH is the lab harness's (a free API port), not .venv/bin/dockyard
        run.run([Step("DOCKYARD=dockyard ./demo.sh", expected=(
            "node/node-1   Ready   …", "node/node-3   Ready   …",
            "pod/hostname-deployment-…   1/1   Running   0   …",
            *["node-… -> Hello, hostname-deployment-…"] * 10,
            "Stop it:  .venv/bin/dockyard down --purge"))])
        answered = re.findall(r"-> Hello, (hostname-deployment-\S+)", run.transcript_text())
        assert len(answered) == 10 and len(set(answered)) >= 2, answered
    finally:
        run.cleanup()
