"""Field paths and field errors, after k8s.io/apimachinery/pkg/util/validation/field.

A :class:`Path` renders the way Kubernetes prints field paths (``spec.containers[0].ports[1]``,
``metadata.labels[app]``, ``data[tls.crt]``); the constructors below build
:class:`~orchestrator.api.errors.Cause` values whose ``message`` is Kubernetes' ``ErrorBody()``:
``Invalid value: "MyPod": a lowercase RFC 1123 subdomain …``, ``Required value``,
``Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"``.

Kubernetes prints bad values with Go's ``%v``/``%q``/``%#v``; :func:`go_value` reproduces the
cases users meet (strings quoted, numbers bare, ``map[string]string{"app":"x"}`` for label maps).
Struct values are passed pre-rendered as :class:`GoLiteral` so that the message can still show
Kubernetes' ``v1.LabelSelector{MatchLabels:…}`` spelling.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

from orchestrator.api.errors import Cause, CauseType


@dataclass(frozen=True)
class Path:
    """An immutable field path; ``Path("spec").child("containers").index(0)``."""

    text: str = ""

    def child(self, *names: str) -> "Path":
        text = self.text
        for name in names:
            text = f"{text}.{name}" if text else name
        return Path(text)

    def index(self, i: int) -> "Path":
        return Path(f"{self.text}[{i}]")

    def key(self, k: str) -> "Path":
        return Path(f"{self.text}[{k}]")

    def __str__(self) -> str:
        return self.text


ROOT = Path()


@dataclass(frozen=True)
class GoLiteral:
    """A value already spelled the way Go would print it (``%#v`` of a struct, a Stringer …)."""

    text: str


def go_quote(text: str) -> str:
    # strconv.Quote keeps printable Unicode and escapes like JSON for the rest.
    return json.dumps(text, ensure_ascii=False)


def go_value(value: Any) -> str:
    """How ``field.Error.ErrorBody`` prints a bad value."""
    if isinstance(value, GoLiteral):
        return value.text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, dict):
        if all(isinstance(v, str) for v in value.values()):
            inner = ", ".join(f"{go_quote(k)}:{go_quote(v)}" for k, v in sorted(value.items()))
            return f"map[string]string{{{inner}}}"
        inner = ", ".join(f"{go_quote(k)}:{go_value(v)}" for k, v in sorted(value.items()))
        return f"map[string]interface {{}}{{{inner}}}"
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            return "[]string{" + ", ".join(go_quote(v) for v in value) + "}"
        return "[]interface {}{" + ", ".join(go_value(v) for v in value) + "}"
    return str(value)


def go_label_selector(selector: dict | None) -> GoLiteral:
    """``%#v`` of a ``v1.LabelSelector``, as ``field is immutable`` errors print it."""
    selector = selector or {}
    labels = selector.get("matchLabels")
    labels_text = go_value(labels) if labels else "map[string]string(nil)" if labels is None else "map[string]string{}"
    exprs = selector.get("matchExpressions")
    if exprs:
        rendered = []
        for expr in exprs:
            values = expr.get("values")
            values_text = go_value(values) if values else "[]string(nil)"
            rendered.append(
                f'v1.LabelSelectorRequirement{{Key:{go_quote(expr.get("key", ""))}, '
                f'Operator:{go_quote(expr.get("operator", ""))}, Values:{values_text}}}'
            )
        exprs_text = "[]v1.LabelSelectorRequirement{" + ", ".join(rendered) + "}"
    else:
        exprs_text = "[]v1.LabelSelectorRequirement(nil)"
    return GoLiteral(f"v1.LabelSelector{{MatchLabels:{labels_text}, MatchExpressions:{exprs_text}}}")


def int_or_string(value: int | str) -> GoLiteral:
    # intstr.IntOrString is a fmt.Stringer: printed bare, without quotes.
    return GoLiteral(str(value))


# ── constructors, one per field.ErrorType ─────────────────────────────────────────────────────


def _body(type_text: str, detail: str) -> str:
    return f"{type_text}: {detail}" if detail else type_text


def required(path: Path, detail: str = "") -> Cause:
    return Cause(CauseType.FIELD_VALUE_REQUIRED, str(path), _body("Required value", detail))


def invalid(path: Path, value: Any, detail: str = "") -> Cause:
    return Cause(CauseType.FIELD_VALUE_INVALID, str(path), _body(f"Invalid value: {go_value(value)}", detail))


def not_supported(path: Path, value: Any, valid: Iterable[str]) -> Cause:
    quoted = ", ".join(go_quote(v) for v in valid)
    detail = f"supported values: {quoted}" if quoted else ""
    return Cause(CauseType.FIELD_VALUE_NOT_SUPPORTED, str(path), _body(f"Unsupported value: {go_value(value)}", detail))


def duplicate(path: Path, value: Any, detail: str = "") -> Cause:
    return Cause(CauseType.FIELD_VALUE_DUPLICATE, str(path), _body(f"Duplicate value: {go_value(value)}", detail))


def forbidden(path: Path, detail: str) -> Cause:
    return Cause(CauseType.FIELD_VALUE_FORBIDDEN, str(path), _body("Forbidden", detail))


def not_found(path: Path, value: Any) -> Cause:
    return Cause(CauseType.FIELD_VALUE_NOT_FOUND, str(path), f"Not found: {go_value(value)}")


def too_long(path: Path, max_length: int) -> Cause:
    return Cause(CauseType.FIELD_VALUE_TOO_LONG, str(path), f"Too long: must have at most {max_length} bytes")


def too_many(path: Path, actual: int, max_items: int) -> Cause:
    return Cause(CauseType.FIELD_VALUE_INVALID, str(path), f"Too many: {actual}: must have at most {max_items} items")


def nonnegative(value: int | None, path: Path) -> list[Cause]:
    """``ValidateNonnegativeField``."""
    if value is not None and value < 0:
        return [invalid(path, value, "must be greater than or equal to 0")]
    return []


def immutable(new: Any, old: Any, path: Path, shown: Any = None) -> list[Cause]:
    """``ValidateImmutableField``: ``Invalid value: …: field is immutable``."""
    if new != old:
        return [invalid(path, new if shown is None else shown, "field is immutable")]
    return []


def value_diff(old: Any, new: Any, path: str) -> list[str]:
    """What changed between two wire values, one ``  path: old -> new`` line per change (values
    as compact JSON): the detail Kubernetes appends to "may not change" errors, where it prints
    ``cmp.Diff`` of the Go structs."""
    lines: list[str] = []
    _diff(old, new, path, lines)
    return lines


def _diff(old: Any, new: Any, path: str, out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            _diff(old.get(key), new.get(key), f"{path}.{key}", out)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            _diff(a, b, f"{path}[{i}]", out)
    elif old != new:
        out.append(f"  {path}: {_compact(old)} -> {_compact(new)}")


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
