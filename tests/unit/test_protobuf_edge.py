"""The protobuf edge of the API server: what a route decodes into, and answers in the accepted format."""

from __future__ import annotations

import asyncio
import json

import pytest
from starlette.responses import Response, StreamingResponse

from orchestrator.api import wire
from orchestrator.api.registry import kind_for
from orchestrator.apiserver.handlers import json_response
from orchestrator.apiserver.protobuf import answer, body_type, wants_protobuf_only
from orchestrator.apiserver.routing import Target

KUBECTL_ACCEPT = "application/vnd.kubernetes.protobuf,application/json"
PROTOBUF_ONLY = "application/vnd.kubernetes.protobuf"
DEPLOYMENTS = kind_for("apps/v1", "Deployment")
CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "b"}}


@pytest.mark.parametrize("accept, protobuf", [
    (PROTOBUF_ONLY, True),
    ("application/vnd.kubernetes.protobuf;stream=watch", True),
    (KUBECTL_ACCEPT, False),
    ("application/json", False),
    ("application/vnd.kubernetes.protobuf, */*", False),
    ("", False),
    (None, False),
])
def test_protobuf_is_answered_only_to_clients_that_take_nothing_else(accept, protobuf):
    assert wants_protobuf_only(accept) is protobuf


@pytest.mark.parametrize("subresource, into", [
    (None, wire.Into("apps/v1", "Deployment")),
    ("status", wire.Into("apps/v1", "Deployment")),
    ("scale", wire.Into("autoscaling/v1", "Scale")),
])
def test_a_route_decodes_into_its_kind_or_its_subresources_body(subresource, into):
    assert body_type(Target(DEPLOYMENTS, "default", "web", subresource)) == into
    pods = kind_for("v1", "Pod")
    assert body_type(Target(pods, "default", "p", "eviction")) == wire.Into("policy/v1", "Eviction")
    assert body_type(Target(pods, "default", "p", "binding")) == wire.Into("v1", "Binding")


def test_json_answers_stay_json_when_the_client_lists_json():
    response = json_response(CM)
    assert answer(KUBECTL_ACCEPT, response) is response


def test_objects_and_errors_are_re_encoded_for_protobuf_only_clients_with_their_headers():
    response = answer(PROTOBUF_ONLY, json_response(CM, 201, warnings=["careful"]))
    assert response.status_code == 201 and response.media_type == wire.MEDIA_TYPE
    assert response.headers["warning"] == '299 - "careful"'
    assert wire.decode(bytes(response.body), wire.Into("v1", "ConfigMap")) == CM
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "nope",
              "reason": "NotFound", "code": 404}
    error = answer(PROTOBUF_ONLY, json_response(status, 404))
    assert error.status_code == 404 and wire.decode(bytes(error.body), wire.Into("v1", "Status")) == status


def test_documents_without_a_wire_schema_stay_json():
    discovery = json_response({"kind": "APIVersions", "versions": ["v1"]})
    assert answer(PROTOBUF_ONLY, discovery) is discovery
    text = Response("ok", media_type="text/plain")
    assert answer(PROTOBUF_ONLY, text) is text


def test_a_watch_becomes_length_prefixed_watch_events():
    async def lines():
        yield json.dumps({"type": "ADDED", "object": CM}) + "\n"
        yield json.dumps({"type": "DELETED", "object": CM}) + "\n"

    async def body(response: StreamingResponse) -> bytes:
        return b"".join([chunk async for chunk in response.body_iterator])

    response = answer(PROTOBUF_ONLY, StreamingResponse(lines(), media_type="application/json"))
    assert response.media_type == wire.WATCH_MEDIA_TYPE
    data = asyncio.run(body(response))
    assert data == wire.encode_watch_event("ADDED", CM) + wire.encode_watch_event("DELETED", CM)
