"""From dockyard's wire tables to protobuf message classes.

A :class:`Package` is one protobuf package of Kubernetes' wire format (``k8s.io.api.apps.v1``): a
table of messages, each a pydantic model (or None, for a shape dockyard keeps as a loose dict) and a
line of :mod:`~orchestrator.api.wire.notation`. :func:`build` resolves every field — its type from
the table where written, otherwise from the model's annotation — into a :class:`WireMessage`,
writes the packages out as ``descriptor_pb2`` file descriptors, and has Google's ``protobuf``
runtime make the message classes, so the bytes on the wire are the library's, not ours.

Types follow the model: ``str``, ``int``, ``bool``, ``IntOrString``, ``Quantity``,
``list[…]``, ``dict[str, …]`` and nested models (the one message whose model that is). Every
integer is ``int64`` on our side: Kubernetes' ``int32`` fields are varints with the same bytes for
every value an ``int32`` can hold, negative ones included.

The special types are messages on the wire but scalars in JSON (:class:`Special`); the codec maps
them. ``…List`` messages (``metadata=1``, ``items=2``) are made for every kind the registry serves,
so a new kind needs only its own messages.
"""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, Mapping, Union

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message
from pydantic import BaseModel

from orchestrator.api.containers import Quantity
from orchestrator.api.meta import IntOrString, ObjectList
from orchestrator.api.wire.notation import FieldSpec, Presence, Shape, parse_fields

#: an instance of a message class built at run time from our descriptors: its fields exist only
#: then, so no static type can name them
DynamicMessage = Any

#: a message as a table writes it: the pydantic model it mirrors (None for a loose shape) and its fields
MessageEntry = tuple[type[BaseModel] | None, str]


class Scalar(str, Enum):
    STRING = "string"
    INT = "int"
    BOOL = "bool"
    BYTES = "bytes"


class Special(str, Enum):
    """Kubernetes types that are messages on the wire and a string or number in JSON."""

    TIME = "Time"  # RFC 3339, whole seconds
    MICRO_TIME = "MicroTime"  # RFC 3339 with microseconds
    QUANTITY = "Quantity"  # "100m", "128Mi"
    INT_OR_STRING = "IntOrString"  # 8080 or "http"
    FIELDS_V1 = "FieldsV1"  # a JSON object carried as bytes (managedFields)
    RAW_EXTENSION = "RawExtension"  # an embedded object, itself encoded (a watch event's object)


_META = "k8s.io.apimachinery.pkg.apis.meta.v1"
#: where each special type's message lives
SPECIAL_MESSAGES = {
    Special.TIME: f"{_META}.Time",
    Special.MICRO_TIME: f"{_META}.MicroTime",
    Special.FIELDS_V1: f"{_META}.FieldsV1",
    Special.QUANTITY: "k8s.io.apimachinery.pkg.api.resource.Quantity",
    Special.INT_OR_STRING: "k8s.io.apimachinery.pkg.util.intstr.IntOrString",
    Special.RAW_EXTENSION: "k8s.io.apimachinery.pkg.runtime.RawExtension",
}

_SCALAR_TYPES = {
    Scalar.STRING: descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    Scalar.INT: descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    Scalar.BOOL: descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
    Scalar.BYTES: descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
}


@dataclass(frozen=True)
class Package:
    """One protobuf package: its name, the API group/version its kinds belong to, its messages and
    which of them are kinds (objects that travel alone, with ``apiVersion`` and ``kind``)."""

    name: str
    api_version: str | None
    messages: Mapping[str, MessageEntry]
    kinds: tuple[str, ...] = ()


#: a field's value type: a scalar, a special type, or a message (by full name)
ValueType = Union[Scalar, Special, str]


@dataclass(frozen=True)
class WireField:
    name: str  # the JSON name (for an inline field, its protobuf name)
    number: int
    presence: Presence
    inline: bool
    shape: Shape
    value: ValueType

    @property
    def is_message(self) -> bool:
        return not isinstance(self.value, Scalar)


@dataclass
class WireMessage:
    full_name: str
    model: type[BaseModel] | None
    fields: tuple[WireField, ...]
    cls: type[Message] = field(init=False, repr=False)

    @functools.cached_property
    def by_number(self) -> dict[int, WireField]:
        return {f.number: f for f in self.fields}

    def new(self) -> DynamicMessage:
        """An empty message of this type."""
        return self.cls()


class SchemaError(ValueError):
    """A wire table that cannot be built; raised at import, so it never reaches a request."""


@dataclass(frozen=True)
class WireSchema:
    messages: Mapping[str, WireMessage]
    #: (apiVersion, kind) → full name of the kind's message
    kinds: Mapping[tuple[str, str], str]

    def message(self, full_name: str) -> WireMessage:
        return self.messages[full_name]

    def for_kind(self, api_version: str, kind: str) -> WireMessage | None:
        name = self.kinds.get((api_version, kind))
        return self.messages[name] if name else None


