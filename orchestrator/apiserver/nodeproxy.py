"""``kubectl logs``, ``exec``, ``attach`` and ``port-forward``: from the API server to the pod's node
agent and back.

The API server never touches containers; like kube-apiserver with kubelets, it works out *which*
container a request means, finds the node agent running it, and passes the stream through:

1. **plan** (pure, unit-tested): the container (the only one when none is named, else
   kubectl's "a container name must be specified … choose one of: [a b]"), the pod's phase and
   node, and, for logs, what the pod's status already says (a container still waiting to start
   has no logs; kubelet's words);
2. **find the agent**: the Node's ``InternalIP``, its ``daemonEndpoints.kubeletEndpoint.Port``
   and its pinned certificate (:mod:`orchestrator.apiserver.agenttls`);
3. **relay**: logs as a raw text stream (each line flushed as it arrives), exec and attach as a
   WebSocket bridged message for message to the agent's own ``v5.channel.k8s.io`` WebSocket,
   port-forward as bytes both ways between kubectl's SPDY session (in a WebSocket, or after the
   SPDY upgrade, which :mod:`orchestrator.apiserver.spdyupgrade` presents as one) and the agent's
   ``portForward`` WebSocket. The agent is connected *before* kubectl's upgrade is answered, so
   whatever the agent refuses reaches kubectl as the upgrade's error.

Errors the agent reports (``metav1.Status``, in the kubelet's words) are handed on unchanged;
when the agent cannot be reached the message says where we tried.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace
from typing import AsyncIterator, Sequence
from urllib.parse import urlencode

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol as WireSubprotocol

from orchestrator.api import errors
from orchestrator.api.agentendpoint import (
    POD_UID_PARAM, PORT_FORWARD_SUBPROTOCOL, SERVING_CERT_ANNOTATION, logs_path, port_forward_path, stream_path,
)
from orchestrator.api.nodestatus import internal_ip
from orchestrator.api.podlogs import LogOptions, LogsUnavailable
from orchestrator.api.podstatus import is_finished, phase
from orchestrator.api.portforward import TUNNELED_PROTOCOL, negotiate_tunnel
from orchestrator.api.registry import kind_for
from orchestrator.api.remotecommand import (
    Channel, ExecOptions, StreamVerb, Subprotocol, failure_status, frame, negotiate, offered_protocols, unframe,
)
from orchestrator.apiserver.agenttls import CONNECT_TIMEOUT, AgentAddress, AgentTLS, unreachable
from orchestrator.apiserver.objects import ObjectAPI



# -- planning (pure) ------------------------------------------------------------------------


def container_for(pod: dict, requested: str | None) -> str:
    """The container a request means, with the API server's messages (``validateContainer``)."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec") or {}
    containers = [c["name"] for c in spec.get("containers") or []]
    init = [c["name"] for c in spec.get("initContainers") or []]
    ephemeral = [c["name"] for c in spec.get("ephemeralContainers") or []]
    if requested:
        if requested not in containers + init + ephemeral:
            raise errors.bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    if len(containers) == 1:
        return containers[0]
    if not containers:
        raise errors.bad_request(f"a container name must be specified for pod {name}")
    message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
    if init:
        message += f" or one of the init containers: [{' '.join(init)}]"
    raise errors.bad_request(message)


def plan_logs(pod: dict, options: LogOptions) -> LogOptions:
    """The options to send to the agent, or the kubelet's error when the status already shows
    there is nothing to read."""
    container = container_for(pod, options.container)
    name = pod["metadata"]["name"]
    _require_node(pod)
    status = _container_status(pod, container)
    waiting = (status.get("state") or {}).get("waiting")
    last_terminated = (status.get("lastState") or {}).get("terminated")
    if waiting is not None and last_terminated is not None and options.previous:
        # In back-off the newest Docker instance *is* the last terminated one, which is what the
        # kubelet's --previous shows (lastState); the agent's "previous" would be one further back.
        return replace(options, container=container, previous=False)
    if waiting is not None and last_terminated is None:
        reason = waiting.get("reason") or "ContainerCreating"
        known = {r.value: r for r in LogsUnavailable}.get(reason, LogsUnavailable.NOT_STARTED)
        if options.previous:
            raise LogsUnavailable.NO_PREVIOUS.error(container, name)
        raise known.error(container, name, reason)
    return replace(options, container=container)


def plan_remote_command(pod: dict, query: Sequence[tuple[str, str]], verb: StreamVerb) -> ExecOptions:
    """The exec to run or the attach to make, or why it cannot be done (the same checks whether
    the client upgraded to a WebSocket or not)."""
    options = ExecOptions.from_query(query, verb)
    if is_finished(pod):
        into = "exec into" if verb is StreamVerb.EXEC else "attach to"
        raise errors.bad_request(f"cannot {into} a container in a completed pod; current phase is {phase(pod)}")
    container = container_for(pod, options.container)
    _require_node(pod)
    return replace(options, container=container)


