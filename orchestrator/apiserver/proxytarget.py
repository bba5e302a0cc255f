"""Where a ``proxy`` subresource request goes (pure): kube-apiserver's ``ResourceLocation``.

``…/pods/ID/proxy/PATH``, ``…/services/ID/proxy/PATH`` and ``/api/v1/nodes/ID/proxy/PATH`` pass
an HTTP request through the API server. ``ID`` is ``name``, ``name:port`` or ``scheme:name:port``
(scheme ``http`` or ``https``; anything else, or more colons, is Kubernetes' 400
``invalid pod request "…"``). Each kind finds its upstream as Kubernetes does:

* **pod**: the pod's IP, on the port named in the ID or else the first ``containerPort`` declared
  by any container (no port at all: the scheme's default). A pod without an address (not
  started yet, or finished and gone from the network) is Kubernetes' 400 ``address not allowed``,
  as is an address no proxy should dial (loopback, link-local, multicast, unspecified).
* **service**: a port given by *number* is first translated to the Service port's *name* (503
  ``no service port 99 found for service "web"`` when none has that number); then the
  Service's Endpoints are searched, from a random subset and a random address onwards, for an
  address under a port of that name (an unnamed single port is the name ""). Like
  kube-apiserver, only addresses that are really pods are used: the address's ``targetRef`` names a
  Pod of the same namespace whose current IPs include it, so a hand-written Endpoints object
  cannot turn the API server into a relay to arbitrary addresses. Nothing found: 503
  ``no endpoints available for service "…"``. The API server then dials that pod address
  directly; it does not go through the Service's ClusterIP.
* **node**: no port, or the agent's own port, is the node's agent on its authenticated endpoint:
  HTTPS with mutual TLS, the agent's certificate pinned (:mod:`orchestrator.apiserver.agenttls`),
  exactly the path ``kubectl logs`` takes. Another port is plain HTTP (or the scheme given) to
  the node's InternalIP on that port, as Kubernetes proxies to node-level daemons.

Where the API server's machine cannot route to the pod network, the dial fails and the client
gets Kubernetes' 503 ``error trying to reach service: …`` (kube-apiserver needs the same reach).
On a ``dockyard up`` cluster the control plane runs on the host, which routes to the pod bridge;
on separate machines, the machine running the API server needs an agent (as root) to install
the routes to every node's pod CIDR.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from enum import Enum
from typing import Callable

from orchestrator.api import errors
from orchestrator.api.nodestatus import internal_ip
from orchestrator.apiserver.agenttls import AgentAddress
from orchestrator.apiserver.nodeproxy import agent_address
from orchestrator.apiserver.routing import Target


class ProxyScheme(str, Enum):
    HTTP = "http"
    HTTPS = "https"


class ProxiedKind(str, Enum):
    """The kinds with a ``proxy`` subresource, by the word Kubernetes' messages use for them."""

    POD = "pod"
    SERVICE = "service"
    NODE = "node"


@dataclass(frozen=True)
class ProxyId:
    """``[scheme:]name[:port]`` as the path gives it; ``port`` is "" when none is given."""

    scheme: ProxyScheme | None
    name: str
    port: str


@dataclass(frozen=True)
class Upstream:
    """Where to send the request: ``agent`` is set when it is a node's agent (mutual TLS, pinned)."""

    scheme: ProxyScheme
    host: str
    port: int | None
    agent: AgentAddress | None = None

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


@dataclass(frozen=True)
class EndpointChoice:
    """One address of a Service's Endpoints under the wanted port, as the search meets it."""

    ip: str
    port: int
    pod_namespace: str | None
    pod_name: str | None


def parse_proxy_id(kind: ProxiedKind, raw: str) -> ProxyId:
    """``web``, ``web:80``, ``https:web:443`` (Kubernetes' ``SplitSchemeNamePort``)."""
    parts = raw.split(":")
    scheme, name, port = {1: ("", raw, ""), 2: ("", *parts), 3: tuple(parts)}.get(len(parts), ("", "", ""))
    if not name or scheme not in ("", *(s.value for s in ProxyScheme)):
        raise errors.bad_request(f'invalid {kind.value} request "{raw}"')
    return ProxyId(ProxyScheme(scheme) if scheme else None, name, port)


def split_proxy_path(raw_path: str, target: Target) -> tuple[str, str]:
    """``(prefix, path)``: the request path up to and including ``/proxy``, and the rest of it,
    byte for byte as the client sent it ("" when nothing follows ``proxy``, "/" for a trailing
    slash). The prefix is the API server's side of the path, for rewriting redirects. For
    example ``/api/v1/namespaces/default/pods/web/proxy/a%2Fb/`` is
    ``("/api/v1/namespaces/default/pods/web/proxy", "/a%2Fb/")``: an encoded slash stays encoded.
    """
    rk = target.rk
    # /api/v1 or /apis/GROUP/VERSION, namespaces/NS, PLURAL/NAME/proxy
    count = (3 if rk.group else 2) + (2 if target.namespace is not None else 0) + 3
    segments = raw_path.split("/")
    taken = 0
    for index, segment in enumerate(segments):
        taken += bool(segment)
        if taken == count:
            rest = segments[index + 1:]
            return "/" + "/".join(s for s in segments[:index + 1] if s), ("/" + "/".join(rest)) if rest else ""
    # routing found PLURAL/NAME/proxy in this very path, so the loop returned; a path that
    # reached here without them is a caller's mistake, not the client's
    raise ValueError(f"{raw_path} is not a proxy path of {rk.plural}")


