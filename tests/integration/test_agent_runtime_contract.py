"""The runtime contract (:mod:`tests.support.runtime_contract`) held against the real Docker engine.

The same suite runs against the unit tests' fake in ``tests/unit/test_agent_runtime_contract.py``.
Everything made here carries a cluster uid of its own (a fresh one per run), on a pod network with
a free /16 of its own: after each test its containers are removed, and at the end everything with
that cluster label (containers, the network, volumes), even when a test failed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

pytest.register_assert_rewrite("tests.support.runtime_contract")

from agent.container_config import PodContext  # noqa: E402 - after the assert rewrite is registered
from agent.labels import Owner  # noqa: E402
from agent.network.names import cluster_tag  # noqa: E402
from agent.runtime.cleanup import remove_cluster_objects, remove_node_containers  # noqa: E402
from agent.runtime.docker_runtime import DockerRuntime  # noqa: E402
from tests.support.address_ranges import free_cluster_cidr  # noqa: E402
from tests.support.runtime_contract import PAUSE, Harness, RuntimeContract, network_spec, strangers  # noqa: E402

pytestmark = pytest.mark.docker

NODE = "contract-node"


@pytest.fixture(scope="module")
def engine_harness() -> Iterator[Harness]:
    owner = Owner(str(uuid.uuid4()), NODE)
    others = strangers(owner)
    runtime = DockerRuntime(owner)
    network = network_spec(f"dy-contract-{cluster_tag(owner.cluster_uid)}", free_cluster_cidr(), owner.cluster_uid)

    def end(container_id: str, code: int) -> None:
        """Write the exit code the container's shell waits for, then wait until Docker shows it exited."""
        written, output = runtime.exec_in(container_id, ["sh", "-c", f"echo {code} > /exit-code"], timeout=10)
        assert written == 0, output
        deadline = time.monotonic() + 10
        while runtime.client.api.inspect_container(container_id)["State"]["Status"] != "exited":
            assert time.monotonic() < deadline, f"container {container_id[:12]} did not exit"
            time.sleep(0.05)

    try:
        network_id = runtime.create_network(network)
        yield Harness(runtime=runtime, ctx=PodContext(owner, network, PAUSE, node_ip="192.0.2.10"),
                      network_id=network_id, end=end, strangers=others)
    finally:
        for cluster_uid in {owner.cluster_uid} | {o.cluster_uid for o in others}:
            remove_cluster_objects(cluster_uid)
        runtime.client.close()


class TestDockerRuntime(RuntimeContract):
    @pytest.fixture
    def harness(self, engine_harness: Harness) -> Iterator[Harness]:
        """The module's engine, with every container a test made (on any node) removed after it."""
        try:
            yield engine_harness
        finally:
            for owner in (engine_harness.ctx.owner, *engine_harness.strangers):
                remove_node_containers(owner.cluster_uid, owner.node_name)