def agent_address(node: dict) -> AgentAddress:
    """Where the node's agent listens and which certificate it must present."""
    name = node["metadata"]["name"]
    status = node.get("status") or {}
    host = internal_ip(node)
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    pin = ((node.get("metadata") or {}).get("annotations") or {}).get(SERVING_CERT_ANNOTATION)
    if not host or not port or not pin:
        missing = [what for what, value in (("an InternalIP address", host), ("a kubelet endpoint port", port),
                                            (f"the {SERVING_CERT_ANNOTATION} annotation", pin)) if not value]
        raise errors.ApiError(
            f'node "{name}" does not publish {" and ".join(missing)}, so its agent cannot be reached (for '
            "logs, exec, attach or the node proxy); is it a dockyard agent that has registered?", errors.StatusReason.SERVICE_UNAVAILABLE, 503)
    return AgentAddress(name, host, int(port), pin)


def _require_node(pod: dict) -> str:
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        raise errors.bad_request(f"pod {pod['metadata']['name']} does not have a host assigned")
    return node


def _container_status(pod: dict, container: str) -> dict:
    status = pod.get("status") or {}
    statuses = [s for key in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses")
                for s in status.get(key) or []]
    return next((s for s in statuses if s.get("name") == container), {})


# -- relaying -------------------------------------------------------------------------------


@dataclass
class NodeProxy:
    api: ObjectAPI
    tls: AgentTLS

    async def stream_logs(self, request: Request, pod: dict) -> Response:
        """``ResourceHandlers``' ``log_streamer``: the pod's log as the agent streams it."""
        options = plan_logs(pod, LogOptions.from_query(request.query_params, pod["metadata"]["name"]))
        address = self._address(pod)
        context = await self.tls.context(address)
        meta = pod["metadata"]
        query = {**options.to_query(), POD_UID_PARAM: meta["uid"]}
        container = container_for(pod, options.container)  # the one the plan settled on, as a str
        url = f"https://{address.netloc}{logs_path(meta['namespace'], meta['name'], container)}"
        client = httpx.AsyncClient(verify=context, timeout=httpx.Timeout(CONNECT_TIMEOUT, read=None))
        try:
            response = await client.send(client.build_request("GET", url, params=query), stream=True)
        except httpx.HTTPError as error:
            await client.aclose()
            raise unreachable(address, error) from None
        if response.status_code != 200:
            body = await response.aread()
            await client.aclose()
            raise _agent_error(response.status_code, body)

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.aiter_raw():
                    yield chunk
            except httpx.HTTPError:
                return  # the agent went away mid-stream: the log simply ends, as kubectl's would
            finally:
                await response.aclose()
                await client.aclose()

        return StreamingResponse(relay(), media_type="text/plain")

    async def remote_command(self, websocket: WebSocket, pod: dict, verb: StreamVerb) -> None:
        """``ResourceHandlers``' ``remote_command``: bridge the client's exec or attach WebSocket to
        the agent's."""
        try:
            options = plan_remote_command(pod, websocket.query_params.multi_items(), verb)
            protocol = negotiate(offered_protocols(websocket.headers.get("sec-websocket-protocol")))
            if protocol is None:
                # kubectl before 1.30 (or with KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false) comes as a SPDY
                # upgrade, which the server presents as a WebSocket offering "SPDY/3.1+…"
                raise errors.bad_request(
                    f"{verb.value} is served over WebSocket with the subprotocol {Subprotocol.V5.value} or "
                    f"{Subprotocol.V4.value}, not SPDY; the client offered neither: use kubectl 1.30 or newer, "
                    f"or `dockyard {verb.value}`")
            address = self._address(pod)
            context = await self.tls.context(address)
        except errors.ApiError as error:
            await websocket.send_denial_response(_status_response(error))
            return
        await websocket.accept(subprotocol=protocol.value)
        meta = pod["metadata"]
        query = urlencode([*options.to_query(), (POD_UID_PARAM, meta["uid"])])
        container = container_for(pod, options.container)  # the one the plan settled on, as a str
        url = f"wss://{address.netloc}{stream_path(verb, meta['namespace'], meta['name'], container)}?{query}"
        try:
            # proxy=None: the agent is dialled directly, whatever proxy the server's environment names
            async with connect(url, ssl=context, subprotocols=[WireSubprotocol(Subprotocol.V5.value)],
                               open_timeout=CONNECT_TIMEOUT, max_size=None, compression=None,
                               proxy=None) as agent:
                await _bridge(websocket, agent)
        except InvalidStatus as error:
            await _finish(websocket, failure_status(_agent_error(error.response.status_code,
                                                                 bytes(error.response.body or b"")).message))
        except (InvalidHandshake, OSError, asyncio.TimeoutError) as error:
            await _finish(websocket, failure_status(unreachable(address, error).message))

    async def port_forward(self, websocket: WebSocket, pod: dict) -> None:
        """``ResourceHandlers``' ``port_forward``: kubectl's SPDY session to the agent, byte for byte."""
        meta = pod["metadata"]
        try:
            if negotiate_tunnel(websocket.scope.get("subprotocols") or ()) is None:
                raise errors.bad_request(f"port-forward is served over WebSocket with the subprotocol {TUNNELED_PROTOCOL} "
                                         "or over an upgrade to SPDY/3.1; the client asked for neither")
            _require_node(pod)
            address = self._address(pod)
            context = await self.tls.context(address)
            url = (f"wss://{address.netloc}{port_forward_path(meta['namespace'], meta['name'])}"
                   f"?{urlencode({POD_UID_PARAM: meta['uid']})}")
            try:
                agent = await connect(url, ssl=context, subprotocols=[WireSubprotocol(PORT_FORWARD_SUBPROTOCOL)],
                                      open_timeout=CONNECT_TIMEOUT, max_size=None, compression=None)
            except InvalidStatus as error:
                raise _agent_error(error.response.status_code, bytes(error.response.body or b"")) from None
            except (InvalidHandshake, OSError, asyncio.TimeoutError) as error:
                raise unreachable(address, error) from None
        except errors.ApiError as error:
            await websocket.send_denial_response(_status_response(error))
            return
        async with agent:
            await websocket.accept(subprotocol=TUNNELED_PROTOCOL)
            await _relay_bytes(websocket, agent)

    def _address(self, pod: dict) -> AgentAddress:
        node_name = pod["spec"]["nodeName"]
        node = errors.or_none(lambda: self.api.get(kind_for("v1", "Node"), None, node_name))
        if node is None:
            raise errors.ApiError(f'pod {pod["metadata"]["name"]} is bound to node "{node_name}", which no '
                                  "longer exists", errors.StatusReason.SERVICE_UNAVAILABLE, 503)
        return agent_address(node)


