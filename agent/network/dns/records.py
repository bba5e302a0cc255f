"""The cluster's answers: what CoreDNS's ``kubernetes`` plugin would say, as a pure function.

:func:`answer` takes one question (name, type) and the :class:`ClusterIndex` of the current
snapshot, and returns an :class:`Answer`: records plus an :class:`Outcome` that says how the
server replies. With the zone ``cluster.local``, a ClusterIP Service ``web`` (10.96.0.20, port
``http`` 80/TCP) and a headless Service ``db`` whose ready endpoints are ``db-0`` (10.244.1.5)
and 10.244.2.7 without a hostname::

    web.default.svc.cluster.local        A     10.96.0.20
    web.default.svc.cluster.local        AAAA  NODATA (the name exists, IPv4 only)
    _http._tcp.web.default.svc.…         SRV   0 100 80 web.default.svc.cluster.local. (+ its A)
    db.default.svc.cluster.local         A     10.244.1.5, 10.244.2.7 (ready endpoints)
    db-0.db.default.svc.cluster.local    A     10.244.1.5
    10-244-2-7.db.default.svc.…          A     10.244.2.7 (an endpoint without hostname)
    10-244-3-9.default.pod.cluster.local A     10.244.3.9 (``pods insecure``: any address)
    ext.default.svc.cluster.local        A     CNAME to spec.externalName; the server asks the
                                               upstream for the target's A (``Answer.chase``)
    nope.default.svc.cluster.local       A     NXDOMAIN, SOA in the authority section
    20.0.96.10.in-addr.arpa              PTR   web.default.svc.cluster.local.
    example.com                          A     FORWARD (to the host's resolvers)
    nope                                 A     NXDOMAIN at once (single label; never forwarded)

NXDOMAIN vs NODATA matters: resolvers ask A and AAAA together, and an NXDOMAIN for AAAA would
tell them the whole name is gone. So a name that exists answers every type it lacks with NOERROR
and no records (NODATA); only names that do not exist are NXDOMAIN. Both carry the zone's SOA,
whose minimum (5 s, the TTL of every record) bounds how long a resolver caches the negative.
Zone transfers are refused, as in CoreDNS.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import Enum

from agent.network.dns.index import ClusterIndex, ServiceEntry
from agent.network.dns.query import NAMESERVER_LABELS, SERVICES_LABEL, NameKind, ParsedName, dashed_ipv4, parse
from orchestrator.api.clusternetwork import ClusterNetwork
from orchestrator.api.core import ServiceType

TTL = 5
#: the Kubernetes DNS specification's schema version, answered at ``dns-version.<zone>``
SCHEMA_VERSION = "1.1.0"
#: CoreDNS's SOA timers (refresh, retry, expire); the minimum is the TTL
SOA_TIMERS = (7200, 1800, 86400)
#: how many CNAMEs inside the zone are followed before giving up (ExternalName → ExternalName …)
MAX_CNAME_CHAIN = 8
#: query types that would transfer the zone
ZONE_TRANSFER_TYPES = frozenset({"AXFR", "IXFR"})


class RType(str, Enum):
    A = "A"
    CNAME = "CNAME"
    NS = "NS"
    PTR = "PTR"
    SOA = "SOA"
    SRV = "SRV"
    TXT = "TXT"


class Outcome(Enum):
    ANSWER = "Answer"        # NOERROR with records
    NODATA = "NoData"        # NOERROR, no records: the name exists without that type
    NXDOMAIN = "NXDomain"    # the name does not exist
    FORWARD = "Forward"      # not ours: ask the host's resolvers
    REFUSED = "Refused"      # a zone transfer


@dataclass(frozen=True)
class Srv:
    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True)
class Soa:
    mname: str
    rname: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int


@dataclass(frozen=True)
class Record:
    name: str                # fully qualified, with the trailing dot
    rtype: RType
    data: str | Srv | Soa    # an address, a target name, a text, or the structured forms
    ttl: int = TTL


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    answers: tuple[Record, ...] = ()
    authority: tuple[Record, ...] = ()
    additional: tuple[Record, ...] = ()
    authoritative: bool = False
    #: a CNAME target outside the zone whose records (of the question's type) the server should
    #: add from its upstream, as CoreDNS does for ExternalName Services; "" when there is none
    chase: str = ""


@dataclass
class _Node:
    """What one name holds: its records, and the glue that goes with SRV and NS answers."""

    records: list[Record] = field(default_factory=list)
    glue: list[Record] = field(default_factory=list)


def answer(qname: str, qtype: str, index: ClusterIndex, network: ClusterNetwork, _depth: int = 0) -> Answer:
    """The reply to ``qname``/``qtype`` (type as its mnemonic, e.g. ``"AAAA"``)."""
    qname, qtype = fqdn(qname), qtype.upper()
    parsed = parse(qname, network.cluster_domain)
    if parsed.kind is NameKind.OUTSIDE:
        return Answer(Outcome.FORWARD)
    if parsed.kind is NameKind.SINGLE_LABEL:
        # The last step of a search-path walk (``unknown-svc``): no resolver anywhere knows a
        # single-label name, so say so now instead of waiting for the upstream.
        return Answer(Outcome.NXDOMAIN)
    if parsed.kind is NameKind.REVERSE:
        return _reverse(qname, qtype, parsed.address, index, network)
    if qtype in ZONE_TRANSFER_TYPES:
        return Answer(Outcome.REFUSED)
    node = _node(qname, parsed, index, network)
    if node is None:
        return Answer(Outcome.NXDOMAIN, authority=(soa(index, network),), authoritative=True)
    cname = next((record for record in node.records if record.rtype is RType.CNAME), None)
    if cname is not None and qtype != RType.CNAME.value:
        return _follow(cname, qtype, index, network, _depth)
    selected = tuple(record for record in node.records if record.rtype.value == qtype)
    if not selected:
        return Answer(Outcome.NODATA, authority=(soa(index, network),), authoritative=True)
    glue = tuple(node.glue) if qtype in (RType.SRV.value, RType.NS.value) else ()
    return Answer(Outcome.ANSWER, answers=selected, additional=glue, authoritative=True)


def soa(index: ClusterIndex, network: ClusterNetwork, owner: str = "") -> Record:
    """The zone's SOA; ``owner`` is the apex as the question spelled it (default: lower case)."""
    zone = fqdn(network.cluster_domain)
    refresh, retry, expire = SOA_TIMERS
    return Record(owner or zone, RType.SOA,
                  Soa(mname=_nameserver_name(network), rname=f"hostmaster.{zone}", serial=index.serial,
                      refresh=refresh, retry=retry, expire=expire, minimum=TTL))


