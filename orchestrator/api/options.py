"""The options a request carries besides its body: meta/v1's ListOptions, DeleteOptions, the
patch types and the write options, as typed values.

They are the vocabulary every caller of the API shares: the HTTP layer parses them from query
strings and bodies (:mod:`orchestrator.apiserver.negotiation`), the object semantics act on them
(:mod:`orchestrator.apiserver.objects`), and controllers pass them through the client seam
(:mod:`orchestrator.client`) without knowing which of those is on the other side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from orchestrator.api.selectors import FieldSelector, LabelSelector


class PatchType(str, Enum):
    """The Content-Type of a PATCH names how the body is applied."""

    STRATEGIC = "application/strategic-merge-patch+json"
    MERGE = "application/merge-patch+json"
    JSON = "application/json-patch+json"
    APPLY = "application/apply-patch+yaml"


class PropagationPolicy(str, Enum):
    """What happens to an object's dependents when it is deleted."""

    ORPHAN = "Orphan"
    BACKGROUND = "Background"
    FOREGROUND = "Foreground"


class Finalizer(str, Enum):
    """Finalizers the control plane itself acts on (``metadata.finalizers``)."""

    ORPHAN = "orphan"
    FOREGROUND = "foregroundDeletion"


@dataclass(frozen=True)
class ListOptions:
    """Which objects a list or watch covers: selectors, and one page of at most ``limit``
    objects after the (namespace, name) in ``after`` (a decoded ``continue`` token)."""

    label_selector: LabelSelector = field(default_factory=LabelSelector)
    field_selector: FieldSelector = field(default_factory=FieldSelector)
    limit: int | None = None
    after: tuple[str, str] | None = None


@dataclass(frozen=True)
class WriteOptions:
    """``?fieldValidation=Strict`` (unknown fields are errors, not warnings) and ``?dryRun=All``."""

    strict: bool = True
    dry_run: bool = False


@dataclass(frozen=True)
class DeleteOptions:
    propagation: PropagationPolicy | None = None
    grace_period_seconds: int | None = None
    precondition_uid: str | None = None
    precondition_resource_version: str | None = None
    dry_run: bool = False
