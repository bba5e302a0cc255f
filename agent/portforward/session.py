"""One ``kubectl port-forward`` session on the agent, as a pure state machine (no I/O).

:class:`ForwardSession` is the kubelet's port-forward stream handler and spdystream's server
side in one: it takes the frames kubectl sends (decoded by :mod:`orchestrator.api.spdy`) and the
events of the pod connections, and answers with :data:`Action` values for a thin driver
(:mod:`agent.portforward.server`) to carry out: frames to send, connections to open, bytes to
write, halves to shut, sockets to close. Every rule lives here, so it is tested without sockets.

The bookkeeping, per forwarded connection (kubectl's ``requestid``):

1. **pairing**: its error and data streams may come in either order; the first opens a
   :class:`_Forward` *waiting* for the other (the kubelet's "stream pair"). A second stream of a
   type already there gets the kubelet's note on the error stream; a pair still incomplete after
   ``creation_timeout`` is told so and reset.
2. **connecting**: with both streams there, the driver is asked to :class:`Connect` to the port
   inside the pod. Bytes kubectl sends meanwhile wait in the forward, and go out once
   :meth:`ForwardSession.connected` says the socket is open. If it cannot connect,
   :meth:`ForwardSession.connect_failed` writes the kubelet's error on the error stream and
   resets both streams, as the kubelet does.
3. **open**: bytes flow both ways. Each half ends on its own (half-close): kubectl's FIN on the
   data stream shuts the socket's write side; the pod's end-of-file sends FIN on the data stream.
4. **done**: once both halves have ended, or kubectl resets the data stream (what it does when
   its local connection closes), the socket is closed and the error stream ended with an empty
   FIN, which kubectl reads as "no error".

The session ends with kubectl's GOAWAY (or when the driver sees the transport close), or with
:meth:`ForwardSession.shutdown` when the pod goes away: every open stream is reset and a GOAWAY
sent, and every socket closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Union

from orchestrator.api import spdy
from orchestrator.api.portforward import (
    ForwardStream, StreamRejected, StreamType, duplicate_stream, forwarding_error, parse_stream, streams_timed_out,
)

#: the kubelet's default ``streamCreationTimeout``: how long a connection's first stream waits
#: for its second
CREATION_TIMEOUT = 30.0
#: the most one data frame carries out of here (the driver reads less than this at a time anyway)
MAX_DATA_FRAME = 1 << 20


@dataclass(frozen=True)
class Send:
    frame: spdy.Frame


@dataclass(frozen=True)
class Connect:
    """Open a TCP connection to ``localhost:port`` inside the pod for ``request_id``."""

    request_id: str
    port: int


@dataclass(frozen=True)
class Write:
    request_id: str
    data: bytes


@dataclass(frozen=True)
class ShutdownWrite:
    """kubectl will send no more: end the socket's write side (the pod reads end-of-file)."""

    request_id: str


@dataclass(frozen=True)
class Disconnect:
    """Close the socket of ``request_id`` (or abandon its connect) for good."""

    request_id: str


Action = Union[Send, Connect, Write, ShutdownWrite, Disconnect]


class Phase(str, Enum):
    WAITING = "waiting for its other stream"
    CONNECTING = "connecting"
    OPEN = "open"


@dataclass
class _Forward:
    request_id: str
    port: int
    created: float
    phase: Phase = Phase.WAITING
    error_stream: int | None = None
    data_stream: int | None = None
    #: bytes from kubectl waiting for the socket to open
    pending: list[bytes] = field(default_factory=list)
    client_done: bool = False  # kubectl's FIN on the data stream
    pod_done: bool = False     # the pod's end-of-file, passed on as our FIN
    error_reset: bool = False  # kubectl reset the error stream: nothing more may be written on it


