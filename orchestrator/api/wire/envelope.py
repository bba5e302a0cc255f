"""Kubernetes' protobuf envelope, and what the API server says when a body is not one.

A protobuf body is the 4-byte magic ``k8s\\x00`` followed by a ``runtime.Unknown``: ``typeMeta``
(apiVersion, kind), ``raw`` — the kind's own message — and two strings dockyard leaves empty, as
Kubernetes does. :func:`decode` turns a body into the wire-form dict the JSON path would have
produced, checked against what the route decodes into (``into``); :func:`encode` does the reverse
for an answer.

Refusals are 400s worded as kube-apiserver's decoder words them (k8s.io/apimachinery's protobuf
serializer, wrapped by the handlers' ``transformDecodeError``), e.g.::

    the object provided is unrecognized (must be of type Deployment): provided data does not
    appear to be a protobuf message, expected prefix [107 56 115 0] (7b226b696e64223a…)
    Service in version "v1" cannot be handled as a Deployment: converting (v1.Service) to
    (apps.Deployment): unknown conversion

Malformed bytes are described as gogo-protobuf's generated unmarshallers describe them
(``unexpected EOF``, ``proto: Deployment: illegal tag 0 (wire type 0)``, ``proto: wrong wireType
= 0 for field Metadata``). protobuf's Python runtime only says that parsing failed, and keeps a
field of the wrong wire type as an unknown field, so :func:`_walk` checks the bytes against the
schema first. Field names in those messages are the JSON names capitalised, which is the Go name
for nearly every field.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any, Mapping

from google.protobuf.message import DecodeError

from orchestrator.api import errors
from orchestrator.api.registry import KINDS, split_api_version
from orchestrator.api.wire.codec import Codec, WireValueError
from orchestrator.api.wire.notation import Shape
from orchestrator.api.wire.schema import SPECIAL_MESSAGES, DynamicMessage, Scalar, Special, WireField, WireMessage, build
from orchestrator.api.wire.tables import PACKAGES, UNVERSIONED

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
#: watch streams: each event a 4-byte big-endian length, then a bare ``metav1.WatchEvent``
WATCH_MEDIA_TYPE = f"{MEDIA_TYPE};stream=watch"
#: the meta kinds every group version carries, as ``metav1.AddToGroupVersion`` registers them
_IN_EVERY_GROUP_VERSION = ("DeleteOptions", "WatchEvent")
#: how kube-apiserver's scheme names itself in "no kind is registered" errors
_SCHEME_NAME = "pkg/api/legacyscheme/scheme.go:30"

SCHEMA = build(PACKAGES, [(rk.api_version, rk.kind) for rk in KINDS], _IN_EVERY_GROUP_VERSION, UNVERSIONED)
_UNKNOWN = SCHEMA.message("k8s.io.apimachinery.pkg.runtime.Unknown")
_WATCH_EVENT = SCHEMA.message("k8s.io.apimachinery.pkg.apis.meta.v1.WatchEvent")


@dataclass(frozen=True)
class Into:
    """What a route decodes a body into: Kubernetes' ``into`` object, by apiVersion and kind."""

    api_version: str
    kind: str


DELETE_OPTIONS = Into("meta.k8s.io/v1", "DeleteOptions")


class NotEncodable(LookupError):
    """An object whose kind has no wire schema (a Table, a discovery document): it stays JSON."""


def decode(data: bytes, into: Into) -> dict:
    """The wire-form dict a protobuf body holds; a 400 in Kubernetes' words when it holds none."""
    unknown = _unknown(data, into)
    api_version = unknown.typeMeta.apiVersion
    kind = unknown.typeMeta.kind or into.kind
    if not api_version:  # Kubernetes fills a missing kind or version from the route
        api_version = into.api_version
    wire = SCHEMA.for_kind(api_version, kind)
    version = split_api_version(api_version)[1]
    prefix = f'{kind} in version "{version}" cannot be handled as a {into.kind}: '
    if wire is None:
        raise errors.bad_request(
            prefix + f'no kind "{kind}" is registered for version "{api_version}" in scheme "{_SCHEME_NAME}"')
    expected = SCHEMA.for_kind(into.api_version, into.kind)
    if expected is None or wire.full_name != expected.full_name:
        raise errors.bad_request(
            prefix + f"converting ({version}.{kind}) to ({_internal_package(into.api_version)}.{into.kind}): "
            "unknown conversion")
    try:
        obj = _CODEC.to_dict(wire, _parsed(unknown.raw, wire))
    except _Malformed as error:
        raise errors.bad_request(prefix + str(error)) from None
    except (WireValueError, UnicodeDecodeError) as error:
        raise errors.bad_request(prefix + str(error)) from None
    return {"apiVersion": api_version, "kind": kind, **obj}


