"""The snapshot's Services and Endpoints, indexed the way DNS questions look them up.

CoreDNS keeps indexes beside its informer cache (services by ``namespace/name``, endpoints by
Service, both by IP for reverse lookups). :class:`ClusterIndex` is that, built once per
:class:`~agent.network.clusterview.NetworkSnapshot` (the resolver rebuilds it only when the
snapshot object changes), so answering a question is a few dictionary look-ups.

Only what DNS needs is kept: an endpoint is an address of ``subsets[].addresses`` (ready ones;
``notReadyAddresses`` never appear in DNS, and ``publishNotReadyAddresses`` is already folded in
by the endpoints controller), with its DNS label (its ``hostname``, else its dashed IP, as
CoreDNS's ``endpointHostname``) and its subset's ports.

The snapshot carries no Namespace objects, so a namespace "exists" for DNS when a Service lives
in it (``default`` always has ``kubernetes``, ``kube-system`` has ``kube-dns``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from agent.network.clusterview import NetworkSnapshot
from agent.network.dns.query import dash_ipv4
from orchestrator.api.core import CLUSTER_IP_NONE, ServiceType

#: SOA serials are 32-bit and compared modulo 2**32 (RFC 1982)
_SERIAL_MODULUS = 2 ** 32


@dataclass(frozen=True)
class Port:
    name: str
    port: int
    protocol: str  # lower-case, as SRV names spell it: "tcp", "udp", "sctp"

    def matches(self, name: str, protocol: str) -> bool:
        """Whether ``_name._protocol`` selects this port; an empty part is a wildcard."""
        return (not name or name == self.name) and (not protocol or protocol == self.protocol)


@dataclass(frozen=True)
class ServiceEntry:
    namespace: str
    name: str
    type: ServiceType
    cluster_ips: tuple[str, ...]   # empty for headless and ExternalName Services
    headless: bool
    external_name: str
    ports: tuple[Port, ...]


@dataclass(frozen=True)
class EndpointEntry:
    ip: str
    label: str                     # the endpoint's DNS label: hostname, else the dashed IP
    ports: tuple[Port, ...]

    def has_port(self, name: str, protocol: str) -> bool:
        if not self.ports:  # a headless Service without ports: only the plain names select it
            return not name and not protocol
        return any(port.matches(name, protocol) for port in self.ports)


@dataclass(frozen=True)
class ReverseEntry:
    """Who owns an IP: a Service (``endpoint`` empty, its ClusterIP) or one of its endpoints."""

    namespace: str
    service: str
    endpoint: str = ""


@dataclass(frozen=True)
class ClusterIndex:
    services: dict[tuple[str, str], ServiceEntry] = field(default_factory=dict)
    endpoints: dict[tuple[str, str], tuple[EndpointEntry, ...]] = field(default_factory=dict)
    by_ip: dict[str, tuple[ReverseEntry, ...]] = field(default_factory=dict)
    namespaces: frozenset[str] = frozenset()
    serial: int = 0

    @classmethod
    def of(cls, snapshot: NetworkSnapshot) -> ClusterIndex:
        services = {}
        for obj in snapshot.services:
            entry = _service_entry(obj)
            if entry is not None:
                services[(entry.namespace, entry.name)] = entry
        endpoints = {}
        for obj in snapshot.endpoints:
            namespace, name = _key(obj)
            endpoints[(namespace, name)] = tuple(_endpoint_entries(obj))
        by_ip: dict[str, list[ReverseEntry]] = {}
        for entry in services.values():
            for ip in entry.cluster_ips:
                by_ip.setdefault(ip, []).append(ReverseEntry(entry.namespace, entry.name))
        for (namespace, name), addresses in endpoints.items():
            if (namespace, name) in services:
                for address in addresses:
                    by_ip.setdefault(address.ip, []).append(ReverseEntry(namespace, name, address.label))
        return cls(services=services, endpoints=endpoints,
                   by_ip={ip: tuple(owners) for ip, owners in by_ip.items()},
                   namespaces=frozenset(namespace for namespace, _ in services),
                   serial=_serial(snapshot))

    def service(self, namespace: str, name: str) -> ServiceEntry | None:
        return self.services.get((namespace, name))

    def endpoints_of(self, service: ServiceEntry) -> tuple[EndpointEntry, ...]:
        return self.endpoints.get((service.namespace, service.name), ())


def _key(obj: dict) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return (metadata.get("namespace") or "default").lower(), (metadata.get("name") or "").lower()


def _service_entry(obj: dict) -> ServiceEntry | None:
    namespace, name = _key(obj)
    if not name:
        return None
    spec = obj.get("spec") or {}
    try:
        service_type = ServiceType(spec.get("type") or ServiceType.CLUSTER_IP.value)
    except ValueError:
        return None  # a type this server does not know: better no record than a wrong one
    headless = spec.get("clusterIP") == CLUSTER_IP_NONE
    cluster_ips = () if headless or service_type is ServiceType.EXTERNAL_NAME else tuple(
        ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if ip and ip != CLUSTER_IP_NONE)
    return ServiceEntry(namespace=namespace, name=name, type=service_type, cluster_ips=cluster_ips,
                        headless=headless, external_name=(spec.get("externalName") or "").rstrip(".").lower(),
                        ports=tuple(_ports(spec.get("ports"))))


def _endpoint_entries(obj: dict) -> Iterator[EndpointEntry]:
    for subset in obj.get("subsets") or []:
        ports = tuple(_ports(subset.get("ports")))
        for address in subset.get("addresses") or []:
            ip = address.get("ip")
            if ip:
                yield EndpointEntry(ip=ip, label=(address.get("hostname") or dash_ipv4(ip)).lower(), ports=ports)


def _ports(ports: list[dict] | None) -> Iterator[Port]:
    for port in ports or []:
        if port.get("port"):
            yield Port(name=(port.get("name") or "").lower(), port=int(port["port"]),
                       protocol=(port.get("protocol") or "TCP").lower())


def _serial(snapshot: NetworkSnapshot) -> int:
    """The newest object's resourceVersion: dockyard's revisions are the store's row ids, so the
    zone's serial grows with every change, as a serial should."""
    versions = [(obj.get("metadata") or {}).get("resourceVersion") or "0"
                for obj in (*snapshot.services, *snapshot.endpoints)]
    return max((int(version) for version in versions if version.isdigit()), default=0) % _SERIAL_MODULUS
