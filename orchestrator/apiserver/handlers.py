"""HTTP handlers for every resource path, generic over the kind registry.

One request goes: authenticate (middleware) → parse the path into a :class:`Target` → pick the
verb from the method → authorize → call :class:`ObjectAPI` → encode (JSON, or a Table when kubectl
asks for one). Nothing here knows a particular kind except the few subresources (``scale``,
``log``, ``exec``, ``binding``, ``eviction``) that have their own shape; logs and exec are
relayed to the pod's node agent by the hooks :mod:`orchestrator.apiserver.nodeproxy` provides.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response, StreamingResponse
from starlette.websockets import WebSocket

from orchestrator.api import errors
from orchestrator.api.wire import DELETE_OPTIONS
from orchestrator.api.remotecommand import StreamVerb
from orchestrator.apiserver.auth import Attributes, Verb, authorize
from orchestrator.apiserver.binding import bind, success_status
from orchestrator.apiserver.eviction import evict
from orchestrator.apiserver.negotiation import (
    decode_body, delete_options, encode_continue, list_options, patch_type, wants_table, write_params,
)
from orchestrator.apiserver.nodeproxy import plan_remote_command
from orchestrator.api.options import PatchType
from orchestrator.apiserver.objects import ObjectAPI, Written, apply_patch
from orchestrator.apiserver.protobuf import body_type
from orchestrator.apiserver.routing import Target
from orchestrator.apiserver.scale import replicas_from_scale, scale_of
from orchestrator.apiserver.tables import render_table
from orchestrator.apiserver.watch import WatchHub

#: field selectors each kind accepts besides metadata.name / metadata.namespace (as Kubernetes)
FIELD_SELECTORS = {
    "Pod": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "status.phase", "status.podIP", "status.nominatedNodeName", "spec.hostNetwork"},
    "Event": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
              "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
              "reason", "reportingComponent", "source", "type"},
    "Node": {"spec.unschedulable"},
    "Secret": {"type"},
    "Namespace": {"status.phase"},
    "ReplicaSet": {"status.replicas"},
}


def _field_paths(kind: str) -> frozenset[str]:
    return frozenset({"metadata.name", "metadata.namespace"} | FIELD_SELECTORS.get(kind, set()))


def json_response(obj: dict, status: int = 200, warnings: list[str] | None = None) -> Response:
    headers = {}
    if warnings:
        # RFC 7234 warn-code 299, the form kubectl prints as "Warning: …"
        headers["Warning"] = ", ".join(f'299 - {json.dumps(w)}' for w in warnings)
    return Response(json.dumps(obj, separators=(",", ":")), status, headers=headers,
                    media_type="application/json")


def status_success(rk, name: str, uid: str | None) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": name, "group": rk.group, "kind": rk.plural, "uid": uid}}


#: the pod subresources that stream a process's input and output
_STREAM_VERBS = {verb.value: verb for verb in StreamVerb}


class ResourceHandlers:
    def __init__(self, api: ObjectAPI, hub: WatchHub, log_streamer=None, remote_command=None) -> None:
        self.api = api
        self.hub = hub
        self.log_streamer = log_streamer
        self.remote_command = remote_command  # (websocket, pod, StreamVerb) -> relay to the node

    async def handle(self, request: Request, target: Target) -> Response:
        method = request.method
        query = request.query_params
        if target.subresource == "log":
            return await self._log(request, target)
        if target.subresource in _STREAM_VERBS:
            return await self._remote_command_without_websocket(request, target)
        if target.subresource == "binding":
            return await self._bind(request, target)
        if target.subresource == "eviction":
            return await self._evict(request, target)
        if target.is_collection:
            if method == "GET":
                options = list_options(query, _field_paths(target.rk.kind))
                verb = Verb.WATCH if query.get("watch") in ("true", "1") else Verb.LIST
                self._authorize(request, verb, target, options)
                if verb is Verb.WATCH:
                    return self._watch(request, target, options)
                return self._list(request, target, options)
            if method == "POST":
                self._authorize(request, Verb.CREATE, target)
                return await self._create(request, target)
            if method == "DELETE":
                options = list_options(query, _field_paths(target.rk.kind))
                self._authorize(request, Verb.DELETE_COLLECTION, target, options)
                return await self._delete_collection(request, target, options)
            raise errors.method_not_allowed(f"{method} is not supported on a collection")
        if method == "GET":
            if query.get("watch") in ("true", "1"):
                options = list_options({"fieldSelector": f"metadata.name={target.name}"})
                self._authorize(request, Verb.WATCH, target, options)
                return self._watch(request, target, options)
            self._authorize(request, Verb.GET, target)
            return self._get(request, target)
        if method == "PUT":
            self._authorize(request, Verb.UPDATE, target)
            return await self._update(request, target)
        if method == "PATCH":
            self._authorize(request, Verb.PATCH, target)
            return await self._patch(request, target)
        if method == "DELETE":
            if target.subresource:
                raise errors.method_not_allowed(f"DELETE is not supported on {target.rk.plural}/{target.subresource}")
            self._authorize(request, Verb.DELETE, target)
            return await self._delete(request, target)
        raise errors.method_not_allowed(f"{method} is not supported on {target.rk.plural}")

    def _authorize(self, request: HTTPConnection, verb: Verb, target: Target, options=None) -> None:
        attrs = Attributes(verb, target.rk, target.namespace, target.name, target.subresource, options)
        authorize(request.state.identity, attrs, self.api)

    # -- reads -----------------------------------------------------------------------------

    def _table(self, request: Request, target: Target, items: list[dict], revision: str,
               continue_token: str | None = None) -> dict:
        include = request.query_params.get("includeObject", "Metadata")
        return render_table(target.rk.kind, items, now=datetime.now(timezone.utc), include_object=include,
                            resource_version=revision, continue_token=continue_token)

    def _get(self, request: Request, target: Target) -> Response:
        obj = self.api.get(target.rk, target.namespace, target.name)
        if target.subresource == "scale":
            return json_response(scale_of(obj))
        if wants_table(request.headers.get("accept")):
            return json_response(self._table(request, target, [obj], obj["metadata"]["resourceVersion"]))
        return json_response(obj)

    def _list(self, request: Request, target: Target, options) -> Response:
        items, revision, after = self.api.list(target.rk, target.namespace, options)
        token = encode_continue(after, revision)
        if wants_table(request.headers.get("accept")):
            return json_response(self._table(request, target, items, str(revision), token))
        metadata = {"resourceVersion": str(revision)}
        if token:
            metadata["continue"] = token
        return json_response({"kind": target.rk.list_kind, "apiVersion": target.rk.api_version,
                              "metadata": metadata, "items": items})

    def _watch(self, request: Request, target: Target, options) -> Response:
        query = request.query_params
        timeout = float(query["timeoutSeconds"]) if query.get("timeoutSeconds") else None
        as_table = wants_table(request.headers.get("accept"))
        watch = self.hub.open(target.rk, target.namespace, options)

        async def lines():
            async for event in watch.stream(query.get("resourceVersion"), timeout):
                obj = event.object
                if as_table and event.type != "ERROR":
                    obj = self._table(request, target, [obj], obj["metadata"]["resourceVersion"])
                yield json.dumps({"type": event.type, "object": obj}, separators=(",", ":")) + "\n"

        return StreamingResponse(lines(), media_type="application/json")

    # -- writes ----------------------------------------------------------------------------

    async def _body(self, request: Request, target: Target) -> dict:
        """The body of a write to ``target``: JSON, YAML or protobuf (kubectl's typed clients)."""
        body = decode_body(await request.body(), request.headers.get("content-type"), into=body_type(target))
        assert isinstance(body, dict)  # a list is refused unless allow_list
        return body

    @staticmethod
    async def _optional_body(request: Request) -> dict | None:
        """DELETE may carry a DeleteOptions body (kubectl sends one) or none at all."""
        raw = await request.body()
        return decode_body(raw, request.headers.get("content-type"), into=DELETE_OPTIONS) if raw.strip() else None

    @staticmethod
    def _written(written: Written, params, status: int = 200) -> Response:
        return json_response(written.object, status, written.warnings if params.warn else None)

    async def _create(self, request: Request, target: Target) -> Response:
        if target.subresource:
            raise errors.method_not_allowed(f"POST is not supported on {target.rk.plural}/{target.subresource}")
        params = write_params(request.query_params)
        written = self.api.create(target.rk, target.namespace, await self._body(request, target),
                                  strict=params.strict, dry_run=params.dry_run)
        return self._written(written, params, 201)

    async def _update(self, request: Request, target: Target) -> Response:
        params = write_params(request.query_params)
        body = await self._body(request, target)
        if target.subresource == "scale":
            return self._set_replicas(target, replicas_from_scale(body), params,
                                      body.get("metadata", {}).get("resourceVersion"))
        written = self.api.update(target.rk, target.namespace, target.name, body,
                                  subresource=target.subresource, strict=params.strict, dry_run=params.dry_run)
        return self._written(written, params)

    async def _patch(self, request: Request, target: Target) -> Response:
        params = write_params(request.query_params)
        kind = patch_type(request.headers.get("content-type"))
        body = decode_body(await request.body(), "application/json", allow_list=kind is PatchType.JSON)
        if target.subresource == "scale":
            current = scale_of(self.api.get(target.rk, target.namespace, target.name))
            patched = apply_patch(target.rk, current, kind if kind is not PatchType.STRATEGIC else PatchType.MERGE,
                                   body)
            return self._set_replicas(target, replicas_from_scale(patched), params, None)
        written = self.api.patch(target.rk, target.namespace, target.name, kind, body,
                                 subresource=target.subresource, strict=params.strict, dry_run=params.dry_run)
        return self._written(written, params)

    def _set_replicas(self, target: Target, replicas: int, params, expected: str | None) -> Response:
        patch = {"spec": {"replicas": replicas}}
        if expected:
            patch["metadata"] = {"resourceVersion": expected}
        written = self.api.patch(target.rk, target.namespace, target.name, PatchType.MERGE, patch,
                                 dry_run=params.dry_run)
        return json_response(scale_of(written.object))

    async def _delete(self, request: Request, target: Target) -> Response:
        options = delete_options(request.query_params, await self._optional_body(request))
        obj = self.api.delete(target.rk, target.namespace, target.name, options)
        pending = bool(obj["metadata"].get("deletionTimestamp"))
        return json_response(obj, 202 if pending else 200)

    async def _delete_collection(self, request: Request, target: Target, options) -> Response:
        delete = delete_options(request.query_params, await self._optional_body(request))
        items, revision, _ = self.api.list(target.rk, target.namespace, options)
        for item in items:
            try:
                self.api.delete(target.rk, item["metadata"].get("namespace"), item["metadata"]["name"], delete)
            except errors.ApiError as error:
                if error.code != 404:
                    raise
        return json_response({"kind": target.rk.list_kind, "apiVersion": target.rk.api_version,
                              "metadata": {"resourceVersion": str(revision)}, "items": items})

    async def _bind(self, request: Request, target: Target) -> Response:
        """``POST pods/{name}/binding``: how a scheduler assigns a pod to a node (create is its only verb)."""
        if request.method != "POST":
            raise errors.method_not_allowed(f"{request.method} is not supported on pods/binding; POST a Binding")
        self._authorize(request, Verb.CREATE, target)
        params = write_params(request.query_params)
        bind(self.api, target.namespace, target.name, await self._body(request, target), dry_run=params.dry_run)
        return json_response(success_status(), 201)

    async def _evict(self, request: Request, target: Target) -> Response:
        """``POST pods/{name}/eviction``: delete the pod as ``kubectl drain`` asks (create is its only verb)."""
        if request.method != "POST":
            raise errors.method_not_allowed(f"{request.method} is not supported on pods/eviction; POST an Eviction")
        self._authorize(request, Verb.CREATE, target)
        evict(self.api, target.namespace, target.name, await self._body(request, target))
        return json_response(success_status(), 201)

    # -- logs ------------------------------------------------------------------------------

    async def _log(self, request: Request, target: Target) -> Response:
        if request.method != "GET":
            raise errors.method_not_allowed("only GET is supported on pods/log")
        self._authorize(request, Verb.GET, target)
        pod = self.api.get(target.rk, target.namespace, target.name)
        if self.log_streamer is None or not pod.get("spec", {}).get("nodeName"):
            raise errors.bad_request(
                f'pod "{target.name}" is not running on any node yet, so it has no logs; '
                f"check `kubectl describe pod {target.name}` for why")
        return await self.log_streamer(request, pod)

    # -- exec and attach --------------------------------------------------------------------

    async def remote_command_socket(self, websocket: WebSocket, target: Target) -> None:
        """``pods/{name}/exec`` and ``pods/{name}/attach`` over WebSocket (kubectl 1.30+, the python
        client). Authorized as ``create``, as Kubernetes does since 1.30; refusals go out as the
        handshake's HTTP answer."""
        try:
            verb = _STREAM_VERBS.get(target.subresource or "")
            if verb is None or target.name is None:
                raise errors.bad_request("only pods/{name}/exec and pods/{name}/attach are served over WebSocket")
            self._authorize(websocket, Verb.CREATE, target)
            pod = self.api.get(target.rk, target.namespace, target.name)
            if self.remote_command is None:
                raise errors.bad_request("this API server has no way to reach node agents")
        except errors.ApiError as error:
            await websocket.send_denial_response(json_response(error.to_status(), error.code))
            return
        await self.remote_command(websocket, pod, verb)

    async def _remote_command_without_websocket(self, request: Request, target: Target) -> Response:
        """exec or attach without a WebSocket upgrade: kubectl's SPDY fallback, or curl.
        Everything is checked as for a WebSocket, so a missing pod or a wrong container gets its
        real error (kubectl falls back here after a refused WebSocket handshake)."""
        verb = _STREAM_VERBS[target.subresource]
        self._authorize(request, Verb.CREATE, target)
        pod = self.api.get(target.rk, target.namespace, target.name)
        plan_remote_command(pod, request.query_params.multi_items(), verb)
        raise errors.bad_request(
            f"{verb.value} is served over WebSocket only (subprotocol v5.channel.k8s.io or v4.channel.k8s.io), "
            f"not SPDY; use kubectl 1.30 or newer, or `dockyard {verb.value}`")