# -- pods -----------------------------------------------------------------------------------


def pod_upstream(pod_id: ProxyId, pod: dict) -> Upstream:
    """The pod's address and the port to reach (see the module docstring)."""
    port = pod_id.port or _first_container_port(pod)
    ip = pod_ip(pod)
    if ip is None or not proxyable(ip):
        raise errors.bad_request("address not allowed")
    return Upstream(pod_id.scheme or ProxyScheme.HTTP, ip, _port_number(ProxiedKind.POD, pod_id, port))


def pod_ip(pod: dict) -> str | None:
    status = pod.get("status") or {}
    ips = [entry.get("ip") for entry in status.get("podIPs") or [] if entry.get("ip")]
    return ips[0] if ips else status.get("podIP") or None


def pod_ips(pod: dict) -> frozenset[str]:
    status = pod.get("status") or {}
    ips = {entry["ip"] for entry in status.get("podIPs") or [] if entry.get("ip")}
    return frozenset(ips or ({status["podIP"]} if status.get("podIP") else set()))


def proxyable(ip: str) -> bool:
    """Go's ``IsGlobalUnicast``: the addresses kube-apiserver agrees to dial for a proxy."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    broadcast = address == ipaddress.IPv4Address("255.255.255.255")
    return not (address.is_unspecified or address.is_loopback or address.is_multicast or address.is_link_local
                or broadcast)


def _first_container_port(pod: dict) -> str:
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            return str(port.get("containerPort", ""))
    return ""


def _port_number(kind: ProxiedKind, proxy_id: ProxyId, port: str) -> int | None:
    if not port:
        return None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise errors.bad_request(
            f'invalid {kind.value} request "{proxy_id.name}:{port}": the port of a {kind.value} proxy is a number '
            "from 1 to 65535 (only services/NAME:PORT/proxy takes a port name)")
    return int(port)


# -- services -------------------------------------------------------------------------------


def service_port_name(service_id: ProxyId, read_service: Callable[[], dict]) -> str:
    """The Service port name the ID means: a number is looked up among the Service's ports (the
    Service is read only then, so a missing Service with a port name is Kubernetes' 404 for its
    Endpoints); a name, or none, is taken as it is."""
    if not service_id.port.isdigit():
        return service_id.port
    for port in (read_service().get("spec") or {}).get("ports") or []:
        if port.get("port") == int(service_id.port):
            return port.get("name") or ""
    raise _unavailable(f'no service port {int(service_id.port)} found for service "{service_id.name}"')


def endpoint_search(endpoints: dict, port_name: str, rng: random.Random) -> list[EndpointChoice]:
    """Every ready address under a port named ``port_name``, in the order kube-apiserver tries
    them: subsets from a random one onwards, and in each subset addresses from a random one."""
    subsets = endpoints.get("subsets") or []
    found: list[EndpointChoice] = []
    start = rng.randrange(len(subsets)) if subsets else 0
    for offset in range(len(subsets)):
        subset = subsets[(start + offset) % len(subsets)]
        addresses = subset.get("addresses") or []
        if not addresses:
            continue
        for port in subset.get("ports") or []:
            if (port.get("name") or "") != port_name or port.get("port") is None:
                continue
            first = rng.randrange(len(addresses))
            for step in range(len(addresses)):
                address = addresses[(first + step) % len(addresses)]
                ref = address.get("targetRef") or {}
                pod = ref.get("kind") == "Pod"
                found.append(EndpointChoice(address.get("ip") or "", int(port["port"]),
                                            ref.get("namespace") if pod else None, ref.get("name") if pod else None))
    return found


def service_upstream(service_id: ProxyId, raw_id: str, namespace: str, endpoints: dict, port_name: str,
                     current_pod_ips: Callable[[str], frozenset[str]], rng: random.Random) -> Upstream:
    """The first address of :func:`endpoint_search` that is a pod of this namespace whose current
    IPs include it (``current_pod_ips(name)``: empty when there is no such pod)."""
    if not endpoints.get("subsets"):
        raise _unavailable(f'no endpoints available for service "{service_id.name}"')
    for choice in endpoint_search(endpoints, port_name, rng):
        if choice.pod_name and choice.pod_namespace == namespace and choice.ip in current_pod_ips(choice.pod_name):
            return Upstream(service_id.scheme or ProxyScheme.HTTP, choice.ip, choice.port)
    raise _unavailable(f'no endpoints available for service "{raw_id}"')


# -- nodes ----------------------------------------------------------------------------------


def node_upstream(node_id: ProxyId, node: dict) -> Upstream:
    """The node's agent (no port, or its own), or another port on the node's address."""
    endpoint = ((node.get("status") or {}).get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}
    if not node_id.port or node_id.port == str(endpoint.get("Port")):
        agent = agent_address(node)
        return Upstream(ProxyScheme.HTTPS, agent.host, agent.port, agent)
    ip = internal_ip(node)
    if ip is None or not proxyable(ip):
        raise errors.bad_request("address not allowed")
    return Upstream(node_id.scheme or ProxyScheme.HTTP, ip, _port_number(ProxiedKind.NODE, node_id, node_id.port))


def _unavailable(message: str) -> errors.ApiError:
    return errors.ApiError(message, errors.StatusReason.SERVICE_UNAVAILABLE, 503)
