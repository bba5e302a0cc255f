"""The /openapi/v3 documents: names, references, formats, list semantics, descriptions, caching.

kubectl builds its apply patches from these schemas, so the central check is that the merge
extensions they publish are exactly the server's strategic-merge tables, path by path, in both
directions. The documents are also validated as OpenAPI 3.0 by openapi-spec-validator, and served
through the real ASGI app to check Kubernetes' caching answers.
"""

from __future__ import annotations

import json
import warnings
from typing import Any, Iterator

import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

from orchestrator.api.docstrings import attribute_docstring
from orchestrator.api.meta import KubeModel
from orchestrator.api.openapi_schemas import REF_PREFIX, field_description, type_description
from orchestrator.api.patch_strategic import LIST_MAP_KEYS, MERGE_KEYS, RETAIN_KEYS, SET
from orchestrator.api.registry import KINDS, ResourceKind
from orchestrator.apiserver import openapi
from orchestrator.apiserver.app import ApiServerApp
from orchestrator.apiserver.discovery import group_versions
from orchestrator.apiserver.handlers import ResourceHandlers
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.apiserver.watch import WatchHub
from orchestrator.cluster.identity import admin_identity
from orchestrator.store import MemoryStore

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette would rather its test client ran on httpx2
    from starlette.testclient import TestClient

Schema = dict[str, Any]
GROUP_VERSIONS = sorted(group_versions())


def document(api_version: str) -> Schema:
    built = openapi.group_version_document(api_version)
    assert built is not None
    return json.loads(built.body)


def schemas(api_version: str) -> dict[str, Schema]:
    return document(api_version)["components"]["schemas"]


def kind_name(rk: ResourceKind) -> str:
    return f"io.k8s.api.{rk.group.removesuffix('.k8s.io') or 'core'}.{rk.version}.{rk.kind}"


def resolve(components: dict[str, Schema], schema: Schema) -> Schema:
    """A field's schema with its ``allOf``/``$ref`` wrapper taken off, as kubectl takes it off."""
    if "allOf" in schema:
        schema = schema["allOf"][0]
    if "$ref" in schema:
        schema = components[schema["$ref"].removeprefix(REF_PREFIX)]
    return schema


def walk(components: dict[str, Schema], schema: Schema, path: tuple[str, ...] = ()
         ) -> Iterator[tuple[tuple[str, ...], Schema]]:
    """Every field below ``schema`` with its JSON path, "*" standing for a list's elements."""
    for name, field in resolve(components, schema).get("properties", {}).items():
        yield path + (name,), field
        below = field.get("items") or field.get("additionalProperties")
        if isinstance(below, dict):
            yield from walk(components, below, path + (name, "*"))
        else:
            yield from walk(components, field, path + (name,))


def field_at(components: dict[str, Schema], root: Schema, path: tuple[str, ...]) -> Schema:
    found = dict(walk(components, root))
    assert path in found, f"no field {'.'.join(path)}"
    return found[path]


# ── names and references ─────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("rk", KINDS, ids=lambda rk: rk.kind)
def test_each_kind_has_its_kubernetes_name_and_group_version_kind(rk: ResourceKind) -> None:
    components = schemas(rk.api_version)
    gvk = {"group": rk.group, "kind": rk.kind, "version": rk.version}
    assert components[kind_name(rk)]["x-kubernetes-group-version-kind"] == [gvk]
    listing = components[kind_name(rk) + "List"]
    assert listing["x-kubernetes-group-version-kind"] == [{**gvk, "kind": rk.list_kind}]
    assert listing["properties"]["items"]["items"] == {"$ref": REF_PREFIX + kind_name(rk)}
    assert listing["required"] == ["items"]
    assert set(components[kind_name(rk)]["properties"]) >= {"apiVersion", "kind", "metadata"}