def build(packages: Iterable[Package], list_kinds: Iterable[tuple[str, str]],
          any_group_version: Iterable[str] = (), unversioned: Mapping[tuple[str, str], str] | None = None
          ) -> WireSchema:
    """Resolve the tables and make the message classes.

    ``list_kinds`` are the (apiVersion, kind) pairs that get a ``…List`` message;
    ``any_group_version`` names meta kinds every group version carries (``DeleteOptions``);
    ``unversioned`` maps extra (apiVersion, kind) pairs to messages (``v1 Status``).
    """
    packages = _with_lists(_merged(packages), list_kinds)
    specs: dict[str, tuple[type[BaseModel] | None, tuple[FieldSpec, ...]]] = {}
    owner: dict[str, Package] = {}
    for package in packages:
        for name, (model, line) in package.messages.items():
            full = f"{package.name}.{name}"
            try:
                specs[full] = (model, parse_fields(line))
            except ValueError as error:
                raise SchemaError(f"{full}: {error}") from None
            owner[full] = package
    resolver = _Resolver(specs)
    messages = {full: WireMessage(full, model, tuple(resolver.field(full, spec) for spec in fields))
                for full, (model, fields) in specs.items()}
    pool = descriptor_pool.DescriptorPool()
    for file in _files(packages, messages):
        pool.Add(file)
    for wire in messages.values():
        wire.cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(wire.full_name))
    kinds: dict[tuple[str, str], str] = {}
    served_versions = set()
    for package in packages:
        if package.api_version is None:
            continue
        served_versions.add(package.api_version)
        for name in package.kinds:
            kinds[(package.api_version, name)] = f"{package.name}.{name}"
    for api_version in served_versions:
        for name in any_group_version:
            kinds.setdefault((api_version, name), f"{_META}.{name}")
    kinds.update(unversioned or {})
    return WireSchema(messages, kinds)


def _merged(packages: Iterable[Package]) -> list[Package]:
    """Packages declared in several table modules (core/v1 is long) become one."""
    merged: dict[str, Package] = {}
    for package in packages:
        known = merged.get(package.name)
        if known is None:
            merged[package.name] = package
            continue
        clash = set(known.messages) & set(package.messages)
        if clash or known.api_version != package.api_version:
            raise SchemaError(f"package {package.name} is declared twice inconsistently ({sorted(clash)})")
        merged[package.name] = Package(package.name, known.api_version, {**known.messages, **package.messages},
                                       known.kinds + package.kinds)
    return list(merged.values())


def _with_lists(packages: list[Package], list_kinds: Iterable[tuple[str, str]]) -> list[Package]:
    wanted = set(list_kinds)
    result = []
    for package in packages:
        names = [kind for kind in package.kinds if (package.api_version, kind) in wanted]
        lists = {f"{kind}List": (ObjectList, f"metadata=1:ListMeta items=2:[]{kind}") for kind in names}
        result.append(Package(package.name, package.api_version, {**package.messages, **lists},
                              package.kinds + tuple(lists)))
    return result


class _Resolver:
    """Turns a :class:`FieldSpec` into a :class:`WireField`, asking the model what the table left out."""

    def __init__(self, specs: Mapping[str, tuple[type[BaseModel] | None, tuple[FieldSpec, ...]]]) -> None:
        self.specs = specs
        self.by_short_name: dict[str, list[str]] = {}
        self.by_model: dict[type[BaseModel], list[str]] = {}
        for full in specs:
            self.by_short_name.setdefault(full.rsplit(".", 1)[1], []).append(full)
        # A message embedded inline borrows its parent's model (ProbeHandler's fields are Probe's),
        # so it is never the message a model stands for.
        borrowing = set()
        for full, (model, fields) in specs.items():
            for spec in fields:
                if spec.inline and spec.type_name:
                    target = self._named(full, spec.type_name, full)
                    if isinstance(target, str) and specs[target][0] is model:
                        borrowing.add(target)
        for full, (model, _) in specs.items():
            if model is not None and full not in borrowing:
                self.by_model.setdefault(model, []).append(full)

    def field(self, owner: str, spec: FieldSpec) -> WireField:
        model = self.specs[owner][0]
        where = f"{owner}.{spec.name}"
        if spec.type_name is not None:
            if model is not None and not spec.inline and _model_field(model, spec.name) is None:
                raise SchemaError(f"{where}: the model {model.__name__} has no field {spec.name!r}")
            value = self._named(owner, spec.type_name, where)
            shape = spec.shape or Shape.SINGLE
        else:
            if model is None:
                raise SchemaError(f"{where}: a message without a model must write every field's type")
            annotation = _model_field(model, spec.name)
            if annotation is None:
                raise SchemaError(f"{where}: the model {model.__name__} has no field {spec.name!r}")
            shape, derived = _derive(annotation, where)
            value = self._for_model(derived, where) if isinstance(derived, type) else derived
        if spec.inline and (shape is not Shape.SINGLE or isinstance(value, (Scalar, Special))):
            raise SchemaError(f"{where}: only a single message can be inline")
        return WireField(spec.name, spec.number, spec.presence, spec.inline, shape, value)

    def _named(self, owner: str, name: str, where: str) -> ValueType:
        for kind in (Scalar, Special):
            if name in kind._value2member_map_:
                return kind(name)
        if name in self.specs:
            return name
        own = f"{owner.rsplit('.', 1)[0]}.{name}"
        if own in self.specs:
            return own
        found = self.by_short_name.get(name, [])
        if len(found) != 1:
            raise SchemaError(f"{where}: message {name!r} is {'ambiguous' if found else 'unknown'}")
        return found[0]

    def _for_model(self, model: type[BaseModel], where: str) -> str:
        found = self.by_model.get(model, [])
        if len(found) != 1:
            raise SchemaError(f"{where}: {len(found)} messages mirror {model.__name__}; write the type")
        return found[0]


