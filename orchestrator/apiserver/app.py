"""The ASGI application: one dispatcher in front of discovery, OpenAPI, health and resources.

Every request passes the same gate, in this order: body size (413 over the limit, before
anything is parsed; a ``proxy`` subresource's body is not the API's, and streams through to the
app unread, whatever its size), authentication (401; a token-less GET of a public object such as
``kube-public/cluster-info`` proceeds as ``system:anonymous``), then routing. A resource request
is then resolved into its :class:`~orchestrator.apiserver.requestinfo.RequestInfo` (verb,
resource, subresource, namespace, name, selectors) and authorized (403) here, in one place, before
any handler sees it: the handlers accept only the :class:`~orchestrator.apiserver.auth.Authorized`
request that authorization returns. Discovery, OpenAPI, ``/version`` and ``/metrics`` are open to
every authenticated caller, as Kubernetes' ``system:discovery`` role opens them. Errors of any layer
are :class:`~orchestrator.api.errors.ApiError` and leave as ``metav1.Status`` JSON; an unexpected
exception becomes a 500 Status and is logged with its traceback, never a bare HTML page.
Besides the Kubernetes paths there is one of our own, the join exchange
(:mod:`orchestrator.apiserver.join`). WebSocket requests (``kubectl exec``, ``attach``, an app's WebSocket
through a ``proxy`` subresource) pass the same token gate, resolver and authorizer, then go to
:meth:`ResourceHandlers.remote_command_socket`; a refusal is the handshake's HTTP answer, a ``metav1.Status``
as for any other request.
"""

from __future__ import annotations

import logging
import time
from http import HTTPMethod
from typing import Callable, Mapping, Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from orchestrator.api import errors
from orchestrator.api.bootstrap import JOIN_PATH
from orchestrator.api.registry import PROXY
from orchestrator.apiserver import discovery, health, openapi, protobuf
from orchestrator.apiserver.auth import ANONYMOUS_GET_PATHS, PUBLIC_PATHS, authorize_request, bearer_token
from orchestrator.apiserver.handlers import ResourceHandlers, json_response
from orchestrator.apiserver.join import JoinEndpoint
from orchestrator.apiserver.metrics import Metrics, reported_verb
from orchestrator.apiserver.requestinfo import resolve
from orchestrator.apiserver.routing import Target, parse_resource_path
from orchestrator.cluster.identity import Identity, anonymous_identity

log = logging.getLogger("dockyard.apiserver")

#: Kubernetes' own limit on request bodies
MAX_BODY_BYTES = 3 * 1024 * 1024

Authenticator = Callable[[str], Identity | None]


