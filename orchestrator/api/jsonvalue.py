"""Decoded JSON as Python values, and equality the way JSON means it.

Every patch dialect (:mod:`orchestrator.api.patch`, :mod:`orchestrator.api.patch_strategic`,
:mod:`orchestrator.api.patch_diff`) compares values: RFC 6902's ``test``, merge keys, set-like
lists. They must all compare alike, and not as Python does: ``True == 1`` and ``1 == 1.0`` in
Python, while JSON keeps booleans apart from numbers and has a single number type.
"""

from __future__ import annotations

from typing import Any, TypeAlias

JSONValue: TypeAlias = Any
"""Decoded JSON: dict, list, str, int, float, bool or None (``Any``: mypy cannot express it)."""


def json_equal(left: JSONValue, right: JSONValue) -> bool:
    """Equality in the JSON data model (booleans are not numbers; ``1`` equals ``1.0``)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(v, right[k]) for k, v in left.items())
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right))
    return type(left) is type(right) and left == right


def json_contains(items: list, value: JSONValue) -> bool:
    """``value in items`` under JSON equality (so ``True`` is not ``1``)."""
    return any(json_equal(item, value) for item in items)


def json_unique(items: list) -> list:
    """``items`` without JSON-equal repeats, first occurrence kept (set-like lists)."""
    unique: list = []
    for item in items:
        if not json_contains(unique, item):
            unique.append(item)
    return unique
