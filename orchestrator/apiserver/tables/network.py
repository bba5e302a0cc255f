"""Service, Endpoints and EndpointSlice tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from .columns import AGE, NAME, NONE, STRING, Cell, Column, KindPrinter, wide
from .fields import Object, field, items, mapping, name_of, number, text
from .humanize import since

SERVICE_COLUMNS: tuple[Column, ...] = (
    NAME,
    Column("Type", STRING, "type determines how the Service is exposed."),
    Column("Cluster-IP", STRING, "clusterIP is the IP address of the service."),
    Column("External-IP", STRING, "IP addresses on which the cluster also accepts traffic for this service."),
    Column("Port(s)", STRING, "The list of ports that are exposed by this service."),
    AGE,
    wide("Selector", STRING, "Route service traffic to pods with labels matching this selector."),
)
ENDPOINTS_COLUMNS: tuple[Column, ...] = (
    NAME,
    Column("Endpoints", STRING, "The set of all endpoints is the union of all subsets."),
    AGE,
)
ENDPOINT_SLICE_COLUMNS: tuple[Column, ...] = (
    NAME,
    Column("AddressType", STRING, "addressType specifies the type of address carried by this EndpointSlice."),
    Column("Ports", STRING, "The network ports exposed by each endpoint in this slice."),
    Column("Endpoints", STRING, "endpoints is a list of unique endpoints in this slice."),
    AGE,
)

CLUSTER_IP = "ClusterIP"
NODE_PORT = "NodePort"
LOAD_BALANCER = "LoadBalancer"
EXTERNAL_NAME = "ExternalName"
DEFAULT_PROTOCOL = "TCP"  # the API defaults a port's protocol to TCP
PENDING = "<pending>"  # a LoadBalancer whose address is not assigned yet
UNKNOWN_TYPE_EXTERNAL_IP = "<unknown>"
UNSET = "<unset>"

# kubectl lists this many endpoints/ports, then "+ N more...".
MAX_LISTED = 3


def format_labels(labels: Mapping[str, Any] | None) -> str:
    """``labels.FormatLabels``: ``k=v`` pairs sorted by key, ``<none>`` when empty."""
    if not labels:
        return NONE
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


def _service_type(svc: Object) -> str:
    # The API defaults spec.type to ClusterIP, so an unset type is shown as the default.
    return text(svc, "spec", "type") or CLUSTER_IP


def _cluster_ip(svc: Object) -> str:
    cluster_ips = items(svc, "spec", "clusterIPs")
    if cluster_ips and cluster_ips[0]:
        return str(cluster_ips[0])
    # Headless services carry the literal "None" here, which kubectl prints as is.
    return text(svc, "spec", "clusterIP") or NONE


def _load_balancer_addresses(svc: Object) -> list[str]:
    addresses: list[str] = []
    for ingress in items(svc, "status", "loadBalancer", "ingress"):
        address = text(ingress, "ip") or text(ingress, "hostname")
        if address and address not in addresses:
            addresses.append(address)
    return addresses


def external_ip(svc: Object) -> str:
    """kubectl's ``getServiceExternalIP`` for the (never truncated) table cell."""
    service_type = _service_type(svc)
    external_ips = [str(ip) for ip in items(svc, "spec", "externalIPs")]
    if service_type in (CLUSTER_IP, NODE_PORT):
        return ",".join(external_ips) or NONE
    if service_type == LOAD_BALANCER:
        addresses = _load_balancer_addresses(svc) + external_ips
        return ",".join(addresses) or PENDING
    if service_type == EXTERNAL_NAME:
        return text(svc, "spec", "externalName")
    return UNKNOWN_TYPE_EXTERNAL_IP


def port_string(ports: list[Any]) -> str:
    """``8080/TCP``, or ``8080:31294/TCP`` when a node port is allocated; comma-joined."""
    pieces = []
    for port in ports:
        protocol = text(port, "protocol") or DEFAULT_PROTOCOL
        node_port = number(port, "nodePort")
        if node_port > 0:
            pieces.append(f"{number(port, 'port')}:{node_port}/{protocol}")
        else:
            pieces.append(f"{number(port, 'port')}/{protocol}")
    return ",".join(pieces)


def service_cells(svc: Object, now: datetime) -> list[Cell]:
    return [
        name_of(svc),
        _service_type(svc),
        _cluster_ip(svc),
        external_ip(svc),
        port_string(items(svc, "spec", "ports")) or NONE,
        since(field(svc, "metadata", "creationTimestamp"), now),
        format_labels(mapping(svc, "spec", "selector")),
    ]


def _join_host_port(host: str, port: int) -> str:
    # net.JoinHostPort brackets IPv6 literals.
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def format_endpoints(endpoints: Object) -> str:
    """kubectl's ``formatEndpoints``: up to three ``ip:port``, then ``+ N more...``."""
    subsets = items(endpoints, "subsets")
    if not subsets:
        return NONE
    listed: list[str] = []
    total = 0
    for subset in subsets:
        addresses = [text(a, "ip") for a in items(subset, "addresses")]
        ports = items(subset, "ports")
        # Headless services may have no ports: their endpoints are bare IPs.
        entries = [addresses] if not ports else [
            [_join_host_port(ip, number(port, "port")) for ip in addresses] for port in ports
        ]
        for entry in entries:
            total += len(entry)
            listed.extend(entry[: MAX_LISTED - len(listed)])
    # Subsets without addresses print as an empty cell, not <none>: kubectl only checks subsets.
    return _with_more(listed, total, empty="")


def _with_more(listed: list[str], total: int, *, empty: str) -> str:
    joined = ",".join(listed)
    if total > MAX_LISTED:
        return f"{joined} + {total - MAX_LISTED} more..."
    return joined or empty


def endpoints_cells(endpoints: Object, now: datetime) -> list[Cell]:
    return [
        name_of(endpoints),
        format_endpoints(endpoints),
        since(field(endpoints, "metadata", "creationTimestamp"), now),
    ]


def _discovery_port(port: Object) -> str:
    if field(port, "port") is not None:
        return str(number(port, "port"))
    if field(port, "name") is not None:
        return text(port, "name")
    return "*"


def format_discovery_ports(ports: list[Any]) -> str:
    listed = [_discovery_port(port) for port in ports[:MAX_LISTED]]
    return _with_more(listed, len(ports), empty=UNSET)


def format_discovery_endpoints(endpoints: list[Any]) -> str:
    addresses = [str(address) for endpoint in endpoints for address in items(endpoint, "addresses")]
    return _with_more(addresses[:MAX_LISTED], len(addresses), empty=UNSET)


def endpoint_slice_cells(slice_: Object, now: datetime) -> list[Cell]:
    return [
        name_of(slice_),
        text(slice_, "addressType"),
        format_discovery_ports(items(slice_, "ports")),
        format_discovery_endpoints(items(slice_, "endpoints")),
        since(field(slice_, "metadata", "creationTimestamp"), now),
    ]


SERVICE_PRINTER = KindPrinter(SERVICE_COLUMNS, service_cells)
ENDPOINTS_PRINTER = KindPrinter(ENDPOINTS_COLUMNS, endpoints_cells)
ENDPOINT_SLICE_PRINTER = KindPrinter(ENDPOINT_SLICE_COLUMNS, endpoint_slice_cells)
