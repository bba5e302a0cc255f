"""The Node's Ready condition as the agent reports it (:mod:`agent.node`): ready, or why not, in
the kubelet's shape (reason ``KubeletNotReady``, the cause in the message)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import AgentConfig
from agent.node import NotReady, conditions, node_object

MACHINE = {"cpus": 2, "memory_bytes": 4 << 30, "os": "linux", "arch": "amd64", "os_image": "Debian",
           "kernel": "6.1", "engine": "20.10.24", "machine_id": "m"}
CONFIG = AgentConfig(server="https://127.0.0.1:1", token="t", node_name="node-1", state_dir=Path("unused"))


def ready(conds: list[dict]) -> dict:
    return next(c for c in conds if c["type"] == "Ready")


def test_a_ready_node_says_the_kubelet_is_posting_ready_status() -> None:
    condition = ready(conditions(None))
    assert (condition["status"], condition["reason"], condition["message"]) == \
        ("True", "KubeletReady", "kubelet is posting ready status")


@pytest.mark.parametrize(("cause", "message"), [
    (NotReady.NO_POD_CIDR, "network not ready: waiting for the control plane to assign this node a pod CIDR"),
    (NotReady.RUNTIME_DOWN, "container runtime is down"),
])
def test_a_node_that_is_not_ready_says_why(cause: NotReady, message: str) -> None:
    condition = ready(conditions(cause))
    assert (condition["status"], condition["reason"], condition["message"]) == ("False", "KubeletNotReady", message)


def test_the_transition_time_moves_only_when_the_status_changes() -> None:
    waiting = conditions(NotReady.NO_POD_CIDR)
    stale = [{**c, "lastTransitionTime": "2025-01-01T00:00:00Z"} for c in waiting]
    assert ready(conditions(NotReady.RUNTIME_DOWN, stale))["lastTransitionTime"] == "2025-01-01T00:00:00Z"
    assert ready(conditions(None, stale))["lastTransitionTime"] != "2025-01-01T00:00:00Z"


def test_a_new_node_registers_not_ready_until_it_has_a_pod_cidr() -> None:
    node = node_object(CONFIG, MACHINE, "10.244.0.11", 10250, "ab", NotReady.NO_POD_CIDR)
    assert node["spec"] == {}  # the pod CIDR is the control plane's to set, never the agent's
    assert ready(node["status"]["conditions"])["status"] == "False"
    assert ready(node_object(CONFIG, MACHINE, "10.244.0.11", 10250, "ab")["status"]["conditions"])["status"] == "True"
