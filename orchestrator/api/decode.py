"""Request body → wire-form dict, the way Kubernetes' decoder treats it.

``decode(rk, body, strict=…)`` parses ``body`` with the kind's model and returns the object as
Kubernetes would serialise it (``None`` fields dropped) plus a list of warnings.

* **Unknown fields** follow ``fieldValidation``: ``Strict`` (what kubectl ≥1.27 sends when our
  OpenAPI document advertises it) fails with Kubernetes' own message, e.g.
  ``Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field
  "spec.containers[0].foo"``; ``Warn``/``Ignore`` drop them and return ``unknown field "…"``
  warnings for the ``Warning`` response header. Pydantic reports them as ``extra_forbidden`` errors
  whose locations give the paths; we strip those keys and validate again.
* **Type errors** (``replicas: "3"``) fail like Go's JSON decoder: ``… cannot unmarshal string into
  Go struct field DeploymentSpec.spec.replicas of type int32`` (with list indices kept, since a
  path into a list is useless without them).
* ``apiVersion``/``kind`` are filled from the route when missing (the Python client omits them)
  and must match it when present.
* JSON ``null`` means "absent", as it does for Go's decoder.
"""

from __future__ import annotations

import copy
import types
import typing
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from orchestrator.api import errors
from orchestrator.api.registry import ResourceKind

# Kubernetes fields that are int64 in Go (the rest of our integers are int32).
_INT64_FIELDS = frozenset({
    "terminationGracePeriodSeconds", "activeDeadlineSeconds", "deletionGracePeriodSeconds",
    "generation", "observedGeneration", "runAsUser", "runAsGroup", "fsGroup", "tolerationSeconds",
    "expirationSeconds", "seconds",
})
_BASE64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def decode(rk: ResourceKind, body: Any, *, strict: bool) -> tuple[dict, list[str]]:
    """Parse ``body`` as a ``rk.kind``; return the wire-form object and any warnings."""
    prefix = f'{rk.kind} in version "{rk.version}" cannot be handled as a {rk.kind}: '
    if not isinstance(body, dict):
        raise errors.bad_request(prefix + f"json: cannot unmarshal {_json_type(body)} into Go value of type struct")
    body = _drop_nulls(body)
    api_version, kind = body.get("apiVersion"), body.get("kind")
    if api_version not in (None, "") and api_version != rk.api_version:
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API version ({rk.api_version})")
    if kind not in (None, "") and kind != rk.kind:
        raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rk.kind})")
    body["apiVersion"], body["kind"] = rk.api_version, rk.kind

    warnings: list[str] = []
    try:
        model = rk.model.model_validate(body, by_alias=True, by_name=False)
    except ValidationError as error:
        unknown = [_dotted(e["loc"]) for e in error.errors() if e["type"] == "extra_forbidden"]
        if unknown and strict:
            raise errors.bad_request(
                prefix + "strict decoding error: " + ", ".join(f'unknown field "{path}"' for path in unknown)
            ) from None
        for e in error.errors():
            if e["type"] != "extra_forbidden":
                raise errors.bad_request(prefix + _type_error_message(rk.model, e)) from None
        warnings = [f'unknown field "{path}"' for path in unknown]
        body = _without(body, [e["loc"] for e in error.errors()])
        try:
            model = rk.model.model_validate(body, by_alias=True, by_name=False)
        except ValidationError as again:  # pragma: no cover - stripping leaves only known fields
            raise errors.bad_request(prefix + _type_error_message(rk.model, again.errors()[0])) from None

    obj = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    _check_base64(rk, obj, prefix)
    return obj, warnings


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _dotted(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def _without(body: dict, locs: list[tuple[Any, ...]]) -> dict:
    stripped = copy.deepcopy(body)
    for loc in locs:
        node: Any = stripped
        for part in loc[:-1]:
            node = node[part]
        node.pop(loc[-1], None)
    return stripped


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _members(annotation: Any) -> list[Any]:
    """The non-None members of an Optional/Union (unwrapping ``Annotated``)."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (Union, types.UnionType):
        found = []
        for member in typing.get_args(annotation):
            if member is not type(None):
                found.extend(_members(member))
        return found
    return [annotation]


def _go_type(annotation: Any, field_name: str) -> str:
    members = _members(annotation)
    if len(members) > 1:
        return "intstr.IntOrString" if set(members) == {int, str} else "resource.Quantity"
    t = members[0]
    origin = typing.get_origin(t)
    if t is int:
        return "int64" if field_name in _INT64_FIELDS else "int32"
    if t is str:
        return "string"
    if t is bool:
        return "bool"
    if t is float:
        return "float64"
    if origin is list:
        return "[]" + _go_type(typing.get_args(t)[0], "")
    if origin is dict:
        return "map[string]" + _go_type(typing.get_args(t)[1], "")
    if isinstance(t, type) and issubclass(t, BaseModel):
        return f"v1.{t.__name__}"
    return "interface {}"


def _type_error_message(model: type[BaseModel], error: Any) -> str:
    """Go's ``json: cannot unmarshal X into Go struct field Parent.path of type T``."""
    if error["type"] in ("quantity_format",):
        return str(error["msg"])
    loc = error["loc"]
    annotation: Any = model
    parent = model.__name__
    path = ""
    field_name = ""
    for part in loc:
        members = _members(annotation)
        if len(members) != 1:
            break  # a scalar union (int-or-string, quantity): the rest of loc names its members
        t = members[0]
        origin = typing.get_origin(t)
        if isinstance(t, type) and issubclass(t, BaseModel) and isinstance(part, str):
            field = next((f for f in t.model_fields.values() if f.alias == part), None)
            if field is None:
                break
            parent, field_name, annotation = t.__name__, part, field.annotation
            path = f"{path}.{part}" if path else part
        elif origin is list and isinstance(part, int):
            annotation = typing.get_args(t)[0]
            path += f"[{part}]"
        elif origin is dict:
            annotation = typing.get_args(t)[1]
            path += f"[{part}]"
        else:
            break
    go_type = _go_type(annotation, field_name)
    if error["type"] == "value_error" or error["type"].startswith("function"):
        return f"{path}: {error['msg']}"
    return f"json: cannot unmarshal {_json_type(error.get('input'))} into Go struct field {parent}.{path} of type {go_type}"


def _base64_error(value: str) -> str | None:
    """Go's ``illegal base64 data at input byte N`` for standard, padded base64."""
    stripped = value.replace("\n", "").replace("\r", "")
    body = stripped.rstrip("=")
    padding = len(stripped) - len(body)
    for i, ch in enumerate(body):
        if ch not in _BASE64_ALPHABET:
            return f"illegal base64 data at input byte {i}"
    if padding > 2 or len(stripped) % 4 or (padding and len(body) % 4 in (0, 1)):
        return f"illegal base64 data at input byte {max(len(body) - len(body) % 4, 0)}"
    return None


def _check_base64(rk: ResourceKind, obj: dict, prefix: str) -> None:
    # Go decodes []byte fields from base64 while unmarshalling; bad data fails the request.
    fields = {"Secret": ("data",), "ConfigMap": ("binaryData",)}.get(rk.kind, ())
    for name in fields:
        for value in (obj.get(name) or {}).values():
            if (problem := _base64_error(value)) is not None:
                raise errors.bad_request(prefix + problem)
