"""Names of what a cluster makes on a host, all derived from its uid.

Several clusters may share a host (and its Docker engine, kernel routes and iptables), so every
host-wide object carries the cluster's *tag*, the first eight hex digits of its uid: the Docker
network and its bridge, the iptables chains, the host lock. Cleanup then needs nothing but the
uid (``dockyard down`` reads it from ``cluster.json``), and a cluster never touches another's.
Kernel limits shape the names: an interface name has at most 15 characters, an iptables chain
name at most 28.
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def cluster_tag(cluster_uid: str) -> str:
    tag = cluster_uid.replace("-", "")[:8].lower()
    if len(tag) != 8:
        raise ValueError(f"cluster uid {cluster_uid!r} is too short to name host objects by")
    return tag


def network_name(cluster_name: str, cluster_uid: str) -> str:
    """The Docker network holding every pod of the cluster on this host."""
    return f"dockyard-{cluster_name}-{cluster_uid[:8]}"


def bridge_name(cluster_uid: str) -> str:
    """The Linux bridge of that network (set explicitly, so nothing has to ask Docker for it)."""
    return f"dy-{cluster_tag(cluster_uid)}"


def chain_prefix(cluster_uid: str) -> str:
    """Every iptables chain of the cluster starts with this (``DY-1A2B3C4D-``): 12 characters,
    leaving 16 for the chain's own name."""
    return f"DY-{cluster_tag(cluster_uid).upper()}-"


def host_lock_path(cluster_uid: str) -> Path:
    """The file whose lock makes one agent per host and cluster run the host's networking."""
    return Path(tempfile.gettempdir()) / f"dockyard-host-{cluster_tag(cluster_uid)}.lock"


def network_lock_path(network: str) -> Path:
    """The file whose lock makes the agents of a host take turns creating the Docker network
    named ``network`` (Docker does not make creation by name atomic)."""
    return Path(tempfile.gettempdir()) / f"dockyard-network-{network}.lock"
