"""The pod network against the real Docker engine and kernel (:mod:`agent.network.podnet`, the
runtime's network calls): the network Docker makes from the address plan, the conflicts that stop
an agent, static pod IPs and Docker's refusal of a taken one, and a node address on the bridge.

Every network, container and address carries a run-unique cluster uid (so names, labels and the
bridge are unique) and a free /16, and is removed at teardown even when a test fails.
"""

from __future__ import annotations

import socket
import subprocess
import uuid

import docker
import pytest

from orchestrator.api.clusternetwork import ClusterNetwork

from agent import labels
from agent.labels import Owner
from agent.network import ip
from agent.network.names import network_lock_path
from agent.network.podnet import BridgeAddressKeeper, PodNetworkConflict, ensure_node_address, ensure_pod_network, \
    pod_network_spec
from agent.runtime.docker_runtime import DockerRuntime
from agent.runtime.errors import AddressInUse
from agent.runtime.specs import SandboxSpec
from tests.support.address_ranges import free_cluster_cidr
from tests.support.waiting import wait_for

pytestmark = pytest.mark.docker

PAUSE = "dockyard/pause:1.0"


@pytest.fixture
def cluster(engine):
    """A fresh cluster identity and address plan; everything labelled with its uid goes at the end."""
    uid = str(uuid.uuid4())
    network = ClusterNetwork(cluster_cidr=free_cluster_cidr())
    spec = pod_network_spec(f"t-{uid[:6]}", uid, network)
    try:
        yield uid, network, spec
    finally:
        selector = {"label": [f"{labels.CLUSTER}={uid}"]}
        for container in engine.containers.list(all=True, filters=selector):
            container.remove(force=True)
        for made in engine.networks.list(filters=selector):
            made.remove()
        network_lock_path(spec.name).unlink(missing_ok=True)


def bridge_addresses(bridge: str) -> set[str]:
    return {a.address for a in ip.addresses() if a.device == bridge}


def test_the_network_is_the_cluster_cidr_on_a_bridge_named_for_the_cluster(engine, cluster):
    uid, network, spec = cluster
    runtime = DockerRuntime(Owner(uid, "node-1"))
    made = ensure_pod_network(runtime, spec)
    assert ensure_pod_network(runtime, spec) == made  # the second agent of the host uses it

    attrs = engine.api.inspect_network(made)
    assert attrs["IPAM"]["Config"] == [{"Subnet": network.cluster_cidr, "Gateway": network.gateway}]
    assert attrs["Options"]["com.docker.network.bridge.name"] == spec.bridge
    assert attrs["Labels"] == {labels.CLUSTER: uid, labels.ROLE: "network"}
    assert ip.link_exists(spec.bridge)
    assert f"{network.gateway}" in bridge_addresses(spec.bridge)


def test_an_overlapping_network_stops_the_agent_and_is_named(engine, cluster):
    uid, network, spec = cluster
    # someone's network on a part of our range (labelled so the teardown removes it)
    part = network.cluster_cidr.replace(".0.0/16", ".77.0/24")
    engine.networks.create(f"{spec.name}-squatter", driver="bridge", labels={labels.CLUSTER: uid},
                           ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=part)]))
    with pytest.raises(PodNetworkConflict) as caught:
        ensure_pod_network(DockerRuntime(Owner(uid, "node-1")), spec)
    assert f"overlaps the Docker network {spec.name}-squatter ({part})" in str(caught.value)
    assert "another --cluster-cidr" in str(caught.value)
    assert all(n.name != spec.name for n in engine.networks.list())


def test_a_network_of_the_name_without_the_subnet_stops_the_agent(engine, cluster):
    uid, network, spec = cluster
    engine.networks.create(spec.name, driver="bridge", labels={labels.CLUSTER: uid})  # as dockyard made it before
    with pytest.raises(PodNetworkConflict, match=rf"the Docker network {spec.name} exists with subnet"):
        ensure_pod_network(DockerRuntime(Owner(uid, "node-1")), spec)


def test_a_sandbox_gets_the_address_asked_for_and_a_taken_one_is_refused_by_name(engine, cluster):
    uid, network, spec = cluster
    runtime = DockerRuntime(Owner(uid, "node-1"))
    ensure_pod_network(runtime, spec)
    address = network.node_cidr(1).replace(".0/24", ".2")

    def sandbox(name: str) -> SandboxSpec:
        return SandboxSpec(name=f"dy-test-{uid[:8]}-{name}", image=PAUSE, hostname=name, network=spec.name,
                           labels={labels.CLUSTER: uid, labels.NODE: "node-1", labels.POD_UID: name},
                           ipv4_address=address)

    first = runtime.create_sandbox(sandbox("first"))
    assert first.ip == address
    assert runtime.network_addresses(spec.name) == {address}
    with pytest.raises(AddressInUse, match=rf"{address}: Address already in use"):
        runtime.create_sandbox(sandbox("second"))
    assert [c.name for c in engine.containers.list(all=True, filters={"label": f"{labels.POD_UID}=second"})] == []


def test_the_node_address_is_put_on_the_bridge_kept_there_and_gone_with_the_network(engine, cluster):
    uid, network, spec = cluster
    runtime = DockerRuntime(Owner(uid, "node-1"))
    node_ip = network.local_node_address(1)
    keeper = BridgeAddressKeeper(runtime, spec, node_ip, interval=0.2)
    keeper.ensure()
    assert node_ip in bridge_addresses(spec.bridge)
    assert ensure_node_address(spec.bridge, node_ip) is False  # idempotent
    with socket.create_server((node_ip, 0)) as server:  # the host answers TCP on it
        with socket.create_connection(server.getsockname(), timeout=2):
            pass

    keeper.start()
    try:
        subprocess.run(["ip", "address", "del", f"{node_ip}/32", "dev", spec.bridge], check=True)
        wait_for("the keeper to put the address back", lambda: node_ip in bridge_addresses(spec.bridge), timeout=5)
    finally:
        keeper.stop()
        keeper.thread.join(timeout=5)

    for made in engine.networks.list(names=[spec.name]):
        made.remove()
    assert not ip.link_exists(spec.bridge)
    assert node_ip not in {a.address for a in ip.addresses()}