class ApiServerApp:
    def __init__(self, handlers: ResourceHandlers, authenticate: Authenticator, *,
                 health_checks: Mapping[health.Endpoint, Sequence[health.Check]] | None = None,
                 join: JoinEndpoint | None = None,
                 more_metrics: Callable[[], list[str]] = list) -> None:
        self.handlers = handlers
        self.authenticate = authenticate
        self.join = join
        self.health = health_checks or {endpoint: [health.PING] for endpoint in health.Endpoint}
        #: series of the rest of the process (the controllers'), appended to ``/metrics``
        self.more_metrics = more_metrics
        self.metrics = Metrics()
        # Every method HTTP defines reaches dispatch, so that one the API has no verb for is
        # answered after authentication and as a metav1.Status (405), like everything else.
        self.asgi = Starlette(routes=[Route("/{path:path}", self.dispatch, methods=[m.value for m in HTTPMethod]),
                                      WebSocketRoute("/{path:path}", self.websocket)])

    async def dispatch(self, request: Request) -> Response:
        started = time.perf_counter()
        resource = "nonresource"
        try:
            path = request.url.path.rstrip("/") or "/"
            if not _proxied(path):
                await self._read_body(request)
            token = bearer_token(request.headers.get("authorization"))
            if token is None and request.method == "GET" and path in ANONYMOUS_GET_PATHS:
                request.state.identity = anonymous_identity()
            elif path not in PUBLIC_PATHS:
                identity = self.authenticate(token or "")
                if identity is None:
                    raise errors.unauthorized()
                request.state.identity = identity
            response, resource = await self._route(request, path)
        except errors.ApiError as error:
            response = json_response(error.to_status(), error.code)
        except Exception:  # noqa: BLE001 - the edge: report, never leak a traceback page
            log.exception("internal error serving %s %s", request.method, request.url.path)
            internal = errors.internal("an internal error occurred; see the server log for details")
            response = json_response(internal.to_status(), internal.code)
        response = protobuf.answer(request.headers.get("accept"), response)
        # a resource request left its resolved self on its state, refused or not: the labels
        # kube-apiserver gives it (LIST, WATCH; the resource of a 404 too) come from there
        info = getattr(request.state, "request_info", None)
        if info is not None:
            resource = info.target.rk.plural
        self.metrics.observe(reported_verb(request.method, info), resource, response.status_code,
                             time.perf_counter() - started)
        return response

    @staticmethod
    async def _read_body(request: Request) -> None:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise errors.too_large(MAX_BODY_BYTES)
        if request.method in ("GET", "HEAD"):
            return
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise errors.too_large(MAX_BODY_BYTES)
            chunks.append(chunk)
        request._body = b"".join(chunks)  # starlette's cache: later request.body() calls read this

    async def _route(self, request: Request, path: str) -> tuple[Response, str]:
        if (checked := health.route(path)) is not None:
            endpoint, single = checked
            result = health.answer(endpoint, self.health[endpoint], single, "verbose" in request.query_params,
                                   request.query_params.getlist("exclude"))
            return PlainTextResponse(result.text, result.status), "nonresource"
        if path == "/version":
            return json_response(discovery.version_info()), "nonresource"
        if path == "/metrics":
            hub = self.handlers.hub
            text = self.metrics.render(watchers=len(hub.watches), revision=self.handlers.api.store.revision(),
                                       more=self.more_metrics())
            return PlainTextResponse(text, media_type="text/plain; version=0.0.4"), "nonresource"
        if path == JOIN_PATH and self.join is not None:
            token = bearer_token(request.headers.get("authorization")) or ""
            return await self.join.handle(request, token), "nonresource"
        if path == "/openapi/v3":
            return Response(openapi.root_document(), media_type="application/json"), "nonresource"
        if path.startswith("/openapi/v3/"):
            return _openapi_document(request, path.removeprefix("/openapi/v3/")), "nonresource"
        segments = [s for s in path.split("/") if s]
        if segments == ["api"]:
            return json_response(discovery.api_versions()), "nonresource"
        if segments == ["apis"]:
            return json_response(discovery.api_group_list()), "nonresource"
        if segments[:1] == ["apis"] and len(segments) == 2:
            return _found(discovery.api_group(segments[1])), "nonresource"
        if segments[:1] == ["api"] and len(segments) == 2:
            return _found(discovery.api_resource_list(segments[1])), "nonresource"
        if segments[:1] == ["apis"] and len(segments) == 3:
            return _found(discovery.api_resource_list(f"{segments[1]}/{segments[2]}")), "nonresource"
        target = _resource_target(segments)
        info = resolve(request.method, target, request.query_params)
        request.state.request_info = info
        authorized = authorize_request(request.state.identity, info, self.handlers.api)
        return await self.handlers.handle(request, authorized), target.rk.plural

    async def websocket(self, websocket: WebSocket) -> None:
        try:
            identity = self.authenticate(bearer_token(websocket.headers.get("authorization")) or "")
            if identity is None:
                raise errors.unauthorized()
            target = _resource_target([s for s in websocket.url.path.split("/") if s])
            # the upgrade is a GET; exec and attach resolve to create whatever the method
            info = resolve("GET", target, websocket.query_params)
            authorized = authorize_request(identity, info, self.handlers.api)
        except errors.ApiError as error:
            await websocket.send_denial_response(json_response(error.to_status(), error.code))
            return
        await self.handlers.remote_command_socket(websocket, authorized)


def _resource_target(segments: list[str]) -> Target:
    """The resource a path below ``/api/{version}`` or ``/apis/{group}/{version}`` names; 404 if none."""
    target = None
    if segments[:1] == ["api"] and len(segments) > 2:
        target = parse_resource_path("", segments[1], segments[2:])
    elif segments[:1] == ["apis"] and len(segments) > 3:
        target = parse_resource_path(segments[1], segments[2], segments[3:])
    if target is None:
        raise _not_found()
    return target


def _proxied(path: str) -> bool:
    """Whether ``path`` is a ``proxy`` subresource's (``…/pods/x/proxy/…``)."""
    try:
        return _resource_target([s for s in path.split("/") if s]).subresource == PROXY
    except errors.ApiError:
        return False


def _not_found() -> errors.ApiError:
    return errors.ApiError("the server could not find the requested resource", errors.StatusReason.NOT_FOUND, 404)


def _openapi_document(request: Request, path: str) -> Response:
    """A group version's OpenAPI document, with the caching Kubernetes gives it: a request naming
    an outdated hash is sent to the current one, a matching ``If-None-Match`` gets a 304."""
    document = openapi.document_for(path)
    if document is None:
        raise _not_found()
    asked = request.query_params.get("hash")
    if asked is not None and asked != document.hash:
        return RedirectResponse(f"/openapi/v3/{path}?hash={document.hash}", status_code=301)
    headers = openapi.cache_headers(document, asked)
    if request.headers.get("if-none-match") == document.etag:
        return Response(status_code=304, headers=headers)
    return Response(document.body, headers=headers, media_type="application/json")


def _found(document: dict | None) -> Response:
    if document is None:
        raise _not_found()
    return json_response(document)

