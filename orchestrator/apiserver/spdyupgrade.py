"""kubectl port-forward's two upgrades: the SPDY upgrade, served as the WebSocket it stands for,
and the tunneling WebSocket, whose subprotocol name uvicorn's default WebSocket library refuses.

kubectl 1.32 opens a port-forward session with a WebSocket first and, when that upgrade fails
(or with ``KUBECTL_PORT_FORWARD_WEBSOCKETS=false``), with the older HTTP upgrade::

    POST /api/v1/namespaces/default/pods/web/portforward HTTP/1.1
    Connection: Upgrade
    Upgrade: SPDY/3.1
    X-Stream-Protocol-Version: portforward.k8s.io

answered by ``101 Switching Protocols`` (``Upgrade: SPDY/3.1`` and the chosen
``X-Stream-Protocol-Version``), after which the TLS connection itself carries the SPDY session.
ASGI has no way to hand a raw connection to an application, and uvicorn ignores upgrades other
than WebSocket. Yet the two transports carry the very same bytes: only the wrapping differs. So
this module presents the upgraded connection to the application *as an ASGI WebSocket*, with the
subprotocols the WebSocket path would offer (``SPDY/3.1+portforward.k8s.io``): each chunk read
from the connection is a ``websocket.receive`` of bytes, each ``websocket.send`` is written as
is, ``websocket.accept`` answers 101 and a denial response is an ordinary HTTP answer. The
application serves both transports with one code path: authentication, authorization, planning
and the relay to the node agent never know which one kubectl took.

:class:`UpgradeAwareHttp` is the ``http`` protocol class uvicorn runs the API server with. It
reads a connection's first request head and hands the connection on, as if it had been accepted
by that protocol in the first place:

* an upgrade to SPDY/3.1 to :class:`SpdyConnection`;
* a WebSocket upgrade offering ``SPDY/3.1+portforward.k8s.io`` to uvicorn's *wsproto* WebSocket
  protocol: the ``websockets`` library, uvicorn's default, refuses that header (a subprotocol is
  an RFC 7230 token, and ``/`` may not appear in one), which Go's WebSocket library and wsproto
  accept, so kubectl's first try would always fail over to SPDY;
* anything else to uvicorn's own HTTP protocol (WebSockets included).

Only a connection's *first* request is looked at: kubectl dials a fresh connection for every
upgrade, as any client must for a connection it gives away.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.protocols.utils import get_local_addr, get_remote_addr, is_ssl
from uvicorn.protocols.websockets.wsproto_impl import WSProtocol
from uvicorn.server import ServerState

from orchestrator.api.portforward import PROTOCOL_VERSION_HEADER, SPDY_UPGRADE, TUNNELED_PROTOCOL, TUNNELING_PREFIX

log = logging.getLogger("dockyard.apiserver.spdyupgrade")

#: a request head longer than this is not an upgrade we serve: uvicorn's own protocol judges it
MAX_HEAD = 64 * 1024
#: chunks read ahead of the application before the connection stops reading
READ_AHEAD = 16


class UpgradeAwareHttp(asyncio.Protocol):
    """uvicorn's HTTP, except a connection that opens with an upgrade to SPDY/3.1."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._config = config
        self._server_state = server_state
        self._app_state = app_state
        self._loop = _loop
        self._transport: asyncio.Transport | None = None
        self._head = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        # uvicorn types the set as its own protocols; it calls only shutdown() on them
        self._server_state.connections.add(self)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0 and len(self._head) < MAX_HEAD:
            return
        assert self._transport is not None
        self._server_state.connections.discard(self)
        request = _request_head(bytes(self._head[:end + 4])) if end >= 0 else None
        protocol: asyncio.Protocol
        if request is not None and _upgrade(request) == SPDY_UPGRADE.lower().encode():
            protocol = SpdyConnection(self._config, self._server_state, self._app_state, request)
            rest = bytes(self._head[end + 4:])
        elif request is not None and _upgrade(request) == b"websocket" and _offers_tunnel(request):
            protocol = WSProtocol(config=self._config, server_state=self._server_state, app_state=self._app_state,
                                  _loop=self._loop)
            rest = bytes(self._head)
        else:
            protocol = AutoHTTPProtocol(config=self._config, server_state=self._server_state,  # type: ignore[call-arg]
                                        app_state=self._app_state, _loop=self._loop)
            rest = bytes(self._head)
        self._transport.set_protocol(protocol)
        protocol.connection_made(self._transport)
        if rest:
            protocol.data_received(rest)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server_state.connections.discard(self)

    def shutdown(self) -> None:
        """uvicorn's shutdown: a connection that never sent a whole request is just closed."""
        if self._transport is not None:
            self._transport.close()


def _request_head(raw: bytes) -> h11.Request | None:
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(raw)
    try:
        event = connection.next_event()
    except h11.RemoteProtocolError:
        return None  # uvicorn's protocol answers it with its 400
    return event if isinstance(event, h11.Request) else None


def _upgrade(request: h11.Request) -> bytes | None:
    """The protocol the request upgrades to, lowercase (``websocket``, ``spdy/3.1``), or None."""
    connection = b",".join(value for name, value in request.headers if name == b"connection")
    if b"upgrade" not in {token.strip().lower() for token in connection.split(b",")}:
        return None
    return b",".join(value for name, value in request.headers if name == b"upgrade").strip().lower() or None


def _offers_tunnel(request: h11.Request) -> bool:
    offered = b",".join(value for name, value in request.headers if name == b"sec-websocket-protocol")
    return TUNNELED_PROTOCOL.encode() in {token.strip() for token in offered.split(b",")}


