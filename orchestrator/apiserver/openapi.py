"""A deliberately small ``/openapi/v3``: enough for ``kubectl apply`` to hand validation to us.

kubectl validates manifests before sending them. When the OpenAPI v3 document of a group version
declares, on each kind's PATCH operation, the ``fieldValidation`` query parameter (and the
``x-kubernetes-group-version-kind`` it belongs to), kubectl concludes the server validates and
sends ``fieldValidation=Strict`` instead of validating client-side. dockyard's validation then
produces Kubernetes' own ``strict decoding error: unknown field …`` messages.

Request-body schemas are left out on purpose: without them kubectl computes strategic merge
patches from its compiled-in types, which carry the exact merge keys (``$setElementOrder`` and
all) that the server's strategic merge understands.
"""

from __future__ import annotations

import hashlib
import json

from orchestrator.api.registry import ResourceKind
from orchestrator.apiserver.discovery import KUBERNETES_VERSION, group_versions

_QUERY_PARAMS = [
    {"name": "fieldValidation", "in": "query", "schema": {"type": "string"},
     "description": "Strict, Warn or Ignore: what to do with unknown or duplicate fields"},
    {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
    {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
]


def _path_prefix(api_version: str) -> str:
    return "api/v1" if api_version == "v1" else f"apis/{api_version}"


def _gvk(rk: ResourceKind) -> dict:
    return {"group": rk.group, "version": rk.version, "kind": rk.kind}


def _operation(rk: ResourceKind, action: str) -> dict:
    return {
        "operationId": f"{action}{rk.kind}",
        "parameters": _QUERY_PARAMS if action in ("patch", "create", "replace") else [],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rk),
    }


def group_version_document(api_version: str) -> dict | None:
    kinds = group_versions().get(api_version)
    if kinds is None:
        return None
    paths = {}
    for rk in kinds:
        scope = "/namespaces/{namespace}" if rk.namespaced else ""
        base = f"/{_path_prefix(api_version)}{scope}/{rk.plural}"
        paths[base] = {"get": _operation(rk, "list"), "post": _operation(rk, "create")}
        paths[base + "/{name}"] = {
            "get": _operation(rk, "get"), "put": _operation(rk, "replace"),
            "patch": _operation(rk, "patch"), "delete": _operation(rk, "delete"),
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (dockyard)", "version": KUBERNETES_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": {}},
    }


def root_document() -> dict:
    paths = {}
    for api_version in group_versions():
        digest = hashlib.sha256(json.dumps(group_version_document(api_version), sort_keys=True).encode())
        prefix = _path_prefix(api_version)
        paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}?hash={digest.hexdigest()[:32].upper()}"}
    return {"paths": paths}


def document_for(path: str) -> dict | None:
    """The document for ``api/v1`` or ``apis/<group>/<version>``."""
    if path == "api/v1":
        return group_version_document("v1")
    if path.startswith("apis/"):
        return group_version_document(path.removeprefix("apis/"))
    return None
