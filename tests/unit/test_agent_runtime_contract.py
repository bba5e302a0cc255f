"""The runtime contract (:mod:`tests.support.runtime_contract`) held against the unit tests' fake.

The same suite runs against real Docker in ``tests/integration/test_agent_runtime_contract.py``;
passing both is what lets ``test_agent_pod_worker.py`` trust :class:`FakeRuntime`.
"""

from __future__ import annotations

import uuid

import pytest

pytest.register_assert_rewrite("tests.support.runtime_contract")

from agent.container_config import PodContext  # noqa: E402 - after the assert rewrite is registered
from agent.labels import Owner  # noqa: E402
from tests.support.fakeruntime import FakeRuntime  # noqa: E402
from tests.support.runtime_contract import ECHO, PAUSE, Harness, RuntimeContract, network_spec, strangers  # noqa: E402


class TestFakeRuntime(RuntimeContract):
    @pytest.fixture
    def harness(self) -> Harness:
        owner = Owner(str(uuid.uuid4()), "contract-node")
        network = network_spec("dy-contract", "10.40.0.0/16", owner.cluster_uid)
        fake = FakeRuntime(owner, images=(PAUSE, ECHO))
        return Harness(runtime=fake, ctx=PodContext(owner, network, PAUSE, node_ip="192.0.2.10"),
                       network_id=fake.create_network(network), end=fake.exit,
                       strangers=strangers(owner))
