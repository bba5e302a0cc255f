"""Each pod's ``/etc/resolv.conf``, written as the kubelet writes it (pure).

``dnsPolicy`` decides where names go (Kubernetes' ``pkg/kubelet/network/dns``):

* ``ClusterFirst`` (the default): the cluster's DNS Service first, with the search path that
  makes ``svc`` and ``svc.ns`` resolve from inside namespace ``ns``::

      search ns.svc.cluster.local svc.cluster.local cluster.local
      nameserver 10.96.0.10
      options ndots:5

  A ``hostNetwork`` pod asking for ClusterFirst gets ``Default`` instead, unless it asks for
  ``ClusterFirstWithHostNet``.
* ``Default``: the node's resolvers. With no ``dnsConfig`` there is nothing to write (``None``):
  Docker already gives a container the host's resolvers and knows how to reach a loopback one.
* ``None``: ``dnsConfig`` alone.

``dnsConfig`` is merged on top: its nameservers and searches are appended (duplicates dropped),
its options override same-named ones. Kubernetes' limits apply: 3 nameservers, 32 search domains.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from orchestrator.api.clusternetwork import ClusterNetwork
from orchestrator.api.pod import DNSPolicy

#: the node's resolvers: the base of pods with ``dnsPolicy: Default``, the cluster DNS's upstreams
HOST_RESOLV_CONF = Path("/etc/resolv.conf")
MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
CLUSTER_NDOTS = "5"


def parse_resolv_conf(text: str) -> tuple[list[str], list[str], list[str]]:
    """(nameservers, search domains, options) of a resolv.conf."""
    nameservers, searches, options = [], [], []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 2:
            continue
        if words[0] == "nameserver":
            nameservers.append(words[1])
        elif words[0] in ("search", "domain"):
            searches = words[1:]  # the last search/domain line wins, as in glibc
        elif words[0] == "options":
            options += words[1:]
    return nameservers, searches, options


def pod_resolv_conf(pod: dict, network: ClusterNetwork, host_resolv_conf: str) -> str | None:
    """The file for ``pod``, or None when Docker's own (the node's resolvers) is what it gets."""
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or DNSPolicy.CLUSTER_FIRST.value
    if policy == DNSPolicy.CLUSTER_FIRST.value and spec.get("hostNetwork"):
        policy = DNSPolicy.DEFAULT.value
    config = spec.get("dnsConfig") or {}
    if policy in (DNSPolicy.CLUSTER_FIRST.value, DNSPolicy.CLUSTER_FIRST_WITH_HOST_NET.value):
        _, host_searches, _ = parse_resolv_conf(host_resolv_conf)
        namespace = pod.get("metadata", {}).get("namespace") or "default"
        domain = network.cluster_domain
        nameservers = [network.dns_service_ip]
        searches = [f"{namespace}.svc.{domain}", f"svc.{domain}", domain, *host_searches]
        options = [f"ndots:{CLUSTER_NDOTS}"]
    elif policy == DNSPolicy.DEFAULT.value:
        if not config:
            return None
        nameservers, searches, options = parse_resolv_conf(host_resolv_conf)
        nameservers = [ns for ns in nameservers if not _loopback(ns)]  # a pod cannot reach the host's
    else:  # None
        nameservers, searches, options = [], [], []
    nameservers = _unique(nameservers + list(config.get("nameservers") or []))[:MAX_NAMESERVERS]
    searches = _unique(searches + list(config.get("searches") or []))[:MAX_SEARCHES]
    options = _merge_options(options, config.get("options") or [])
    lines = []
    if searches:
        lines.append("search " + " ".join(searches))
    lines += [f"nameserver {ns}" for ns in nameservers]
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def _merge_options(base: list[str], extra: list[dict]) -> list[str]:
    merged: dict[str, str | None] = {}
    for option in base:
        name, _, value = option.partition(":")
        merged[name] = value or None
    for given in extra:
        merged[given["name"]] = given.get("value")
    return [f"{name}:{value}" if value is not None else name for name, value in merged.items()]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