def fqdn(name: str) -> str:
    name = name.strip()
    return name if name.endswith(".") else name + "."


def service_name(namespace: str, service: str, network: ClusterNetwork) -> str:
    return f"{service}.{namespace}.{SERVICES_LABEL}.{fqdn(network.cluster_domain)}"


# -- the records of one name ---------------------------------------------------------------------


def _node(qname: str, parsed: ParsedName, index: ClusterIndex, network: ClusterNetwork) -> _Node | None:
    """What ``qname`` holds, or None when it does not exist."""
    kind = parsed.kind
    if kind is NameKind.ZONE_APEX:
        nameserver = _nameserver_name(network)
        return _Node([soa(index, network, qname), Record(qname, RType.NS, nameserver)],
                     glue=[Record(nameserver, RType.A, network.dns_service_ip)])
    if kind is NameKind.EMPTY_NON_TERMINAL:
        return _Node()
    if kind is NameKind.NAMESERVER:
        return _Node([Record(qname, RType.A, network.dns_service_ip)])
    if kind is NameKind.VERSION:
        return _Node([Record(qname, RType.TXT, SCHEMA_VERSION)])
    if kind is NameKind.NAMESPACE:
        return _Node() if parsed.namespace in index.namespaces else None
    if kind is NameKind.POD:
        address = dashed_ipv4(parsed.service)
        return _Node([Record(qname, RType.A, address)]) if address else None
    if kind is NameKind.SERVICE:
        service = index.service(parsed.namespace, parsed.service)
        return _service_node(qname, parsed, service, index, network) if service else None
    return None  # INVALID


