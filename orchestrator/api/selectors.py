"""Label and field selectors, as Kubernetes parses and matches them.

A selector is a conjunction of requirements. Both textual forms are supported:

* label selectors (``?labelSelector=``, ``kubectl -l``): ``app=web``, ``tier!=db``,
  ``env in (prod, staging)``, ``env notin (dev)``, ``canary`` (key exists), ``!canary``;
* structured ``LabelSelector`` objects (``matchLabels`` + ``matchExpressions`` with the operators
  ``In``, ``NotIn``, ``Exists``, ``DoesNotExist``) as written in ReplicaSets and Deployments;
* field selectors (``?fieldSelector=``): ``metadata.name=x``, ``spec.nodeName!=``,
  ``involvedObject.uid=…`` — only ``=``, ``==`` and ``!=``, on dotted paths into the object.

Parsing raises :class:`SelectorError` with a message that quotes the offending text, which the API
server turns into a 400 the way Kubernetes does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping


class SelectorError(ValueError):
    """A selector that cannot be parsed; the message is meant for the user."""


class Operator(str, Enum):
    EQUALS = "="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.operator:
            case Operator.EQUALS | Operator.IN:
                return present and value in self.values
            case Operator.NOT_EQUALS | Operator.NOT_IN:
                return not present or value not in self.values
            case Operator.EXISTS:
                return present
            case Operator.DOES_NOT_EXIST:
                return not present
        raise AssertionError(self.operator)


@dataclass(frozen=True)
class LabelSelector:
    """A parsed label selector; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(requirement.matches(labels) for requirement in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_SET_EXPRESSION = re.compile(rf"^\s*(?P<key>{_KEY})\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)\s*$")
_EQUALITY = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>[-A-Za-z0-9_.]*)\s*$")
_EXISTS = re.compile(rf"^\s*(?P<bang>!?)\s*(?P<key>{_KEY})\s*$")


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside ``( … )`` value sets."""
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [term for term in terms if term.strip()]


def _parse_term(term: str) -> Requirement:
    if match := _SET_EXPRESSION.match(term):
        values = frozenset(v.strip() for v in match["values"].split(",") if v.strip())
        return Requirement(match["key"], Operator(match["op"]), values)
    if match := _EQUALITY.match(term):
        operator = Operator.NOT_EQUALS if match["op"] == "!=" else Operator.EQUALS
        return Requirement(match["key"], operator, frozenset({match["value"]}))
    if match := _EXISTS.match(term):
        operator = Operator.DOES_NOT_EXIST if match["bang"] else Operator.EXISTS
        return Requirement(match["key"], operator)
    raise SelectorError(f"unable to parse requirement: {term.strip()!r}")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse the textual form used by ``?labelSelector=`` and ``kubectl -l``."""
    if not text or not text.strip():
        return LabelSelector()
    return LabelSelector(tuple(_parse_term(term) for term in _split_terms(text)))


_EXPRESSION_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def from_label_selector_object(selector: Mapping[str, Any] | None) -> LabelSelector:
    """Build a selector from a ``metav1.LabelSelector`` dict (``matchLabels``/``matchExpressions``).

    As in Kubernetes, an empty or missing object selects everything; callers that must select
    nothing for a missing selector (Services without one) check for ``None`` themselves.
    """
    if not selector:
        return LabelSelector()
    requirements = [
        Requirement(key, Operator.EQUALS, frozenset({value}))
        for key, value in sorted((selector.get("matchLabels") or {}).items())
    ]
    for expression in selector.get("matchExpressions") or []:
        operator = _EXPRESSION_OPERATORS.get(expression.get("operator", ""))
        if operator is None:
            raise SelectorError(f"{expression.get('operator')!r} is not a valid label selector operator")
        values = frozenset(expression.get("values") or [])
        requirements.append(Requirement(expression["key"], operator, values))
    return LabelSelector(tuple(requirements))


def from_match_labels(labels: Mapping[str, str] | None) -> LabelSelector:
    """The equality selector a Service's ``spec.selector`` map stands for."""
    return LabelSelector(
        tuple(Requirement(k, Operator.EQUALS, frozenset({v})) for k, v in sorted((labels or {}).items()))
    )


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """Render a ``LabelSelector`` object in the textual form kubectl prints (``app=web,tier in (a,b)``)."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        operator = expression.get("operator")
        values = ",".join(sorted(expression.get("values") or []))
        if operator == "In":
            parts.append(f"{expression['key']} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{expression['key']} notin ({values})")
        elif operator == "Exists":
            parts.append(expression["key"])
        else:
            parts.append(f"!{expression['key']}")
    return ",".join(parts)


# ---------------------------------------------------------------------------------------------
# Field selectors


@dataclass(frozen=True)
class FieldRequirement:
    path: str
    value: str
    negate: bool

    def matches(self, obj: Mapping[str, Any]) -> bool:
        actual = field_value(obj, self.path)
        return (actual != self.value) if self.negate else (actual == self.value)


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(requirement.matches(obj) for requirement in self.requirements)

    def exact(self, path: str) -> str | None:
        """The value a ``path=value`` requirement pins, letting the store narrow a query."""
        for requirement in self.requirements:
            if requirement.path == path and not requirement.negate:
                return requirement.value
        return None


_FIELD_TERM = re.compile(r"^\s*(?P<path>[A-Za-z][A-Za-z0-9_.]*)\s*(?P<op>==|=|!=)\s*(?P<value>.*?)\s*$")


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string a field selector compares against; missing fields compare as ``""``."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return ""
        current = current.get(part)
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)


def parse_field_selector(text: str | None, supported: frozenset[str] | None = None) -> FieldSelector:
    """Parse ``?fieldSelector=``; ``supported`` (when given) lists the paths the kind allows."""
    if not text or not text.strip():
        return FieldSelector()
    requirements = []
    for term in text.split(","):
        if not term.strip():
            continue
        match = _FIELD_TERM.match(term)
        if not match:
            raise SelectorError(f"invalid selector: {text!r}; can't understand {term.strip()!r}")
        path = match["path"]
        if supported is not None and path not in supported:
            raise SelectorError(f'field label not supported: {path}')
        requirements.append(FieldRequirement(path, match["value"], match["op"] == "!="))
    return FieldSelector(tuple(requirements))
