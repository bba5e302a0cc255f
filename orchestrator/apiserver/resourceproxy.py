"""The ``proxy`` subresources of pods, Services and nodes: find the upstream, then relay.

``kubectl proxy`` and ``kubectl get --raw …/services/web:80/proxy/`` end here, after the request
was authorized as ``get`` (or ``create``, ``update``, ``patch``, ``delete``: the method's verb) on
``pods/proxy``, ``services/proxy`` or ``nodes/proxy``. This module reads the objects involved;
:mod:`orchestrator.apiserver.proxytarget` decides from them where the request goes (its
docstring has the rules and Kubernetes' messages) and :mod:`orchestrator.apiserver.proxyrelay`
carries it there and back.

A node's agent is reached over the same mutual-TLS path as ``kubectl logs``, with the same
client certificate and pinned agent certificate (:class:`~orchestrator.apiserver.agenttls.AgentTLS`,
shared with :class:`~orchestrator.apiserver.nodeproxy.NodeProxy`). An app's own HTTPS (``https:web:443``)
is not verified, as kube-apiserver's proxy transport does not verify it: the app's certificate
names no address the API server could check.
"""

from __future__ import annotations

import json
import random
import ssl
from dataclasses import dataclass, field
from typing import Callable

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from orchestrator.api import errors
from orchestrator.api.registry import kind_for
from orchestrator.apiserver.agenttls import AgentTLS
from orchestrator.apiserver.proxyrelay import relay
from orchestrator.apiserver.proxysocket import relay_websocket
from orchestrator.apiserver.proxytarget import (
    ProxiedKind, ProxyId, ProxyScheme, Upstream, node_upstream, parse_proxy_id, pod_ips, pod_upstream,
    service_port_name, service_upstream, split_proxy_path,
)
from orchestrator.apiserver.reader import ObjectReader
from orchestrator.apiserver.routing import Target


@dataclass
class ResourceProxy:
    api: ObjectReader
    tls: AgentTLS
    rng: random.Random = field(default_factory=random.Random)

    async def serve(self, request: Request, target: Target) -> Response:
        """Pass ``request`` through to what ``target`` names."""
        raw_path = _raw_path(request)
        prefix, path = split_proxy_path(raw_path, target)
        if not path and request.method in ("GET", "HEAD"):
            # kube-apiserver answers ``…/proxy`` with the same path and a slash, so that the app's
            # relative links resolve below the proxy (kubernetes/kubernetes#4958)
            query = request.scope.get("query_string") or b""
            location = raw_path + "/" + ("?" + query.decode("latin-1") if query else "")
            return Response(status_code=301, headers={"Location": location})
        upstream = self.upstream(target)
        return await relay(request, upstream, path, prefix, await self._tls(upstream))

    async def serve_websocket(self, websocket: WebSocket, target: Target) -> None:
        """Bridge a WebSocket upgrade to the app's (:mod:`orchestrator.apiserver.proxysocket`);
        a refusal is the handshake's HTTP answer, a ``metav1.Status`` as for any request."""
        try:
            prefix, path = split_proxy_path(_raw_path(websocket), target)
            upstream = self.upstream(target)
            tls = await self._tls(upstream)
        except errors.ApiError as error:
            await websocket.send_denial_response(Response(json.dumps(error.to_status()), error.code,
                                                          media_type="application/json"))
            return
        await relay_websocket(websocket, upstream, path, prefix, tls)

    def upstream(self, target: Target) -> Upstream:
        """Where the request for ``target`` (``pods/NAME:PORT/proxy`` …) goes."""
        kind = ProxiedKind(target.rk.singular)
        raw_id = target.name or ""
        proxy_id = parse_proxy_id(kind, raw_id)
        if kind is ProxiedKind.POD:
            return pod_upstream(proxy_id, self.api.get(target.rk, target.namespace, proxy_id.name))
        if kind is ProxiedKind.NODE:
            return node_upstream(proxy_id, self.api.get(target.rk, None, proxy_id.name))
        return self._service_upstream(target, proxy_id, raw_id)

    def _service_upstream(self, target: Target, service_id: ProxyId, raw_id: str) -> Upstream:
        namespace = target.namespace or ""
        port_name = service_port_name(service_id, lambda: self.api.get(target.rk, namespace, service_id.name))
        endpoints = self.api.get(kind_for("v1", "Endpoints"), namespace, service_id.name)
        return service_upstream(service_id, raw_id, namespace, endpoints, port_name, self._pod_ips(namespace),
                                self.rng)

    def _pod_ips(self, namespace: str) -> Callable[[str], frozenset[str]]:
        pods = kind_for("v1", "Pod")

        def current(name: str) -> frozenset[str]:
            pod = errors.or_none(lambda: self.api.get(pods, namespace, name))
            return pod_ips(pod) if pod is not None else frozenset()

        return current

    async def _tls(self, upstream: Upstream) -> ssl.SSLContext | None:
        if upstream.agent is not None:
            return await self.tls.context(upstream.agent)
        if upstream.scheme is ProxyScheme.HTTPS:
            return _UNVERIFIED
        return None


def _raw_path(connection: HTTPConnection) -> str:
    """The path as the client sent it, percent-encoding and all."""
    return (connection.scope.get("raw_path") or connection.scope["path"].encode()).decode("latin-1")


def _unverified() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


_UNVERIFIED = _unverified()
