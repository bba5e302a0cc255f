"""Validation of Services, Endpoints and EndpointSlices.

After ``ValidateService`` and friends in k8s.io/kubernetes/pkg/apis/core/validation and
pkg/apis/discovery/validation. Two rules come from elsewhere in Kubernetes and are checked here
because dockyard has no separate allocator step before validation: the NodePort range
(30000–32767, the service-node-port-range default; message from the port allocator) and
"ClusterIP may not change once set" (from the IP allocator's update path).
"""

from __future__ import annotations

import ipaddress

from orchestrator.api import field as fld
from orchestrator.api import names
from orchestrator.api.core import CLUSTER_IP_NONE, MAX_CLIENT_IP_AFFINITY_SECONDS
from orchestrator.api.errors import Cause
from orchestrator.api.field import GoLiteral, Path
from orchestrator.api.meta_validation import validate_labels
from orchestrator.api.container_validation import IP_ERROR, PROTOCOLS, port_num_or_name

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
SESSION_AFFINITIES = ("ClientIP", "None")
TRAFFIC_POLICIES = ("Cluster", "Local")
IP_FAMILIES = ("IPv4", "IPv6")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
NODE_PORT_RANGE = range(30000, 32768)
KUBELET_PORT = 10250


def _go_service_port(protocol: str, port: int = 0, node_port: int = 0) -> GoLiteral:
    return GoLiteral(
        f'core.ServicePort{{Name:"", Protocol:"{protocol}", AppProtocol:(*string)(nil), Port:{port}, '
        f'TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:{node_port}}}'
    )


