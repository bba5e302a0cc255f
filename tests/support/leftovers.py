"""What a cluster left on this machine: its Docker objects and what it put into the kernel.

Teardown tests compare these with empty lists: ``dockyard down --purge`` must leave nothing.
"""

from __future__ import annotations

import json
import subprocess

import docker

from agent.labels import cluster_filter
from agent.network.names import bridge_name, chain_prefix, cluster_tag


def docker_objects(uid: str) -> dict[str, list[str]]:
    client = docker.from_env()
    try:
        selector = cluster_filter(uid)
        return {
            "containers": [c.name for c in client.containers.list(all=True, filters=selector)],
            "networks": [n.name for n in client.networks.list(filters=selector)],
            "volumes": [v.name for v in client.volumes.list(filters=selector)],
        }
    finally:
        client.close()


def host_objects(uid: str) -> dict[str, list[str]]:
    """What the cluster put into this host's kernel: iptables lines naming its chains, its bridge,
    the addresses on it."""
    tag = cluster_tag(uid)
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    links = json.loads(subprocess.run(["ip", "-json", "address", "show"], capture_output=True, text=True,
                                      check=True).stdout)
    bridge = [link for link in links if link["ifname"] == bridge_name(uid)]
    return {"rules": [line for line in rules.splitlines() if chain_prefix(uid) in line],
            "bridge": [info["local"] for link in bridge for info in link.get("addr_info") or []
                       if info.get("family") == "inet"],
            "routes": [line for line in subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
                       .splitlines() if tag in line]}
