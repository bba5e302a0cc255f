"""The core/v1 Event table: LAST SEEN TYPE REASON OBJECT MESSAGE.

Wide adds SUBOBJECT and SOURCE before MESSAGE and FIRST SEEN, COUNT, NAME after it; the
columns interleave because kubectl declares them in that order with mixed priorities.
Events written through the newer events.k8s.io API carry ``eventTime`` and ``series`` instead of
``firstTimestamp``/``lastTimestamp``/``count``; the fallbacks below read either shape.
"""

from __future__ import annotations

from datetime import datetime

from .columns import (
    NAME_DESCRIPTION,
    NAME_FORMAT,
    STRING,
    WIDE_PRIORITY,
    Cell,
    Column,
    KindPrinter,
    wide,
)
from .fields import Object, field, number, text
from .humanize import since

COLUMNS: tuple[Column, ...] = (
    Column("Last Seen", STRING, "The time at which the most recent occurrence of this event was recorded."),
    Column("Type", STRING, "Type of this event (Normal, Warning), new types could be added in the future"),
    Column("Reason", STRING, "A short, machine understandable string giving the reason for the transition."),
    Column("Object", STRING, "The object that this event is about."),
    wide("Subobject", STRING, "The piece of the object this event is about, e.g. spec.containers{nginx}."),
    wide("Source", STRING, "The component reporting this event."),
    Column("Message", STRING, "A human-readable description of the status of this operation."),
    wide("First Seen", STRING, "The time at which the event was first recorded."),
    wide("Count", STRING, "The number of times this event has occurred."),
    Column("Name", STRING, NAME_DESCRIPTION, priority=WIDE_PRIORITY, format=NAME_FORMAT),
)


def _first_seen(event: Object, now: datetime) -> str:
    if field(event, "firstTimestamp"):
        return since(field(event, "firstTimestamp"), now)
    return since(field(event, "eventTime"), now)


def _involved_object(event: Object) -> str:
    """``pod/my-nginx-pod``: the lower-cased kind, then the name when there is one."""
    kind = text(event, "involvedObject", "kind").lower()
    name = text(event, "involvedObject", "name")
    return f"{kind}/{name}" if name else kind


def _source(event: Object) -> str:
    # Old-style source.component/host, or the events.k8s.io reporting controller/instance.
    component = text(event, "source", "component") or text(event, "reportingComponent")
    instance = text(event, "source", "host") or text(event, "reportingInstance")
    return f"{component}, {instance}" if instance else component


def cells(event: Object, now: datetime) -> list[Cell]:
    first_seen = _first_seen(event, now)
    last_seen = since(field(event, "lastTimestamp"), now) if field(event, "lastTimestamp") else first_seen
    count = number(event, "count")
    series = field(event, "series")
    if series is not None:
        last_seen = since(field(series, "lastObservedTime"), now)
        count = number(series, "count")
    elif count == 0:
        count = 1  # singleton events written through the new API have no count
    return [
        last_seen,
        text(event, "type"),
        text(event, "reason"),
        _involved_object(event),
        text(event, "involvedObject", "fieldPath"),
        _source(event),
        text(event, "message").strip(),
        first_seen,
        count,
        text(event, "metadata", "name"),
    ]


PRINTER = KindPrinter(COLUMNS, cells)