class SpdyConnection(asyncio.Protocol):
    """A connection upgraded to SPDY/3.1, driven through the ASGI WebSocket interface."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 request: h11.Request) -> None:
        self._app = config.loaded_app
        self._server_state = server_state
        self._app_state = app_state
        self._request = request
        self._transport: asyncio.Transport | None = None
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._writable = asyncio.Event()
        self._writable.set()
        self._read_paused = False
        self._accepted = False
        self._closed = False
        self._denial: list[bytes] = []
        self._denial_status = 0
        self._denial_headers: list[tuple[bytes, bytes]] = []

    # -- transport side ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server_state.connections.add(self)  # type: ignore[arg-type]  # as above
        self._queue.put_nowait({"type": "websocket.connect"})
        task = asyncio.get_running_loop().create_task(self._run(self._scope(transport)))
        self._server_state.tasks.add(task)
        task.add_done_callback(self._server_state.tasks.discard)

    def data_received(self, data: bytes) -> None:
        self._queue.put_nowait({"type": "websocket.receive", "bytes": data})
        if self._queue.qsize() >= READ_AHEAD and not self._read_paused and self._transport is not None:
            self._read_paused = True
            self._transport.pause_reading()

    def eof_received(self) -> bool | None:
        self._disconnected(1000)
        return None  # close our side too: the session is over

    def connection_lost(self, exc: Exception | None) -> None:
        self._server_state.connections.discard(self)
        self._disconnected(1006 if exc else 1000)
        self._writable.set()  # a send waiting for room would wait forever

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def shutdown(self) -> None:
        """uvicorn's shutdown: end the session (the application sees the disconnect)."""
        self._disconnected(1012)
        if self._transport is not None:
            self._transport.close()

    def _disconnected(self, code: int) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put_nowait({"type": "websocket.disconnect", "code": code})

    def _scope(self, transport: asyncio.Transport) -> dict[str, Any]:
        raw_path, _, query = self._request.target.partition(b"?")
        headers = [(name.lower(), value) for name, value in self._request.headers]
        versions = [token.strip().decode("latin-1") for name, value in headers
                    if name == PROTOCOL_VERSION_HEADER.lower().encode() for token in value.split(b",") if token.strip()]
        return {
            "type": "websocket", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
            "scheme": "wss" if is_ssl(transport) else "ws", "server": get_local_addr(transport),
            "client": get_remote_addr(transport), "root_path": "", "path": unquote(raw_path.decode("ascii")),
            "raw_path": raw_path, "query_string": query, "headers": headers,
            # the WebSocket path's names for the same protocols: one code path serves both
            "subprotocols": [TUNNELING_PREFIX + version for version in versions],
            "state": self._app_state.copy(), "extensions": {"websocket.http.response": {}},
        }

    # -- application side --------------------------------------------------------------------

    async def _run(self, scope: dict[str, Any]) -> None:
        try:
            await self._app(scope, self._receive, self._send)
        except Exception:  # noqa: BLE001 - the edge: log, answer if still possible, close
            log.exception("internal error serving an upgraded connection to %s", scope["path"])
            if not self._accepted and not self._denial_status:
                self._write_response(500, [(b"content-type", b"text/plain")], b"Internal Server Error")
        finally:
            if self._transport is not None and not self._transport.is_closing():
                self._transport.close()

    async def _receive(self) -> dict[str, Any]:
        message = await self._queue.get()
        if self._read_paused and self._queue.qsize() < READ_AHEAD // 2 and self._transport is not None:
            self._read_paused = False
            self._transport.resume_reading()
        return message

    async def _send(self, message: dict[str, Any]) -> None:
        assert self._transport is not None
        kind = message["type"]
        if kind == "websocket.accept":
            self._accepted = True
            protocol = str(message.get("subprotocol") or "").removeprefix(TUNNELING_PREFIX)
            head = [b"HTTP/1.1 101 Switching Protocols", b"Connection: Upgrade", b"Upgrade: " + SPDY_UPGRADE.encode()]
            if protocol:
                head.append(f"{PROTOCOL_VERSION_HEADER}: {protocol}".encode())
            self._transport.write(b"\r\n".join(head) + b"\r\n\r\n")
        elif kind == "websocket.send":
            if self._closed:
                raise ConnectionResetError("the client closed the connection")
            self._transport.write(message.get("bytes") or (message.get("text") or "").encode())
            await self._writable.wait()
        elif kind == "websocket.close":
            if not self._accepted and not self._denial_status:
                self._write_response(403, [(b"content-type", b"text/plain")], b"Forbidden")
            self._transport.close()
        elif kind == "websocket.http.response.start":
            self._denial_status = int(message["status"])
            self._denial_headers = list(message.get("headers") or [])
        elif kind == "websocket.http.response.body":
            self._denial.append(message.get("body") or b"")
            if not message.get("more_body"):
                self._write_response(self._denial_status, self._denial_headers, b"".join(self._denial))
                self._transport.close()

    def _write_response(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        assert self._transport is not None
        try:
            phrase = HTTPStatus(status).phrase.encode()
        except ValueError:
            phrase = b""
        lines = [b"HTTP/1.1 %d %s" % (status, phrase)]
        lines += [name + b": " + value for name, value in headers if name.lower() not in (b"content-length",
                                                                                           b"connection")]
        lines += [b"Content-Length: %d" % len(body), b"Connection: close"]
        self._transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
