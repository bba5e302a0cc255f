"""Reading API JSON with Go's zero-value semantics.

kubectl's printers work on typed Go structs, where an absent field is simply its zero value
(``""``, ``0``, an empty list, a nil pointer). The API serves JSON that omits such fields, and
clients may send ``null``. These accessors give the printers the same view of a dict, so each
column's logic can be ported without a ``.get(..) or {}`` chain on every line.
"""

from __future__ import annotations

from typing import Any, Mapping

Object = Mapping[str, Any]


def field(obj: Object | None, *path: str) -> Any:
    """Walk nested dicts, yielding ``None`` at the first missing or null step."""
    current: Any = obj
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def items(obj: Object | None, *path: str) -> list[Any]:
    """A list field, with absent/null read as empty (the API omits empty lists)."""
    value = field(obj, *path)
    return value if isinstance(value, list) else []


def mapping(obj: Object | None, *path: str) -> Mapping[str, Any]:
    """A map field, with absent/null read as empty."""
    value = field(obj, *path)
    return value if isinstance(value, Mapping) else {}


def text(obj: Object | None, *path: str) -> str:
    """A string field, with absent/null read as ``""`` (Go's zero value)."""
    value = field(obj, *path)
    return value if isinstance(value, str) else ""


def number(obj: Object | None, *path: str) -> int:
    """An integer field, with absent/null read as 0 (Go's zero value, and ptr.Deref(x, 0))."""
    value = field(obj, *path)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def name_of(obj: Object) -> str:
    return text(obj, "metadata", "name")