class ForwardSession:
    def __init__(self, pod: str, uid: str, *, creation_timeout: float = CREATION_TIMEOUT) -> None:
        self.pod = pod
        self.uid = uid
        self.creation_timeout = creation_timeout
        self.finished = False
        self._last_stream_id = 0
        self._forwards: dict[str, _Forward] = {}
        #: stream id → the request id it belongs to, for every stream still in use
        self._streams: dict[int, str] = {}

    # -- what kubectl sends -------------------------------------------------------------------

    def receive(self, frame: spdy.Frame, now: float) -> list[Action]:
        if self.finished:
            return []
        if isinstance(frame, spdy.SynStream):
            return self._open(frame, now)
        if isinstance(frame, spdy.Data):
            return self._data(frame)
        if isinstance(frame, spdy.RstStream):
            return self._reset(frame.stream_id)
        if isinstance(frame, spdy.Ping):
            # echo the client's (odd) pings; an even one would be the answer to ours, and we send none
            return [Send(frame)] if frame.id % 2 else []
        if isinstance(frame, spdy.GoAway):
            return self.client_gone()
        return []  # SETTINGS, WINDOW_UPDATE, HEADERS, SYN_REPLY: nothing to do for a port-forward

    def _open(self, frame: spdy.SynStream, now: float) -> list[Action]:
        stream_id = frame.stream_id
        if stream_id % 2 == 0 or stream_id <= self._last_stream_id:
            # client streams are odd and increasing (spdystream resets the others the same way)
            return [Send(spdy.RstStream(stream_id, spdy.RstStatus.PROTOCOL_ERROR))]
        self._last_stream_id = stream_id
        try:
            stream = parse_stream(stream_id, frame.headers)
        except StreamRejected:
            return [Send(spdy.RstStream(stream_id, spdy.RstStatus.CANCEL))]
        actions: list[Action] = [Send(spdy.SynReply(stream_id))]
        forward = self._forwards.get(stream.request_id)
        if forward is None:
            forward = self._forwards[stream.request_id] = _Forward(stream.request_id, stream.port, now)
        if _has(forward, stream.type):
            if forward.error_stream is not None:
                actions.append(Send(spdy.Data(forward.error_stream, duplicate_stream(stream.request_id,
                                                                                     stream.type).encode())))
            return actions
        self._assign(forward, stream)
        if frame.fin:
            actions += self._client_finished(forward, stream.stream_id)
        if forward.phase is Phase.WAITING and forward.error_stream is not None and forward.data_stream is not None:
            forward.phase = Phase.CONNECTING
            actions.append(Connect(forward.request_id, forward.port))
        return actions

    def _assign(self, forward: _Forward, stream: ForwardStream) -> None:
        if stream.type is StreamType.ERROR:
            forward.error_stream = stream.stream_id
        else:
            forward.data_stream = stream.stream_id
        self._streams[stream.stream_id] = forward.request_id

    def _data(self, frame: spdy.Data) -> list[Action]:
        forward = self._forward_of(frame.stream_id)
        if forward is None or frame.stream_id != forward.data_stream or forward.client_done:
            # kubectl writes nothing on the error stream but its FIN; data after a FIN or for a
            # stream already done is dropped, as spdystream drops it
            return []
        actions: list[Action] = []
        if frame.data:
            if forward.phase is Phase.OPEN:
                actions.append(Write(forward.request_id, frame.data))
            else:
                forward.pending.append(frame.data)
        if frame.fin:
            actions += self._client_finished(forward, frame.stream_id)
        return actions

    def _client_finished(self, forward: _Forward, stream_id: int) -> list[Action]:
        if stream_id != forward.data_stream:
            return []
        forward.client_done = True
        if forward.phase is not Phase.OPEN:
            return []  # passed on once connected
        if forward.pod_done:
            return self._finish(forward)
        return [ShutdownWrite(forward.request_id)]

    def _reset(self, stream_id: int) -> list[Action]:
        forward = self._forward_of(stream_id)
        if forward is None:
            return []
        if stream_id == forward.error_stream:
            forward.error_reset = True
            del self._streams[stream_id]
            return []
        # kubectl resets the data stream when its local connection is done (or on Ctrl-C):
        # the connection is over, in both directions, and not an error
        del self._streams[stream_id]
        forward.data_stream = None
        return self._finish(forward)

    # -- what the pod connection does ----------------------------------------------------------

    def connected(self, request_id: str) -> list[Action]:
        forward = self._forwards.get(request_id)
        if forward is None or forward.phase is not Phase.CONNECTING:
            return [Disconnect(request_id)]  # the connection ended while the socket was opening
        forward.phase = Phase.OPEN
        actions: list[Action] = [Write(request_id, data) for data in forward.pending]
        forward.pending.clear()
        if forward.client_done:
            actions.append(ShutdownWrite(request_id))
        return actions

    def connect_failed(self, request_id: str, cause: str) -> list[Action]:
        """The kubelet's answer: the error on the error stream, then both streams reset."""
        forward = self._forwards.get(request_id)
        if forward is None:
            return []
        actions: list[Action] = []
        if forward.error_stream is not None and not forward.error_reset:
            message = forwarding_error(forward.port, self.pod, self.uid, cause)
            actions.append(Send(spdy.Data(forward.error_stream, message.encode())))
        actions += self._reset_streams(forward)
        self._forget(forward)
        return actions

    def pod_data(self, request_id: str, data: bytes) -> list[Action]:
        forward = self._forwards.get(request_id)
        if forward is None or forward.data_stream is None or forward.pod_done:
            return []
        return [Send(spdy.Data(forward.data_stream, data[start:start + MAX_DATA_FRAME]))
                for start in range(0, len(data), MAX_DATA_FRAME)]

    def pod_closed(self, request_id: str) -> list[Action]:
        """The pod's end of the connection reached end-of-file (or broke)."""
        forward = self._forwards.get(request_id)
        if forward is None or forward.pod_done:
            return []
        forward.pod_done = True
        actions: list[Action] = []
        if forward.data_stream is not None:
            actions.append(Send(spdy.Data(forward.data_stream, b"", fin=True)))
        if forward.client_done:
            actions += self._finish(forward)
        return actions

    # -- time and the end ----------------------------------------------------------------------

    def expire(self, now: float) -> list[Action]:
        """Reset the connections whose second stream never came (the kubelet's stream creation
        timeout)."""
        actions: list[Action] = []
        for forward in list(self._forwards.values()):
            if forward.phase is Phase.WAITING and now - forward.created >= self.creation_timeout:
                if forward.error_stream is not None:
                    actions.append(Send(spdy.Data(forward.error_stream,
                                                  streams_timed_out(forward.request_id).encode())))
                actions += self._reset_streams(forward)
                self._forget(forward)
        return actions

    def client_gone(self) -> list[Action]:
        """kubectl said GOAWAY or its transport closed: close every socket; nothing is sent."""
        return self._close_all(goaway=False)

    def shutdown(self) -> list[Action]:
        """End the session from our side (the pod is gone): reset every stream, GOAWAY."""
        return self._close_all(goaway=True)

    def protocol_error(self) -> list[Action]:
        """kubectl sent bytes that are not SPDY/3.1: close everything and say why in GOAWAY."""
        return self._close_all(goaway=True, status=spdy.GoAwayStatus.PROTOCOL_ERROR)

    @property
    def connections(self) -> int:
        """Forwarded connections in progress."""
        return len(self._forwards)

    def _close_all(self, *, goaway: bool, status: spdy.GoAwayStatus = spdy.GoAwayStatus.OK) -> list[Action]:
        if self.finished:
            return []
        actions: list[Action] = []
        for forward in list(self._forwards.values()):
            if goaway:
                actions += self._reset_streams(forward)
            if forward.phase is not Phase.WAITING:
                actions.append(Disconnect(forward.request_id))
            self._forget(forward)
        if goaway:
            actions.append(Send(spdy.GoAway(self._last_stream_id, status)))
        self.finished = True
        return actions

    # -- helpers -------------------------------------------------------------------------------

    def _finish(self, forward: _Forward) -> list[Action]:
        """Both directions are over: the socket goes, and an empty FIN on the error stream tells
        kubectl there was no error."""
        actions: list[Action] = [Disconnect(forward.request_id)]
        if forward.error_stream is not None and not forward.error_reset:
            actions.append(Send(spdy.Data(forward.error_stream, b"", fin=True)))
        self._forget(forward)
        return actions

    def _reset_streams(self, forward: _Forward) -> list[Action]:
        streams = [forward.data_stream, None if forward.error_reset else forward.error_stream]
        return [Send(spdy.RstStream(stream, spdy.RstStatus.CANCEL)) for stream in streams if stream is not None]

    def _forget(self, forward: _Forward) -> None:
        self._forwards.pop(forward.request_id, None)
        for stream in (forward.error_stream, forward.data_stream):
            if stream is not None:
                self._streams.pop(stream, None)

    def _forward_of(self, stream_id: int) -> _Forward | None:
        request_id = self._streams.get(stream_id)
        return None if request_id is None else self._forwards.get(request_id)


def _has(forward: _Forward, kind: StreamType) -> bool:
    return (forward.error_stream if kind is StreamType.ERROR else forward.data_stream) is not None
