"""ReplicaSet and Deployment tables, and the label-selector text their SELECTOR columns show."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from .columns import (
    AGE,
    INTEGER,
    NAME,
    NONE,
    STRING,
    WIDE_CONTAINERS,
    WIDE_IMAGES,
    Cell,
    Column,
    KindPrinter,
    join_containers,
    wide,
)
from .fields import Object, field, items, mapping, name_of, number, text
from .humanize import since

_TEMPLATE_SPEC = ("spec", "template", "spec")
# The API defaults spec.replicas to 1; an undefaulted object is shown as a real server would show it.
DEFAULT_REPLICAS = 1

REPLICA_SET_COLUMNS: tuple[Column, ...] = (
    NAME,
    Column("Desired", INTEGER, "Replicas is the number of desired replicas."),
    Column("Current", INTEGER, "Replicas is the most recently observed number of replicas."),
    Column("Ready", INTEGER, "The number of pods targeted by this ReplicaSet with a Ready Condition."),
    AGE,
    WIDE_CONTAINERS,
    WIDE_IMAGES,
    wide("Selector", STRING, "Selector is a label query over pods that should match the replica count."),
)

# kubectl declares UP-TO-DATE and AVAILABLE as strings although their cells are integers.
DEPLOYMENT_COLUMNS: tuple[Column, ...] = (
    NAME,
    Column("Ready", STRING, "Number of the pod with ready state"),
    Column("Up-to-date", STRING, "Total number of non-terminated pods that have the desired template spec."),
    Column("Available", STRING, "Total number of pods ready for at least minReadySeconds."),
    AGE,
    WIDE_CONTAINERS,
    WIDE_IMAGES,
    wide("Selector", STRING, "Label selector for pods managed by this deployment."),
)

# matchExpressions operators and how apimachinery's Requirement.String() spells them.
_SET_OPERATORS = {"In": " in ", "NotIn": " notin "}
_EXISTS = "Exists"
_DOES_NOT_EXIST = "DoesNotExist"


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """A LabelSelector as ``labels.Selector.String()`` renders it; ``""`` selects all or nothing.

    Requirements are sorted by key (``Selector.Add`` sorts them), set values are sorted, and
    matchLabels entries read ``key=value``.
    """
    if not selector:
        return ""
    requirements = [(key, f"{key}={value}") for key, value in mapping(selector, "matchLabels").items()]
    requirements += [_expression_string(expression) for expression in items(selector, "matchExpressions")]
    requirements.sort(key=lambda requirement: requirement[0])
    return ",".join(rendered for _, rendered in requirements)


def _expression_string(expression: Object) -> tuple[str, str]:
    key = text(expression, "key")
    operator = text(expression, "operator")
    if operator == _EXISTS:
        return key, key
    if operator == _DOES_NOT_EXIST:
        return key, f"!{key}"
    values = ",".join(sorted(str(v) for v in items(expression, "values")))
    return key, f"{key}{_SET_OPERATORS.get(operator, ' ' + operator + ' ')}({values})"


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """``metav1.FormatLabelSelector``: like :func:`selector_string` but ``<none>`` when empty."""
    return selector_string(selector) or NONE


def _desired_replicas(obj: Object) -> int:
    if field(obj, "spec", "replicas") is None:
        return DEFAULT_REPLICAS
    return number(obj, "spec", "replicas")


def replica_set_cells(rs: Object, now: datetime) -> list[Cell]:
    return [
        name_of(rs),
        _desired_replicas(rs),
        number(rs, "status", "replicas"),
        number(rs, "status", "readyReplicas"),
        since(field(rs, "metadata", "creationTimestamp"), now),
        *join_containers(rs, *_TEMPLATE_SPEC),
        format_label_selector(field(rs, "spec", "selector")),
    ]


def deployment_cells(deployment: Object, now: datetime) -> list[Cell]:
    ready = number(deployment, "status", "readyReplicas")
    desired = _desired_replicas(deployment)
    return [
        name_of(deployment),
        f"{ready}/{desired}",
        number(deployment, "status", "updatedReplicas"),
        number(deployment, "status", "availableReplicas"),
        since(field(deployment, "metadata", "creationTimestamp"), now),
        *join_containers(deployment, *_TEMPLATE_SPEC),
        # printDeployment uses the bare selector string: an empty selector prints as "".
        selector_string(field(deployment, "spec", "selector")),
    ]


REPLICA_SET_PRINTER = KindPrinter(REPLICA_SET_COLUMNS, replica_set_cells)
DEPLOYMENT_PRINTER = KindPrinter(DEPLOYMENT_COLUMNS, deployment_cells)
