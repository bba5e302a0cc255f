"""Routes to other machines' pods (:mod:`agent.network.routes`) applied to a real kernel, inside a
network namespace this test makes, so the host's own routes are never touched: the planner's edge
cases, with synthetic nodes.

The namespace stands in for one host of a three-machine cluster: ``uplink`` (a veth end, 198.18.0.1/24,
the benchmark range) is its link to the other machines, ``dy-…`` a bridge with the pod network's
gateway address. The agent's code runs in it through ``ip netns exec`` exactly as the agent runs it.
The namespace (and with it every link and route in it) is deleted at teardown, even on failure.

What real agents do between real machines (each routing the other's pod range via its LAN
address, proxy ARP, a stale route removed and a foreign one kept, an unreachable node reported as
an event) is tested on separate machines in ``tests/integration/test_separate_machines.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from orchestrator.api.clusternetwork import ClusterNetwork

from tests.conftest import REPO

pytestmark = pytest.mark.docker  # root and the real kernel, like the Docker tests

NETWORK = ClusterNetwork()  # 10.244.0.0/16 is free inside a namespace of our own
BRIDGE = "dy-7e57b0a7"
OUTSIDE_ROUTE = {"dst": "10.8.0.0/16", "gateway": "198.18.0.254"}  # not the cluster's: must survive

RUN = """
import json, sys
from orchestrator.api.clusternetwork import ClusterNetwork
from agent.network import routes
from agent.network.ip import IpCommandFailed
args = json.load(sys.stdin)
network = ClusterNetwork(**args["network"])
try:
    if args["action"] == "sync":
        plan = routes.sync_routes(args["nodes"], network, args["bridge"])
        print(json.dumps({"replace": [r.destination for r in plan.replace], "delete": [r.destination for r in plan.delete]}))
    else:
        print(json.dumps({"removed": routes.cleanup(network)}))
except IpCommandFailed as error:
    print(json.dumps({"error": type(error).__name__, "message": str(error)}))
"""


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def host():
    """A namespace with an uplink, the pod bridge, a stale route of the cluster and a foreign one."""
    name = f"dyt-{uuid.uuid4().hex[:10]}"
    sh("ip", "netns", "add", name)
    try:
        for step in (["link", "add", "uplink", "type", "veth", "peer", "name", "uplink-peer"],
                     ["address", "add", "198.18.0.1/24", "dev", "uplink"],
                     ["link", "set", "uplink", "up"], ["link", "set", "uplink-peer", "up"],
                     ["link", "add", BRIDGE, "type", "bridge"],
                     ["address", "add", f"{NETWORK.gateway}/16", "dev", BRIDGE],
                     ["link", "set", BRIDGE, "up"],
                     ["route", "add", OUTSIDE_ROUTE["dst"], "via", OUTSIDE_ROUTE["gateway"]],
                     ["route", "add", "10.244.9.0/24", "via", "198.18.0.9"]):  # a node long gone
            sh("ip", "-n", name, *step)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


def in_namespace(namespace: str, **args) -> dict:
    done = subprocess.run(["ip", "netns", "exec", namespace, sys.executable, "-c", RUN], cwd=REPO,
                          input=json.dumps({"network": {"cluster_cidr": NETWORK.cluster_cidr}, "bridge": BRIDGE,
                                            **args}),
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def routes_of(namespace: str) -> dict[str, str | None]:
    return {r["dst"]: r.get("gateway") for r in json.loads(sh("ip", "-n", namespace, "-j", "-4", "route"))}


def node(name: str, address: str, pod_cidr: str | None) -> dict:
    return {"metadata": {"name": name}, "spec": {"podCIDR": pod_cidr} if pod_cidr else {},
            "status": {"addresses": [{"type": "InternalIP", "address": address}]}}


def test_sync_routes_each_remote_block_once_and_a_moved_node_in_place(host):
    nodes = [node("control", "198.18.0.1", "10.244.1.0/24"),   # this host: no route
             node("worker-1", "198.18.0.2", "10.244.2.0/24"),
             node("worker-2", "198.18.0.3", "10.244.3.0/24"),
             node("joining", "198.18.0.4", None)]                # no pod CIDR yet
    assert in_namespace(host, action="sync", nodes=nodes) == {
        "replace": ["10.244.2.0/24", "10.244.3.0/24"], "delete": ["10.244.9.0/24"]}
    table = routes_of(host)
    assert table["10.244.2.0/24"] == "198.18.0.2" and table["10.244.3.0/24"] == "198.18.0.3"
    assert "10.244.0.0/16" in table and table["10.244.0.0/16"] is None  # the bridge's own route stays

    assert in_namespace(host, action="sync", nodes=nodes) == {"replace": [], "delete": []}  # nothing to do

    moved = [node("worker-2", "198.18.0.5", "10.244.3.0/24")]  # worker-1 left, worker-2 changed address
    assert in_namespace(host, action="sync", nodes=moved) == {"replace": ["10.244.3.0/24"],
                                                              "delete": ["10.244.2.0/24"]}
    table = routes_of(host)
    assert table["10.244.3.0/24"] == "198.18.0.5" and "10.244.2.0/24" not in table
    assert table[OUTSIDE_ROUTE["dst"]] == OUTSIDE_ROUTE["gateway"]


def test_cleanup_removes_every_route_of_the_cluster_and_nothing_else(host):
    in_namespace(host, action="sync", nodes=[node("worker-1", "198.18.0.2", "10.244.2.0/24")])
    assert in_namespace(host, action="cleanup") == {"removed": 1}
    table = routes_of(host)
    assert not [dst for dst, gateway in table.items() if dst.startswith("10.244.") and gateway]
    assert table[OUTSIDE_ROUTE["dst"]] == OUTSIDE_ROUTE["gateway"] and "10.244.0.0/16" in table
    assert in_namespace(host, action="cleanup") == {"removed": 0}
