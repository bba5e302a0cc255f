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
* Every model documents itself for users: its class docstring says what the type is, and the
  docstring under each field what the field means, its default and allowed values, and what
  dockyard does differently. ``kubectl explain`` prints them, from the OpenAPI document
  (:mod:`orchestrator.api.openapi_schemas`, which reads them through
  :mod:`orchestrator.api.docstrings`); a unit test fails when one is missing.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

# An ``intstr.IntOrString``: ports by number or name, ``maxSurge: 1`` or ``"25%"``.
IntOrString = Union[int, str]

# Whether Kubernetes' schema lists a field as required (kubectl explain marks it -required-) mostly
# follows from the wire tables: the fields Go always serialises (``!``). These ``Field`` markers
# say it where that rule is wrong: a required struct or list (PodSpec.containers), or an
# always-serialised field Kubernetes calls optional (Event.reportingComponent).
REQUIRED_KEY = "required"
REQUIRED: dict[str, Any] = {REQUIRED_KEY: True}
NOT_REQUIRED: dict[str, Any] = {REQUIRED_KEY: False}


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
    """Names an object that owns this one. When every owner is gone, the garbage collector deletes
    the object too; a ReplicaSet's pods point at their ReplicaSet this way."""

    api_version: str | None = None
    """The owner's API group and version, such as apps/v1."""
    kind: str | None = None
    """The owner's kind, such as ReplicaSet."""
    name: str | None = None
    """The owner's name; owners are in the same namespace as the object, or cluster-scoped."""
    uid: str | None = None
    """The owner's uid. An owner deleted and created again under the same name has a new uid, so the
    old reference no longer counts."""
    controller: bool | None = None
    """True for the one owner that manages this object (a pod's ReplicaSet); at most one reference
    may say so. Controllers adopt and release objects through it."""
    block_owner_deletion: bool | None = None
    """True: a foreground deletion of the owner waits until this object is gone."""


class ManagedFieldsEntry(KubeModel):
    """Which fields one writer set, as server-side apply records it. dockyard does not implement
    server-side apply: it keeps these entries as clients send them and adds none."""

    manager: str | None = None
    """The name of the writer, such as kubectl-client-side-apply."""
    operation: str | None = None
    """Apply or Update: how the writer set the fields."""
    api_version: str | None = None
    """The API version the field paths refer to."""
    time: str | None = None
    """When the writer last changed these fields."""
    fields_type: str | None = None
    """The format of fieldsV1; FieldsV1 is the only one."""
    fields_v1: dict[str, Any] | None = Field(default=None, alias="fieldsV1")
    """The fields this writer owns, as a tree of field paths."""
    subresource: str | None = None
    """The subresource the writer wrote through (status, scale), or empty for the object itself."""


class ObjectMeta(KubeModel):
    """The metadata every stored object has: its identity (name, namespace, uid), the labels and
    annotations users attach, and the bookkeeping the server keeps (resourceVersion, timestamps,
    owners, finalizers)."""

    name: str | None = None
    """The object's name, unique among objects of its kind in its namespace. Most kinds need a
    lowercase DNS subdomain (letters, digits, '-' and '.'); it cannot change after creation."""
    generate_name: str | None = None
    """A prefix the server completes with five random characters when name is empty, so that each
    create makes a new object (a ReplicaSet names its pods this way)."""
    namespace: str | None = None
    """The namespace the object lives in; empty for cluster-scoped kinds such as Node and Namespace.
    Requests without one use the namespace of the URL, default for kubectl."""
    self_link: str | None = None
    """Deprecated and never set: the object's own URL."""
    uid: str | None = None
    """The server-assigned id, unique over the cluster's whole life: an object deleted and created
    again under the same name gets a new one. Read only."""
    resource_version: str | None = None
    """The store revision at which the object last changed. Send it back on an update to make the
    write conditional (a stale one gets 409 Conflict); watches resume from it. Opaque to clients."""
    generation: int | None = None
    """How many times the desired state (spec) has changed, for kinds that track it (Deployment,
    ReplicaSet): compare it with status.observedGeneration to see whether a controller has caught
    up."""
    creation_timestamp: str | None = None
    """When the server stored the object (RFC 3339, UTC). Read only."""
    deletion_timestamp: str | None = None
    """Set when deletion was asked for but has to wait: for finalizers to be removed, or for a pod's
    containers to stop. The object disappears when that is done. Read only."""
    deletion_grace_period_seconds: int | None = None
    """The seconds the object was given to stop when its deletion was requested. Read only."""
    labels: dict[str, str] | None = None
    """Key-value pairs that selectors match (Services find pods, ReplicaSets count them, kubectl get
    -l filters). Keys may have a DNS prefix and slash (app.kubernetes.io/name); values are at most
    63 characters."""
    annotations: dict[str, str] | None = None
    """Key-value pairs for tools and people, not for selection: kubectl keeps the last applied
    manifest here, Deployments their revision number."""
    owner_references: list[OwnerReference] | None = None
    """The objects this one belongs to; it is garbage-collected when they are all deleted."""
    finalizers: list[str] | None = None
    """Names of clean-ups that must finish before the object may go: a delete only sets
    deletionTimestamp until each finalizer's controller removes its entry."""
    managed_fields: list[ManagedFieldsEntry] | None = None
    """Server-side apply's record of which writer owns which field; dockyard keeps what clients send
    and adds nothing."""


