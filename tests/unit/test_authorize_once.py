"""Authorization happens once, before dispatch, and no handler can be reached around it.

Three checks, from the structure down to behaviour:

* an :class:`Authorized` request cannot be made except by the authorizer;
* every entry point of :class:`ResourceHandlers` takes one, so a new branch below them is
  authorized by construction;
* the whole ASGI app, walked over every route the registry generates with a caller who may do
  nothing (a join token), answers 403 everywhere (405 for a method without a verb), writes
  nothing, and never calls a handler. The end-to-end walk with node and unknown tokens over real
  HTTPS is ``tests/e2e/test_authorization.py``.
"""

from __future__ import annotations

import inspect
import typing
import warnings

import pytest

from orchestrator.api.bootstrap import CLUSTER_INFO_NAME, CLUSTER_INFO_NAMESPACE, CLUSTER_INFO_PATH
from orchestrator.api.registry import kind_for
from orchestrator.apiserver.app import ApiServerApp
from orchestrator.apiserver.auth import Authorized, authorize_request
from orchestrator.apiserver.handlers import ResourceHandlers
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.apiserver.requestinfo import RequestInfo, Verb
from orchestrator.apiserver.routing import Target
from orchestrator.apiserver.watch import WatchHub
from orchestrator.cluster.identity import admin_identity, bootstrap_identity
from orchestrator.store import MemoryStore
from tests.support.routes import METHODS, VERB_METHODS, resource_routes

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette would rather its test client ran on httpx2
    from starlette.testclient import TestClient, WebSocketDenialResponse

JOIN_TOKEN = "dyj_only-a-join-token"


class RecordingHandlers(ResourceHandlers):
    """The real handlers, noting every request that reached them."""

    def __init__(self, api: ObjectAPI) -> None:
        super().__init__(api, WatchHub(api))
        self.reached: list[Authorized] = []

    async def handle(self, request, authorized):
        self.reached.append(authorized)
        return await super().handle(request, authorized)

    async def remote_command_socket(self, websocket, authorized):
        self.reached.append(authorized)
        return await super().remote_command_socket(websocket, authorized)


@pytest.fixture
def server():
    api = ObjectAPI(MemoryStore())
    for namespace in ("default", CLUSTER_INFO_NAMESPACE):
        api.create(kind_for("v1", "Namespace"), None, {"metadata": {"name": namespace}})
    api.create(kind_for("v1", "ConfigMap"), CLUSTER_INFO_NAMESPACE, {"metadata": {"name": CLUSTER_INFO_NAME}})
    handlers = RecordingHandlers(api)
    app = ApiServerApp(handlers, {JOIN_TOKEN: bootstrap_identity("only")}.get)
    client = TestClient(app.asgi, base_url="https://testserver")
    client.headers["Authorization"] = f"Bearer {JOIN_TOKEN}"
    return client, handlers, api


def test_only_the_authorizer_makes_an_authorized_request():
    info = RequestInfo(Verb.GET, Target(kind_for("v1", "Pod"), "default", "x", None))
    with pytest.raises(TypeError, match="authorize_request"):
        Authorized(admin_identity(), info, object())
    granted = authorize_request(admin_identity(), info, ObjectAPI(MemoryStore()))
    assert granted.info is info


def test_every_handler_entry_point_takes_an_authorized_request():
    entry_points = [name for name, member in inspect.getmembers(ResourceHandlers, inspect.iscoroutinefunction)
                    if not name.startswith("_")]
    assert entry_points == ["handle", "remote_command_socket"]
    for name in entry_points:
        hints = typing.get_type_hints(getattr(ResourceHandlers, name))
        assert Authorized in hints.values(), f"ResourceHandlers.{name} must take an Authorized request"


def test_a_caller_allowed_nothing_reaches_no_handler_on_any_route(server):
    client, handlers, api = server
    revision = api.store.revision()
    wrong = []
    for route in resource_routes():
        for method in METHODS:
            response = client.request(method, route.path, params={"dryRun": "All"},
                                      content=b"{}" if method in ("POST", "PUT", "PATCH") else None,
                                      headers={"Content-Type": "application/merge-patch+json"}
                                      if method == "PATCH" else {})
            expected = 403 if method in VERB_METHODS else 405
            body = response.json() if method != "HEAD" else {"kind": "Status"}
            if response.status_code != expected or body.get("kind") != "Status":
                wrong.append(f"{method} {route}: {response.status_code} {response.text[:120]}")
    assert not wrong, "\n".join(wrong)
    assert handlers.reached == []
    assert api.store.revision() == revision


def test_a_caller_allowed_nothing_cannot_open_a_websocket_anywhere(server):
    client, handlers, _ = server
    wrong = []
    for route in resource_routes():
        try:
            with client.websocket_connect(route.path, headers={"Authorization": f"Bearer {JOIN_TOKEN}"}):
                wrong.append(f"{route}: the handshake was accepted")
        except WebSocketDenialResponse as denial:
            if denial.status_code != 403:
                wrong.append(f"{route}: {denial.status_code} {denial.text[:120]}")
    assert not wrong, "\n".join(wrong)
    assert handlers.reached == []


def test_the_public_object_is_the_one_exception(server):
    client, handlers, _ = server
    response = client.get(CLUSTER_INFO_PATH)
    assert response.status_code == 200 and response.json()["metadata"]["name"] == CLUSTER_INFO_NAME
    (reached,) = handlers.reached
    assert reached.info.verb is Verb.GET and reached.info.target.name == CLUSTER_INFO_NAME