def test_shared_types_have_kubernetes_names() -> None:
    components = schemas("v1")
    for name in ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
                 "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector", "io.k8s.api.core.v1.PodSpec",
                 "io.k8s.api.core.v1.Container", "io.k8s.api.core.v1.Affinity"):
        assert name in components
    # one model, two Kubernetes types: each reference names the right one
    env = components["io.k8s.api.core.v1.EnvVarSource"]["properties"]
    assert env["configMapKeyRef"]["allOf"] == [{"$ref": REF_PREFIX + "io.k8s.api.core.v1.ConfigMapKeySelector"}]
    assert env["secretKeyRef"]["allOf"] == [{"$ref": REF_PREFIX + "io.k8s.api.core.v1.SecretKeySelector"}]
    status = components["io.k8s.api.core.v1.PodStatus"]["properties"]
    assert status["hostIPs"]["items"] == {"$ref": REF_PREFIX + "io.k8s.api.core.v1.HostIP"}
    assert status["podIPs"]["items"] == {"$ref": REF_PREFIX + "io.k8s.api.core.v1.PodIP"}
    # an embedded struct's fields sit beside its parent's, as in JSON
    assert set(components["io.k8s.api.core.v1.Probe"]["properties"]) >= {"exec", "httpGet", "periodSeconds"}
    assert "apps/v1" in group_versions() and "io.k8s.api.autoscaling.v1.Scale" in schemas("apps/v1")


@pytest.mark.parametrize("api_version", GROUP_VERSIONS)
def test_every_reference_resolves_and_every_component_is_used(api_version: str) -> None:
    body = document(api_version)
    text = json.dumps(body)
    referenced = {part.split('"', 1)[0] for part in text.split(REF_PREFIX)[1:]}
    assert referenced == set(body["components"]["schemas"])


@pytest.mark.parametrize("api_version", GROUP_VERSIONS)
def test_each_document_is_valid_openapi_3(api_version: str) -> None:
    validate(document(api_version))


# ── special types ────────────────────────────────────────────────────────────────────────────