async def _bridge(client: WebSocket, agent: ClientConnection) -> None:
    """Messages both ways until the agent ends the session (after its final status) or the
    client goes away."""
    status_seen = False

    async def client_to_agent() -> None:
        try:
            while True:
                message = await client.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("bytes") or (message.get("text") or "").encode()
                if data:
                    await agent.send(data)
        except (WebSocketDisconnect, RuntimeError, ConnectionClosed):
            pass
        await agent.close()

    upstream = asyncio.create_task(client_to_agent())
    try:
        async for message in agent:
            data = message if isinstance(message, bytes) else message.encode()
            status_seen = status_seen or (bool(data) and unframe(data)[0] == Channel.ERROR)
            await client.send_bytes(data)
        if not status_seen:
            await client.send_bytes(frame(Channel.ERROR, json.dumps(failure_status(
                "the node agent ended the session before the command finished")).encode()))
        await client.close(1000)
    except (ConnectionClosed, WebSocketDisconnect, RuntimeError, OSError):
        pass  # one side vanished; the other is closed below
    finally:
        upstream.cancel()


async def _relay_bytes(client: WebSocket, agent: ClientConnection) -> None:
    """Bytes both ways until either side closes; then the other is closed too. Each side's
    sends wait for its transport to take the bytes, so neither can outrun the other."""

    async def client_to_agent() -> None:
        try:
            while (message := await client.receive())["type"] != "websocket.disconnect":
                if data := message.get("bytes") or (message.get("text") or "").encode():
                    await agent.send(data)
        except (WebSocketDisconnect, RuntimeError, ConnectionClosed, OSError):
            pass

    async def agent_to_client() -> None:
        try:
            async for message in agent:
                await client.send_bytes(message if isinstance(message, bytes) else message.encode())
        except (WebSocketDisconnect, RuntimeError, ConnectionClosed, OSError):
            pass

    directions = [asyncio.create_task(client_to_agent()), asyncio.create_task(agent_to_client())]
    try:
        await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in directions:
            task.cancel()
        await asyncio.gather(*directions, return_exceptions=True)
        await agent.close()
        try:
            await client.close(1000)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the client left first


async def _finish(websocket: WebSocket, status: dict) -> None:
    try:
        await websocket.send_bytes(frame(Channel.ERROR, json.dumps(status).encode()))
        await websocket.close(1000)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass


def _agent_error(code: int, body: bytes) -> errors.ApiError:
    """The agent's ``metav1.Status`` as our error, or a plain description when it sent none."""
    try:
        status = json.loads(body)
    except ValueError:
        status = {}
    if isinstance(status, dict) and status.get("kind") == "Status" and status.get("message"):
        reason = {r.value: r for r in errors.StatusReason}.get(status.get("reason", ""), errors.StatusReason.BAD_REQUEST)
        return errors.ApiError(status["message"], reason, int(status.get("code") or code))
    text = body.decode(errors="replace").strip() or f"HTTP {code}"
    return errors.ApiError(f"the node agent answered: {text}", errors.StatusReason.INTERNAL_ERROR, 500)


def _status_response(error: errors.ApiError) -> Response:
    return Response(json.dumps(error.to_status()), error.code, media_type="application/json")
