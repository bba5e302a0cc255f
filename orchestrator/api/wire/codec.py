"""Wire-form dicts ⇄ protobuf messages, with Kubernetes' JSON mapping.

Decoding yields the dict Kubernetes' own JSON encoder would write for the same Go object, so a
protobuf body joins the JSON path (decode, defaulting, validation, admission) unchanged:

* a Go value with ``omitempty`` (no flag in the tables) is on the wire even when zero, and left
  out of the dict when zero; a pointer (``?``) is kept exactly when it was sent, zero included; a
  value without ``omitempty`` (``!``) is always in the dict;
* a nested struct that is a Go value is always in the dict (``{}`` when empty), as Go writes it;
* the special types become what their ``MarshalJSON`` writes: ``Time`` is RFC 3339 in whole
  seconds (``null`` when zero, so left out), ``MicroTime`` keeps microseconds, a ``Quantity`` is
  its string, an ``IntOrString`` its number or string, ``bytes`` are standard base64;
* maps and lists are left out when empty.

Encoding writes what Go's generated marshallers write: every value field (zero or not), pointer
fields only when set, map entries sorted by key. Re-encoding what kubectl sent gives its bytes back.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from orchestrator.api import quantity
from orchestrator.api.timestamps import GO_ZERO_TIME, parse_rfc3339
from orchestrator.api.wire.notation import Presence, Shape
from orchestrator.api.wire.schema import DynamicMessage, Scalar, Special, ValueType, WireMessage, WireSchema

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_GO_ZERO_TEXT = GO_ZERO_TIME.isoformat()[:19]  # "0001-01-01T00:00:00"
_ZERO: dict[Scalar, Any] = {Scalar.STRING: "", Scalar.INT: 0, Scalar.BOOL: False, Scalar.BYTES: ""}
_INT_OR_STRING_STRING = 1  # intstr.Type: 0 is Int, 1 is String

#: how an embedded object in a RawExtension is read and written (the envelope, provided by its caller)
EmbeddedReader = Callable[[bytes], Any]
EmbeddedWriter = Callable[[Any], bytes]


class WireValueError(ValueError):
    """A value that cannot cross between the two forms; ``path`` says where (``spec.replicas``)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path = path
        self.problem = problem


