"""OpenAPI v3 component schemas for the served kinds, generated from the models.

``kubectl explain`` prints these schemas, and ``kubectl apply`` and ``kubectl diff`` compute their
strategic merge patches from them, so they must say what the server does. Each part of a schema
comes from the one place in dockyard that already owns that fact:

* **Structure** from the resolved protobuf wire schema (:mod:`orchestrator.api.wire`), whose types
  come from the pydantic models wherever a model can tell them. It knows Kubernetes' own type
  names, including where one model stands for two types (``ConfigMapKeySelector`` and
  ``SecretKeySelector``, ``PodIP`` and ``HostIP``), the structs Go embeds inline, the special types
  (``Time``, ``MicroTime``, ``Quantity``, ``IntOrString``) and the fields Go always serialises
  (``!`` in the wire notation), which Kubernetes' schemas list as ``required``. Names follow the
  protobuf package reversed: ``k8s.io.api.apps.v1.Deployment`` is ``io.k8s.api.apps.v1.Deployment``.
* **Text** from the models themselves: a field's description is the docstring written under it
  (:mod:`orchestrator.api.docstrings`), a type's description its class docstring. A field
  re-declared by a subclass only to change its default (``apiVersion`` on every kind) keeps the
  description of the class that introduced it.
* **List semantics** from the strategic-merge tables (:mod:`orchestrator.api.patch_strategic`):
  ``x-kubernetes-patch-merge-key`` and ``x-kubernetes-patch-strategy`` are exactly what the server
  merges by, so a patch kubectl computes from this document is one the server applies as meant;
  ``x-kubernetes-list-type`` and ``x-kubernetes-list-map-keys`` follow from the same entries.

The tables are keyed by each kind's JSON paths while a schema belongs to a type that several paths
share (``Container`` under ``spec.containers`` and ``spec.template.spec.initContainers``). Every
path of every kind is walked, and two paths reaching one field of one type with different rules
is an error raised here: the tables have to be consistent with themselves for a document to exist.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from pydantic import BaseModel

from orchestrator.api.docstrings import attribute_docstring
from orchestrator.api.meta import REQUIRED_KEY
from orchestrator.api.patch_strategic import LIST_MAP_KEYS, MERGE_KEYS, RETAIN_KEYS, SET, SSA_ATOMIC, Path
from orchestrator.api.wire.envelope import SCHEMA
from orchestrator.api.wire.notation import Presence, Shape
from orchestrator.api.wire.schema import SPECIAL_MESSAGES, Scalar, Special, ValueType, WireField, WireMessage

#: a JSON Schema object as OpenAPI 3.0 writes it; its keys vary with what it describes
Schema = dict[str, Any]

REF_PREFIX = "#/components/schemas/"
GVK_EXTENSION = "x-kubernetes-group-version-kind"

_SCALARS: dict[Scalar, Schema] = {
    Scalar.STRING: {"type": "string"},
    Scalar.INT: {"type": "integer", "format": "int64"},
    Scalar.BOOL: {"type": "boolean"},
    Scalar.BYTES: {"type": "string", "format": "byte"},
}

# The special types are messages on the wire and scalars in JSON; their schemas say so. The
# ``oneOf`` forms (no ``type``) are Kubernetes' own, and make ``kubectl explain`` print the type's
# name (``<IntOrString>``) where a plain string type would print ``<string>``.
_SPECIALS: dict[Special, Schema] = {
    Special.TIME: {
        "type": "string", "format": "date-time",
        "description": "A point in time, written in RFC 3339 form with whole seconds in UTC "
                       "(2024-05-01T12:00:00Z).",
    },
    Special.MICRO_TIME: {
        "type": "string", "format": "date-time",
        "description": "A point in time with microseconds, written in RFC 3339 form in UTC "
                       "(2024-05-01T12:00:00.123456Z).",
    },
    Special.QUANTITY: {
        "oneOf": [{"type": "string"}, {"type": "number"}],
        "description": "An amount with an optional unit suffix: binary (Ki, Mi, Gi, Ti), decimal (k, M, G, T) "
                       "or milli (m, for CPU). 500m is half a CPU, 128Mi is 128 x 1024 x 1024 bytes; a plain "
                       "number counts whole units.",
    },
    Special.INT_OR_STRING: {
        "format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}],
        "description": "Either a number or a string, as the field allows: a port by number (8080) or by "
                       "name (http), a count (1) or a percentage (25%).",
    },
    Special.FIELDS_V1: {
        "type": "object",
        "description": "A set of field paths, encoded as nested JSON objects keyed by field, as server-side "
                       "apply records them.",
    },
    Special.RAW_EXTENSION: {
        "type": "object",
        "description": "A complete object of any kind, embedded as it is.",
    },
}


class OpenAPIError(ValueError):
    """The models, wire tables and merge tables cannot make a consistent document; raised when the
    document is built, so a unit test finds it long before a request does."""


@dataclass(frozen=True)
class Root:
    """A message that gets its own ``x-kubernetes-group-version-kind``: a served kind, its list, or
    a subresource's kind (``autoscaling/v1`` Scale). ``merge_table`` names the
    :data:`~orchestrator.api.patch_strategic.MERGE_KEYS` entry whose paths start at this message;
    a list names none (its items are walked as their own kind)."""

    group: str
    version: str
    kind: str
    merge_table: str | None

    @property
    def message(self) -> str:
        api_version = f"{self.group}/{self.version}" if self.group else self.version
        name = SCHEMA.kinds.get((api_version, self.kind))
        if name is None:
            raise OpenAPIError(f"{api_version} {self.kind} has no message in the wire tables")
        return name


def component_name(value: ValueType) -> str:
    """``k8s.io.api.core.v1.Pod`` → ``io.k8s.api.core.v1.Pod``; a special type by its message."""
    message = SPECIAL_MESSAGES[value] if isinstance(value, Special) else str(value)
    first, second, rest = message.split(".", 2)
    return f"{second}.{first}.{rest}"


def ref(name: str) -> Schema:
    return {"$ref": REF_PREFIX + name}


def component_schemas(roots: Iterable[Root]) -> dict[str, Schema]:
    """Every component the roots reach, keyed by Kubernetes' name, in name order."""
    roots = list(roots)
    rules = _list_rules(roots)
    gvks: dict[str, list[dict[str, str]]] = {}
    for root in roots:
        gvks.setdefault(root.message, []).append({"group": root.group, "kind": root.kind, "version": root.version})
    schemas: dict[str, Schema] = {}
    pending = [root.message for root in roots]
    while pending:
        message = pending.pop()
        name = component_name(message)
        if name in schemas:
            continue
        wire = SCHEMA.message(message)
        schemas[name] = _message_schema(wire, rules, gvks.get(message))
        for wf in flattened(wire):
            if isinstance(wf.value, Special):
                schemas.setdefault(component_name(wf.value), dict(_SPECIALS[wf.value]))
            elif not isinstance(wf.value, Scalar):
                pending.append(wf.value)
    return dict(sorted(schemas.items()))


