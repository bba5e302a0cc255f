"""The SPDY/3.1 framer against frames built by hand from the specification's byte layout."""

from __future__ import annotations

import struct
import zlib

import pytest

from orchestrator.api import spdy
from orchestrator.api.spdy import (
    DICTIONARY, Data, FrameDecoder, FrameEncoder, GoAway, Headers, Ping, RstStatus, RstStream, Settings, SpdyError,
    SynReply, SynStream, Violation, WindowUpdate, decode_header_block, encode_header_block,
)


def control(kind: int, flags: int, payload: bytes, version: int = 3) -> bytes:
    """A control frame as draft 3 lays it out: control bit, version, type, flags, 24-bit length."""
    return struct.pack("!HHI", 0x8000 | version, kind, flags << 24 | len(payload)) + payload


def u32(*values: int) -> bytes:
    return b"".join(struct.pack("!I", value) for value in values)


# -- the dictionary -----------------------------------------------------------------------------

def test_the_dictionary_is_spdy3s_1423_bytes():
    """Its zlib dictionary id (the Adler-32 that a compressed block's header names) is a fact of
    every SPDY/3 stream on the wire."""
    assert len(DICTIONARY) == 1423
    assert zlib.adler32(DICTIONARY) == 0xE3C6A7C2
    assert DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert DICTIONARY.endswith(b"charset=utf-8charset=iso-8859-1,utf-,*,enq=0.")


def test_the_first_header_block_names_the_dictionary_in_its_zlib_header():
    frame = FrameEncoder().encode(SynReply(1))
    block = frame[12:]
    assert block[:2] == b"\x78\xf9"  # deflate, 32K window, best compression, FDICT set
    assert block[2:6] == struct.pack("!I", 0xE3C6A7C2)


# -- fixed-layout frames, both ways -------------------------------------------------------------

GOLDEN = [
    (Ping(1), control(6, 0, u32(1))),
    (RstStream(3, RstStatus.CANCEL), control(3, 0, u32(3, 5))),
    (GoAway(5), control(7, 0, u32(5, 0))),
    (GoAway(7, spdy.GoAwayStatus.PROTOCOL_ERROR), control(7, 0, u32(7, 1))),
    (WindowUpdate(1, 0x10000), control(9, 0, u32(1, 0x10000))),
    (Settings(((1, 7, 65536),)), control(4, 0, u32(1, 0x01000007, 65536))),
    (Data(3, b"hi", fin=True), u32(3) + bytes([1, 0, 0, 2]) + b"hi"),
    (Data(5, b""), u32(5, 0)),
    (Data(0x7FFFFFFF, b"x"), u32(0x7FFFFFFF, 1) + b"x"),
]


@pytest.mark.parametrize("frame, wire", GOLDEN, ids=[type(f).__name__ for f, _ in GOLDEN])
def test_fixed_layout_frames_match_the_specification(frame, wire):
    assert FrameEncoder().encode(frame) == wire
    assert FrameDecoder().feed(wire) == [frame]


def test_header_blocks_have_32_bit_lengths_and_join_repeated_names_with_nul():
    block = (("port", "80"), ("streamtype", "data"), ("x-many", "a"), ("x-many", "b"))
    raw = encode_header_block(block)
    assert raw == (u32(3) + u32(4) + b"port" + u32(2) + b"80" + u32(10) + b"streamtype" + u32(4) + b"data"
                   + u32(6) + b"x-many" + u32(3) + b"a\x00b")
    assert decode_header_block(raw) == block


def test_header_names_are_lowercased_on_the_way_out():
    assert decode_header_block(encode_header_block((("StreamType", "error"),))) == (("streamtype", "error"),)


