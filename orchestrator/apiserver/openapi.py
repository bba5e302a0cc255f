"""``/openapi/v3``: one OpenAPI v3 document per group version, as kube-apiserver publishes them.

kubectl reads these documents for three things:

* ``kubectl explain`` finds a resource's kind in the ``x-kubernetes-group-version-kind`` of its
  paths' operations, then the component schema carrying the same extension, and prints the field
  descriptions and types along the path asked for;
* ``kubectl apply`` and ``kubectl diff`` compute a strategic merge patch from the kind's schema
  when its PATCH operation accepts ``application/strategic-merge-patch+json``. The merge keys and
  strategies come from the server's own strategic-merge tables, so kubectl's patch and the server's
  merge agree (:mod:`orchestrator.api.openapi_schemas`);
* the ``fieldValidation`` query parameter on those operations tells kubectl that the server
  validates fields, so it sends ``fieldValidation=Strict`` and prints dockyard's own
  ``strict decoding error: unknown field …`` messages.

The root document lists each group version's document under a ``hash`` of its content. A request
for that URL is answered as Kubernetes answers it: immutable for a year (kubectl's HTTP cache then
reads it from disk instead of the network), a stale hash redirected to the current one, and an
``ETag`` for conditional requests. The documents depend on the code alone, so each is built once per
process, on first use, and kept as bytes; building all of them takes a fraction of a second.

``/openapi/v2`` is not served (404, as from a server without it): kubectl asks for it only in
protobuf, for what v3 now answers, and carries on without it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from orchestrator.api import wire
from orchestrator.api.openapi_schemas import Root, Schema, component_name, component_schemas, ref
from orchestrator.api.options import PatchType
from orchestrator.api.registry import ResourceKind
from orchestrator.apiserver.discovery import KUBERNETES_VERSION, group_versions

_YEAR_SECONDS = 365 * 24 * 3600
_JSON = "application/json"
_BODY_TYPES = (_JSON, "application/yaml", wire.MEDIA_TYPE)
_ANSWER_TYPES = (_JSON, wire.MEDIA_TYPE)
#: what a PATCH body is, per Content-Type (server-side apply is not served, so not offered)
_PATCH_BODIES: dict[str, Schema] = {
    PatchType.JSON.value: {"type": "array", "items": {"type": "object"},
                           "description": "RFC 6902 operations, applied in order"},
    PatchType.MERGE.value: {"type": "object", "description": "An RFC 7386 merge patch: maps merge, lists are replaced"},
    PatchType.STRATEGIC.value: {"type": "object",
                                "description": "A strategic merge patch: lists merge by the keys this document "
                                               "names (x-kubernetes-patch-merge-key)"},
}


def _query(name: str, description: str, kind: str = "string") -> Schema:
    return {"name": name, "in": "query", "description": description, "schema": {"type": kind}}


_DRY_RUN = _query("dryRun", "All: check and answer as if the write happened, and store nothing.")
_FIELD_MANAGER = _query("fieldManager", "The name of the writer (kubectl sends its own); dockyard records no "
                                        "managed fields and only accepts it.")
_FIELD_VALIDATION = _query("fieldValidation", "Strict, Warn (the default) or Ignore: whether unknown or "
                                              "duplicate fields in the body are an error, a warning or nothing.")
_WRITE = [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION]
_LIST = [
    _query("labelSelector", "Only objects whose labels match, such as app=web,tier!=db or env in (a,b)."),
    _query("fieldSelector", "Only objects whose fields match, such as metadata.name=x or spec.nodeName=node-1."),
    _query("limit", "At most this many objects; the answer's metadata.continue fetches the next page.", "integer"),
    _query("continue", "The metadata.continue token of the previous page."),
    _query("resourceVersion", "With watch: the revision to start after (0 first replays every object)."),
    _query("watch", "true: stream the changes as newline-separated JSON events instead of listing.", "boolean"),
    _query("timeoutSeconds", "End a watch after this many seconds.", "integer"),
]
_DELETE = [
    _DRY_RUN,
    _query("gracePeriodSeconds", "Seconds a pod's containers get to stop; 0 deletes at once.", "integer"),
    _query("propagationPolicy", "What happens to the objects this one owns: Background (the default: deleted "
                                "afterwards), Foreground (deleted first) or Orphan (kept)."),
]


@dataclass(frozen=True)
class Document:
    """One served document: its JSON bytes and the hash that names this version of it."""

    body: bytes
    hash: str

    @property
    def etag(self) -> str:
        return f'"{self.hash}"'


def path_of(api_version: str) -> str:
    """``v1`` → ``api/v1``; ``apps/v1`` → ``apis/apps/v1``: where its document hangs below /openapi/v3."""
    return "api/v1" if api_version == "v1" else f"apis/{api_version}"


@functools.cache
def group_version_document(api_version: str) -> Document | None:
    kinds = group_versions().get(api_version)
    if kinds is None:
        return None
    document = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (dockyard)", "version": KUBERNETES_VERSION["gitVersion"]},
        "paths": _paths(api_version, kinds),
        "components": {"schemas": component_schemas(_roots(kinds))},
    }
    body = json.dumps(document, separators=(",", ":")).encode()
    return Document(body, hashlib.sha512(body).hexdigest()[:128].upper())


@functools.cache
def root_document() -> bytes:
    paths = {}
    for api_version in group_versions():
        document = group_version_document(api_version)
        assert document is not None
        paths[path_of(api_version)] = {
            "serverRelativeURL": f"/openapi/v3/{path_of(api_version)}?hash={document.hash}"}
    return json.dumps({"paths": paths}, separators=(",", ":")).encode()


def document_for(path: str) -> Document | None:
    """The document for ``api/v1`` or ``apis/<group>/<version>``, or None."""
    if path == "api/v1":
        return group_version_document("v1")
    if path.startswith("apis/") and path.count("/") == 2:
        return group_version_document(path.removeprefix("apis/"))
    return None


def cache_headers(document: Document, requested_hash: str | None) -> dict[str, str]:
    """Kubernetes' answer headers: a URL naming the current hash never changes, so it may be kept
    for a year; ``Vary: Accept`` keeps a JSON copy and a protobuf copy apart in caches."""
    headers = {"ETag": document.etag}
    if requested_hash == document.hash:
        headers.update({"Cache-Control": "public, immutable", "Vary": "Accept",
                        "Expires": formatdate(_expires(), usegmt=True)})
    return headers


def _expires() -> float:
    return time.time() + _YEAR_SECONDS


# ── roots and paths ──────────────────────────────────────────────────────────────────────────


#: the body of every ``…/scale`` subresource
_SCALE = Root("autoscaling", "v1", "Scale", None)


def _roots(kinds: list[ResourceKind]) -> list[Root]:
    roots = []
    for rk in kinds:
        roots.append(Root(rk.group, rk.version, rk.kind, rk.kind))
        roots.append(Root(rk.group, rk.version, rk.list_kind, None))
        if "scale" in rk.subresources:
            roots.append(_SCALE)
    return list(dict.fromkeys(roots))


def _paths(api_version: str, kinds: list[ResourceKind]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    prefix = "/" + path_of(api_version)
    for rk in kinds:
        namespace = "/namespaces/{namespace}" if rk.namespaced else ""
        collection = f"{prefix}{namespace}/{rk.plural}"
        item = collection + "/{name}"
        ops = _Operations(rk)
        paths[collection] = {
            "get": ops.list(), "post": ops.create(), "delete": ops.delete_collection(),
            "parameters": _path_params(rk.namespaced, named=False),
        }
        paths[item] = {
            "get": ops.read(), "put": ops.replace(), "patch": ops.patch(), "delete": ops.delete(),
            "parameters": _path_params(rk.namespaced, named=True),
        }
        if rk.namespaced:
            paths[f"{prefix}/{rk.plural}"] = {"get": ops.list(all_namespaces=True), "parameters": []}
        for subresource in ("status", "ephemeralcontainers"):
            if subresource in rk.subresources:
                paths[f"{item}/{subresource}"] = {
                    "get": ops.read(subresource), "put": ops.replace(subresource),
                    "patch": ops.patch(subresource), "parameters": _path_params(rk.namespaced, named=True)}
        if "scale" in rk.subresources:
            scale = _Operations(rk, body=_SCALE)
            paths[f"{item}/scale"] = {
                "get": scale.read("scale"), "put": scale.replace("scale"), "patch": scale.patch("scale"),
                "parameters": _path_params(rk.namespaced, named=True)}
        if "log" in rk.subresources:
            paths[f"{item}/log"] = {"get": ops.log(), "parameters": _path_params(rk.namespaced, named=True)}
    return paths


def _path_params(namespaced: bool, *, named: bool) -> list[Schema]:
    params = []
    if named:
        params.append({"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
                       "description": "The object's name."})
    if namespaced:
        params.append({"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"},
                       "description": "The namespace the object lives in."})
    return params


class _Operations:
    """The operations of one kind's paths, named as kube-apiserver names them
    (``patchAppsV1NamespacedDeployment``, ``readCoreV1NamespacedPodStatus``)."""

    def __init__(self, rk: ResourceKind, body: Root | None = None) -> None:
        self.rk = rk
        self.body = body or Root(rk.group, rk.version, rk.kind, rk.kind)
        group = "".join(part.capitalize() for part in rk.group.removesuffix(".k8s.io").split(".")) or "Core"
        self.group_version = f"{group}{rk.version.capitalize()}"
        self.scope = "Namespaced" if rk.namespaced else ""

    def _op(self, verb: str, action: str, subresource: str | None, answer: Root | None, *,
            parameters: list[Schema], status_codes: tuple[str, ...] = ("200",), all_namespaces: bool = False) -> Schema:
        suffix = subresource.capitalize() if subresource else ""
        collection = "Collection" if action == "deletecollection" else ""
        operation_id = f"{verb}{self.group_version}{collection}{self.scope}{self.rk.kind}{suffix}"
        if all_namespaces:
            operation_id = f"{verb}{self.group_version}{self.rk.kind}ForAllNamespaces"
        # a list answers with the list kind, but the operation belongs to the kind, as in Kubernetes
        content = {media: {"schema": ref(_component(answer or self.body))} for media in _ANSWER_TYPES}
        gvk = self.body
        return {
            "operationId": operation_id,
            "description": f"{_VERBS[action]} {self._what(subresource, action)}",
            "parameters": parameters,
            "responses": {code: {"description": "OK" if code == "200" else _CODES[code], "content": content}
                          for code in status_codes},
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": {"group": gvk.group, "version": gvk.version, "kind": gvk.kind},
        }

    def _what(self, subresource: str | None, action: str) -> str:
        if action in ("list", "deletecollection"):
            return f"{self.rk.kind} objects"
        return f"the {subresource} of a {self.rk.kind}" if subresource else f"a {self.rk.kind}"

    def _with_body(self, operation: Schema, content: dict[str, Schema]) -> Schema:
        operation["requestBody"] = {"required": True, "content": content}
        return operation

    def list(self, *, all_namespaces: bool = False) -> Schema:
        return self._op("list", "list", None, self._list_root(), parameters=_LIST, all_namespaces=all_namespaces)

    def create(self) -> Schema:
        return self._with_body(
            self._op("create", "post", None, None, parameters=_WRITE, status_codes=("200", "201", "202")),
            {media: {"schema": ref(_component(self.body))} for media in _BODY_TYPES})

    def delete_collection(self) -> Schema:
        return self._op("delete", "deletecollection", None, self._list_root(), parameters=_LIST + _DELETE)

    def read(self, subresource: str | None = None) -> Schema:
        return self._op("read", "get", subresource, None, parameters=[])

    def replace(self, subresource: str | None = None) -> Schema:
        return self._with_body(
            self._op("replace", "put", subresource, None, parameters=_WRITE, status_codes=("200", "201")),
            {media: {"schema": ref(_component(self.body))} for media in _BODY_TYPES})

    def patch(self, subresource: str | None = None) -> Schema:
        return self._with_body(
            self._op("patch", "patch", subresource, None, parameters=_WRITE, status_codes=("200", "201")),
            {media: {"schema": schema} for media, schema in _PATCH_BODIES.items()})

    def delete(self) -> Schema:
        return self._op("delete", "delete", None, None, parameters=_DELETE, status_codes=("200", "202"))

    def log(self) -> Schema:
        operation = self._op("read", "get", "log", None, parameters=_LOG)
        operation["responses"] = {"200": {"description": "The container's output, as text",
                                          "content": {"text/plain": {"schema": {"type": "string"}}}}}
        return operation

    def _list_root(self) -> Root:
        return Root(self.rk.group, self.rk.version, self.rk.list_kind, None)


_CODES = {"201": "Created", "202": "Accepted"}
_VERBS = {"get": "Read", "list": "List", "post": "Create", "put": "Replace", "patch": "Patch", "delete": "Delete",
          "deletecollection": "Delete a collection of"}
_LOG = [
    _query("container", "Which container's output; needed when the pod has more than one."),
    _query("follow", "true: keep the stream open and send new lines as they come.", "boolean"),
    _query("previous", "true: the output of the container's previous run (after a restart).", "boolean"),
    _query("tailLines", "Only the last this many lines.", "integer"),
    _query("sinceSeconds", "Only lines newer than this many seconds.", "integer"),
    _query("timestamps", "true: start every line with its RFC 3339 time.", "boolean"),
    _query("limitBytes", "Stop after this many bytes.", "integer"),
]


def _component(root: Root) -> str:
    return component_name(root.message)