def _service_node(qname: str, parsed: ParsedName, service: ServiceEntry, index: ClusterIndex,
                  network: ClusterNetwork) -> _Node | None:
    if service.type is ServiceType.EXTERNAL_NAME:
        # only the Service's own name; an ExternalName naming an address has no record (CoreDNS)
        if parsed.endpoint or parsed.port or parsed.protocol or not service.external_name \
                or _is_address(service.external_name):
            return None
        return _Node([Record(qname, RType.CNAME, fqdn(service.external_name))])
    if parsed.endpoint or service.headless:
        return _endpoints_node(qname, parsed, service, index, network)
    ports = [port for port in service.ports if port.matches(parsed.port, parsed.protocol)]
    if not ports:
        return None
    target = service_name(service.namespace, service.name, network)
    weight = _weight(len(ports))
    return _Node([Record(qname, RType.A, ip) for ip in service.cluster_ips]
                 + [Record(qname, RType.SRV, Srv(0, weight, port.port, target)) for port in ports],
                 glue=[Record(target, RType.A, ip) for ip in service.cluster_ips])


def _endpoints_node(qname: str, parsed: ParsedName, service: ServiceEntry, index: ClusterIndex,
                    network: ClusterNetwork) -> _Node | None:
    """A headless Service's name (its ready endpoints) or one endpoint's name (any Service)."""
    endpoints = [endpoint for endpoint in index.endpoints_of(service)
                 if (not parsed.endpoint or endpoint.label == parsed.endpoint)
                 and endpoint.has_port(parsed.port, parsed.protocol)]
    if not endpoints:
        return None  # a headless Service with no ready endpoint does not exist, as in CoreDNS
    addresses = list(dict.fromkeys(endpoint.ip for endpoint in endpoints))
    node = _Node([Record(qname, RType.A, ip) for ip in addresses])
    if parsed.endpoint:
        return node
    base = service_name(service.namespace, service.name, network)
    targets = [(f"{endpoint.label}.{base}", endpoint.ip, port.port) for endpoint in endpoints
               for port in endpoint.ports if port.matches(parsed.port, parsed.protocol)]
    weight = _weight(len(targets))
    node.records += [Record(qname, RType.SRV, Srv(0, weight, port, target)) for target, _, port in targets]
    node.glue = [Record(target, RType.A, ip) for target, ip in dict.fromkeys((t, ip) for t, ip, _ in targets)]
    return node


def _weight(count: int) -> int:
    """SRV weight of each of ``count`` equal records (CoreDNS: 100 split evenly, rounded down)."""
    return max(1, 100 // max(count, 1))


def _nameserver_name(network: ClusterNetwork) -> str:
    return ".".join((*NAMESERVER_LABELS, fqdn(network.cluster_domain)))


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


# -- CNAMEs and reverse names --------------------------------------------------------------------


def _follow(cname: Record, qtype: str, index: ClusterIndex, network: ClusterNetwork, depth: int) -> Answer:
    """The CNAME, then what its target holds: from the zone itself, or (``chase``) from upstream.
    A target without records leaves the CNAME alone, NOERROR, as CoreDNS answers."""
    target = str(cname.data)
    inner = answer(target, qtype, index, network, depth + 1) if depth < MAX_CNAME_CHAIN else Answer(Outcome.NODATA)
    if inner.outcome is Outcome.FORWARD:
        return Answer(Outcome.ANSWER, answers=(cname,), authoritative=True, chase=target)
    return Answer(Outcome.ANSWER, answers=(cname, *inner.answers), authoritative=True, chase=inner.chase)


def _reverse(qname: str, qtype: str, address: str, index: ClusterIndex, network: ClusterNetwork) -> Answer:
    """PTR of a ClusterIP or an endpoint address; every other reverse question goes upstream
    (CoreDNS's ``fallthrough in-addr.arpa``)."""
    owners = index.by_ip.get(address, ())
    if qtype != RType.PTR.value or not owners:
        return Answer(Outcome.FORWARD)
    names = dict.fromkeys(
        (f"{owner.endpoint}." if owner.endpoint else "") + service_name(owner.namespace, owner.service, network)
        for owner in owners)
    return Answer(Outcome.ANSWER, answers=tuple(Record(qname, RType.PTR, name) for name in names),
                  authoritative=True)