class ListMeta(KubeModel):
    """What a list answer says about itself: the revision it reflects and how to fetch the next
    page."""

    resource_version: str | None = None
    """The store revision the list reflects: a watch started from it sees every later change."""
    # `continue` is a Python keyword, hence the explicit alias.
    continue_: str | None = Field(default=None, alias="continue")
    """Set when limit cut the list short: pass it as ?continue= to fetch the next page."""
    remaining_item_count: int | None = None
    """How many objects remain after this page, when the server knows; dockyard does not set it."""
    self_link: str | None = None
    """Deprecated and never set."""


class Condition(KubeModel):
    """One aspect of an object's state, in the form shared by newer kinds: a type, whether it holds
    (True, False or Unknown), since when and why."""

    type: str | None = None
    """What the condition is about, in CamelCase (such as Ready)."""
    status: str | None = None
    """True, False or Unknown."""
    observed_generation: int | None = None
    """The metadata.generation the condition was computed for."""
    last_transition_time: str | None = Field(default=None, json_schema_extra=REQUIRED)
    """When status last changed."""
    reason: str | None = None
    """A one-word CamelCase cause of the last transition, for programs."""
    message: str | None = None
    """A sentence about the last transition, for people."""


class LabelSelectorRequirement(KubeModel):
    """One test on the labels: a key, an operator and the values the operator compares with."""

    key: str | None = None
    """The label key the test reads."""
    operator: str | None = None
    """In (the value is one of values), NotIn (it is none of them, or the label is missing), Exists
    (the label is present) or DoesNotExist (it is absent)."""
    values: list[str] | None = None
    """The values for In and NotIn, which need at least one; Exists and DoesNotExist need none."""


class LabelSelector(KubeModel):
    """Picks objects by their labels. An object is selected when it matches every entry of
    matchLabels and every requirement of matchExpressions; an empty selector selects everything, and
    a missing one nothing."""

    match_labels: dict[str, str] | None = None
    """Labels an object must carry with exactly these values."""
    match_expressions: list[LabelSelectorRequirement] | None = None
    """Further tests, all of which must pass."""


class ObjectReference(KubeModel):
    """Points at another object by kind, namespace and name, and optionally at one field inside it.
    Events name the object they are about this way, and Endpoints the pod behind each address."""

    kind: str | None = None
    """The kind of the object, such as Pod."""
    namespace: str | None = None
    """Its namespace; empty for cluster-scoped objects."""
    name: str | None = None
    """Its name."""
    uid: str | None = None
    """Its uid, which tells it apart from an earlier object of the same name."""
    api_version: str | None = None
    """Its API group and version, such as v1."""
    resource_version: str | None = None
    """The resourceVersion of the object when the reference was made."""
    field_path: str | None = None
    """A part of the object, such as spec.containers{web} for one container of a pod."""


class LocalObjectReference(KubeModel):
    """Names an object in the same namespace; the kind follows from where the reference is used."""

    name: str | None = None
    """The object's name."""


class TypeMeta(KubeModel):
    """Fields every object that travels alone carries: which schema it follows."""

    api_version: str | None = None
    """The versioned schema of this object: v1 for the core group, GROUP/VERSION otherwise
    (apps/v1). Clients send it, and the server stores and answers in it."""
    kind: str | None = None
    """The kind of object, in CamelCase (Pod, Deployment). Together with apiVersion it says which
    schema the rest of the object follows."""


class TopLevel(TypeMeta):
    """Fields every stored object carries; subclasses set the ``apiVersion``/``kind`` defaults."""

    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    """The object's name, namespace, labels, annotations and the bookkeeping the server keeps."""


class ObjectList(TypeMeta):
    """A list of objects of one kind, as a list request answers it."""

    api_version: str | None = None
    """The API group and version of the listed kind, such as v1."""
    kind: str | None = None
    """The list kind: the listed kind's name followed by List (PodList)."""
    metadata: ListMeta | None = None
    """The revision the list reflects, and the token for the next page."""
    items: list[dict[str, Any]] | None = Field(default=None, json_schema_extra=REQUIRED)
    """The objects, in namespace and name order."""