def test_int_or_string_quantity_and_times_have_kubernetes_formats() -> None:
    core, apps = schemas("v1"), schemas("apps/v1")
    int_or_string = core["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert int_or_string["format"] == "int-or-string" and "type" not in int_or_string
    assert {"type": "integer"} in int_or_string["oneOf"] and {"type": "string"} in int_or_string["oneOf"]
    assert core["io.k8s.apimachinery.pkg.api.resource.Quantity"]["oneOf"] == [{"type": "string"}, {"type": "number"}]
    for name in ("io.k8s.apimachinery.pkg.apis.meta.v1.Time", "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"):
        assert core[name]["type"] == "string" and core[name]["format"] == "date-time"

    rolling = apps["io.k8s.api.apps.v1.RollingUpdateDeployment"]["properties"]
    assert rolling["maxSurge"]["allOf"] == [{"$ref": REF_PREFIX + "io.k8s.apimachinery.pkg.util.intstr.IntOrString"}]
    meta = core["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]
    assert meta["creationTimestamp"]["allOf"] == [{"$ref": REF_PREFIX + "io.k8s.apimachinery.pkg.apis.meta.v1.Time"}]
    limits = core["io.k8s.api.core.v1.ResourceRequirements"]["properties"]["limits"]
    assert limits["additionalProperties"] == {"$ref": REF_PREFIX + "io.k8s.apimachinery.pkg.api.resource.Quantity"}
    lease = schemas("coordination.k8s.io/v1")["io.k8s.api.coordination.v1.LeaseSpec"]["properties"]
    assert lease["renewTime"]["allOf"] == [{"$ref": REF_PREFIX + "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"}]
    secret = core["io.k8s.api.core.v1.Secret"]["properties"]
    assert secret["data"]["additionalProperties"] == {"type": "string", "format": "byte"}


def test_required_fields_follow_kubernetes() -> None:
    core, apps = schemas("v1"), schemas("apps/v1")
    assert core["io.k8s.api.core.v1.PodSpec"]["required"] == ["containers"]
    assert core["io.k8s.api.core.v1.Container"]["required"] == ["name"]
    assert core["io.k8s.api.core.v1.ContainerPort"]["required"] == ["containerPort"]
    assert apps["io.k8s.api.apps.v1.DeploymentSpec"]["required"] == ["selector", "template"]
    assert core["io.k8s.api.core.v1.Event"]["required"] == ["involvedObject"]
    assert "required" not in core["io.k8s.api.core.v1.ServiceSpec"]


# ── list semantics: the strategic-merge tables, both ways ────────────────────────────────────


def _published(field: Schema) -> tuple[str | None, bool, bool]:
    """(merge key or SET, retains keys, merges) as a field's extensions say."""
    strategies = set(field.get("x-kubernetes-patch-strategy", "").split(",")) - {""}
    merges = "merge" in strategies
    key = field.get("x-kubernetes-patch-merge-key", SET if merges else None)
    return key, "retainKeys" in strategies, merges


@pytest.mark.parametrize("rk", KINDS, ids=lambda rk: rk.kind)
def test_merge_extensions_are_exactly_the_strategic_merge_tables(rk: ResourceKind) -> None:
    components = schemas(rk.api_version)
    table, retained = MERGE_KEYS[rk.kind], RETAIN_KEYS.get(rk.kind, frozenset())
    published = {}
    for path, field in walk(components, components[kind_name(rk)]):
        key, retains, merges = _published(field)
        if merges:
            published[path] = key
        is_list = field.get("type") == "array"
        assert retains == ((path + ("*",) if is_list else path) in retained), f"{rk.kind} {'.'.join(path)}"
        if is_list:
            expected = "atomic" if key is None else "set" if key is SET else "map"
            if path == ("status", "hostIPs"):
                expected = "atomic"  # merged by ip in a patch, atomic to server-side apply
            assert field["x-kubernetes-list-type"] == expected, f"{rk.kind} {'.'.join(path)}"
            if expected == "map":
                keys = LIST_MAP_KEYS.get(rk.kind, {}).get(path, (key,))
                assert field["x-kubernetes-list-map-keys"] == list(keys)
    assert published == table


def test_the_extensions_kubectl_reads_for_apply() -> None:
    core, apps = schemas("v1"), schemas("apps/v1")
    pod = core["io.k8s.api.core.v1.Pod"]
    containers = field_at(core, pod, ("spec", "containers"))
    assert (containers["x-kubernetes-patch-merge-key"], containers["x-kubernetes-patch-strategy"]) == ("name", "merge")
    ports = field_at(core, pod, ("spec", "containers", "*", "ports"))
    assert ports["x-kubernetes-patch-merge-key"] == "containerPort"
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    volumes = field_at(core, pod, ("spec", "volumes"))
    assert volumes["x-kubernetes-patch-strategy"] == "merge,retainKeys"
    assert field_at(core, pod, ("spec", "containers", "*", "args"))["x-kubernetes-list-type"] == "atomic"
    assert field_at(core, pod, ("spec", "tolerations"))["x-kubernetes-list-type"] == "atomic"
    assert field_at(core, pod, ("metadata", "finalizers"))["x-kubernetes-list-type"] == "set"
    strategy = field_at(apps, apps["io.k8s.api.apps.v1.Deployment"], ("spec", "strategy"))
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys"


def test_tables_that_contradict_themselves_make_no_document(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.api import openapi_schemas

    replica_set = {path: key for path, key in MERGE_KEYS["ReplicaSet"].items() if path[-1] != "env"}
    monkeypatch.setattr(openapi_schemas, "MERGE_KEYS", {**MERGE_KEYS, "ReplicaSet": replica_set})
    roots = [openapi_schemas.Root("apps", "v1", kind, kind) for kind in ("Deployment", "ReplicaSet")]
    with pytest.raises(openapi_schemas.OpenAPIError, match="Container.env is merged one way"):
        openapi_schemas.component_schemas(roots)

    stray = {**MERGE_KEYS["ReplicaSet"], ("spec", "nothing"): "name"}
    monkeypatch.setattr(openapi_schemas, "MERGE_KEYS", {**MERGE_KEYS, "ReplicaSet": stray})
    with pytest.raises(openapi_schemas.OpenAPIError, match=r"names paths no ReplicaSet field has: \[\('spec', 'nothing'\)\]"):
        openapi_schemas.component_schemas(roots[1:])


# ── descriptions ─────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("api_version", GROUP_VERSIONS)
def test_every_served_type_and_field_is_described(api_version: str) -> None:
    # Building the document already refuses a model without docstrings; this checks the result.
    for name, component in schemas(api_version).items():
        assert component.get("description", "").strip(), f"{name} has no description"
        for field, schema in component.get("properties", {}).items():
            assert schema.get("description", "").strip(), f"{name}.{field} has no description"
            assert "``" not in schema["description"], f"{name}.{field}: reStructuredText markup reaches users"


class _Documented(KubeModel):
    """A model for this test."""

    replicas: int | None = None
    """How many.

    A second paragraph, written
    over two lines."""
    undocumented: str | None = None


class _Redeclared(_Documented):
    """Another model for this test."""

    replicas: int | None = 3


def test_descriptions_come_from_the_docstrings_under_the_fields() -> None:
    assert attribute_docstring(_Documented, "replicas") is not None
    assert field_description(_Documented, "replicas") == "How many.\n\nA second paragraph, written over two lines."
    assert field_description(_Documented, "undocumented") is None
    assert field_description(_Redeclared, "replicas") == field_description(_Documented, "replicas")
    assert type_description(_Redeclared) == "Another model for this test."

    class Undescribed(BaseModel):
        pass

    assert type_description(Undescribed) is None


def test_a_kind_s_top_level_description_is_its_class_docstring() -> None:
    for rk in KINDS:
        component = schemas(rk.api_version)[kind_name(rk)]
        assert component["description"] == type_description(rk.model)


# ── operations ───────────────────────────────────────────────────────────────────────────────


def test_operations_name_their_kind_and_bodies() -> None:
    body = document("apps/v1")
    item = body["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    deployment = REF_PREFIX + "io.k8s.api.apps.v1.Deployment"
    assert item["patch"]["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert set(item["patch"]["requestBody"]["content"]) == {
        "application/strategic-merge-patch+json", "application/merge-patch+json", "application/json-patch+json"}
    assert "fieldValidation" in {p["name"] for p in item["patch"]["parameters"]}
    assert item["put"]["requestBody"]["content"]["application/json"]["schema"] == {"$ref": deployment}
    assert item["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": deployment}
    collection = body["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]
    assert collection["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": deployment + "List"}
    assert collection["get"]["x-kubernetes-action"] == "list"
    assert collection["delete"]["operationId"] == "deleteAppsV1CollectionNamespacedDeployment"
    scale = body["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["patch"]["x-kubernetes-group-version-kind"]["kind"] == "Scale"
    assert "/apis/apps/v1/deployments" in body["paths"]  # every namespace's
    nodes = document("v1")["paths"]
    assert "/api/v1/nodes/{name}" in nodes and "/api/v1/namespaces/{namespace}/nodes" not in nodes


# ── caching ──────────────────────────────────────────────────────────────────────────────────


def test_documents_are_built_once_and_named_by_their_hash() -> None:
    first = openapi.group_version_document("v1")
    assert first is openapi.group_version_document("v1")
    assert first is not None and len(first.hash) == 128
    root = json.loads(openapi.root_document())
    assert root["paths"]["api/v1"] == {"serverRelativeURL": f"/openapi/v3/api/v1?hash={first.hash}"}
    assert set(root["paths"]) == {openapi.path_of(api_version) for api_version in GROUP_VERSIONS}


@pytest.fixture
def client() -> TestClient:
    api = ObjectAPI(MemoryStore())
    app = ApiServerApp(ResourceHandlers(api, WatchHub(api)), {"admin": admin_identity()}.get)
    client = TestClient(app.asgi, base_url="https://testserver", follow_redirects=False)
    client.headers["Authorization"] = "Bearer admin"
    return client


def test_served_with_kubernetes_caching(client: TestClient) -> None:
    built = openapi.group_version_document("apps/v1")
    assert built is not None
    url = f"/openapi/v3/apis/apps/v1?hash={built.hash}"
    answer = client.get(url)
    assert answer.status_code == 200 and answer.content == built.body
    assert answer.headers["cache-control"] == "public, immutable" and answer.headers["etag"] == built.etag
    assert "expires" in answer.headers and answer.headers["vary"] == "Accept"
    stale = client.get("/openapi/v3/apis/apps/v1?hash=0123")
    assert stale.status_code == 301 and stale.headers["location"] == url
    unhashed = client.get("/openapi/v3/apis/apps/v1")
    assert unhashed.status_code == 200 and "cache-control" not in unhashed.headers
    assert client.get(url, headers={"If-None-Match": built.etag}).status_code == 304
    assert client.get("/openapi/v3/apis/nothing/v1").status_code == 404
    assert json.loads(client.get("/openapi/v3").content) == json.loads(openapi.root_document())
    assert client.get("/openapi/v2").status_code == 404
