"""WebSocket upgrades through a ``proxy`` subresource: the client's WebSocket bridged to the app's.

kube-apiserver passes an upgrade request through as raw bytes once the backend has switched
protocols. Behind uvicorn there are no raw bytes to splice, so the same effect is had one level
up, message by message:

1. **dial first**: the app is asked to upgrade, with the client's headers (filtered as for any
   proxied request, :func:`orchestrator.apiserver.proxyrelay.request_headers`) and the
   subprotocols it offered. An app that refuses has its answer (status, headers and body)
   handed to the client unchanged, as Kubernetes echoes a backend's non-101 answer; one that
   cannot be reached is Kubernetes' 503 ``error trying to reach service: …``.
2. **then accept** the client's upgrade with the subprotocol the app chose, so both ends agree;
3. **relay**: text stays text and binary stays binary, each message as one message, both ways,
   until either side closes; its close code and reason are passed to the other side.

Compression is not negotiated on either leg (each message is relayed as it is), and no pings
are added: keep-alive is the ends' business, as with a raw splice.
"""

from __future__ import annotations

import asyncio
import json
import ssl

from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.frames import CloseCode
from websockets.typing import Subprotocol

from orchestrator.api import errors
from orchestrator.apiserver.agenttls import CONNECT_TIMEOUT
from orchestrator.apiserver.proxyrelay import request_headers, unreachable
from orchestrator.apiserver.proxytarget import ProxyScheme, Upstream

#: headers of the client's own handshake, which the proxy's handshake with the app replaces
HANDSHAKE = frozenset({b"host", b"sec-websocket-key", b"sec-websocket-version", b"sec-websocket-extensions",
                       b"sec-websocket-protocol"})


async def relay_websocket(websocket: WebSocket, upstream: Upstream, path: str, prefix: str,
                          tls: ssl.SSLContext | None) -> None:
    """Bridge ``websocket`` to the app's WebSocket at ``upstream`` and ``path`` (see the module
    docstring); ``tls`` as for :func:`~orchestrator.apiserver.proxyrelay.relay`."""
    query = websocket.scope.get("query_string") or b""
    scheme = "wss" if upstream.scheme is ProxyScheme.HTTPS else "ws"
    url = f"{scheme}://{upstream.netloc}{path or '/'}" + (f"?{query.decode('latin-1')}" if query else "")
    client_ip = websocket.client.host if websocket.client else None
    headers = [(name.decode("latin-1"), value.decode("latin-1"))
               for name, value in request_headers(websocket.headers.raw, client_ip, prefix + path)
               if name.lower() not in HANDSHAKE]
    offered = [Subprotocol(p.strip()) for p in (websocket.headers.get("sec-websocket-protocol") or "").split(",")
               if p.strip()]
    try:
        app = await connect(url, ssl=tls if scheme == "wss" else None, additional_headers=headers,
                            subprotocols=offered or None, user_agent_header=None, compression=None, proxy=None,
                            open_timeout=CONNECT_TIMEOUT, ping_interval=None, max_size=None)
    except InvalidStatus as refused:
        answer = refused.response
        await websocket.send_denial_response(Response(bytes(answer.body or b""), answer.status_code,
                                                      headers={k: v for k, v in answer.headers.raw_items()
                                                               if k.lower() not in ("content-length",
                                                                                    "transfer-encoding",
                                                                                    "connection")}))
        return
    except (InvalidHandshake, OSError, asyncio.TimeoutError, ssl.SSLError) as error:
        status = unreachable(upstream, error)
        await websocket.send_denial_response(Response(_status_body(status), status.code,
                                                      media_type="application/json"))
        return
    async with app:
        await websocket.accept(subprotocol=app.subprotocol)
        await _bridge(websocket, app)


async def _bridge(client: WebSocket, app: ClientConnection) -> None:
    async def client_to_app() -> None:
        try:
            while True:
                message = await client.receive()
                if message["type"] == "websocket.disconnect":
                    await app.close(message.get("code") or CloseCode.NORMAL_CLOSURE, message.get("reason") or "")
                    return
                if message.get("bytes") is not None:
                    await app.send(message["bytes"])
                elif message.get("text") is not None:
                    await app.send(message["text"])
        except (ConnectionClosed, WebSocketDisconnect, RuntimeError):
            return

    upstream = asyncio.create_task(client_to_app())
    try:
        async for message in app:
            if isinstance(message, bytes):
                await client.send_bytes(message)
            else:
                await client.send_text(message)
        code, reason = app.close_code or CloseCode.NORMAL_CLOSURE, app.close_reason or ""
    except ConnectionClosed as closed:
        code, reason = (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (CloseCode.ABNORMAL_CLOSURE, "")
    except (WebSocketDisconnect, RuntimeError, OSError):
        upstream.cancel()
        return  # the client went away; leaving the context closes the app's side
    upstream.cancel()
    try:
        # 1005/1006 only describe a close; they cannot be sent in one
        await client.close(code if code not in (CloseCode.NO_STATUS_RCVD, CloseCode.ABNORMAL_CLOSURE)
                           else CloseCode.INTERNAL_ERROR, reason)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass


def _status_body(error: errors.ApiError) -> bytes:
    return json.dumps(error.to_status()).encode()
