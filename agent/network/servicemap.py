"""Services and Endpoints as the service proxy sees them: one entry per service port (pure).

kube-proxy never works on whole Services: it flattens them into *service ports* (its
``ServicePortMap``), each with the endpoints that serve that port (its ``EndpointsMap``), and
programs each one on its own. :func:`service_ports` does the same from a
:class:`~agent.network.clusterview.NetworkSnapshot` in wire form.

Rules of the flattening, Kubernetes' own:

* A service port is named ``namespace/name:portName``, or ``namespace/name`` when the port has no
  name (a Service with a single port may leave it unnamed). Chains and comments use this name.
* Its endpoints are found in the Service's Endpoints object by port *name* and protocol — the
  Endpoints controller has already resolved ``targetPort`` (a number, or a container port name)
  into each subset's port numbers — and only among ready ``addresses`` (``notReadyAddresses`` get
  no traffic; ``publishNotReadyAddresses`` is the Endpoints controller's business).
* ExternalName Services (DNS only), headless ones (``clusterIP: None``) and Services without a
  ClusterIP get no service ports at all.
* IPv4 only. Endpoints in 127.0.0.0/8 are left out: a DNAT to loopback from PREROUTING is dropped
  by the kernel, so such an endpoint would swallow its share of connections.

Example: Service ``default/web`` (ClusterIP 10.96.0.20, ports ``http`` 80→8080/TCP and ``metrics``
9100/TCP) whose Endpoints have one subset with addresses 10.244.1.5 (node-1) and 10.244.2.7
(node-2) and ports ``http`` 8080 and ``metrics`` 9100 gives two service ports:
``default/web:http`` (10.96.0.20:80 → 10.244.1.5:8080, 10.244.2.7:8080) and
``default/web:metrics`` (10.96.0.20:9100 → 10.244.1.5:9100, 10.244.2.7:9100).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from orchestrator.api.containers import Protocol
from orchestrator.api.core import (CLUSTER_IP_NONE, DEFAULT_CLIENT_IP_AFFINITY_SECONDS, ServiceType,
                                   SessionAffinity, TrafficPolicy)

from agent.network.clusterview import NetworkSnapshot

_LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    node: str | None   # the Endpoints address's nodeName: None for selectorless endpoints

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class ServicePort:
    namespace: str
    name: str
    port_name: str
    protocol: Protocol
    cluster_ip: str
    port: int
    node_port: int | None                 # NodePort and LoadBalancer Services only
    external_ips: tuple[str, ...]         # spec.externalIPs
    load_balancer_ips: tuple[str, ...]    # status.loadBalancer.ingress[].ip, LoadBalancer Services only
    external_policy_local: bool           # externalTrafficPolicy: Local
    affinity_seconds: int | None          # sessionAffinity ClientIP: how long a client sticks; else None
    endpoints: tuple[Endpoint, ...]       # ready, sorted by address

    @property
    def key(self) -> str:
        """kube-proxy's ``ServicePortName``: ``default/web:http``, or ``default/web``."""
        return f"{self.namespace}/{self.name}" + (f":{self.port_name}" if self.port_name else "")

    @property
    def externally_reachable(self) -> bool:
        return bool(self.node_port or self.external_ips or self.load_balancer_ips)

    def endpoints_on(self, node: str) -> tuple[Endpoint, ...]:
        return tuple(endpoint for endpoint in self.endpoints if endpoint.node == node)


def service_ports(snapshot: NetworkSnapshot) -> tuple[ServicePort, ...]:
    """Every service port of the snapshot's Services, sorted by name and protocol."""
    endpoints = {(_meta(e).get("namespace") or "default", _meta(e).get("name")): e for e in snapshot.endpoints}
    ports = []
    for service in snapshot.services:
        meta, spec = _meta(service), service.get("spec") or {}
        cluster_ip = spec.get("clusterIP") or ""
        if spec.get("type") == ServiceType.EXTERNAL_NAME.value or cluster_ip == CLUSTER_IP_NONE \
                or not _ipv4(cluster_ip):
            continue
        namespace = meta.get("namespace") or "default"
        subsets = (endpoints.get((namespace, meta.get("name"))) or {}).get("subsets") or []
        for port in spec.get("ports") or []:
            protocol = _protocol(port.get("protocol"))
            if protocol is None or not port.get("port"):
                continue
            ports.append(ServicePort(
                namespace=namespace, name=meta.get("name") or "", port_name=port.get("name") or "",
                protocol=protocol, cluster_ip=cluster_ip, port=int(port["port"]),
                node_port=_node_port(spec, port),
                external_ips=tuple(sorted({ip for ip in spec.get("externalIPs") or [] if _ipv4(ip)}, key=_sort_ip)),
                load_balancer_ips=_load_balancer_ips(service),
                external_policy_local=spec.get("externalTrafficPolicy") == TrafficPolicy.LOCAL.value,
                affinity_seconds=_affinity_seconds(spec),
                endpoints=_endpoints(subsets, port.get("name") or "", protocol)))
    return tuple(sorted(ports, key=lambda p: (p.key, p.protocol.value)))


def _endpoints(subsets: list[dict], port_name: str, protocol: Protocol) -> tuple[Endpoint, ...]:
    found = set()
    for subset in subsets:
        for port in subset.get("ports") or []:
            if (port.get("name") or "") != port_name or _protocol(port.get("protocol")) is not protocol:
                continue
            for address in subset.get("addresses") or []:
                ip = address.get("ip") or ""
                if _ipv4(ip) and ipaddress.IPv4Address(ip) not in _LOOPBACK and port.get("port"):
                    found.add(Endpoint(ip, int(port["port"]), address.get("nodeName") or None))
    return tuple(sorted(found, key=lambda e: (_sort_ip(e.ip), e.port, e.node or "")))


def _node_port(spec: dict, port: dict) -> int | None:
    if spec.get("type") not in (ServiceType.NODE_PORT.value, ServiceType.LOAD_BALANCER.value):
        return None
    return int(port["nodePort"]) if port.get("nodePort") else None


def _load_balancer_ips(service: dict) -> tuple[str, ...]:
    if (service.get("spec") or {}).get("type") != ServiceType.LOAD_BALANCER.value:
        return ()
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return tuple(sorted({entry["ip"] for entry in ingress if _ipv4(entry.get("ip") or "")}, key=_sort_ip))


def _affinity_seconds(spec: dict) -> int | None:
    if spec.get("sessionAffinity") != SessionAffinity.CLIENT_IP.value:
        return None
    config = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
    return int(config.get("timeoutSeconds") or DEFAULT_CLIENT_IP_AFFINITY_SECONDS)


def _protocol(value: str | None) -> Protocol | None:
    try:
        return Protocol(value or Protocol.TCP.value)
    except ValueError:
        return None


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _sort_ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))
