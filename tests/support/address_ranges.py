"""Address ranges a test may use for a cluster's pod network without colliding with anything.

Docker refuses a network whose subnet overlaps another network's, and several test runs (and
people's clusters) share this engine, so every test cluster takes a /16 no Docker network and no
host route uses, picked at random from 10.16.0.0 … 10.95.255.255: below every range `dockyard up`
hands out (pod ranges from 10.244.0.0/16 up, service ranges from 10.96.0.0/12 up), so such a
network never collides with a cluster's pods or Services.
"""

from __future__ import annotations

import ipaddress
import random

from agent.network.reservation import subnets_in_use

CANDIDATES = range(16, 96)


def free_cluster_cidr() -> str:
    """A /16 that overlaps no Docker network and no route of this host."""
    used = [ipaddress.IPv4Network(subnet, strict=False) for subnet in subnets_in_use() if ":" not in subnet]
    choices = list(CANDIDATES)
    random.shuffle(choices)
    for second in choices:
        candidate = ipaddress.IPv4Network(f"10.{second}.0.0/16")
        if not any(candidate.overlaps(n) for n in used):
            return str(candidate)
    raise RuntimeError("no free /16 left in 10.16.0.0-10.95.255.255 for a test cluster")