def _model_field(model: type[BaseModel], alias: str) -> Any:
    for info in model.model_fields.values():
        if (info.alias or "") == alias:
            return info.annotation
    return None


def _derive(annotation: Any, where: str) -> tuple[Shape, Scalar | Special | type[BaseModel]]:
    inner = _optional_member(annotation)
    origin = typing.get_origin(inner)
    if origin is list:
        return Shape.LIST, _single(typing.get_args(inner)[0], where)
    if origin is dict:
        return Shape.MAP, _single(typing.get_args(inner)[1], where)
    return Shape.SINGLE, _single(inner, where)


def _single(annotation: Any, where: str) -> Scalar | Special | type[BaseModel]:
    annotation = _optional_member(annotation)
    if annotation == IntOrString:
        return Special.INT_OR_STRING
    if annotation == Quantity:
        return Special.QUANTITY
    if annotation is str:
        return Scalar.STRING
    if annotation is bool:
        return Scalar.BOOL
    if annotation is int:
        return Scalar.INT
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    raise SchemaError(f"{where}: the model says {annotation!r}; write the field's type in the table")


def _optional_member(annotation: Any) -> Any:
    """``X | None`` → ``X``; anything else unchanged."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
        if type(None) in typing.get_args(annotation):
            return Union[tuple(members)]
    return annotation


# ── descriptors ──────────────────────────────────────────────────────────────────────────────


def _files(packages: list[Package], messages: Mapping[str, WireMessage]) -> list[descriptor_pb2.FileDescriptorProto]:
    """One proto2 file per package, in an order where each file follows the files it imports."""
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    imports: dict[str, set[str]] = {}
    for package in packages:
        file = descriptor_pb2.FileDescriptorProto(name=f"{package.name}.proto", package=package.name,
                                                  syntax="proto2")
        imports[package.name] = set()
        for name in package.messages:
            wire = messages[f"{package.name}.{name}"]
            file.message_type.append(_descriptor(name, wire, imports[package.name]))
        imports[package.name].discard(package.name)
        files[package.name] = file
    ordered: list[descriptor_pb2.FileDescriptorProto] = []
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done:
            return
        if name in path:
            raise SchemaError(f"packages import each other: {' → '.join(path + (name,))}")
        for dependency in sorted(imports[name]):
            visit(dependency, path + (name,))
        files[name].dependency.extend(f"{d}.proto" for d in sorted(imports[name]))
        ordered.append(files[name])
        done.add(name)

    for name in files:
        visit(name, ())
    return ordered


def _descriptor(name: str, wire: WireMessage, imports: set[str]) -> descriptor_pb2.DescriptorProto:
    proto = descriptor_pb2.DescriptorProto(name=name)
    for wf in wire.fields:
        target = _type_name(wf.value)
        if target:
            imports.add(target.rsplit(".", 1)[0])
        if wf.shape is Shape.MAP:
            entry = proto.nested_type.add(name=_entry_name(wf.name))
            entry.options.map_entry = True
            entry.field.add(name="key", number=1, label=_OPTIONAL, type=_SCALAR_TYPES[Scalar.STRING])
            _typed(entry.field.add(name="value", number=2, label=_OPTIONAL), wf.value)
            proto.field.add(name=wf.name, number=wf.number, label=_REPEATED, type=_MESSAGE,
                            type_name=f".{wire.full_name}.{entry.name}")
            continue
        _typed(proto.field.add(name=wf.name, number=wf.number,
                               label=_REPEATED if wf.shape is Shape.LIST else _OPTIONAL), wf.value)
    return proto


_OPTIONAL = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
_REPEATED = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
_MESSAGE = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE


def _typed(proto: descriptor_pb2.FieldDescriptorProto, value: ValueType) -> None:
    target = _type_name(value)
    if target:
        proto.type = _MESSAGE
        proto.type_name = f".{target}"
    else:
        assert isinstance(value, Scalar)
        proto.type = _SCALAR_TYPES[value]


def _type_name(value: ValueType) -> str | None:
    if isinstance(value, Special):
        return SPECIAL_MESSAGES[value]
    if isinstance(value, Scalar):
        return None
    return value


def _entry_name(field_name: str) -> str:
    """protoc's name for a map field's entry message: ``matchLabels`` → ``MatchLabelsEntry``."""
    return field_name[:1].upper() + field_name[1:] + "Entry"