def flattened(message: WireMessage) -> list[WireField]:
    """A message's fields as JSON shows them: those of inline-embedded structs beside their parent's."""
    fields: list[WireField] = []
    for wf in message.fields:
        if wf.inline:
            fields.extend(flattened(SCHEMA.message(str(wf.value))))
        else:
            fields.append(wf)
    return fields


# ── text ─────────────────────────────────────────────────────────────────────────────────────


def describing_model(message: WireMessage) -> type[BaseModel]:
    """The model whose docstrings describe ``message``; every served message needs one."""
    if message.model is None:
        raise OpenAPIError(f"{message.full_name} has no model in the wire tables, so nothing describes it")
    return message.model


def type_description(model: type[BaseModel]) -> str | None:
    """The class docstring, one paragraph per blank-line-separated block (a class's own, never
    inherited: a subclass is another type and says what it is)."""
    doc = model.__dict__.get("__doc__")
    return _paragraphs(doc) if doc else None


def field_description(model: type[BaseModel], json_name: str) -> str | None:
    """The docstring under the field ``json_name``, from the first class in the model's MRO that
    has one (so re-declaring a field to change its default keeps its text)."""
    python_name = next((name for name, info in model.model_fields.items() if (info.alias or name) == json_name), None)
    if python_name is None:
        return None
    for cls in model.__mro__:
        doc = attribute_docstring(cls, python_name)
        if doc:
            return _paragraphs(doc)
    return None


def _paragraphs(text: str) -> str:
    """Docstring lines joined into paragraphs: kubectl wraps descriptions itself, and would keep a
    source file's line breaks."""
    blocks = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in block.splitlines()) for block in blocks)


# ── schemas ──────────────────────────────────────────────────────────────────────────────────


