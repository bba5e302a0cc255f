"""Time as the Kubernetes API writes it: RFC 3339 in UTC, whole seconds (``metav1.Time``).

Every component — API server, controllers, scheduler, node agent — stamps and reads
``creationTimestamp``, condition transitions, heartbeats and events through these few functions,
so one rule decides how a time looks on the wire and how a foreign one is read back.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

# metav1.Time is whole seconds and MicroTime microseconds; other writers may send nanoseconds,
# which Python cannot hold, so they are cut to microseconds.
_RFC3339 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})"
    r"(?:\.(?P<fraction>\d+))?(?P<zone>[Zz]|[+-]\d{2}:\d{2})$"
)
# Go's zero time.Time, which metav1.Time.IsZero() treats as "not set".
GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=timezone.utc)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """Treat naive datetimes as UTC, the only zone the API speaks."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def format_rfc3339(moment: datetime) -> str:
    """``2026-12-02T13:45:07Z``: what ``metav1.Time`` marshals to."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_rfc3339() -> str:
    return format_rfc3339(utc_now())


def now_micro_time() -> str:
    """``2026-12-02T13:45:07.123456Z``: what ``metav1.MicroTime`` marshals to (Leases, Events.v1)."""
    return utc_now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(value: object) -> datetime | None:
    """A timestamp from an API object as an aware UTC datetime; ``None`` when absent, zero or
    malformed (a datetime passes through, made UTC)."""
    if isinstance(value, datetime):
        parsed: datetime | None = as_utc(value)
    elif isinstance(value, str):
        parsed = _parse(value)
    else:
        return None
    if parsed is None or parsed == GO_ZERO_TIME:
        return None
    return parsed


def _parse(text: str) -> datetime | None:
    match = _RFC3339.match(text.strip())
    if match is None:
        return None
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")
    zone = "+00:00" if match["zone"] in ("Z", "z") else match["zone"]
    try:
        parsed = datetime.fromisoformat(f"{match['date']}T{match['time']}.{fraction}{zone}")
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc)