def encode(obj: Mapping[str, Any]) -> bytes:
    """``obj`` (with its ``apiVersion`` and ``kind``) in the envelope; :class:`NotEncodable` when
    its kind has no wire schema, :class:`WireValueError` when a value does not fit its field."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    wire = SCHEMA.for_kind(api_version, kind) if isinstance(api_version, str) and isinstance(kind, str) else None
    if wire is None:
        raise NotEncodable(f"no protobuf schema for {api_version} {kind}")
    msg = wire.new()
    _CODEC.from_dict(wire, obj, msg)
    unknown = _UNKNOWN.new()
    _CODEC.from_dict(_UNKNOWN, {"typeMeta": {"apiVersion": api_version, "kind": kind}}, unknown)
    unknown.raw = msg.SerializeToString(deterministic=True)
    return MAGIC + unknown.SerializeToString(deterministic=True)


def encode_watch_event(event_type: str, obj: Mapping[str, Any]) -> bytes:
    """One frame of a protobuf watch stream: length, then the event with its object enveloped."""
    msg = _WATCH_EVENT.new()
    _CODEC.from_dict(_WATCH_EVENT, {"type": event_type, "object": obj}, msg)
    body = msg.SerializeToString(deterministic=True)
    return struct.pack(">I", len(body)) + body


def _unknown(data: bytes, into: Into) -> DynamicMessage:
    if not data:
        raise _unrecognized(into, "empty data", data)
    if not data.startswith(MAGIC):
        expected = "[" + " ".join(str(b) for b in MAGIC) + "]"
        raise _unrecognized(into, f"provided data does not appear to be a protobuf message, expected prefix {expected}",
                            data)
    if len(data) == len(MAGIC):
        raise _unrecognized(into, "empty body", data)
    try:
        return _parsed(data[len(MAGIC):], _UNKNOWN)
    except _Malformed as error:
        raise _unrecognized(into, str(error), data) from None


def _unrecognized(into: Into, problem: str, data: bytes) -> errors.ApiError:
    return errors.bad_request(
        f"the object provided is unrecognized (must be of type {into.kind}): {problem} ({_summary(data)})")


def _summary(data: bytes, limit: int = 30) -> str:
    """kube-apiserver's ``summarizeData``: JSON-looking bodies as text, the rest as hex."""
    if not data:
        return "<empty>"
    if data[:1] == b"{":
        text = data.decode("utf-8", "replace")
        return text[:limit] + " ..." if len(data) > limit else text
    return data[:limit].hex() + " ..." if len(data) > limit else data.hex()


def _internal_package(api_version: str) -> str:
    """The Go package of a group's internal types, as conversion errors name it (``apps``, ``core``)."""
    group = split_api_version(api_version)[0]
    return group.split(".", 1)[0] if group else "core"


def _read_embedded(raw: bytes) -> Any:
    """A RawExtension's object: enveloped protobuf (as a watch carries it) or JSON."""
    if raw.startswith(MAGIC):
        unknown = _parsed(raw[len(MAGIC):], _UNKNOWN)
        wire = SCHEMA.for_kind(unknown.typeMeta.apiVersion, unknown.typeMeta.kind)
        if wire is None:
            raise ValueError(f"no protobuf schema for {unknown.typeMeta.apiVersion} {unknown.typeMeta.kind}")
        msg = _parsed(unknown.raw, wire)
        return {"apiVersion": unknown.typeMeta.apiVersion, "kind": unknown.typeMeta.kind,
                **_CODEC.to_dict(wire, msg)}
    return json.loads(raw.decode("utf-8"))


_CODEC = Codec(SCHEMA, _read_embedded, encode)


# ── describing malformed bytes ───────────────────────────────────────────────────────────────

_VARINT, _FIXED64, _LENGTH, _GROUP_START, _GROUP_END, _FIXED32 = 0, 1, 2, 3, 4, 5


class _Malformed(ValueError):
    """What gogo-protobuf would say about the bytes."""


def _parsed(data: bytes, wire: WireMessage) -> DynamicMessage:
    """``data`` as a ``wire`` message, or :class:`_Malformed` saying what is wrong with it.

    protobuf's runtime keeps a field of the wrong wire type as an unknown field, where Kubernetes
    refuses the body; so when the parsed message, less its unknown fields, is not exactly as long
    as the bytes, they are walked to tell a wrong wire type from a field Kubernetes would skip.
    Well-formed bodies, the usual case, are never walked.
    """
    msg = wire.new()
    try:
        msg.ParseFromString(data)
    except DecodeError as error:
        _walk(data, wire)
        raise _Malformed(f"proto: {_short(wire)}: {error}") from None
    msg.DiscardUnknownFields()
    if msg.ByteSize() != len(data):
        _walk(data, wire)
    return msg


def _walk(data: bytes, wire: WireMessage | None) -> None:
    by_number = wire.by_number if wire else {}
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire_type = key >> 3, key & 7
        if wire_type == _GROUP_END:
            raise _Malformed(f"proto: {_short(wire)}: wiretype end group for non-group")
        if number <= 0:
            raise _Malformed(f"proto: {_short(wire)}: illegal tag {number} (wire type {wire_type})")
        field = by_number.get(number)
        if field is not None and wire_type != _wire_type(field) and not (
                field.shape is Shape.LIST and field.value is Scalar.INT and wire_type == _LENGTH):
            go_name = field.name[:1].upper() + field.name[1:]
            raise _Malformed(f"proto: wrong wireType = {wire_type} for field {go_name}")
        if wire_type == _VARINT:
            _, i = _varint(data, i)
        elif wire_type in (_FIXED64, _FIXED32):
            i += 8 if wire_type == _FIXED64 else 4
            if i > len(data):
                raise _Malformed("unexpected EOF")
        elif wire_type == _LENGTH:
            length, i = _varint(data, i)
            end = i + length
            if end > len(data):
                raise _Malformed("unexpected EOF")
            if field is not None and field.is_message and field.shape is not Shape.MAP:
                _walk(data[i:end], SCHEMA.messages.get(_message_name(field)))
            i = end
        else:
            raise _Malformed(f"proto: illegal wireType {wire_type}")


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if shift >= 64:
            raise _Malformed("proto: integer overflow")
        if i >= len(data):
            raise _Malformed("unexpected EOF")
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _wire_type(field: WireField) -> int:
    if field.shape is Shape.MAP or field.is_message or field.value in (Scalar.STRING, Scalar.BYTES):
        return _LENGTH
    return _VARINT


def _message_name(field: WireField) -> str:
    value = field.value
    return SPECIAL_MESSAGES[value] if isinstance(value, Special) else str(value)


def _short(wire: WireMessage | None) -> str:
    return wire.full_name.rsplit(".", 1)[1] if wire else "Unknown"
