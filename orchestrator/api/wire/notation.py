"""The field notation of dockyard's wire tables: one compact line per protobuf message.

A message is written as space-separated fields, each ``[*]name=NUMBER[FLAG][:TYPE]``::

    "name=1 protocol=2 appProtocol=6? port=3! targetPort=4 nodePort=5"

* ``name`` is the field's JSON name, which is also its protobuf field name in Kubernetes.
* ``NUMBER`` is the protobuf field number: a fact of Kubernetes' wire format.
* ``FLAG`` says how the Go field behaves, because protobuf alone cannot tell "absent" from "zero":
  none — a Go value tagged ``omitempty``: always on the wire, left out of JSON when zero;
  ``?`` — a Go pointer: on the wire and in JSON exactly when set, zero included (``replicas: 0``);
  ``!`` — a Go value without ``omitempty``: always on the wire and always in JSON.
* ``TYPE`` is needed only where the pydantic model cannot tell it: a scalar (``string``, ``int``,
  ``bool``, ``bytes``), a Kubernetes special type (``Time``, ``MicroTime``, ``Quantity``,
  ``IntOrString``, ``FieldsV1``, ``RawExtension``) or a message name, prefixed ``[]`` for a
  repeated field or ``{}`` for a ``map<string, …>``.
* A leading ``*`` marks a Go struct embedded inline (``json:",inline"``): on the wire it is a
  nested message, in JSON its fields sit beside their parent's. Its name is its protobuf name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Presence(str, Enum):
    """How a Go field shows up in JSON, and so when a decoded value is kept."""

    OMIT_EMPTY = ""
    POINTER = "?"
    ALWAYS = "!"


class Shape(str, Enum):
    SINGLE = ""
    LIST = "[]"
    MAP = "{}"


@dataclass(frozen=True)
class FieldSpec:
    """One field as the table writes it; ``type_name`` None means "as the model says"."""

    name: str
    number: int
    presence: Presence
    inline: bool
    shape: Shape | None
    type_name: str | None


class NotationError(ValueError):
    pass


_FIELD = re.compile(r"^(?P<inline>\*)?(?P<name>[A-Za-z][A-Za-z0-9]*)=(?P<number>[1-9][0-9]*)"
                    r"(?P<flag>[?!])?(?::(?P<shape>\[\]|\{\})?(?P<type>[A-Za-z][A-Za-z0-9.]*))?$")


def parse_fields(text: str) -> tuple[FieldSpec, ...]:
    """The fields a message line declares, in the order written."""
    fields = []
    for token in text.split():
        match = _FIELD.match(token)
        if match is None:
            raise NotationError(f"cannot read field {token!r}: expected [*]name=NUMBER[?|!][:TYPE]")
        inline = bool(match["inline"])
        if inline and not match["type"]:
            raise NotationError(f"inline field {token!r} must name its message type")
        fields.append(FieldSpec(
            name=match["name"],
            number=int(match["number"]),
            presence=Presence(match["flag"] or ""),
            inline=inline,
            shape=Shape(match["shape"] or "") if match["type"] else None,
            type_name=match["type"],
        ))
    numbers = [f.number for f in fields]
    if len(set(numbers)) != len(numbers):
        raise NotationError(f"field numbers repeat in {text!r}")
    return tuple(fields)
