"""The common vocabulary of every object: the model base class, ``ObjectMeta``, label selectors.

Design:

* :class:`KubeModel` fixes the wire conventions once: camelCase aliases generated from the Python
  names (explicit ``alias=`` only where Kubernetes breaks camelCase, e.g. ``hostIP``, ``podCIDR``),
  ``extra="forbid"`` so that unknown fields surface as errors the decoder can report by path, and
  ``strict=True`` because Kubernetes' JSON decoder does not coerce either: ``replicas: "3"`` and
  ``value: 8080`` (a number where a string belongs) are both rejected there too.
* Nearly every field is optional. Kubernetes decodes anything structurally sound and reports
  missing values in *validation*, with field paths and "Required value"; doing the same keeps our
  messages identical to theirs.
* Enum-valued fields are typed ``str``: an unknown ``restartPolicy`` is a validation error
  (``Unsupported value``) in Kubernetes, not a decoding error. The ``str, Enum`` classes next to the
  models name the values for the code that acts on them.
* Timestamps stay RFC 3339 strings; nothing here reads a clock.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# An ``intstr.IntOrString``: ports by number or name, ``maxSurge: 1`` or ``"25%"``.
IntOrString = Union[int, str]


class KubeModel(BaseModel):
    """Base of every schema: camelCase on the wire, unknown fields refused, no type coercion."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        strict=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON form Kubernetes would send (``None`` fields omitted)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class ConditionStatus(str, Enum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class LabelSelectorOperator(str, Enum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class OwnerReference(KubeModel):
    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    uid: str | None = None
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(KubeModel):
    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    self_link: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    owner_references: list[OwnerReference] | None = None
    finalizers: list[str] | None = None
    # Written by server-side apply, which dockyard does not implement; kept verbatim.
    managed_fields: list[dict[str, Any]] | None = None


class ListMeta(KubeModel):
    resource_version: str | None = None
    # `continue` is a Python keyword, hence the explicit alias.
    continue_: str | None = Field(default=None, alias="continue")
    remaining_item_count: int | None = None
    self_link: str | None = None


class LabelSelectorRequirement(KubeModel):
    key: str | None = None
    operator: str | None = None
    values: list[str] | None = None


class LabelSelector(KubeModel):
    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class ObjectReference(KubeModel):
    """``v1.ObjectReference``: Events' ``involvedObject``, Endpoints' ``targetRef``."""

    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    uid: str | None = None
    api_version: str | None = None
    resource_version: str | None = None
    field_path: str | None = None


class LocalObjectReference(KubeModel):
    name: str | None = None


class TopLevel(KubeModel):
    """Fields every top-level object carries; subclasses set the ``apiVersion``/``kind`` defaults."""

    api_version: str | None = None
    kind: str | None = None
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
