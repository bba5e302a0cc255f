"""The API server's connection hand-off (:mod:`orchestrator.apiserver.spdyupgrade`): the SPDY
upgrade as an ASGI WebSocket, the tunneling WebSocket to wsproto, everything else to uvicorn's
HTTP. A recording transport stands in for the TLS connection; the e2e tests drive the same code
with kubectl (``tests/e2e/test_port_forward.py``)."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.protocols.websockets.wsproto_impl import WSProtocol
from uvicorn.server import ServerState

from orchestrator.apiserver.spdyupgrade import SpdyConnection, UpgradeAwareHttp

SPDY_UPGRADE = (b"POST /api/v1/namespaces/default/pods/web/portforward?x=1 HTTP/1.1\r\nHost: api\r\n"
                b"Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n"
                b"Content-Length: 0\r\n\r\n")


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False
        self.reading = True
        self.protocol: asyncio.BaseProtocol | None = None

    def write(self, data: Any) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self.protocol is not None
        return self.protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 6443)}.get(name, default)


def connect(app, head: bytes) -> tuple[RecordingTransport, ServerState]:
    config = Config(app=app, log_level="warning")
    config.load()
    state = ServerState()
    transport = RecordingTransport()
    first = UpgradeAwareHttp(config, state, {})
    transport.set_protocol(first)
    first.connection_made(transport)
    first.data_received(head[:10])  # the head may come in pieces
    first.data_received(head[10:])
    return transport, state


def test_the_spdy_upgrade_is_a_websocket_to_the_app():
    seen: dict[str, Any] = {}

    async def app(scope, receive, send):
        seen["scope"] = scope
        assert await receive() == {"type": "websocket.connect"}
        await send({"type": "websocket.accept", "subprotocol": "SPDY/3.1+portforward.k8s.io"})
        seen["received"] = await receive()
        await send({"type": "websocket.send", "bytes": b"\x80\x03\x00\x06"})
        seen["end"] = await receive()

    async def run() -> RecordingTransport:
        transport, state = connect(app, SPDY_UPGRADE)
        assert isinstance(transport.protocol, SpdyConnection)
        await asyncio.sleep(0)
        transport.protocol.data_received(b"spdy bytes")
        await asyncio.sleep(0.01)
        transport.protocol.connection_lost(None)
        await asyncio.gather(*state.tasks)
        return transport

    transport = asyncio.run(run())
    scope = seen["scope"]
    assert scope["type"] == "websocket" and scope["path"] == "/api/v1/namespaces/default/pods/web/portforward"
    assert scope["query_string"] == b"x=1" and scope["subprotocols"] == ["SPDY/3.1+portforward.k8s.io"]
    assert "websocket.http.response" in scope["extensions"]
    assert bytes(transport.written) == (b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                                        b"X-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n\x80\x03\x00\x06")
    assert seen["received"] == {"type": "websocket.receive", "bytes": b"spdy bytes"}
    assert seen["end"]["type"] == "websocket.disconnect"


def test_a_refused_spdy_upgrade_is_an_ordinary_http_answer():
    async def app(scope, receive, send):
        await send({"type": "websocket.http.response.start", "status": 403,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "websocket.http.response.body", "body": b'{"kind":"Status"}'})

    async def run() -> RecordingTransport:
        transport, state = connect(app, SPDY_UPGRADE)
        await asyncio.gather(*state.tasks)
        return transport

    transport = asyncio.run(run())
    assert bytes(transport.written) == (b"HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\n"
                                        b"Content-Length: 17\r\nConnection: close\r\n\r\n{\"kind\":\"Status\"}")
    assert transport.closed


def test_the_tunneling_websocket_goes_to_wsproto_and_the_rest_to_uvicorns_http():
    async def app(scope, receive, send):
        if scope["type"] == "websocket":
            await send({"type": "websocket.close"})
        else:
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    async def run() -> tuple[asyncio.BaseProtocol | None, asyncio.BaseProtocol | None, asyncio.BaseProtocol | None]:
        tunnel = (b"GET /api/v1/namespaces/default/pods/web/portforward HTTP/1.1\r\nHost: api\r\n"
                  b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  b"Sec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io\r\n\r\n")
        exec_socket = tunnel.replace(b"SPDY/3.1+portforward.k8s.io", b"v5.channel.k8s.io")
        plain = b"GET /version HTTP/1.1\r\nHost: api\r\n\r\n"
        protocols = [connect(app, head)[0].protocol for head in (tunnel, exec_socket, plain)]
        await asyncio.sleep(0.01)
        return protocols[0], protocols[1], protocols[2]

    tunnel, exec_socket, plain = asyncio.run(run())
    assert isinstance(tunnel, WSProtocol)
    assert isinstance(exec_socket, WebSocketsSansIOProtocol)  # through uvicorn's HTTP, to its default library
    assert isinstance(plain, H11Protocol)