def _message_schema(message: WireMessage, rules: Mapping[tuple[str, str], Schema],
                    gvks: list[dict[str, str]] | None) -> Schema:
    model = describing_model(message)
    properties: dict[str, Schema] = {}
    if gvks:
        for json_name in ("apiVersion", "kind"):
            properties[json_name] = {"type": "string", "description": _required_text(model, json_name, message)}
    required = []
    for wf in flattened(message):
        field = _field_schema(wf)
        field["description"] = _required_text(model, wf.name, message)
        field.update(rules.get((message.full_name, wf.name), {}))
        properties[wf.name] = field
        if _required(model, wf):
            required.append(wf.name)
    description = type_description(model)
    if description is None:
        raise OpenAPIError(f"{message.full_name}: the class {model.__name__} has no docstring; write one saying "
                           "what the type is, for users")
    schema: Schema = {"description": description, "type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if gvks:
        schema[GVK_EXTENSION] = gvks
    return schema


def _required(model: type[BaseModel], wf: WireField) -> bool:
    """Go always serialises it, unless the model's ``json_schema_extra`` says otherwise
    (:data:`~orchestrator.api.meta.REQUIRED`)."""
    marker = _field_extra(model, wf.name).get(REQUIRED_KEY)
    return wf.presence is Presence.ALWAYS if marker is None else bool(marker)


def _field_extra(model: type[BaseModel], json_name: str) -> dict[str, Any]:
    for name, info in model.model_fields.items():
        if (info.alias or name) == json_name and isinstance(info.json_schema_extra, dict):
            return info.json_schema_extra
    return {}


def _required_text(model: type[BaseModel], json_name: str, message: WireMessage) -> str:
    text = field_description(model, json_name)
    if text is None:
        raise OpenAPIError(f"{message.full_name}.{json_name}: the field {model.__name__}.{json_name} has no "
                           "docstring; write one under it")
    return text


def _field_schema(wf: WireField) -> Schema:
    value = _value_schema(wf.value)
    if wf.shape is Shape.LIST:
        return {"type": "array", "items": value}
    if wf.shape is Shape.MAP:
        return {"type": "object", "additionalProperties": value}
    # OpenAPI 3.0 ignores the siblings of a $ref; Kubernetes wraps it in allOf to describe it.
    return {"allOf": [value]} if "$ref" in value else dict(value)


def _value_schema(value: ValueType) -> Schema:
    if isinstance(value, Scalar):
        return dict(_SCALARS[value])
    return ref(component_name(value))


# ── list semantics ───────────────────────────────────────────────────────────────────────────


def _list_rules(roots: list[Root]) -> dict[tuple[str, str], Schema]:
    """(message, field) → the patch and list extensions its kinds' tables give it."""
    rules: dict[tuple[str, str], tuple[Schema, str]] = {}
    visited: dict[str, set[Path]] = {}
    for root in roots:
        if root.merge_table is not None:
            _walk(root.merge_table, SCHEMA.message(root.message), (), rules, visited.setdefault(root.merge_table, set()))
    for table_name, tables in (("MERGE_KEYS", MERGE_KEYS), ("RETAIN_KEYS", RETAIN_KEYS),
                               ("LIST_MAP_KEYS", LIST_MAP_KEYS), ("SSA_ATOMIC", SSA_ATOMIC)):
        for kind, paths in tables.items():
            fields = {path[:-1] if path[-1:] == ("*",) else path for path in paths}
            stray = sorted(fields - visited.get(kind, set()))
            if stray and kind in visited:
                raise OpenAPIError(f"{table_name}[{kind!r}] names paths no {kind} field has: {stray}")
    return {key: extensions for key, (extensions, _) in rules.items()}


def _walk(kind: str, message: WireMessage, path: Path, rules: dict[tuple[str, str], tuple[Schema, str]],
          visited: set[Path]) -> None:
    for wf in flattened(message):
        field_path = path + (wf.name,)
        visited.add(field_path)
        extensions = _extensions(kind, field_path, wf.shape is Shape.LIST)
        key = (message.full_name, wf.name)
        where = f"{kind} {'.'.join(field_path)}"
        known = rules.setdefault(key, (extensions, where))
        if known[0] != extensions:
            raise OpenAPIError(f"{message.full_name}.{wf.name} is merged one way at {known[1]} ({known[0]}) and "
                               f"another at {where} ({extensions}); make the strategic-merge tables agree")
        if isinstance(wf.value, (Scalar, Special)):
            continue
        below = field_path + ("*",) if wf.shape in (Shape.LIST, Shape.MAP) else field_path
        _walk(kind, SCHEMA.message(wf.value), below, rules, visited)


def _extensions(kind: str, path: Path, is_list: bool) -> Schema:
    strategy = MERGE_KEYS.get(kind, {}).get(path)
    # RETAIN_KEYS names the maps that retain keys; for a list's elements, the list says so
    retained = RETAIN_KEYS.get(kind, frozenset())
    retains = (path + ("*",) if is_list else path) in retained
    strategies = (["merge"] if strategy is not None else []) + (["retainKeys"] if retains else [])
    extensions: Schema = {}
    if strategies:
        extensions["x-kubernetes-patch-strategy"] = ",".join(strategies)
    if strategy is not None and strategy is not SET:
        extensions["x-kubernetes-patch-merge-key"] = strategy
    if is_list:
        if strategy is None or path in SSA_ATOMIC.get(kind, ()):
            extensions["x-kubernetes-list-type"] = "atomic"
        elif strategy is SET:
            extensions["x-kubernetes-list-type"] = "set"
        else:
            extensions["x-kubernetes-list-type"] = "map"
            extensions["x-kubernetes-list-map-keys"] = list(LIST_MAP_KEYS.get(kind, {}).get(path, (strategy,)))
    return extensions
