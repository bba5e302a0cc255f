"""The agent's ``portForward`` route: kubectl's SPDY session, relayed to sockets inside the pod.

The API server hands the session over unchanged (contract in
:mod:`orchestrator.api.agentendpoint`): a WebSocket whose binary messages carry the SPDY/3.1
byte stream. Here it is decoded (:mod:`orchestrator.api.spdy`), every rule is applied by the pure
:class:`~agent.portforward.session.ForwardSession`, and this module only carries out its
actions, on the endpoint's event loop:

* **frames out** go through one queue and one writer task, which encodes them in the order the
  session made them (the header compressor is one stream per direction) and batches what is
  waiting into one WebSocket message;
* **pod connections** are sockets made inside the pod's network namespace
  (:mod:`agent.portforward.netns`) and connected without blocking; each has a pump task
  reading the pod's bytes into data frames.

Back-pressure both ways, so a fast sender never fills memory: bytes for a pod are written and
drained before the next frame is read (a slow pod holds up the whole session, as with spdystream,
which kubectl's side uses), and a pump waits while more than :data:`OUTBOX_HIGH` bytes are queued
for kubectl.

The session ends when kubectl says GOAWAY or goes away, or when the pod's sandbox process exits
(its pidfd becomes readable): then every stream is reset, GOAWAY is sent, and every socket and
task of the session is closed before the route returns.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import deque
from dataclasses import dataclass, field

from anyio import to_thread
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from agent.portforward.netns import NamespaceSockets, NetnsError, PodNetwork
from agent.portforward.session import (
    CREATION_TIMEOUT, Action, Connect, Disconnect, ForwardSession, Send, ShutdownWrite, Write,
)
from agent.runtime.errors import ContainerRuntimeError, DockerUnavailable
from agent.runtime.streams import ContainerStreams
from orchestrator.api import errors, spdy
from orchestrator.api.agentendpoint import POD_UID_PARAM, PORT_FORWARD_SUBPROTOCOL
from orchestrator.api.portforward import connect_failure

log = logging.getLogger("dockyard.agent.portforward")

#: most bytes read from a pod connection at once (one data frame)
READ_CHUNK = 256 * 1024
#: bytes queued for kubectl above which the pumps wait, and below which they go on
OUTBOX_HIGH = 4 * 1024 * 1024
#: most bytes put into one WebSocket message when frames are waiting
BATCH_BYTES = 512 * 1024
#: a connect to localhost that takes this long has no listener that will answer
CONNECT_TIMEOUT = 10.0
#: how long the closing frames (GOAWAY) may take to go out before the WebSocket is closed anyway
FLUSH_TIMEOUT = 5.0


class PortForwarder:
    """Serves ``/portForward/{namespace}/{pod}``; owns the thread that makes in-pod sockets."""

    def __init__(self, streams: ContainerStreams, *, creation_timeout: float = CREATION_TIMEOUT) -> None:
        self._streams = streams
        self._sockets = NamespaceSockets()
        self._creation_timeout = creation_timeout

    async def serve(self, websocket: WebSocket) -> None:
        namespace, pod = websocket.path_params["namespace"], websocket.path_params["pod"]
        try:
            uid = websocket.query_params.get(POD_UID_PARAM)
            if not uid:
                raise errors.bad_request(f"the {POD_UID_PARAM} query parameter is required: it tells this pod "
                                         "from an older one of the same name")
            if PORT_FORWARD_SUBPROTOCOL not in (websocket.scope.get("subprotocols") or ()):
                raise errors.bad_request(f"port-forward needs the WebSocket subprotocol {PORT_FORWARD_SUBPROTOCOL}")
            network = await self._network(namespace, pod, uid)
        except errors.ApiError as error:
            await websocket.send_denial_response(JSONResponse(error.to_status(), status_code=error.code))
            return
        try:
            await websocket.accept(subprotocol=PORT_FORWARD_SUBPROTOCOL)
            session = ForwardSession(pod, uid, creation_timeout=self._creation_timeout)
            await _Relay(websocket, network, self._sockets, session).run()
        finally:
            network.close()

    async def _network(self, namespace: str, pod: str, uid: str) -> PodNetwork:
        try:
            pid = await to_thread.run_sync(self._streams.sandbox_pid, namespace, pod, uid)
        except DockerUnavailable as error:
            raise errors.ApiError(str(error), errors.StatusReason.SERVICE_UNAVAILABLE, 503) from None
        except ContainerRuntimeError as error:
            raise errors.ApiError(str(error), errors.StatusReason.NOT_FOUND, 404) from None
        try:
            return PodNetwork(pid)
        except OSError as error:  # the sandbox exited a moment ago, or the agent is not root
            raise errors.ApiError(f'cannot open the network namespace of pod "{pod}" (process {pid}): '
                                  f"{error.strerror}", errors.StatusReason.SERVICE_UNAVAILABLE, 503) from None

    def close(self) -> None:
        self._sockets.close()


@dataclass
class _Connection:
    request_id: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    pump: asyncio.Task[None] | None = None

    def close(self) -> None:
        if self.pump is not None and self.pump is not asyncio.current_task():
            self.pump.cancel()
        self.writer.close()


@dataclass
class _Relay:
    websocket: WebSocket
    network: PodNetwork
    sockets: NamespaceSockets
    session: ForwardSession
    decoder: spdy.FrameDecoder = field(default_factory=spdy.FrameDecoder)
    encoder: spdy.FrameEncoder = field(default_factory=spdy.FrameEncoder)
    outbox: deque[spdy.Frame] = field(default_factory=deque)
    outbox_bytes: int = 0
    connections: dict[str, _Connection] = field(default_factory=dict)
    connecting: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._queued = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._flushed = asyncio.Event()
        self._flushed.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        pod_gone = asyncio.Event()
        loop.add_reader(self.network.pidfd, pod_gone.set)
        writer = asyncio.create_task(self._write_loop())
        tasks = [asyncio.create_task(self._read_loop()), asyncio.create_task(pod_gone.wait()),
                 asyncio.create_task(self._expire_loop())]
        try:
            await asyncio.wait(tasks[:2], return_when=asyncio.FIRST_COMPLETED)
            if pod_gone.is_set():
                log.info("pod %s is gone: ending its port-forward session", self.session.pod)
                self._apply(self.session.shutdown())
        finally:
            loop.remove_reader(self.network.pidfd)
            for task in tasks:
                task.cancel()
            for task in list(self.connecting.values()):
                task.cancel()
            for connection in list(self.connections.values()):
                connection.close()
            self.connections.clear()
            try:
                await asyncio.wait_for(self._flushed.wait(), FLUSH_TIMEOUT)
            except asyncio.TimeoutError:
                pass
            writer.cancel()
            ended = await asyncio.gather(writer, *tasks, *self.connecting.values(), return_exceptions=True)
            for outcome in ended:
                if isinstance(outcome, Exception):  # a bug, not a goodbye: say so, the session is over anyway
                    log.error("port-forward to pod %s failed", self.session.pod, exc_info=outcome)
            await _close(self.websocket)

    # -- kubectl → pods ---------------------------------------------------------------------

    async def _read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.session.finished:
            try:
                message = await self.websocket.receive()
            except (WebSocketDisconnect, RuntimeError, OSError):
                message = {"type": "websocket.disconnect"}
            if message["type"] == "websocket.disconnect":
                self._apply(self.session.client_gone())
                return
            data = message.get("bytes") or (message.get("text") or "").encode()
            try:
                frames = self.decoder.feed(data)
            except spdy.SpdyError as error:
                log.warning("port-forward to pod %s: %s; ending the session", self.session.pod, error)
                self._apply(self.session.protocol_error())
                return
            for frame in frames:
                written = self._apply(self.session.receive(frame, loop.time()))
                await self._drain(written)

    async def _drain(self, written: list[_Connection]) -> None:
        """Wait until the pods have taken what was written to them (back-pressure on kubectl)."""
        for connection in written:
            try:
                await connection.writer.drain()
            except (ConnectionError, OSError):
                self._pod_closed(connection.request_id)

    async def _expire_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(1.0)
            self._apply(self.session.expire(loop.time()))

    # -- pods → kubectl -----------------------------------------------------------------------

    async def _connect(self, request_id: str, port: int) -> None:
        try:
            await self._open(request_id, port)
        finally:
            self.connecting.pop(request_id, None)

    async def _open(self, request_id: str, port: int) -> None:
        try:
            ipv4, ipv6 = await asyncio.wrap_future(self.sockets.submit(self.network.netns))
        except NetnsError as error:
            self._apply(self.session.connect_failed(request_id, str(error)))
            return
        candidates = [(ipv4, "tcp4", ("127.0.0.1", port), f"127.0.0.1:{port}"),
                      (ipv6, "tcp6", ("::1", port), f"[::1]:{port}")]
        connected: socket.socket | None = None
        failures: list[str] = []
        try:
            for sock, network, address, shown in candidates:
                if sock is None:
                    failures.append(f"dial {network} {shown}: socket: address family not supported by protocol")
                    continue
                sock.setblocking(False)
                try:
                    await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, address), CONNECT_TIMEOUT)
                except (OSError, asyncio.TimeoutError) as error:
                    failures.append(f"dial {network} {shown}: connect: {_reason(error)}")
                    continue
                connected = sock
                break
        finally:
            for sock, *_ in candidates:
                if sock is not None and sock is not connected:
                    sock.close()
        if connected is None:
            cause = connect_failure(port, self.network.name, *failures)
            self._apply(self.session.connect_failed(request_id, cause))
            return
        try:
            reader, writer = await asyncio.open_connection(sock=connected, limit=READ_CHUNK)
        except BaseException:
            connected.close()
            raise
        connection = self.connections[request_id] = _Connection(request_id, reader, writer)
        connection.pump = asyncio.create_task(self._pump(connection))
        self.connecting.pop(request_id, None)
        await self._drain(self._apply(self.session.connected(request_id)))

    async def _pump(self, connection: _Connection) -> None:
        try:
            while data := await connection.reader.read(READ_CHUNK):
                self._apply(self.session.pod_data(connection.request_id, data))
                while self.outbox_bytes > OUTBOX_HIGH:
                    self._room.clear()
                    await self._room.wait()
        except (ConnectionError, OSError):
            pass  # a reset from the pod ends its half like an end-of-file
        self._pod_closed(connection.request_id)

    def _pod_closed(self, request_id: str) -> None:
        self._apply(self.session.pod_closed(request_id))

    async def _write_loop(self) -> None:
        while True:
            if not self.outbox:
                self._flushed.set()
                self._queued.clear()
                await self._queued.wait()
                continue
            batch: list[bytes] = []
            size = 0
            while self.outbox and size < BATCH_BYTES:
                frame = self.outbox.popleft()
                if isinstance(frame, spdy.Data):
                    self.outbox_bytes -= len(frame.data)
                encoded = self.encoder.encode(frame)
                batch.append(encoded)
                size += len(encoded)
            if self.outbox_bytes <= OUTBOX_HIGH // 2:
                self._room.set()
            try:
                await self.websocket.send_bytes(b"".join(batch))
            except (WebSocketDisconnect, RuntimeError, OSError):
                self.outbox.clear()  # kubectl is gone: nobody is left to read the rest
                self.outbox_bytes = 0
                self._room.set()

    # -- carrying out the session's actions ----------------------------------------------------

    def _apply(self, actions: list[Action]) -> list[_Connection]:
        """Carry out ``actions`` in order, without waiting; the connections written to are
        returned, for the caller to drain."""
        written: list[_Connection] = []
        for action in actions:
            if isinstance(action, Send):
                self.outbox.append(action.frame)
                if isinstance(action.frame, spdy.Data):
                    self.outbox_bytes += len(action.frame.data)
                self._flushed.clear()
                self._queued.set()
            elif isinstance(action, Connect):
                self.connecting[action.request_id] = asyncio.create_task(
                    self._connect(action.request_id, action.port))
            elif isinstance(action, Write):
                connection = self.connections.get(action.request_id)
                if connection is not None:
                    connection.writer.write(action.data)
                    written.append(connection)
            elif isinstance(action, ShutdownWrite):
                connection = self.connections.get(action.request_id)
                if connection is not None and connection.writer.can_write_eof():
                    try:
                        connection.writer.write_eof()
                    except OSError:
                        pass  # the pod already closed: its pump reports the end
            elif isinstance(action, Disconnect):
                task = self.connecting.pop(action.request_id, None)
                if task is not None and task is not asyncio.current_task():
                    task.cancel()
                connection = self.connections.pop(action.request_id, None)
                if connection is not None:
                    connection.close()
        return written


def _reason(error: BaseException) -> str:
    """Go's words for a failed connect (``connection refused``, ``i/o timeout``)."""
    if isinstance(error, asyncio.TimeoutError):
        return "i/o timeout"
    number = getattr(error, "errno", None)
    return os.strerror(number).lower() if number else str(error) or type(error).__name__


async def _close(websocket: WebSocket) -> None:
    try:
        await websocket.close(1000)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # already closed by the other side