def _json(value: bytes) -> Any:
    return json.loads(value.decode("utf-8"))


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class Codec:
    def __init__(self, schema: WireSchema, read_embedded: EmbeddedReader = _json,
                 write_embedded: EmbeddedWriter = _json_bytes) -> None:
        self.schema = schema
        self.read_embedded = read_embedded
        self.write_embedded = write_embedded

    # ── protobuf → dict ──────────────────────────────────────────────────────────────────────

    def to_dict(self, wire: WireMessage, msg: DynamicMessage, path: str = "") -> dict:
        out: dict = {}
        for f in wire.fields:
            where = f"{path}.{f.name}" if path else f.name
            if f.inline:
                out.update(self.to_dict(self._nested(f.value), getattr(msg, f.name), path))
                continue
            value = getattr(msg, f.name)
            if f.shape is Shape.LIST:
                if len(value):
                    out[f.name] = [self._read(f.value, item, f"{where}[{i}]") for i, item in enumerate(value)]
            elif f.shape is Shape.MAP:
                if len(value):
                    out[f.name] = {key: self._read(f.value, value[key], f"{where}[{key}]") for key in sorted(value)}
            elif isinstance(f.value, Scalar):
                if msg.HasField(f.name):
                    read = self._read(f.value, value, where)
                    if f.presence is not Presence.OMIT_EMPTY or read != _ZERO[f.value]:
                        out[f.name] = read
                elif f.presence is Presence.ALWAYS:
                    out[f.name] = _ZERO[f.value]
            elif msg.HasField(f.name) or f.presence is not Presence.POINTER:
                # A Go value struct is there even when the sender left it out: its zero value.
                read = self._read(f.value, value, where)
                if read is not None:
                    out[f.name] = read
        return out

    def _read(self, value_type: ValueType, value: Any, where: str) -> Any:
        if value_type is Scalar.BYTES:
            return base64.b64encode(value).decode("ascii")
        if isinstance(value_type, Scalar):
            return value
        if value_type in (Special.TIME, Special.MICRO_TIME):
            return _read_time(value, micro=value_type is Special.MICRO_TIME, where=where)
        if value_type is Special.QUANTITY:
            return value.string if value.HasField("string") else "0"
        if value_type is Special.INT_OR_STRING:
            return value.strVal if value.type == _INT_OR_STRING_STRING else value.intVal
        if value_type in (Special.FIELDS_V1, Special.RAW_EXTENSION):
            raw = value.Raw if value_type is Special.FIELDS_V1 else value.raw
            if not raw:
                return None
            try:
                return self.read_embedded(raw) if value_type is Special.RAW_EXTENSION else _json(raw)
            except (ValueError, UnicodeDecodeError) as error:
                raise WireValueError(where, f"the embedded object cannot be read: {error}") from None
        assert isinstance(value_type, str)
        return self.to_dict(self.schema.message(value_type), value, where)

    # ── dict → protobuf ──────────────────────────────────────────────────────────────────────

    def from_dict(self, wire: WireMessage, data: Mapping[str, Any], msg: DynamicMessage, path: str = "") -> None:
        if not isinstance(data, Mapping):
            raise WireValueError(path, f"expected an object, not {type(data).__name__}")
        for f in wire.fields:
            where = f"{path}.{f.name}" if path else f.name
            if f.inline:
                sub = getattr(msg, f.name)
                sub.SetInParent()
                self.from_dict(self._nested(f.value), data, sub, path)
                continue
            value = data.get(f.name)
            target = getattr(msg, f.name)
            if f.shape is Shape.LIST:
                if value is None:
                    continue
                if not isinstance(value, list):
                    raise WireValueError(where, f"expected a list, not {type(value).__name__}")
                for i, item in enumerate(value):
                    if isinstance(f.value, Scalar):
                        target.append(_scalar(f.value, item, f"{where}[{i}]"))
                    else:
                        self._write(f.value, item, target.add(), f"{where}[{i}]")
            elif f.shape is Shape.MAP:
                if value is None:
                    continue
                if not isinstance(value, Mapping):
                    raise WireValueError(where, f"expected an object, not {type(value).__name__}")
                for key in sorted(value):
                    if isinstance(f.value, Scalar):
                        target[key] = _scalar(f.value, value[key], f"{where}[{key}]")
                    else:
                        self._write(f.value, value[key], target[key], f"{where}[{key}]")
            elif value is None and f.presence is Presence.POINTER:
                continue
            elif isinstance(f.value, Scalar):
                setattr(msg, f.name, _ZERO_WIRE[f.value] if value is None else _scalar(f.value, value, where))
            else:
                target.SetInParent()
                self._write(f.value, value, target, where)

    def _write(self, value_type: ValueType, value: Any, msg: DynamicMessage, where: str) -> None:
        """Fill ``msg`` from ``value``; ``None`` writes the Go zero value of the type."""
        if value_type in (Special.TIME, Special.MICRO_TIME):
            parts = None if value is None else _time_parts(value, where)
            if parts is not None:  # Go marshals the zero time as an empty message
                msg.seconds, msg.nanos = parts
        elif value_type is Special.QUANTITY:
            msg.string = "0" if value is None else _quantity(value, where)
        elif value_type is Special.INT_OR_STRING:
            msg.type, msg.intVal, msg.strVal = _int_or_string(value, where)
        elif value_type is Special.FIELDS_V1:
            if value is not None:
                msg.Raw = _json_bytes(value)
        elif value_type is Special.RAW_EXTENSION:
            if value is not None:
                msg.raw = self.write_embedded(value)
        else:
            assert isinstance(value_type, str)
            self.from_dict(self.schema.message(value_type), {} if value is None else value, msg, where)

    def _nested(self, value_type: ValueType) -> WireMessage:
        assert isinstance(value_type, str)
        return self.schema.message(value_type)


_ZERO_WIRE: dict[Scalar, Any] = {Scalar.STRING: "", Scalar.INT: 0, Scalar.BOOL: False, Scalar.BYTES: b""}


def _scalar(kind: Scalar, value: Any, where: str) -> Any:
    if kind is Scalar.STRING and isinstance(value, str):
        return value
    if kind is Scalar.INT and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is Scalar.BOOL and isinstance(value, bool):
        return value
    if kind is Scalar.BYTES and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as error:
            raise WireValueError(where, f"illegal base64 data: {error}") from None
    raise WireValueError(where, f"expected {kind.value}, not {type(value).__name__} {value!r}")


def _quantity(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return quantity.canonical(value)
    raise WireValueError(where, f"expected a quantity, not {type(value).__name__} {value!r}")


def _int_or_string(value: Any, where: str) -> tuple[int, int, str]:
    if value is None:
        return 0, 0, ""
    if isinstance(value, str):
        return _INT_OR_STRING_STRING, 0, value
    if isinstance(value, int) and not isinstance(value, bool):
        return 0, value, ""
    raise WireValueError(where, f"expected a number or a string, not {type(value).__name__} {value!r}")


def _time_parts(value: Any, where: str) -> tuple[int, int] | None:
    """Seconds and nanoseconds since the epoch; None for Go's zero time."""
    moment = parse_rfc3339(value) if isinstance(value, str) else None
    if moment is None:
        if isinstance(value, str) and value.startswith(_GO_ZERO_TEXT):
            return None
        raise WireValueError(where, f"expected an RFC 3339 time, not {value!r}")
    since = moment - _EPOCH
    seconds = since // timedelta(seconds=1)
    return seconds, (since - timedelta(seconds=seconds)).microseconds * 1000


def _read_time(value: DynamicMessage, *, micro: bool, where: str) -> str | None:
    if not (value.HasField("seconds") or value.HasField("nanos")):
        return None  # Go's zero time, which marshals to null
    try:
        moment = _EPOCH + timedelta(seconds=value.seconds, microseconds=value.nanos // 1000)
    except OverflowError:
        raise WireValueError(where, f"time out of range: {value.seconds} seconds") from None
    if moment == GO_ZERO_TIME:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")
