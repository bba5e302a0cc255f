"""``kubectl port-forward`` on the wire: the ``portforward.k8s.io`` protocol over SPDY/3.1.

kubectl (client-go's ``tools/portforward``) opens one SPDY session (:mod:`orchestrator.api.spdy`)
per ``kubectl port-forward`` and, for every local connection it accepts, two streams that carry
the same ``requestid`` and ``port`` headers (one SYN_STREAM each, which the server answers with a
SYN_REPLY):

* the **error** stream (``streamtype: error``), created first. kubectl closes its own half at
  once and reads the other half to its end: empty means the connection went well; anything else
  is a message that kubectl prints as ``an error occurred forwarding 8080 -> 80: <message>``;
* the **data** stream (``streamtype: data``): the connection's bytes, both ways. Each side
  ends its half with FIN when its end of the connection closes. When kubectl's local connection
  is done it resets the data stream (RST_STREAM), then waits for the error stream's end.

The kubelet answers on the error stream, in its words, when it cannot forward: ``error
forwarding port 8080 to pod web, uid 1234: failed to connect to localhost:8080 inside namespace
…`` (:func:`forwarding_error`), then resets both streams. kubectl 1.32 (client-go since 1.23)
then closes the *whole* session and exits with ``error: lost connection to pod``: one refused
connection ends ``kubectl port-forward``, against Kubernetes as against dockyard.

Streams whose headers are missing or wrong are reset at once, with the kubelet's reasons
(:func:`parse_stream`); SPDY's pings are echoed. kubectl reaches the session two ways, both of
which dockyard serves:

* a WebSocket whose subprotocol is :data:`TUNNELED_PROTOCOL` (``SPDY/3.1+portforward.k8s.io``),
  the session's bytes in binary messages (kubectl 1.30+ tries this first);
* an HTTP upgrade (``Connection: Upgrade``, ``Upgrade: SPDY/3.1``) offering ``portforward.k8s.io``
  in ``X-Stream-Protocol-Version``, answered by ``101 Switching Protocols`` naming it back; after
  that the connection *is* the session. kubectl falls back to it when the WebSocket upgrade fails,
  and uses only it with ``KUBECTL_PORT_FORWARD_WEBSOCKETS=false``.

Everything here is pure; the API server and the node agent both import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterable

from orchestrator.api.spdy import HeaderBlock, header

#: the port-forward protocol version, the only one Kubernetes has
PROTOCOL = "portforward.k8s.io"
#: what the WebSocket subprotocol puts in front of the tunneled protocol
TUNNELING_PREFIX = "SPDY/3.1+"
TUNNELED_PROTOCOL = TUNNELING_PREFIX + PROTOCOL
#: the HTTP upgrade's token and the header that negotiates the protocol on it
SPDY_UPGRADE = "SPDY/3.1"
PROTOCOL_VERSION_HEADER = "X-Stream-Protocol-Version"

# Stream headers as they travel (SPDY lowercases Go's canonical "Streamtype", "Port", "Requestid");
# the kubelet's messages name them as Kubernetes' constants spell them.
STREAM_TYPE_HEADER = "streamtype"
PORT_HEADER = "port"
REQUEST_ID_HEADER = "requestid"
_NAMED = {STREAM_TYPE_HEADER: "streamType", PORT_HEADER: "port", REQUEST_ID_HEADER: "requestID"}


class StreamType(str, Enum):
    ERROR = "error"
    DATA = "data"


def negotiate_tunnel(offered: Iterable[str]) -> str | None:
    """:data:`TUNNELED_PROTOCOL` when the client offers it (the only protocol served), else None."""
    return TUNNELED_PROTOCOL if any(name.strip() == TUNNELED_PROTOCOL for name in offered) else None


@dataclass(frozen=True)
class ForwardStream:
    """One stream kubectl opened: which connection (``request_id``) it belongs to and its role."""

    stream_id: int
    type: StreamType
    port: int
    request_id: str


class StreamRejected(ValueError):
    """A stream the kubelet would reset; ``str()`` is its reason in the kubelet's words."""


def parse_stream(stream_id: int, headers: HeaderBlock) -> ForwardStream:
    """The stream a SYN_STREAM opens, checked as the kubelet checks it.

    A stream without ``requestid`` (clients older than Kubernetes 1.6) gets the kubelet's
    stand-in: its own id for an error stream, two less for a data stream, which pairs the two
    streams of a connection as long as connections do not start at the same moment.
    """
    raw_port = header(headers, PORT_HEADER)
    if not raw_port:
        raise StreamRejected(f'"{_NAMED[PORT_HEADER]}" header is required')
    digits = raw_port.isascii() and raw_port.isdigit()
    if not digits or int(raw_port) > 65535:
        # Go's strconv.ParseUint(raw, 10, 16) error, as the kubelet quotes it
        why = "value out of range" if digits else "invalid syntax"
        raise StreamRejected(f'unable to parse "{raw_port}" as a port: strconv.ParseUint: parsing "{raw_port}": {why}')
    port = int(raw_port)
    if port < 1:
        raise StreamRejected(f'port "{raw_port}" must be > 0')
    raw_type = header(headers, STREAM_TYPE_HEADER)
    if not raw_type:
        raise StreamRejected(f'"{_NAMED[STREAM_TYPE_HEADER]}" header is required')
    try:
        kind = StreamType(raw_type)
    except ValueError:
        raise StreamRejected(f'invalid stream type "{raw_type}"') from None
    request_id = header(headers, REQUEST_ID_HEADER) or str(stream_id if kind is StreamType.ERROR else stream_id - 2)
    return ForwardStream(stream_id, kind, port, request_id)


def stream_headers(kind: StreamType, port: int, request_id: str) -> HeaderBlock:
    """The headers kubectl sends to open one stream of a forwarded connection."""
    return ((STREAM_TYPE_HEADER, kind.value), (PORT_HEADER, str(port)), (REQUEST_ID_HEADER, request_id))


def forwarding_error(port: int, pod: str, uid: str, cause: str) -> str:
    """What the kubelet writes on the error stream when a connection cannot be forwarded."""
    return f"error forwarding port {port} to pod {pod}, uid {uid}: {cause}"


def connect_failure(port: int, namespace: str, ipv4_error: str, ipv6_error: str) -> str:
    """The container runtime's reason when nothing answers on ``localhost:port`` in the pod (it
    tries IPv4, then IPv6; containerd's wording, trailing space included)."""
    return (f'failed to connect to localhost:{port} inside namespace "{namespace}", '
            f"IPv4: {ipv4_error} IPv6 {ipv6_error} ")


def duplicate_stream(request_id: str, kind: StreamType) -> str:
    """The kubelet's note on the error stream when a connection opens a second stream of a type."""
    return f"error processing stream for request {request_id}: {kind.value} stream already assigned"


def streams_timed_out(request_id: str) -> str:
    """The kubelet's note when a connection's second stream never came."""
    return f"(request={request_id}) timed out waiting for streams"
