"""The three PATCH bodies kubectl sends, applied to JSON-shaped Python data.

* ``application/merge-patch+json`` — :func:`json_merge_patch`, RFC 7386
  (``kubectl patch --type merge``).
* ``application/json-patch+json`` — :func:`json_patch`, RFC 6902 (``kubectl patch --type json``,
  ``kubectl rollout undo``).
* ``application/strategic-merge-patch+json`` — Kubernetes' own dialect (``kubectl apply``,
  ``set image``, ``rollout restart``…). It needs per-kind schema knowledge, so it lives in
  :mod:`orchestrator.api.patch_strategic`, which builds on this module (it raises
  :class:`PatchError` too); the client side of ``kubectl apply`` is
  :mod:`orchestrator.api.patch_diff`. The dependency runs one way only: this module knows neither.
  Equality in the JSON data model, which all three share, is :mod:`orchestrator.api.jsonvalue`.

Design: every function is pure. Inputs are deep-copied once at the entry point and all work
happens on that private copy, so a patch that fails half-way leaves the caller's object untouched
(a PATCH is all-or-nothing, as in Kubernetes) and the result never shares structure with the
inputs. Problems are reported as :class:`PatchError`, whose message is written for the kubectl
user; the API server decides the HTTP status.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from orchestrator.api.jsonvalue import JSONValue, json_equal


class PatchError(Exception):
    """A patch that cannot be applied: malformed, pointing nowhere, or a failed ``test``."""


# --- RFC 7386 -------------------------------------------------------------------------------------


def json_merge_patch(original: JSONValue, patch: JSONValue) -> JSONValue:
    """Apply an RFC 7386 JSON merge patch: objects merge recursively, ``null`` deletes a member and
    any other value (arrays included) replaces the target wholesale."""
    return _merge_patch(copy.deepcopy(original), patch)


def _merge_patch(target: JSONValue, patch: JSONValue) -> JSONValue:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


# --- RFC 6902 -------------------------------------------------------------------------------------

_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_MISSING = object()


def json_patch(original: JSONValue, operations: list[dict]) -> JSONValue:
    """Apply an RFC 6902 JSON patch: the operations run in order against one document, and any
    failure (bad pointer, missing target, failed ``test``) raises :class:`PatchError`."""
    if not isinstance(operations, list):
        raise PatchError("json patch: the patch must be a JSON array of operations")
    document = copy.deepcopy(original)
    for operation in operations:
        document = _apply_operation(document, operation)
    return document


def _apply_operation(document: JSONValue, operation: dict) -> JSONValue:
    if not isinstance(operation, dict):
        raise PatchError(f"json patch: operation {operation!r} is not a JSON object")
    name = operation.get("op")
    handler = _OPERATIONS.get(name) if isinstance(name, str) else None
    if handler is None:
        raise PatchError(f"json patch: unsupported operation {name!r}")
    return handler(document, operation)


def _member(operation: dict, name: str) -> Any:
    value = operation.get(name, _MISSING)
    if value is _MISSING:
        raise PatchError(f'json patch: operation "{operation.get("op")}" is missing "{name}"')
    if name in ("path", "from") and not isinstance(value, str):
        raise PatchError(f'json patch: "{name}" must be a string, got {value!r}')
    # Deep-copied so the result never aliases the caller's operation list.
    return copy.deepcopy(value)


def _op_add(document: JSONValue, operation: dict) -> JSONValue:
    return _add(document, _member(operation, "path"), _member(operation, "value"))


def _op_remove(document: JSONValue, operation: dict) -> JSONValue:
    document, _ = _remove(document, _member(operation, "path"))
    return document


def _op_replace(document: JSONValue, operation: dict) -> JSONValue:
    pointer, value = _member(operation, "path"), _member(operation, "value")
    tokens = _parse_pointer(pointer)
    if not tokens:
        return value
    parent = _resolve(document, tokens[:-1], pointer)
    # Unlike "add", the target has to exist already (RFC 6902 section 4.3).
    if isinstance(parent, list):
        parent[_existing_index(parent, tokens[-1], pointer)] = value
    elif isinstance(parent, dict) and tokens[-1] in parent:
        parent[tokens[-1]] = value
    else:
        raise _not_found(pointer)
    return document


def _op_move(document: JSONValue, operation: dict) -> JSONValue:
    source, target = _member(operation, "from"), _member(operation, "path")
    if target.startswith(source + "/"):
        raise PatchError(f'json patch: cannot move "{source}" into its own child "{target}"')
    document, value = _remove(document, source)
    return _add(document, target, value)


def _op_copy(document: JSONValue, operation: dict) -> JSONValue:
    source, target = _member(operation, "from"), _member(operation, "path")
    value = copy.deepcopy(_get(document, source))
    return _add(document, target, value)


def _op_test(document: JSONValue, operation: dict) -> JSONValue:
    pointer, expected = _member(operation, "path"), _member(operation, "value")
    if not json_equal(_get(document, pointer), expected):
        raise PatchError(f'json patch: test failed: value at path "{pointer}" is not {expected!r}')
    return document


_OPERATIONS = {
    "add": _op_add,
    "remove": _op_remove,
    "replace": _op_replace,
    "move": _op_move,
    "copy": _op_copy,
    "test": _op_test,
}


def _add(document: JSONValue, pointer: str, value: JSONValue) -> JSONValue:
    tokens = _parse_pointer(pointer)
    if not tokens:
        return value
    parent = _resolve(document, tokens[:-1], pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        # "-" appends; otherwise the index may equal len() (insert at the end) but not exceed it.
        index = len(parent) if last == "-" else _index(last, len(parent) + 1, pointer)
        parent.insert(index, value)
    else:
        raise _not_found(pointer)
    return document


def _remove(document: JSONValue, pointer: str) -> tuple[JSONValue, JSONValue]:
    tokens = _parse_pointer(pointer)
    if not tokens:
        raise PatchError("json patch: cannot remove the whole document")
    parent = _resolve(document, tokens[:-1], pointer)
    if isinstance(parent, list):
        return document, parent.pop(_existing_index(parent, tokens[-1], pointer))
    if isinstance(parent, dict) and tokens[-1] in parent:
        return document, parent.pop(tokens[-1])
    raise _not_found(pointer)


def _get(document: JSONValue, pointer: str) -> JSONValue:
    return _resolve(document, _parse_pointer(pointer), pointer)


def _resolve(document: JSONValue, tokens: list[str], pointer: str) -> JSONValue:
    node = document
    for token in tokens:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_existing_index(node, token, pointer)]
        else:
            raise _not_found(pointer)
    return node


def _parse_pointer(pointer: str) -> list[str]:
    """Split an RFC 6901 JSON pointer into unescaped reference tokens."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f'json patch: path "{pointer}" must start with "/"')
    tokens = pointer[1:].split("/")
    if any(re.search(r"~(?![01])", token) for token in tokens):
        raise PatchError(f'json patch: path "{pointer}" has an invalid "~" escape')
    # "~1" first, so that "~01" becomes "~1" and not "/" (RFC 6901 section 4).
    return [token.replace("~1", "/").replace("~0", "~") for token in tokens]


def _existing_index(array: list, token: str, pointer: str) -> int:
    return _index(token, len(array), pointer)


def _index(token: str, limit: int, pointer: str) -> int:
    if not _ARRAY_INDEX.fullmatch(token) or int(token) >= limit:
        raise _not_found(pointer)
    return int(token)


def _not_found(pointer: str) -> PatchError:
    return PatchError(f'json patch: path "{pointer}" not found')
