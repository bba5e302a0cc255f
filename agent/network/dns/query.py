"""Where a question's name points: the cluster zone (and which form in it), a reverse name, or the world.

This is the kubernetes plugin's ``parseRequest`` (CoreDNS), read right to left after the zone is
cut off. With the cluster domain ``cluster.local``::

    cluster.local                                 ZONE_APEX (SOA, NS)
    svc.cluster.local, pod.cluster.local          EMPTY_NON_TERMINAL (exists, holds no records)
    default.svc.cluster.local                     NAMESPACE   namespace=default
    web.default.svc.cluster.local                 SERVICE     service=web
    web-0.web.default.svc.cluster.local           SERVICE     endpoint=web-0 (a headless pod's hostname)
    _http._tcp.web.default.svc.cluster.local      SERVICE     port=http, protocol=tcp
    10-244-1-5.default.pod.cluster.local          POD         pod=10-244-1-5
    ns.dns.cluster.local, dns-version.cluster.local    INFRASTRUCTURE (the server's own names)
    anything else ending in cluster.local         INVALID (NXDOMAIN)
    5.1.244.10.in-addr.arpa                       REVERSE     address=10.244.1.5
    web                                           SINGLE_LABEL (NXDOMAIN at once, never forwarded)
    example.com                                   OUTSIDE (forwarded to the host's resolvers)

Names compare case-insensitively (DNS does, RFC 4343) and with or without the trailing dot, so
everything here is lower-cased and dot-stripped; the answer still echoes the name as asked.
A search-path expansion such as ``web.default.default.svc.cluster.local`` parses as the endpoint
``web`` of a Service ``default`` in namespace ``default``, which does not exist: NXDOMAIN, as in
CoreDNS.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import Enum

SERVICES_LABEL = "svc"
PODS_LABEL = "pod"
REVERSE_V4_SUFFIX = ("in-addr", "arpa")
#: the server's own names under the zone (the Kubernetes DNS specification's)
NAMESERVER_LABELS = ("ns", "dns")
VERSION_LABELS = ("dns-version",)


class NameKind(Enum):
    ZONE_APEX = "ZoneApex"
    EMPTY_NON_TERMINAL = "EmptyNonTerminal"
    NAMESPACE = "Namespace"
    SERVICE = "Service"
    POD = "Pod"
    NAMESERVER = "Nameserver"
    VERSION = "Version"
    INVALID = "Invalid"
    REVERSE = "Reverse"
    SINGLE_LABEL = "SingleLabel"
    OUTSIDE = "Outside"


@dataclass(frozen=True)
class ParsedName:
    kind: NameKind
    namespace: str = ""
    service: str = ""        # the Service's name, or for POD the dashed address label
    endpoint: str = ""       # SERVICE: a hostname (or dashed IP) of one of its endpoints
    port: str = ""           # SERVICE: ``_port._protocol`` form, underscores stripped
    protocol: str = ""
    address: str = ""        # REVERSE: the IPv4 address asked about


def labels_of(name: str) -> tuple[str, ...]:
    """``"Web.Default."`` → ``("web", "default")``; the root is ``()``."""
    stripped = name.strip().rstrip(".").lower()
    return tuple(stripped.split(".")) if stripped else ()


def parse(name: str, cluster_domain: str) -> ParsedName:
    labels, zone = labels_of(name), labels_of(cluster_domain)
    if labels[-len(zone):] == zone:
        return _parse_in_zone(labels[:-len(zone)])
    if labels[-len(REVERSE_V4_SUFFIX):] == REVERSE_V4_SUFFIX:
        address = _reverse_address(labels[:-len(REVERSE_V4_SUFFIX)])
        if address:
            return ParsedName(NameKind.REVERSE, address=address)
    if len(labels) == 1:
        return ParsedName(NameKind.SINGLE_LABEL)
    return ParsedName(NameKind.OUTSIDE)


def _parse_in_zone(base: tuple[str, ...]) -> ParsedName:
    if not base:
        return ParsedName(NameKind.ZONE_APEX)
    if base in ((SERVICES_LABEL,), (PODS_LABEL,)):
        return ParsedName(NameKind.EMPTY_NON_TERMINAL)
    if base == NAMESERVER_LABELS:
        return ParsedName(NameKind.NAMESERVER)
    if base == VERSION_LABELS:
        return ParsedName(NameKind.VERSION)
    *rest, kind = base
    if kind not in (SERVICES_LABEL, PODS_LABEL):
        return ParsedName(NameKind.INVALID)
    *rest, namespace = rest
    if not rest:
        return ParsedName(NameKind.NAMESPACE, namespace=namespace)
    *rest, service = rest
    if kind == PODS_LABEL:
        # CoreDNS ignores labels left of the address here; a name that long is not one the
        # specification defines, so it does not exist.
        return ParsedName(NameKind.POD, namespace=namespace, service=service) if not rest \
            else ParsedName(NameKind.INVALID)
    if not rest:
        return ParsedName(NameKind.SERVICE, namespace=namespace, service=service)
    if len(rest) == 1:
        return ParsedName(NameKind.SERVICE, namespace=namespace, service=service, endpoint=rest[0])
    if len(rest) == 2:
        port, protocol = (label.removeprefix("_") for label in rest)
        return ParsedName(NameKind.SERVICE, namespace=namespace, service=service, port=port, protocol=protocol)
    return ParsedName(NameKind.INVALID)


def _reverse_address(octets: tuple[str, ...]) -> str:
    """``("5", "1", "244", "10")`` → ``"10.244.1.5"``; ``""`` for a partial or malformed name."""
    if len(octets) != 4:
        return ""
    try:
        return str(ipaddress.IPv4Address(".".join(reversed(octets))))
    except ValueError:
        return ""


def dashed_ipv4(label: str) -> str:
    """``"10-244-1-5"`` → ``"10.244.1.5"`` (a pod name or an endpoint without hostname); ``""``
    when the label is not one."""
    try:
        return str(ipaddress.IPv4Address(label.replace("-", "."))) if label.count("-") == 3 else ""
    except ValueError:
        return ""


def dash_ipv4(address: str) -> str:
    """The inverse of :func:`dashed_ipv4`."""
    return address.replace(".", "-")