def _service_port(port: dict, require_name: bool, seen: set[str], path: Path) -> list[Cause]:
    causes = []
    name = port.get("name") or ""
    if require_name and not name:
        causes.append(fld.required(path.child("name")))
    elif name:
        causes += [fld.invalid(path.child("name"), name, msg) for msg in names.is_dns1123_label(name)]
        if name in seen:
            causes.append(fld.duplicate(path.child("name"), name))
        seen.add(name)
    number = port.get("port") or 0
    causes += [fld.invalid(path.child("port"), number, msg) for msg in names.is_valid_port_num(number)]
    protocol = port.get("protocol") or ""
    if not protocol:
        causes.append(fld.required(path.child("protocol")))
    elif protocol not in PROTOCOLS:
        causes.append(fld.not_supported(path.child("protocol"), protocol, PROTOCOLS))
    causes += port_num_or_name(port.get("targetPort"), path.child("targetPort"))
    if port.get("appProtocol") is not None:
        causes += [fld.invalid(path.child("appProtocol"), port["appProtocol"], msg)
                   for msg in names.is_qualified_name(port["appProtocol"])]
    node_port = port.get("nodePort") or 0
    if node_port and node_port not in NODE_PORT_RANGE:
        causes.append(fld.invalid(path.child("nodePort"), node_port,
                                  "provided port is not in the valid range. The range of valid ports is 30000-32767"))
    return causes


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def validate_service(obj: dict, old: dict | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    path = Path("spec")
    causes: list[Cause] = []
    service_type = spec.get("type") or ""
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == CLUSTER_IP_NONE
    if not ports and not headless and service_type != "ExternalName":
        causes.append(fld.required(path.child("ports")))
    if service_type == "LoadBalancer":
        for i, port in enumerate(ports):
            if port.get("port") == KUBELET_PORT:
                causes.append(fld.invalid(path.child("ports").index(i), KUBELET_PORT,
                                          f"may not expose port {KUBELET_PORT} externally since it is used by kubelet"))
    if service_type in ("LoadBalancer", "NodePort") and headless:
        causes.append(fld.invalid(path.child("clusterIPs").index(0), CLUSTER_IP_NONE,
                                  f"may not be set to 'None' for {service_type} services"))
    if service_type == "ExternalName":
        if spec.get("clusterIPs") or spec.get("clusterIP"):
            causes.append(fld.forbidden(path.child("clusterIPs"), "may not be set for ExternalName services"))
        if spec.get("ipFamilies"):
            causes.append(fld.forbidden(path.child("ipFamilies"), "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy"):
            causes.append(fld.forbidden(path.child("ipFamilyPolicy"), "may not be set for ExternalName services"))
        cname = (spec.get("externalName") or "").removesuffix(".")
        if cname:
            causes += [fld.invalid(path.child("externalName"), cname, msg) for msg in names.is_dns1123_subdomain(cname)]
        else:
            causes.append(fld.required(path.child("externalName")))
    seen: set[str] = set()
    for i, port in enumerate(ports):
        causes += _service_port(port, len(ports) > 1, seen, path.child("ports").index(i))
    if spec.get("selector") is not None:
        causes += validate_labels(spec["selector"], path.child("selector"))
    affinity = spec.get("sessionAffinity") or ""
    if not affinity:
        causes.append(fld.required(path.child("sessionAffinity")))
    elif affinity not in SESSION_AFFINITIES:
        causes.append(fld.not_supported(path.child("sessionAffinity"), affinity, SESSION_AFFINITIES))
    config_path = path.child("sessionAffinityConfig")
    config = spec.get("sessionAffinityConfig")
    if affinity == "ClientIP":
        client_ip = (config or {}).get("clientIP")
        if config is None:
            causes.append(fld.required(config_path, "when session affinity type is ClientIP"))
        elif client_ip is None:
            causes.append(fld.required(config_path.child("clientIP"), "when session affinity type is ClientIP"))
        elif client_ip.get("timeoutSeconds") is None:
            causes.append(fld.required(config_path.child("clientIP", "timeoutSeconds"), "when session affinity type is ClientIP"))
        elif not 0 < client_ip["timeoutSeconds"] <= MAX_CLIENT_IP_AFFINITY_SECONDS:
            causes.append(fld.invalid(config_path.child("clientIP", "timeoutSeconds"), client_ip["timeoutSeconds"],
                                      f"must be greater than 0 and less than {MAX_CLIENT_IP_AFFINITY_SECONDS}"))
    elif affinity == "None" and config is not None:
        causes.append(fld.forbidden(config_path, "must not be set when session affinity is None"))
    cluster_ip = spec.get("clusterIP") or ""
    if cluster_ip and cluster_ip != CLUSTER_IP_NONE and not _is_ip(cluster_ip):
        causes.append(fld.invalid(path.child("clusterIPs").index(0), cluster_ip,
                                  IP_ERROR))
    for i, family in enumerate(spec.get("ipFamilies") or []):
        if family not in IP_FAMILIES:
            causes.append(fld.not_supported(path.child("ipFamilies").index(i), family, IP_FAMILIES))
    if spec.get("ipFamilyPolicy") and spec["ipFamilyPolicy"] not in IP_FAMILY_POLICIES:
        causes.append(fld.not_supported(path.child("ipFamilyPolicy"), spec["ipFamilyPolicy"], IP_FAMILY_POLICIES))
    for i, ip in enumerate(spec.get("externalIPs") or []):
        if not _is_ip(ip):
            causes.append(fld.invalid(path.child("externalIPs").index(i), ip,
                                      IP_ERROR))
    if not service_type:
        causes.append(fld.required(path.child("type")))
    elif service_type not in SERVICE_TYPES:
        causes.append(fld.not_supported(path.child("type"), service_type, SERVICE_TYPES))
    if service_type == "ClusterIP":
        for i, port in enumerate(ports):
            if port.get("nodePort"):
                causes.append(fld.forbidden(path.child("ports").index(i).child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
    node_ports: set[tuple[str, int]] = set()
    port_keys: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        protocol, number, node_port = port.get("protocol") or "", port.get("port") or 0, port.get("nodePort") or 0
        if node_port:
            if (protocol, node_port) in node_ports:
                causes.append(fld.duplicate(path.child("ports").index(i).child("nodePort"), node_port))
            node_ports.add((protocol, node_port))
        if (protocol, number) in port_keys:
            causes.append(fld.duplicate(path.child("ports").index(i), _go_service_port(protocol, number)))
        port_keys.add((protocol, number))
    causes += _traffic_policies(spec, service_type, path)
    if old is not None:
        old_ip = (old.get("spec") or {}).get("clusterIP")
        if old_ip and cluster_ip and cluster_ip != old_ip and service_type != "ExternalName" \
                and (old.get("spec") or {}).get("type") != "ExternalName":
            causes.append(fld.invalid(path.child("clusterIPs").index(0), cluster_ip, "may not change once set"))
    return causes


def _traffic_policies(spec: dict, service_type: str, path: Path) -> list[Cause]:
    causes = []
    external = spec.get("externalTrafficPolicy") or ""
    accessible = service_type in ("NodePort", "LoadBalancer") or (service_type == "ClusterIP" and bool(spec.get("externalIPs")))
    if not accessible:
        if external:
            causes.append(fld.invalid(path.child("externalTrafficPolicy"), external, "may only be set for externally-accessible services"))
    elif not external:
        causes.append(fld.required(path.child("externalTrafficPolicy")))
    elif external not in TRAFFIC_POLICIES:
        causes.append(fld.not_supported(path.child("externalTrafficPolicy"), external, TRAFFIC_POLICIES))
    health = spec.get("healthCheckNodePort") or 0
    if health and not (service_type == "LoadBalancer" and external == "Local"):
        causes.append(fld.invalid(path.child("healthCheckNodePort"), health,
                                  "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
    internal = spec.get("internalTrafficPolicy")
    if internal is None and service_type in ("ClusterIP", "NodePort", "LoadBalancer"):
        causes.append(fld.required(path.child("internalTrafficPolicy"), "must be specified"))
    elif internal is not None and internal not in TRAFFIC_POLICIES:
        causes.append(fld.not_supported(path.child("internalTrafficPolicy"), internal, TRAFFIC_POLICIES))
    return causes


def validate_endpoints(obj: dict) -> list[Cause]:
    causes = []
    for i, subset in enumerate(obj.get("subsets") or []):
        subset_path = Path("subsets").index(i)
        for group in ("addresses", "notReadyAddresses"):
            for j, address in enumerate(subset.get(group) or []):
                ip = address.get("ip") or ""
                if not _is_ip(ip):
                    causes.append(fld.invalid(subset_path.child(group).index(j).child("ip"), ip,
                                              IP_ERROR))
        ports = subset.get("ports") or []
        for j, port in enumerate(ports):
            port_path = subset_path.child("ports").index(j)
            name = port.get("name") or ""
            if len(ports) > 1 and not name:
                causes.append(fld.required(port_path.child("name")))
            elif name:
                causes += [fld.invalid(port_path.child("name"), name, msg) for msg in names.is_dns1123_label(name)]
            number = port.get("port") or 0
            causes += [fld.invalid(port_path.child("port"), number, msg) for msg in names.is_valid_port_num(number)]
            protocol = port.get("protocol") or ""
            if protocol not in PROTOCOLS:
                causes.append(fld.not_supported(port_path.child("protocol"), protocol, PROTOCOLS))
    return causes


def validate_endpoint_slice(obj: dict, old: dict | None) -> list[Cause]:
    causes = []
    address_type = obj.get("addressType") or ""
    if not address_type:
        causes.append(fld.required(Path("addressType")))
    elif address_type not in ADDRESS_TYPES:
        causes.append(fld.not_supported(Path("addressType"), address_type, ADDRESS_TYPES))
    for i, endpoint in enumerate(obj.get("endpoints") or []):
        addresses = endpoint.get("addresses") or []
        address_path = Path("endpoints").index(i).child("addresses")
        if not addresses:
            causes.append(fld.required(address_path, "must contain at least 1 address"))
        for j, address in enumerate(addresses):
            if address_type in ("IPv4", "IPv6") and not _is_ip(address):
                causes.append(fld.invalid(address_path.index(j), address, "must be a valid IP address"))
    for i, port in enumerate(obj.get("ports") or []):
        port_path = Path("ports").index(i)
        if port.get("port") is not None:
            causes += [fld.invalid(port_path.child("port"), port["port"], msg) for msg in names.is_valid_port_num(port["port"])]
        if port.get("protocol") not in (None, *PROTOCOLS):
            causes.append(fld.not_supported(port_path.child("protocol"), port["protocol"], PROTOCOLS))
    if old is not None:
        causes += fld.immutable(address_type, old.get("addressType") or "", Path("addressType"))
    return causes
