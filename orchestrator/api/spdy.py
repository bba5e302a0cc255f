"""SPDY/3.1 framing, the wire format under ``kubectl port-forward``: a codec with no I/O.

kubectl multiplexes every forwarded connection over one SPDY/3.1 session (Go's ``spdystream``,
which both kubectl and the kubelet use). The session runs inside a WebSocket (kubectl 1.30+'s
tunneling: the frames' bytes in binary messages, cut anywhere) or straight over an upgraded HTTP
connection (its fallback); either way it is a byte stream, so :class:`FrameDecoder` takes bytes
in whatever pieces they arrive and hands out whole frames.

Every frame starts with 8 bytes. The first bit says which kind:

* **control frame**: ``1 | version (15 bits, 3) | type (16 bits)``, then ``flags (8) | length
  (24)``, then ``length`` bytes of payload whose layout the type fixes;
* **data frame**: ``0 | stream id (31 bits)``, then ``flags (8) | length (24)``, then the data.

=============  ====  ============================================================================
type            id    payload (big-endian)
=============  ====  ============================================================================
SYN_STREAM       1    stream id (31), associated stream id (31), priority (3 bits) + 5 unused,
                      slot (8), compressed header block
SYN_REPLY        2    stream id (31), compressed header block
RST_STREAM       3    stream id (31), status (32): :class:`RstStatus`
SETTINGS         4    count (32), then per entry flags (8) + id (24), value (32)
PING             6    id (32): odd from the client, even from the server; the peer echoes the other
                      side's pings unchanged
GOAWAY           7    last good stream id (31), status (32): :class:`GoAwayStatus`
HEADERS          8    stream id (31), compressed header block
WINDOW_UPDATE    9    stream id (31), delta window size (31)
=============  ====  ============================================================================

Flags: FIN (0x01) on SYN_STREAM, SYN_REPLY, HEADERS and data frames ends the sender's half of the
stream; UNIDIRECTIONAL (0x02) on SYN_STREAM. A header block is ``count (32)``, then per header
``name length (32), name, value length (32), value``; names are lowercase and several values of
one name are joined by NUL bytes. Each direction compresses every header block it sends with
*one* zlib stream for the whole session, primed with SPDY/3's fixed dictionary
(:data:`DICTIONARY`) and ended by a sync flush, so the encoder and the decoder are stateful and
must see every header block of their direction, in order.

Flow control (WINDOW_UPDATE) is parsed but not acted on by anybody here: spdystream never sends
it and ignores what it gets, so the peers kubectl meets pace each other through TCP alone.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Iterable, Union

VERSION = 3
#: a frame's length field has 24 bits
MAX_LENGTH = (1 << 24) - 1
#: decompressed size of one header block we are willing to hold; port-forward's are ~50 bytes
MAX_HEADER_BLOCK = 256 * 1024

FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02

_STREAM_ID_MASK = 0x7FFFFFFF
_CONTROL_BIT = 0x80000000


class FrameType(IntEnum):
    SYN_STREAM = 1
    SYN_REPLY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PING = 6
    GOAWAY = 7
    HEADERS = 8
    WINDOW_UPDATE = 9


class RstStatus(IntEnum):
    PROTOCOL_ERROR = 1
    INVALID_STREAM = 2
    REFUSED_STREAM = 3
    UNSUPPORTED_VERSION = 4
    CANCEL = 5
    INTERNAL_ERROR = 6
    FLOW_CONTROL_ERROR = 7
    STREAM_IN_USE = 8
    STREAM_ALREADY_CLOSED = 9
    INVALID_CREDENTIALS = 10
    FRAME_TOO_LARGE = 11


class GoAwayStatus(IntEnum):
    OK = 0
    PROTOCOL_ERROR = 1
    INTERNAL_ERROR = 2


#: one ``(name, value)`` per value, in the order sent; a name given several values repeats
HeaderBlock = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: HeaderBlock
    fin: bool = False
    unidirectional: bool = False
    associated_to: int = 0
    priority: int = 0
    slot: int = 0


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: HeaderBlock = ()
    fin: bool = False


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True)
class Settings:
    #: ``(flags, id, value)`` per entry
    entries: tuple[tuple[int, int, int], ...] = ()


@dataclass(frozen=True)
class Ping:
    id: int


@dataclass(frozen=True)
class GoAway:
    last_good_stream_id: int
    status: int = GoAwayStatus.OK


@dataclass(frozen=True)
class Headers:
    stream_id: int
    headers: HeaderBlock
    fin: bool = False


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int
    delta: int


@dataclass(frozen=True)
class Data:
    stream_id: int
    data: bytes
    fin: bool = False


Frame = Union[SynStream, SynReply, RstStream, Settings, Ping, GoAway, Headers, WindowUpdate, Data]


class Violation(str, Enum):
    """Why a byte stream is not SPDY/3.1 we can read; the value is the sentence to show."""

    UNSUPPORTED_VERSION = "the control frame is not SPDY version 3"
    BAD_LENGTH = "the frame's length does not fit its type"
    ZERO_STREAM_ID = "stream id 0 is not allowed here"
    BAD_HEADER_BLOCK = "the header block is malformed"
    BAD_COMPRESSION = "the header block does not decompress with the SPDY/3 dictionary"
    HEADER_BLOCK_TOO_LARGE = "the header block is larger than this server accepts"
    UPPERCASE_HEADER = "a header name is not lowercase"
    DUPLICATE_HEADER = "a header name appears twice in one block"
    DATA_TOO_LONG = "a frame cannot carry more than 16 MiB - 1 bytes"


class SpdyError(ValueError):
    """The peer broke the protocol: the session cannot go on (answer with GOAWAY)."""

    def __init__(self, violation: Violation, detail: str = "") -> None:
        self.violation = violation
        super().__init__(violation.value + (f": {detail}" if detail else ""))


def header(block: HeaderBlock, name: str) -> str | None:
    """The first value of ``name`` (lowercase) in ``block``, or None."""
    return next((value for key, value in block if key == name), None)


# -- header blocks ------------------------------------------------------------------------------

def encode_header_block(headers: HeaderBlock) -> bytes:
    """The uncompressed block: names lowercased, repeated names' values joined by NUL."""
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name.lower(), []).append(value)
    out = [struct.pack("!I", len(grouped))]
    for name, values in grouped.items():
        raw_name, raw_value = name.encode(), "\x00".join(values).encode()
        out += [struct.pack("!I", len(raw_name)), raw_name, struct.pack("!I", len(raw_value)), raw_value]
    return b"".join(out)


