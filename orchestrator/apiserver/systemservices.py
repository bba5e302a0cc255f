"""The Services every cluster has from its first second: ``kubernetes`` and ``kube-dns``.

kube-apiserver keeps ``default/kubernetes`` itself (its "bootstrap controller"): a selectorless
Service at the first address of the service range whose Endpoints and EndpointSlice name the API
server, so pods reach the API at ``https://kubernetes.default.svc``. kubeadm adds
``kube-system/kube-dns`` at the tenth address, the nameserver every pod's resolv.conf names. In
dockyard the DNS server runs on every host, listening on the pod network's gateway, so
``kube-dns`` is selectorless too, with one endpoint: the gateway. The service proxy's DNAT then
sends each pod's queries to its own host's DNS server.

Worked example, defaults, a server listening on 192.168.0.7:6443::

    default/kubernetes      ClusterIP 10.96.0.1   https 443/TCP → 6443   Endpoints 192.168.0.7:6443
    kube-system/kube-dns    ClusterIP 10.96.0.10  dns 53/UDP, dns-tcp 53/TCP Endpoints 10.244.0.1:53

:func:`system_objects` says what should exist (pure); :func:`ensure_system_objects` makes the
store agree on every server start, creating what is missing and putting back what drifted (a
wrong port, a lost label, Endpoints someone edited). A Service whose cluster IP is wrong (the
service range changed) is deleted and created again, since a cluster IP cannot change in place.
As kube-apiserver does, the Endpoints carry ``endpointslice.kubernetes.io/skip-mirror`` and the
EndpointSlice is named like the Service, without the endpointslice controller's managed-by
label, so no controller takes them over.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from orchestrator.api import errors
from orchestrator.api.clusternetwork import DNS_PORT, ClusterNetwork
from orchestrator.api.discovery import SERVICE_NAME_LABEL, AddressType
from orchestrator.api.jsonvalue import JSONValue
from orchestrator.api.registry import ResourceKind, kind_for
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.cluster.init import ClusterInfo, reachable_url

log = logging.getLogger("dockyard.systemservices")

SERVICE, ENDPOINTS = kind_for("v1", "Service"), kind_for("v1", "Endpoints")
ENDPOINT_SLICE = kind_for("discovery.k8s.io/v1", "EndpointSlice")
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
HTTPS_PORT = 443


@dataclass(frozen=True)
class SystemService:
    """One selectorless Service with a single endpoint address, as the control plane keeps it."""

    namespace: str
    name: str
    cluster_ip: str
    labels: dict[str, str]
    #: (name, protocol, service port, endpoint port)
    ports: tuple[tuple[str, str, int, int], ...]
    address: str


def system_services(network: ClusterNetwork, api_address: str, api_port: int) -> list[SystemService]:
    return [
        SystemService("default", "kubernetes", network.kubernetes_service_ip,
                      {"component": "apiserver", "provider": "kubernetes"},
                      (("https", "TCP", HTTPS_PORT, api_port),), api_address),
        SystemService("kube-system", "kube-dns", network.dns_service_ip,
                      {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"},
                      (("dns", "UDP", DNS_PORT, DNS_PORT), ("dns-tcp", "TCP", DNS_PORT, DNS_PORT)),
                      network.gateway),
    ]


def system_objects(service: SystemService) -> list[tuple[ResourceKind, dict]]:
    """The Service, its Endpoints and its EndpointSlice, in wire form."""
    def meta(labels: dict[str, str]) -> dict:
        return {"name": service.name, "namespace": service.namespace, "labels": labels}

    endpoint_ports = [{"name": name, "port": target, "protocol": protocol}
                      for name, protocol, _, target in service.ports]
    family = AddressType.IPV6 if ipaddress.ip_address(service.address).version == 6 else AddressType.IPV4
    return [
        (SERVICE, {"apiVersion": "v1", "kind": "Service", "metadata": meta(dict(service.labels)),
                   "spec": {"type": "ClusterIP", "clusterIP": service.cluster_ip, "clusterIPs": [service.cluster_ip],
                            "ports": [{"name": name, "protocol": protocol, "port": port, "targetPort": target}
                                      for name, protocol, port, target in service.ports]}}),
        (ENDPOINTS, {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta({SKIP_MIRROR_LABEL: "true"}),
                     "subsets": [{"addresses": [{"ip": service.address}], "ports": endpoint_ports}]}),
        (ENDPOINT_SLICE, {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                          "metadata": meta({SERVICE_NAME_LABEL: service.name}),
                          "addressType": family.value,
                          "endpoints": [{"addresses": [service.address], "conditions": {"ready": True}}],
                          "ports": endpoint_ports}),
    ]


#: the fields the control plane owns on each kind; everything else (defaults, a user's
#: annotations) is left as found
_OWNED = {"Service": (("metadata", "labels"), ("spec", "type"), ("spec", "ports"), ("spec", "selector")),
          "Endpoints": (("metadata", "labels"), ("subsets",)),
          "EndpointSlice": (("metadata", "labels"), ("endpoints",), ("ports",))}
#: fields that cannot change in place: a difference means delete and create again
_IMMUTABLE = {"Service": (("spec", "clusterIP"),), "EndpointSlice": (("addressType",),)}


def _at(obj: dict, path: tuple[str, ...]) -> JSONValue:
    value: JSONValue = obj
    for step in path:
        value = (value or {}).get(step)
    return value


def _with(obj: dict, path: tuple[str, ...], value: JSONValue) -> dict:
    head, *rest = path
    if not rest:
        return {k: v for k, v in obj.items() if k != head} if value is None else {**obj, head: value}
    return {**obj, head: _with(obj.get(head) or {}, tuple(rest), value)}


def drift(kind: str, current: dict, wanted: dict) -> tuple[bool, dict | None]:
    """(must be re-created, the object to write back); ``(False, None)`` when nothing drifted."""
    if any(_at(current, path) != _at(wanted, path) for path in _IMMUTABLE.get(kind, ())):
        return True, None
    fixed = current
    for path in _OWNED[kind]:
        if _at(current, path) != _at(wanted, path):
            fixed = _with(fixed, path, _at(wanted, path))
    return False, (None if fixed is current else fixed)


def api_server_address(info: ClusterInfo) -> str:
    """The address clients reach the API server at: its listen address, this machine's primary
    IP when it listens on every address, a name's address when it listens on a name."""
    host = urlsplit(reachable_url(info)).hostname or info.api_host
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return socket.gethostbyname(host)


