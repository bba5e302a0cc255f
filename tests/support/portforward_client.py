"""A port-forward client at the protocol level, for what kubectl cannot show.

kubectl 1.32 ends the whole ``kubectl port-forward`` at the first connection that fails (client-go
closes the session when an error stream carries a message), so it cannot show that the *server*
keeps serving the session's other connections. This client can: it speaks kubectl's SPDY upgrade
(``POST …/portforward``, ``Upgrade: SPDY/3.1``) over TLS with :mod:`orchestrator.api.spdy`, and
opens connections the way client-go does (an error stream, then a data stream, one
``requestid``), leaving the test to decide what to do with each.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from orchestrator.api import spdy
from orchestrator.api.portforward import PROTOCOL, StreamType, stream_headers


@dataclass
class Stream:
    received: bytearray = field(default_factory=bytearray)
    ended: threading.Event = field(default_factory=threading.Event)  # FIN or RST from the server
    reset: bool = False


@dataclass
class Connection:
    """One forwarded connection: its error and data streams."""

    client: "PortForwardClient"
    error: int
    data: int

    def send(self, payload: bytes, fin: bool = False) -> None:
        self.client.send(spdy.Data(self.data, payload, fin))

    def read_until_end(self, timeout: float = 10) -> bytes:
        stream = self.client.streams[self.data]
        if not stream.ended.wait(timeout):
            raise TimeoutError(f"data stream {self.data} did not end in {timeout} s")
        return bytes(stream.received)

    def reset(self) -> None:
        """What client-go does once the pod's side ended: reset the data stream."""
        self.client.send(spdy.RstStream(self.data, spdy.RstStatus.CANCEL))

    def error_message(self, timeout: float = 10) -> str:
        """What the server wrote on the error stream, once it ended it (empty: no error)."""
        stream = self.client.streams[self.error]
        if not stream.ended.wait(timeout):
            raise TimeoutError(f"error stream {self.error} did not end in {timeout} s")
        return stream.received.decode()


class PortForwardClient:
    def __init__(self, url: str, path: str, token: str, context: ssl.SSLContext) -> None:
        where = urlsplit(url)
        raw = socket.create_connection((where.hostname or "127.0.0.1", where.port or 443), timeout=10)
        self.sock = context.wrap_socket(raw, server_hostname=where.hostname)
        self.sock.sendall((f"POST {path} HTTP/1.1\r\nHost: {where.netloc}\r\nAuthorization: Bearer {token}\r\n"
                           f"Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: {PROTOCOL}\r\n"
                           "Content-Length: 0\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            head += chunk
        self.status_line, _, rest = head.partition(b"\r\n")
        self.response_head, _, early = rest.partition(b"\r\n\r\n")
        self.status = int(self.status_line.split()[1]) if self.status_line else 0
        self.streams: dict[int, Stream] = defaultdict(Stream)
        self.goaway = threading.Event()
        self._encoder = spdy.FrameEncoder()
        self._decoder = spdy.FrameDecoder()
        self._lock = threading.Lock()
        self._next_stream = 1
        self._next_request = 0
        #: the answer's body when the upgrade was refused (a metav1.Status)
        self.body = early
        if self.status != 101:
            while chunk := self.sock.recv(65536):
                self.body += chunk
        else:
            self.sock.settimeout(None)
            self._reader = threading.Thread(target=self._read, args=(early,), daemon=True)
            self._reader.start()

    def send(self, frame: spdy.Frame) -> None:
        with self._lock:
            self.sock.sendall(self._encoder.encode(frame))

    def open(self, port: int) -> Connection:
        """A connection to ``port`` in the pod, opened as client-go opens one."""
        with self._lock:
            request, error, data = str(self._next_request), self._next_stream, self._next_stream + 2
            self._next_request += 1
            self._next_stream += 4
        self.send(spdy.SynStream(error, stream_headers(StreamType.ERROR, port, request)))
        self.send(spdy.Data(error, b"", fin=True))
        self.send(spdy.SynStream(data, stream_headers(StreamType.DATA, port, request)))
        return Connection(self, error, data)

    def _read(self, early: bytes) -> None:
        data = early
        try:
            while True:
                for frame in self._decoder.feed(data):
                    self._handle(frame)
                data = self.sock.recv(65536)
                if not data:
                    break
        except (OSError, spdy.SpdyError):
            pass
        self.goaway.set()
        for stream in self.streams.values():
            stream.ended.set()

    def _handle(self, frame: spdy.Frame) -> None:
        if isinstance(frame, spdy.Data):
            self.streams[frame.stream_id].received += frame.data
            if frame.fin:
                self.streams[frame.stream_id].ended.set()
        elif isinstance(frame, spdy.RstStream):
            self.streams[frame.stream_id].reset = True
            self.streams[frame.stream_id].ended.set()
        elif isinstance(frame, spdy.GoAway):
            self.goaway.set()

    def close(self) -> None:
        try:
            self.send(spdy.GoAway(0))
        except OSError:
            pass
        self.sock.close()
