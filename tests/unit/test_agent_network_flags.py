"""``dockyard agent`` flags of the pod network: ``--node-ip`` and ``--node-ip-on-bridge``."""

from __future__ import annotations

import pytest

from orchestrator.cli.agent import config_from_args
from orchestrator.cli.main import _parser

BASE = ("agent", "--server", "https://127.0.0.1:6443", "--token", "dyn_x", "--node-name", "node-1")


def config(*argv: str):
    return config_from_args(_parser().parse_args([*BASE, *argv]))


def test_the_node_address_goes_on_the_bridge_only_when_asked() -> None:
    assert config("--node-ip", "10.244.0.11").node_ip_on_bridge is False
    chosen = config("--node-ip", "10.244.0.11", "--node-ip-on-bridge")
    assert (chosen.node_ip, chosen.node_ip_on_bridge) == ("10.244.0.11", True)


def test_the_bridge_needs_an_explicit_address() -> None:
    # the default node IP is the host's primary address: putting that on the bridge would break the host
    with pytest.raises(ValueError, match="--node-ip-on-bridge needs --node-ip"):
        config("--node-ip-on-bridge")


@pytest.mark.parametrize("value", ["node-1", "10.244.0.300", "fd00::11"])
def test_the_node_ip_must_be_an_ipv4_address(value: str) -> None:
    with pytest.raises(ValueError, match="--node-ip"):
        config("--node-ip", value)
