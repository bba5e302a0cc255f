"""The agent endpoint's routes: container logs, exec, attach and port-forward (contract in
:mod:`orchestrator.api.agentendpoint`; port-forward is :mod:`agent.portforward.server`).

All stream: a log line is sent the moment Docker hands it over, exec and attach output the
moment the process writes it. Docker's sockets block, so each read runs in a worker thread that the request
may *abandon* when the client goes away; closing the Docker stream then wakes that thread (see
:mod:`agent.runtime.streams`), so a vanished ``kubectl logs -f`` never pins a thread until the
container next prints something. Each open follow or exec holds one of anyio's worker threads
(40 per endpoint by default), which bounds how many may be open at once on one node.

Errors before the stream starts are ``metav1.Status`` JSON in the kubelet's words; once an exec
or attach WebSocket is open, the outcome (exit code, or why the command could not run) travels as
the final status on the error channel, as :mod:`orchestrator.api.remotecommand` describes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from anyio import to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from agent.portforward.server import PortForwarder
from agent.runtime.errors import ContainerRuntimeError, LogsNotAvailable
from agent.runtime.streams import ContainerRef, ContainerStreams, LogStream, StreamSession
from orchestrator.api import errors
from orchestrator.api.agentendpoint import POD_UID_PARAM
from orchestrator.api.podlogs import LogOptions
from orchestrator.api.remotecommand import (
    Channel, ExecOptions, StreamVerb, TerminalSize, exit_status, failure_status, frame, negotiate, offered_protocols,
    unframe,
)

log = logging.getLogger("dockyard.agent.endpoint")


def streaming_app(streams: ContainerStreams, port_forwarder: PortForwarder) -> Starlette:
    async def logs(request: Request) -> Response:
        try:
            ref = _ref(request.path_params, request.query_params.get(POD_UID_PARAM))
            options = LogOptions.from_query(request.query_params, ref.pod)
            stream = await to_thread.run_sync(streams.logs, ref, options)
        except errors.ApiError as error:
            return _status(error)
        except LogsNotAvailable as error:
            return _status(errors.bad_request(str(error)))
        except ContainerRuntimeError as error:
            return _status(errors.ApiError(str(error), errors.StatusReason.SERVICE_UNAVAILABLE, 503))
        return StreamingResponse(_lines(stream), media_type="text/plain")

    def remote_command(verb: StreamVerb) -> Callable[[WebSocket], Awaitable[None]]:
        start = streams.exec if verb is StreamVerb.EXEC else streams.attach

        async def serve(websocket: WebSocket) -> None:
            try:
                ref = _ref(websocket.path_params, websocket.query_params.get(POD_UID_PARAM))
                options = ExecOptions.from_query(websocket.query_params.multi_items(), verb)
                protocol = negotiate(offered_protocols(websocket.headers.get("sec-websocket-protocol")))
                if protocol is None:
                    raise errors.bad_request(f"{verb.value} needs the WebSocket subprotocol v5.channel.k8s.io "
                                             "or v4.channel.k8s.io")
            except errors.ApiError as error:
                await websocket.send_denial_response(_status(error))
                return
            await websocket.accept(subprotocol=protocol.value)
            try:
                session = await to_thread.run_sync(start, ref, options)
            except ContainerRuntimeError as error:
                await _finish(websocket, failure_status(str(error)))
                return
            await _relay(websocket, session, options)

        return serve

    return Starlette(routes=[
        Route("/containerLogs/{namespace}/{pod}/{container}", logs, methods=["GET"]),
        *(WebSocketRoute(f"/{verb.value}/{{namespace}}/{{pod}}/{{container}}", remote_command(verb))
          for verb in StreamVerb),
        WebSocketRoute("/portForward/{namespace}/{pod}", port_forwarder.serve),
    ])


def _ref(path: dict, pod_uid: str | None) -> ContainerRef:
    if not pod_uid:
        raise errors.bad_request(f"the {POD_UID_PARAM} query parameter is required: it tells this pod "
                                 "from an older one of the same name")
    return ContainerRef(path["namespace"], path["pod"], pod_uid, path["container"])


def _status(error: errors.ApiError) -> JSONResponse:
    return JSONResponse(error.to_status(), status_code=error.code)


async def _lines(stream: LogStream) -> AsyncIterator[bytes]:
    try:
        while (line := await to_thread.run_sync(stream.next_line, abandon_on_cancel=True)) is not None:
            yield line
    finally:
        stream.close()  # wakes an abandoned reader thread when the client left mid-follow


async def _relay(websocket: WebSocket, session: StreamSession, options: ExecOptions) -> None:
    """Process output → client until it ends, client input → process meanwhile; then the final
    status on the error channel and a normal close."""
    client_gone = asyncio.Event()
    inputs = asyncio.create_task(_pump_input(websocket, session, options, client_gone))
    try:
        # An empty message on the first output channel tells the client the session is
        # established before the command prints anything, as the kubelet does.
        first = Channel.STDOUT if options.stdout else Channel.STDERR if options.stderr else Channel.ERROR
        if first is not Channel.ERROR:
            await websocket.send_bytes(frame(first))
        while (item := await to_thread.run_sync(session.read, abandon_on_cancel=True)) is not None:
            await websocket.send_bytes(frame(*item))
        if client_gone.is_set():
            return
        code = await to_thread.run_sync(session.exit_code)
        status = (exit_status(code, options.command) if code is not None
                  else failure_status("the command's exit code is unknown: it closed its output but kept "
                                      "running, or its container went away"))
        await _finish(websocket, status)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client went away mid-stream: nothing left to tell it
    finally:
        inputs.cancel()
        session.close()


async def _pump_input(websocket: WebSocket, session: StreamSession, options: ExecOptions,
                      client_gone: asyncio.Event) -> None:
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes") or (message.get("text") or "").encode()
            if not data:
                continue
            channel, payload = unframe(data)
            if channel == Channel.STDIN and options.stdin:
                await to_thread.run_sync(session.write_stdin, payload)
            elif channel == Channel.CLOSE and payload[:1] == bytes([Channel.STDIN]):
                await to_thread.run_sync(session.close_stdin)
            elif channel == Channel.RESIZE and options.tty:
                try:
                    size = TerminalSize.parse(payload)
                except ValueError:
                    continue  # a malformed resize is not worth ending the session for
                await to_thread.run_sync(session.resize, size)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    client_gone.set()
    session.close()  # wakes the output reader so the relay ends too


async def _finish(websocket: WebSocket, status: dict) -> None:
    await websocket.send_bytes(frame(Channel.ERROR, json.dumps(status).encode()))
    await websocket.close(1000)