def decode_header_block(raw: bytes) -> HeaderBlock:
    """An uncompressed block back to ``((name, value), …)``; :class:`SpdyError` if malformed."""
    view = memoryview(raw)
    count, offset = _u32(view, 0), 4
    headers: list[tuple[str, str]] = []
    seen: set[str] = set()
    for _ in range(count):
        name, offset = _string(view, offset)
        value, offset = _string(view, offset)
        if not name:
            raise SpdyError(Violation.BAD_HEADER_BLOCK, "a header name is empty")
        if name != name.lower():
            raise SpdyError(Violation.UPPERCASE_HEADER, repr(name))
        if name in seen:
            raise SpdyError(Violation.DUPLICATE_HEADER, repr(name))
        seen.add(name)
        headers.extend((name, part) for part in value.split("\x00"))
    if offset != len(view):
        raise SpdyError(Violation.BAD_HEADER_BLOCK, f"{len(view) - offset} bytes follow the last header")
    return tuple(headers)


def _u32(view: memoryview, offset: int) -> int:
    if offset + 4 > len(view):
        raise SpdyError(Violation.BAD_HEADER_BLOCK, "it ends inside a length")
    return int(struct.unpack_from("!I", view, offset)[0])


def _string(view: memoryview, offset: int) -> tuple[str, int]:
    length = _u32(view, offset)
    start = offset + 4
    if start + length > len(view):
        raise SpdyError(Violation.BAD_HEADER_BLOCK, "a name or value runs past the block's end")
    try:
        return bytes(view[start:start + length]).decode(), start + length
    except UnicodeDecodeError:
        raise SpdyError(Violation.BAD_HEADER_BLOCK, "a name or value is not UTF-8") from None


# -- encoding -----------------------------------------------------------------------------------