def ensure_system_objects(api: ObjectAPI, services: list[SystemService]) -> None:
    """Create or repair every object of ``services``. A failure is logged with what to do and the
    next object is tried: the server must still start (a missing ``kube-dns`` breaks names, not
    the API)."""
    for service in services:
        for rk, wanted in system_objects(service):
            try:
                _ensure(api, rk, wanted)
            except errors.ApiError as error:
                log.error("could not keep %s %s/%s as the cluster needs it: %s%s", rk.kind, service.namespace,
                          service.name, error.message, _holder_hint(api, service, error))


def _ensure(api: ObjectAPI, rk: ResourceKind, wanted: dict) -> None:
    namespace, name = wanted["metadata"]["namespace"], wanted["metadata"]["name"]
    current = errors.or_none(lambda: api.get(rk, namespace, name))
    if current is None:
        api.create(rk, namespace, wanted)
        log.info("created %s %s/%s", rk.kind, namespace, name)
        return
    recreate, fixed = drift(rk.kind, current, wanted)
    if recreate:
        api.delete(rk, namespace, name)
        api.create(rk, namespace, wanted)
        log.warning("re-created %s %s/%s: it no longer matched the cluster's address plan", rk.kind, namespace, name)
    elif fixed is not None:
        api.update(rk, namespace, name, fixed)
        log.warning("updated %s %s/%s to what the cluster needs", rk.kind, namespace, name)


def _holder_hint(api: ObjectAPI, service: SystemService, error: errors.ApiError) -> str:
    """When another Service sits on the reserved address, say which one and what to do."""
    if error.code != 422:
        return ""
    for other in api.list(SERVICE, None)[0]:
        meta = other["metadata"]
        if (other.get("spec") or {}).get("clusterIP") == service.cluster_ip and \
                (meta["namespace"], meta["name"]) != (service.namespace, service.name):
            return (f" (the Service {meta['namespace']}/{meta['name']} holds {service.cluster_ip}, which the "
                    f"cluster reserves for {service.name}: delete it, re-create it without a clusterIP and "
                    f"restart the server)")
    return ""
