"""WebSocket upgrades through the proxy, over real loopback connections: an app's WebSocket
server, the proxy's bridge in front of it, and the ``websockets`` client of a user."""

from __future__ import annotations

import json
import socket

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from orchestrator.apiserver.proxysocket import relay_websocket
from orchestrator.apiserver.proxytarget import ProxyScheme, Upstream
from tests.support.loopback import serving

PREFIX = "/api/v1/namespaces/default/pods/app/proxy"


def app() -> Starlette:
    async def echo(websocket: WebSocket) -> None:
        offered = websocket.scope.get("subprotocols") or []
        await websocket.accept(subprotocol="chat" if "chat" in offered else None)
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") == "close please":
                await websocket.close(4001, "as you asked")
                return
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            else:
                await websocket.send_bytes(message["bytes"])

    async def headers(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(json.dumps({"headers": dict(websocket.headers),
                                              "query": websocket.url.query, "path": websocket.url.path}))
        await websocket.close()

    async def refuse(websocket: WebSocket) -> None:
        await websocket.send_denial_response(PlainTextResponse("no sockets here", 403))

    return Starlette(routes=[WebSocketRoute("/echo", echo), WebSocketRoute("/headers", headers),
                             WebSocketRoute("/refuse", refuse)])


def proxy(port: int) -> Starlette:
    async def bridged(websocket: WebSocket) -> None:
        upstream = Upstream(ProxyScheme.HTTP, "127.0.0.1", port)
        await relay_websocket(websocket, upstream, "/" + websocket.path_params["path"], PREFIX, None)

    return Starlette(routes=[WebSocketRoute(PREFIX + "/{path:path}", bridged)])


@pytest.fixture(scope="module")
def front():
    with serving(app()) as up, serving(proxy(up)) as front:
        yield f"ws://127.0.0.1:{front}{PREFIX}"


def test_messages_go_both_ways_as_they_were_sent_with_the_apps_subprotocol(front):
    with connect(f"{front}/echo", subprotocols=["other", "chat"], open_timeout=10) as socket_:
        assert socket_.subprotocol == "chat"
        socket_.send("hello")
        assert socket_.recv(timeout=10) == "hello"
        socket_.send(b"\x00\x01binary")
        assert socket_.recv(timeout=10) == b"\x00\x01binary"


def test_the_apps_close_code_reaches_the_client(front):
    with connect(f"{front}/echo", open_timeout=10) as socket_:
        socket_.send("close please")
        with pytest.raises(ConnectionClosed) as closed:
            socket_.recv(timeout=10)
    assert closed.value.rcvd is not None and (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001,
                                                                                                     "as you asked")


def test_the_app_sees_the_query_and_filtered_headers(front):
    with connect(f"{front}/headers?a=1", additional_headers={"Authorization": "Bearer admin", "X-Learner": "hi"},
                 open_timeout=10) as socket_:
        seen = json.loads(socket_.recv(timeout=10))
    assert seen["path"] == "/headers" and seen["query"] == "a=1"
    assert "authorization" not in seen["headers"] and seen["headers"]["x-learner"] == "hi"
    assert seen["headers"]["x-forwarded-uri"] == PREFIX + "/headers"


def test_an_apps_refusal_is_handed_to_the_client():
    with serving(app()) as up, serving(proxy(up)) as port:
        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://127.0.0.1:{port}{PREFIX}/refuse", open_timeout=10)
    assert refused.value.response.status_code == 403 and refused.value.response.body == b"no sockets here"


def test_an_app_that_cannot_be_reached_is_kubernetes_503():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nobody = closed.getsockname()[1]
    with serving(proxy(nobody)) as port:
        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://127.0.0.1:{port}{PREFIX}/echo", open_timeout=10)
    status = json.loads(refused.value.response.body)
    assert refused.value.response.status_code == 503 and status["reason"] == "ServiceUnavailable"
    assert status["message"] == f"error trying to reach service: dial tcp 127.0.0.1:{nobody}: connect: connection refused"