class FrameEncoder:
    """Frames to bytes for one direction of one session (it owns that direction's zlib stream)."""

    def __init__(self) -> None:
        self._compressor = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zlib.DEFLATED, zlib.MAX_WBITS,
                                            zdict=DICTIONARY)

    def encode(self, frame: Frame) -> bytes:
        if isinstance(frame, Data):
            if len(frame.data) > MAX_LENGTH:
                raise SpdyError(Violation.DATA_TOO_LONG)
            return struct.pack("!II", frame.stream_id & _STREAM_ID_MASK,
                               (FLAG_FIN if frame.fin else 0) << 24 | len(frame.data)) + frame.data
        if isinstance(frame, SynStream):
            flags = (FLAG_FIN if frame.fin else 0) | (FLAG_UNIDIRECTIONAL if frame.unidirectional else 0)
            payload = struct.pack("!IIBB", frame.stream_id & _STREAM_ID_MASK, frame.associated_to & _STREAM_ID_MASK,
                                  (frame.priority & 0x7) << 5, frame.slot) + self._compress(frame.headers)
            return _control(FrameType.SYN_STREAM, flags, payload)
        if isinstance(frame, SynReply):
            payload = struct.pack("!I", frame.stream_id & _STREAM_ID_MASK) + self._compress(frame.headers)
            return _control(FrameType.SYN_REPLY, FLAG_FIN if frame.fin else 0, payload)
        if isinstance(frame, Headers):
            payload = struct.pack("!I", frame.stream_id & _STREAM_ID_MASK) + self._compress(frame.headers)
            return _control(FrameType.HEADERS, FLAG_FIN if frame.fin else 0, payload)
        if isinstance(frame, RstStream):
            return _control(FrameType.RST_STREAM, 0, struct.pack("!II", frame.stream_id & _STREAM_ID_MASK,
                                                                  frame.status))
        if isinstance(frame, Settings):
            entries = b"".join(struct.pack("!II", (flags & 0xFF) << 24 | (ident & 0xFFFFFF), value)
                               for flags, ident, value in frame.entries)
            return _control(FrameType.SETTINGS, 0, struct.pack("!I", len(frame.entries)) + entries)
        if isinstance(frame, Ping):
            return _control(FrameType.PING, 0, struct.pack("!I", frame.id))
        if isinstance(frame, GoAway):
            return _control(FrameType.GOAWAY, 0, struct.pack("!II", frame.last_good_stream_id & _STREAM_ID_MASK,
                                                              frame.status))
        return _control(FrameType.WINDOW_UPDATE, 0, struct.pack("!II", frame.stream_id & _STREAM_ID_MASK,
                                                                 frame.delta & _STREAM_ID_MASK))

    def _compress(self, headers: HeaderBlock) -> bytes:
        return self._compressor.compress(encode_header_block(headers)) + self._compressor.flush(zlib.Z_SYNC_FLUSH)


def _control(kind: FrameType, flags: int, payload: bytes) -> bytes:
    return struct.pack("!HHI", 0x8000 | VERSION, kind, flags << 24 | len(payload)) + payload


# -- decoding -----------------------------------------------------------------------------------

#: the exact payload length of the fixed-size control frames
_FIXED_LENGTH = {FrameType.RST_STREAM: 8, FrameType.PING: 4, FrameType.GOAWAY: 8, FrameType.WINDOW_UPDATE: 8}
#: the least payload of the others: the fields before the header block (SETTINGS: its count)
_MIN_LENGTH = {FrameType.SYN_STREAM: 10, FrameType.SYN_REPLY: 4, FrameType.HEADERS: 4, FrameType.SETTINGS: 4}


