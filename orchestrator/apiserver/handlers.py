"""HTTP handlers for every resource path, generic over the kind registry.

One request goes: authenticate, resolve and authorize (all three in
:mod:`orchestrator.apiserver.app`, before anything here runs) → dispatch on the verb and
subresource → call :class:`ObjectAPI` → encode (JSON, or a Table when kubectl asks for one). The
handlers accept only an :class:`~orchestrator.apiserver.auth.Authorized` request, which nothing but
the authorizer can make, so no branch here can be reached unauthorized; and they act on the
selectors the authorizer saw (``RequestInfo.list_options``), never on a second reading of the query.

Nothing here knows a particular kind except the few subresources (``scale``, ``log``, ``exec``,
``attach``, ``portforward``, ``binding``, ``eviction``, ``proxy``) that have their own shape; logs,
exec and port-forward are relayed to the pod's node agent by the hooks
:mod:`orchestrator.apiserver.nodeproxy` provides, ``proxy`` requests by
:mod:`orchestrator.apiserver.resourceproxy`.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import AsyncIterator, Awaitable, Callable, Mapping, Protocol

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.websockets import WebSocket

from orchestrator.api import errors
from orchestrator.api.options import ListOptions, PatchType
from orchestrator.api.registry import PROXY
from orchestrator.api.wire import DELETE_OPTIONS
from orchestrator.api.remotecommand import StreamVerb
from orchestrator.apiserver.auth import Authorized
from orchestrator.apiserver.binding import bind, success_status
from orchestrator.apiserver.eviction import evict
from orchestrator.apiserver.negotiation import (
    WriteParams, decode_body, decode_patch, delete_options, encode_continue, patch_type, wants_table, write_params,
)
from orchestrator.apiserver.nodeproxy import plan_remote_command
from orchestrator.apiserver.objects import ObjectAPI, Written, apply_patch
from orchestrator.apiserver.protobuf import body_type
from orchestrator.apiserver.requestinfo import Verb
from orchestrator.apiserver.routing import Target
from orchestrator.apiserver.scale import replicas_from_scale, scale_of
from orchestrator.apiserver.tables import render_table
from orchestrator.apiserver.watch import WatchHub

#: ``kubectl logs``: the pod's log as its node agent streams it
LogStreamer = Callable[[Request, dict], Awaitable[Response]]
#: ``kubectl exec`` / ``attach``: bridge the client's WebSocket to the pod's node agent
RemoteCommand = Callable[[WebSocket, dict, StreamVerb], Awaitable[None]]
#: ``kubectl port-forward``: relay the client's SPDY session to the pod's node agent
PortForward = Callable[[WebSocket, dict], Awaitable[None]]


class Proxy(Protocol):
    """``pods/x/proxy/…``, ``services/x/proxy/…``, ``nodes/x/proxy/…``: the request passed through."""

    async def serve(self, request: Request, target: Target) -> Response: ...

    async def serve_websocket(self, websocket: WebSocket, target: Target) -> None: ...


def json_response(obj: Mapping[str, object], status: int = 200, warnings: list[str] | None = None) -> Response:
    headers = {}
    if warnings:
        # RFC 7234 warn-code 299, the form kubectl prints as "Warning: …"
        headers["Warning"] = ", ".join(f'299 - {json.dumps(w)}' for w in warnings)
    return Response(json.dumps(obj, separators=(",", ":")), status, headers=headers,
                    media_type="application/json")


def _not_allowed(request: Request, target: Target) -> errors.ApiError:
    resource = target.rk.plural + (f"/{target.subresource}" if target.subresource else "")
    where = "a collection of " if target.is_collection else ""
    return errors.method_not_allowed(f"{request.method} is not supported on {where}{resource}")


class ResourceHandlers:
    def __init__(self, api: ObjectAPI, hub: WatchHub, log_streamer: LogStreamer | None = None,
                 remote_command: RemoteCommand | None = None, port_forward: PortForward | None = None,
                 proxy: Proxy | None = None) -> None:
        self.api = api
        self.hub = hub
        self.log_streamer = log_streamer
        self.remote_command = remote_command
        self.port_forward = port_forward
        self.proxy = proxy

    async def handle(self, request: Request, authorized: Authorized) -> Response:
        """Serve an authorized resource request: the subresources with a shape of their own
        first, then the verb on the object or collection."""
        info = authorized.info
        target, verb = info.target, info.verb
        if target.name is None:
            if verb is Verb.LIST:
                return self._list(request, target, info.list_options())
            if verb is Verb.WATCH:
                return self._watch(request, target, info.list_options())
            if verb is Verb.CREATE:
                return await self._create(request, target)
            if verb is Verb.DELETE_COLLECTION:
                return await self._delete_collection(request, target, info.list_options())
            raise _not_allowed(request, target)
        name = target.name
        if target.subresource == PROXY:
            if self.proxy is None:
                raise errors.bad_request("this API server has no way to proxy requests")
            return await self.proxy.serve(request, target)
        if info.stream is not None:
            return await self._remote_command_without_websocket(request, target, name, info.stream)
        if info.port_forward:
            # an upgraded request goes to remote_command_socket instead; plain HTTP carries no session
            self.api.get(target.rk, target.namespace, name)
            raise errors.bad_request("Upgrade request required")
        if target.subresource == "log":
            if verb is not Verb.GET:
                raise _not_allowed(request, target)
            return await self._log(request, target, name)
        if target.subresource in ("binding", "eviction"):
            # create is their only verb: a Binding or an Eviction is posted, never read
            if verb is not Verb.CREATE:
                raise errors.method_not_allowed(
                    f"{request.method} is not supported on pods/{target.subresource}; POST a "
                    f"{target.subresource.capitalize()}")
            if target.subresource == "binding":
                return await self._bind(request, target, name)
            return await self._evict(request, target, name)
        if verb is Verb.GET:
            return self._get(request, target, name)
        if verb is Verb.WATCH:
            return self._watch(request, target, info.list_options())
        if verb is Verb.UPDATE:
            return await self._update(request, target, name)
        if verb is Verb.PATCH:
            return await self._patch(request, target, name)
        if verb is Verb.DELETE and target.subresource is None:
            return await self._delete(request, target, name)
        raise _not_allowed(request, target)

    # -- reads -----------------------------------------------------------------------------

    def _table(self, request: Request, target: Target, items: list[dict], revision: str,
               continue_token: str | None = None) -> dict:
        include = request.query_params.get("includeObject", "Metadata")
        return render_table(target.rk.kind, items, now=datetime.now(timezone.utc), include_object=include,
                            resource_version=revision, continue_token=continue_token)

    def _get(self, request: Request, target: Target, name: str) -> Response:
        obj = self.api.get(target.rk, target.namespace, name)
        if target.subresource == "scale":
            return json_response(scale_of(obj))
        if wants_table(request.headers.get("accept")):
            return json_response(self._table(request, target, [obj], obj["metadata"]["resourceVersion"]))
        return json_response(obj)

    def _list(self, request: Request, target: Target, options: ListOptions) -> Response:
        items, revision, after = self.api.list(target.rk, target.namespace, options)
        token = encode_continue(after, revision)
        if wants_table(request.headers.get("accept")):
            return json_response(self._table(request, target, items, str(revision), token))
        metadata = {"resourceVersion": str(revision)}
        if token:
            metadata["continue"] = token
        return json_response({"kind": target.rk.list_kind, "apiVersion": target.rk.api_version,
                              "metadata": metadata, "items": items})

    def _watch(self, request: Request, target: Target, options: ListOptions) -> Response:
        query = request.query_params
        timeout = _timeout_seconds(query)
        as_table = wants_table(request.headers.get("accept"))
        # a Table row cannot carry a bookmark's bare revision; kubectl's `get -w` asks for none
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1") and not as_table
        watch = self.hub.open(target.rk, target.namespace, options)

        async def lines() -> AsyncIterator[str]:
            async for event in watch.stream(query.get("resourceVersion"), timeout, bookmarks=bookmarks):
                obj = event.object
                if as_table and event.type != "ERROR":
                    obj = self._table(request, target, [obj], obj["metadata"]["resourceVersion"])
                yield json.dumps({"type": event.type, "object": obj}, separators=(",", ":")) + "\n"

        return StreamingResponse(lines(), media_type="application/json")

    # -- writes ----------------------------------------------------------------------------

    @staticmethod
    async def _object_body(request: Request, target: Target) -> dict:
        """The body of a write to ``target``: JSON, YAML or protobuf (kubectl's typed clients)."""
        return decode_body(await request.body(), request.headers.get("content-type"), into=body_type(target))

    @staticmethod
    async def _optional_body(request: Request) -> dict | None:
        """DELETE may carry a DeleteOptions body (kubectl sends one) or none at all."""
        raw = await request.body()
        return decode_body(raw, request.headers.get("content-type"), into=DELETE_OPTIONS) if raw.strip() else None

    @staticmethod
    def _written(written: Written, params: WriteParams, status: int = 200) -> Response:
        return json_response(written.object, status, written.warnings if params.warn else None)

    async def _create(self, request: Request, target: Target) -> Response:
        params = write_params(request.query_params)
        written = self.api.create(target.rk, target.namespace, await self._object_body(request, target),
                                  strict=params.strict, dry_run=params.dry_run)
        return self._written(written, params, 201)

    async def _update(self, request: Request, target: Target, name: str) -> Response:
        params = write_params(request.query_params)
        body = await self._object_body(request, target)
        if target.subresource == "scale":
            return self._set_replicas(target, name, replicas_from_scale(body), params,
                                      body.get("metadata", {}).get("resourceVersion"))
        written = self.api.update(target.rk, target.namespace, name, body,
                                  subresource=target.subresource, strict=params.strict, dry_run=params.dry_run)
        return self._written(written, params)

    async def _patch(self, request: Request, target: Target, name: str) -> Response:
        params = write_params(request.query_params)
        kind = patch_type(request.headers.get("content-type"))
        body = decode_patch(await request.body(), kind)
        if target.subresource == "scale":
            # A Scale has no merge keys: a strategic merge patch of it is a plain merge patch.
            current = dict(scale_of(self.api.get(target.rk, target.namespace, name)))
            patched = apply_patch(target.rk, current, kind if kind is not PatchType.STRATEGIC else PatchType.MERGE,
                                  body)
            return self._set_replicas(target, name, replicas_from_scale(patched), params, None)
        written = self.api.patch(target.rk, target.namespace, name, kind, body,
                                 subresource=target.subresource, strict=params.strict, dry_run=params.dry_run)
        return self._written(written, params)

    def _set_replicas(self, target: Target, name: str, replicas: int, params: WriteParams,
                      expected: str | None) -> Response:
        patch: dict[str, dict] = {"spec": {"replicas": replicas}}
        if expected:
            patch["metadata"] = {"resourceVersion": expected}
        written = self.api.patch(target.rk, target.namespace, name, PatchType.MERGE, patch,
                                 dry_run=params.dry_run)
        return json_response(scale_of(written.object))

    async def _delete(self, request: Request, target: Target, name: str) -> Response:
        options = delete_options(request.query_params, await self._optional_body(request))
        obj = self.api.delete(target.rk, target.namespace, name, options)
        pending = bool(obj["metadata"].get("deletionTimestamp"))
        return json_response(obj, 202 if pending else 200)

    async def _delete_collection(self, request: Request, target: Target, options: ListOptions) -> Response:
        delete = delete_options(request.query_params, await self._optional_body(request))
        items, revision, _ = self.api.list(target.rk, target.namespace, options)
        for item in items:
            with errors.ignore_not_found():
                self.api.delete(target.rk, item["metadata"].get("namespace"), item["metadata"]["name"], delete)
        return json_response({"kind": target.rk.list_kind, "apiVersion": target.rk.api_version,
                              "metadata": {"resourceVersion": str(revision)}, "items": items})

    async def _bind(self, request: Request, target: Target, name: str) -> Response:
        """``POST pods/{name}/binding``: how a scheduler assigns a pod to a node."""
        params = write_params(request.query_params)
        bind(self.api, target.namespace, name, await self._object_body(request, target), dry_run=params.dry_run)
        return json_response(success_status(), 201)

    async def _evict(self, request: Request, target: Target, name: str) -> Response:
        """``POST pods/{name}/eviction``: delete the pod as ``kubectl drain`` asks."""
        evict(self.api, target.namespace, name, await self._object_body(request, target))
        return json_response(success_status(), 201)

    # -- logs ------------------------------------------------------------------------------

    async def _log(self, request: Request, target: Target, name: str) -> Response:
        pod = self.api.get(target.rk, target.namespace, name)
        if self.log_streamer is None or not pod.get("spec", {}).get("nodeName"):
            raise errors.bad_request(
                f'pod "{name}" is not running on any node yet, so it has no logs; '
                f"check `kubectl describe pod {name}` for why")
        return await self.log_streamer(request, pod)

    # -- exec and attach --------------------------------------------------------------------

    async def remote_command_socket(self, websocket: WebSocket, authorized: Authorized) -> None:
        """``pods/{name}/exec``, ``pods/{name}/attach`` and ``pods/{name}/portforward`` over
        WebSocket (kubectl 1.30+, the python client) or, for port-forward, the SPDY upgrade; and a
        ``proxy`` subresource's WebSocket upgrade. Refusals go out as the handshake's HTTP answer."""
        target, verb = authorized.info.target, authorized.info.stream
        if target.subresource == PROXY and self.proxy is not None:
            await self.proxy.serve_websocket(websocket, target)
            return
        try:
            if (verb is None and not authorized.info.port_forward) or target.name is None:
                raise errors.bad_request("only pods/{name}/exec, pods/{name}/attach and pods/{name}/portforward are "
                                         "served over WebSocket")
            pod = self.api.get(target.rk, target.namespace, target.name)
            if self.remote_command is None or self.port_forward is None:
                raise errors.bad_request("this API server has no way to reach node agents")
        except errors.ApiError as error:
            await websocket.send_denial_response(json_response(error.to_status(), error.code))
            return
        if verb is None:
            await self.port_forward(websocket, pod)
        else:
            await self.remote_command(websocket, pod, verb)

    async def _remote_command_without_websocket(self, request: Request, target: Target, name: str,
                                                verb: StreamVerb) -> Response:
        """exec or attach without a WebSocket upgrade: kubectl's SPDY fallback, or curl.
        Everything is checked as for a WebSocket, so a missing pod or a wrong container gets its
        real error (kubectl falls back here after a refused WebSocket handshake)."""
        pod = self.api.get(target.rk, target.namespace, name)
        plan_remote_command(pod, request.query_params.multi_items(), verb)
        raise errors.bad_request(
            f"{verb.value} is served over WebSocket only (subprotocol v5.channel.k8s.io or v4.channel.k8s.io), "
            f"not SPDY; use kubectl 1.30 or newer, or `dockyard {verb.value}`")


def _timeout_seconds(query: QueryParams) -> float | None:
    raw = query.get("timeoutSeconds")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise errors.bad_request(f'timeoutSeconds must be a number of seconds, not "{raw}"') from None
