"""What a cluster left on this machine: its Docker objects and what it put into the kernel; and
what a run of separate machines (:mod:`tests.support.machines`) left on the host.

Teardown tests compare these with empty lists: ``dockyard down --purge`` must leave nothing, and
the separate machines' teardown checks itself with :func:`machine_objects`.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import docker

from agent.labels import cluster_filter
from agent.network.names import bridge_name, chain_prefix, cluster_tag
from tests.support.lan import PREFIX
from tests.support.machine_engine import CGROUP_ROOT


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


def machine_objects(tag: str) -> dict[str, list[str]]:
    """What a run of separate machines (:mod:`tests.support.machines`, run tag ``tag``) left on
    this host: its network namespaces, any link of its in the root namespace (it makes none
    there), cgroup directories of its engines, mounts and processes of its temp directory (whose
    name starts ``dym-TAG-``), the directory itself."""
    run = f"{PREFIX}-{tag}-"
    run_path = str(Path(tempfile.gettempdir()) / run)
    namespaces = subprocess.run(["ip", "-json", "netns", "list"], capture_output=True, text=True, check=True).stdout
    links = json.loads(subprocess.run(["ip", "-json", "link", "show"], capture_output=True, text=True,
                                      check=True).stdout)
    mount_points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return {
        "namespaces": [ns["name"] for ns in json.loads(namespaces or "[]") if ns["name"].startswith(run)],
        "links": [link["ifname"] for link in links if link["ifname"].startswith(f"{PREFIX}{tag}")],
        "cgroups": sorted({path.name for path in (*CGROUP_ROOT.glob(f"{run}*"), *CGROUP_ROOT.glob(f"*/{run}*"))}),
        "mounts": [point for point in mount_points if point.startswith(run_path)],
        "processes": [pid for pid in _pids() if run in _cmdline(pid)],
        "directories": [str(path) for path in Path(tempfile.gettempdir()).glob(f"{run}*")],
    }


def _pids() -> list[str]:
    return [entry.name for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