class FrameDecoder:
    """Bytes, in any pieces, to frames for one direction of one session.

    Control frames of a type SPDY/3.1 does not define are skipped, as the specification says
    an endpoint must; anything else malformed raises :class:`SpdyError`, after which the
    session is over (its compression state cannot be trusted any more).
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._decompressor = zlib.decompressobj(zlib.MAX_WBITS, zdict=DICTIONARY)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        view = memoryview(self._buffer)
        offset = 0
        try:
            while len(view) - offset >= 8:
                first, flags_length = struct.unpack_from("!II", view, offset)
                length = flags_length & 0xFFFFFF
                if len(view) - offset - 8 < length:
                    break
                payload = bytes(view[offset + 8:offset + 8 + length])
                offset += 8 + length
                frame = self._frame(first, flags_length >> 24, payload)
                if frame is not None:
                    frames.append(frame)
        finally:
            view.release()
            del self._buffer[:offset]
        return frames

    @property
    def pending(self) -> int:
        """Bytes received that do not make a whole frame yet."""
        return len(self._buffer)

    def _frame(self, first: int, flags: int, payload: bytes) -> Frame | None:
        if not first & _CONTROL_BIT:
            stream_id = first & _STREAM_ID_MASK
            if stream_id == 0:
                raise SpdyError(Violation.ZERO_STREAM_ID, "a data frame names stream 0")
            return Data(stream_id, payload, bool(flags & FLAG_FIN))
        version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
        if version != VERSION:
            raise SpdyError(Violation.UNSUPPORTED_VERSION, f"version {version}")
        try:
            frame_type = FrameType(kind)
        except ValueError:
            return None  # SPDY/3.1: ignore control frames of unknown types
        fixed, least = _FIXED_LENGTH.get(frame_type), _MIN_LENGTH.get(frame_type, 0)
        if (fixed is not None and len(payload) != fixed) or len(payload) < least:
            raise SpdyError(Violation.BAD_LENGTH, f"{frame_type.name} with {len(payload)} bytes of payload")
        fin = bool(flags & FLAG_FIN)
        if frame_type is FrameType.SYN_STREAM:
            stream_id, associated, priority, slot = struct.unpack_from("!IIBB", payload)
            return SynStream(self._stream(stream_id), self._headers(payload[10:]), fin,
                             bool(flags & FLAG_UNIDIRECTIONAL), associated & _STREAM_ID_MASK, priority >> 5, slot)
        if frame_type is FrameType.SYN_REPLY:
            return SynReply(self._stream(struct.unpack_from("!I", payload)[0]), self._headers(payload[4:]), fin)
        if frame_type is FrameType.HEADERS:
            return Headers(self._stream(struct.unpack_from("!I", payload)[0]), self._headers(payload[4:]), fin)
        if frame_type is FrameType.RST_STREAM:
            stream_id, status = struct.unpack("!II", payload)
            return RstStream(self._stream(stream_id), status)
        if frame_type is FrameType.SETTINGS:
            count = struct.unpack_from("!I", payload)[0]
            if len(payload) != 4 + 8 * count:
                raise SpdyError(Violation.BAD_LENGTH, f"SETTINGS of {count} entries in {len(payload)} bytes")
            entries = []
            for index in range(count):
                flag_id, value = struct.unpack_from("!II", payload, 4 + 8 * index)
                entries.append((flag_id >> 24, flag_id & 0xFFFFFF, value))
            return Settings(tuple(entries))
        if frame_type is FrameType.PING:
            return Ping(struct.unpack("!I", payload)[0])
        if frame_type is FrameType.GOAWAY:
            last_good, status = struct.unpack("!II", payload)
            return GoAway(last_good & _STREAM_ID_MASK, status)
        stream_id, delta = struct.unpack("!II", payload)
        return WindowUpdate(stream_id & _STREAM_ID_MASK, delta & _STREAM_ID_MASK)

    @staticmethod
    def _stream(raw: int) -> int:
        stream_id = raw & _STREAM_ID_MASK
        if stream_id == 0:
            raise SpdyError(Violation.ZERO_STREAM_ID)
        return stream_id

    def _headers(self, compressed: bytes) -> HeaderBlock:
        try:
            raw = self._decompressor.decompress(compressed, MAX_HEADER_BLOCK)
        except zlib.error as error:
            raise SpdyError(Violation.BAD_COMPRESSION, str(error)) from None
        if self._decompressor.unconsumed_tail:
            raise SpdyError(Violation.HEADER_BLOCK_TOO_LARGE, f"over {MAX_HEADER_BLOCK} bytes")
        return decode_header_block(raw)


def encode_all(encoder: FrameEncoder, frames: Iterable[Frame]) -> bytes:
    """Several frames as one piece of the byte stream, in order."""
    return b"".join(encoder.encode(frame) for frame in frames)


# SPDY/3's zlib dictionary (draft 3, section 2.6.10.1): 65 length-prefixed words, then a blob of
# status lines, dates and media types. Both ends prime their zlib streams with exactly these
# 1,423 bytes.
_DICTIONARY_WORDS = (
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
    "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
    "content-base", "content-encoding", "content-language", "content-length", "content-location", "content-md5",
    "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host", "if-match",
    "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after",
    "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
    "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public",
    "set-cookie", "keep-alive", "origin",
)
_DICTIONARY_TAIL = (
    b"100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    b"203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    b"401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    b"503 Service Unavailable"
    b"Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    b"chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    b"text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(struct.pack("!I", len(word)) + word.encode() for word in _DICTIONARY_WORDS) + _DICTIONARY_TAIL