def test_a_syn_stream_built_by_hand_decodes_with_the_dictionary():
    """The header block compressed by an independent zlib stream primed with the dictionary and
    sync-flushed, as spdystream's framer writes it."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 15, zdict=DICTIONARY)
    headers = u32(3) + u32(10) + b"streamtype" + u32(5) + b"error" + u32(4) + b"port" + u32(4) + b"8080" \
        + u32(9) + b"requestid" + u32(1) + b"0"
    block = compressor.compress(headers) + compressor.flush(zlib.Z_SYNC_FLUSH)
    # stream 1, no associated stream, priority 0, slot 0, FIN off
    wire = control(1, 0, u32(1, 0) + bytes([0, 0]) + block)
    assert FrameDecoder().feed(wire) == [
        SynStream(1, (("streamtype", "error"), ("port", "8080"), ("requestid", "0")))]


def test_syn_stream_fields_and_flags_round_trip():
    frame = SynStream(7, (("port", "80"),), fin=True, unidirectional=True, associated_to=5, priority=3, slot=2)
    wire = FrameEncoder().encode(frame)
    assert wire[:4] == struct.pack("!HH", 0x8003, 1)
    assert wire[4] == spdy.FLAG_FIN | spdy.FLAG_UNIDIRECTIONAL
    assert wire[8:18] == u32(7, 5) + bytes([3 << 5, 2])
    assert FrameDecoder().feed(wire) == [frame]


def test_compression_is_one_stream_per_direction():
    """The second block refers back to the first: it decodes only after it, on the same decoder."""
    encoder = FrameEncoder()
    first = encoder.encode(SynStream(1, (("streamtype", "error"), ("port", "80"), ("requestid", "0"))))
    second = encoder.encode(SynStream(3, (("streamtype", "data"), ("port", "80"), ("requestid", "0"))))
    assert len(second) < len(first)
    decoder = FrameDecoder()
    assert [f.stream_id for f in decoder.feed(first + second)] == [1, 3]  # type: ignore[union-attr]
    with pytest.raises(SpdyError) as raised:
        FrameDecoder().feed(second)
    assert raised.value.violation is Violation.BAD_COMPRESSION


def test_frames_arrive_in_any_pieces():
    encoder = FrameEncoder()
    frames = [SynStream(1, (("port", "80"),)), SynReply(1), Headers(1, (("a", "b"),), fin=True),
              Data(1, b"x" * 70_000), Ping(3), RstStream(1, RstStatus.CANCEL)]
    wire = b"".join(encoder.encode(frame) for frame in frames)
    for size in (1, 7, 8, 9, 4096):
        decoder = FrameDecoder()
        got = []
        for start in range(0, len(wire), size):
            got += decoder.feed(wire[start:start + size])
        assert got == frames and decoder.pending == 0, size


# -- what is refused, and what is skipped ---------------------------------------------------------

@pytest.mark.parametrize("wire, violation", [
    (control(6, 0, u32(1), version=2), Violation.UNSUPPORTED_VERSION),
    (control(6, 0, u32(1, 2)), Violation.BAD_LENGTH),
    (control(3, 0, u32(3)), Violation.BAD_LENGTH),
    (control(4, 0, u32(2, 0, 0)), Violation.BAD_LENGTH),
    (control(1, 0, u32(1)), Violation.BAD_LENGTH),
    (control(3, 0, u32(0, 5)), Violation.ZERO_STREAM_ID),
    (u32(0, 1) + b"x", Violation.ZERO_STREAM_ID),
    (control(2, 0, u32(1) + b"not zlib at all"), Violation.BAD_COMPRESSION),
])
def test_malformed_frames_end_the_session(wire, violation):
    with pytest.raises(SpdyError) as raised:
        FrameDecoder().feed(wire)
    assert raised.value.violation is violation


@pytest.mark.parametrize("raw, violation", [
    (u32(1) + u32(4) + b"Port" + u32(2) + b"80", Violation.UPPERCASE_HEADER),
    (u32(2) + (u32(4) + b"port" + u32(2) + b"80") * 2, Violation.DUPLICATE_HEADER),
    (u32(1) + u32(0) + u32(1) + b"x", Violation.BAD_HEADER_BLOCK),
    (u32(1) + u32(40) + b"port", Violation.BAD_HEADER_BLOCK),
    (u32(0) + b"trailing", Violation.BAD_HEADER_BLOCK),
])
def test_malformed_header_blocks_are_refused(raw, violation):
    with pytest.raises(SpdyError) as raised:
        decode_header_block(raw)
    assert raised.value.violation is violation


def test_control_frames_of_unknown_types_are_skipped():
    wire = control(0x42, 0, b"whatever") + control(6, 0, u32(9))
    assert FrameDecoder().feed(wire) == [Ping(9)]


def test_a_data_frame_cannot_exceed_24_bits_of_length():
    with pytest.raises(SpdyError):
        FrameEncoder().encode(Data(1, bytes(spdy.MAX_LENGTH + 1)))


def test_header_blocks_that_inflate_past_the_limit_are_refused():
    encoder = FrameEncoder()
    huge = encoder.encode(SynReply(1, (("x", "a" * (spdy.MAX_HEADER_BLOCK + 10)),)))
    with pytest.raises(SpdyError) as raised:
        FrameDecoder().feed(huge)
    assert raised.value.violation is Violation.HEADER_BLOCK_TOO_LARGE
