"""The pod network's planning (:mod:`agent.network.podnet`) with literal Docker networks and a fake
engine: what is made, what is used, and which conflicts stop the agent with which advice.

The same against the real Docker engine and kernel: tests/integration/test_agent_podnet.py."""

from __future__ import annotations

import tempfile

import pytest

from orchestrator.api.clusternetwork import ClusterNetwork

from agent import labels
from agent.network import ip
from agent.network.ip import InterfaceAddress, IpCommandFailed
from agent.network.podnet import (
    PodNetworkConflict, ensure_node_address, ensure_pod_network, overlapping, plan_pod_network, pod_network_spec,
)
from agent.runtime.errors import SubnetOverlaps
from agent.runtime.specs import NetworkState

UID = "1a2b3c4d-0000-4000-8000-000000000001"
SPEC = pod_network_spec("demo", UID, ClusterNetwork())


@pytest.fixture(autouse=True)
def lock_files_in_tmp_path(tmp_path, monkeypatch):
    """The creation lock's file goes where the test's other files go, not into the shared /tmp."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def state(name: str, subnets=("10.244.0.0/16",), gateways=("10.244.0.1",), bridge="dy-1a2b3c4d",
          id_: str = "n1") -> NetworkState:
    return NetworkState(id_, name, tuple(subnets), tuple(gateways), bridge)


def test_the_spec_follows_the_address_plan_and_the_cluster_names() -> None:
    spec = pod_network_spec("demo", UID, ClusterNetwork(cluster_cidr="10.30.0.0/16"))
    assert (spec.name, spec.subnet, spec.gateway, spec.bridge) == ("dockyard-demo-1a2b3c4d", "10.30.0.0/16",
                                                                   "10.30.0.1", "dy-1a2b3c4d")
    assert spec.labels == {labels.CLUSTER: UID, labels.ROLE: "network"}


def test_no_network_of_that_name_means_create_it() -> None:
    assert plan_pod_network(SPEC, []) is None


def test_a_matching_network_is_used_and_of_duplicates_the_smallest_id() -> None:
    found = [state(SPEC.name, id_="b2"), state(SPEC.name, id_="a1")]
    assert plan_pod_network(SPEC, found).id == "a1"


@pytest.mark.parametrize(("existing", "says"), [
    (state(SPEC.name, subnets=("172.18.0.0/16",), gateways=("172.18.0.1",)),
     "subnet 172.18.0.0/16 instead of 10.244.0.0/16"),
    (state(SPEC.name, subnets=(), gateways=(), bridge=None),  # what dockyard made before issue 5
     "subnet (chosen by Docker) instead of 10.244.0.0/16"),
    (state(SPEC.name, bridge="br-0123456789ab"), "bridge br-0123456789ab instead of dy-1a2b3c4d"),
    (state(SPEC.name, gateways=("10.244.0.254",)), "gateway 10.244.0.254 instead of 10.244.0.1"),
])
def test_a_network_of_that_name_made_differently_stops_the_agent_with_advice(existing, says) -> None:
    with pytest.raises(PodNetworkConflict) as caught:
        plan_pod_network(SPEC, [existing])
    message = str(caught.value)
    assert f"the Docker network {SPEC.name} exists with" in message and says in message
    assert f"docker network rm {SPEC.name}" in message and "--cluster-cidr" in message


def test_overlapping_networks_are_found_and_ours_and_disjoint_ones_are_not() -> None:
    others = [state(SPEC.name), state("bridge", ("172.17.0.0/16",), ("172.17.0.1",), "docker0"),
              state("lab-net", ("10.244.5.0/24",), ("10.244.5.1",), None),
              state("wide", ("10.0.0.0/8",), (), None), state("v6", ("fd00:1::/64",), (), None),
              state("host", (), (), None)]
    assert [n.name for n in overlapping(SPEC, others)] == ["lab-net", "wide"]


class FakeEngine:
    """Networks by name; ``refuse_overlap`` makes creation fail as Docker does when a network
    overlapping ours appears between the check and the create."""

    def __init__(self, *networks: NetworkState) -> None:
        self.all = list(networks)
        self.created: list = []
        self.refuse_overlap: NetworkState | None = None

    def networks(self, name: str | None = None) -> list[NetworkState]:
        return [n for n in self.all if name is None or n.name == name]

    def create_network(self, spec) -> str:
        if self.refuse_overlap is not None:
            self.all.append(self.refuse_overlap)
            raise SubnetOverlaps("cannot create the pod network: Pool overlaps with other one on this address space")
        self.created.append(spec)
        self.all.append(state(spec.name, id_="new"))
        return "new"


def test_ensure_creates_the_network_once() -> None:
    engine = FakeEngine(state("bridge", ("172.17.0.0/16",), ("172.17.0.1",), "docker0"))
    assert ensure_pod_network(engine, SPEC) == "new"
    assert ensure_pod_network(engine, SPEC) == "new"
    assert engine.created == [SPEC]


def test_ensure_names_the_network_in_the_way_and_the_flag_to_change() -> None:
    engine = FakeEngine(state("team-net", ("10.244.128.0/17",), ("10.244.128.1",), None))
    with pytest.raises(PodNetworkConflict) as caught:
        ensure_pod_network(engine, SPEC)
    assert str(caught.value) == (
        f"cannot create the pod network {SPEC.name}: its range 10.244.0.0/16 (the server's --cluster-cidr) "
        "overlaps the Docker network team-net (10.244.128.0/17). Start the server with another --cluster-cidr "
        "that no Docker network uses, or remove that network")
    assert engine.created == []


def test_a_network_that_appears_while_creating_is_named_too() -> None:
    engine = FakeEngine()
    engine.refuse_overlap = state("late", ("10.244.9.0/24",), (), None, id_="x")
    with pytest.raises(PodNetworkConflict, match=r"overlaps the Docker network late \(10.244.9.0/24\)"):
        ensure_pod_network(engine, SPEC)


# -- the node address on the bridge (the kernel faked; the real one in the integration test) -----

@pytest.fixture
def kernel(monkeypatch):
    """Interface addresses and links, and the replace calls made."""
    fake = type("Kernel", (), {})()
    fake.addresses = [InterfaceAddress("lo", "127.0.0.1", 8), InterfaceAddress("eth0", "192.0.2.2", 24),
                      InterfaceAddress("dy-1a2b3c4d", "10.244.0.1", 16)]
    fake.links = {"lo", "eth0", "dy-1a2b3c4d"}
    fake.replaced = []
    monkeypatch.setattr(ip, "addresses", lambda: list(fake.addresses))
    monkeypatch.setattr(ip, "link_exists", lambda device: device in fake.links)
    monkeypatch.setattr(ip, "replace_address", lambda device, address, prefixlen=32:
                        fake.replaced.append((device, address, prefixlen)))
    return fake


def test_the_node_address_is_added_as_a_host_address_once(kernel) -> None:
    assert ensure_node_address("dy-1a2b3c4d", "10.244.0.11") is True
    assert kernel.replaced == [("dy-1a2b3c4d", "10.244.0.11", 32)]
    kernel.addresses.append(InterfaceAddress("dy-1a2b3c4d", "10.244.0.11", 32))
    assert ensure_node_address("dy-1a2b3c4d", "10.244.0.11") is False
    assert len(kernel.replaced) == 1


def test_an_address_another_interface_holds_is_refused(kernel) -> None:
    with pytest.raises(IpCommandFailed) as caught:
        ensure_node_address("dy-1a2b3c4d", "192.0.2.2")
    assert "already belongs to eth0" in str(caught.value)
    assert kernel.replaced == []


def test_a_missing_bridge_is_reported(kernel) -> None:
    kernel.links.discard("dy-1a2b3c4d")
    with pytest.raises(IpCommandFailed, match="on the bridge dy-1a2b3c4d: the bridge does not exist"):
        ensure_node_address("dy-1a2b3c4d", "10.244.0.12")
