"""``kubectl logs`` options (``PodLogOptions``) and the kubelet's words for logs that don't exist.

The API server parses the query of ``GET …/pods/{name}/log`` into :class:`LogOptions`, checks
them as Kubernetes' validation does, and forwards them unchanged to the node agent, which parses
them again with the same code. Timestamps need no conversion: Docker prefixes each line with
``2024-01-01T00:00:00.123456789Z``, UTC with exactly nine fraction digits, which is the kubelet's
own output format (RFC 3339 with fixed-width nanoseconds), so kubectl shows what it would show
against Kubernetes.

:class:`LogsUnavailable` names the kubelet's reasons for having no log to show, with its
messages (kubectl prints them after ``Error from server (BadRequest):``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Mapping

from orchestrator.api import errors
from orchestrator.api.remotecommand import parse_bool


@dataclass(frozen=True)
class LogOptions:
    container: str | None = None
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    since_seconds: int | None = None
    since_time: datetime | None = None
    limit_bytes: int | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str], pod_name: str = "") -> LogOptions:
        causes: list[errors.Cause] = []
        tail = _int(query, "tailLines", 0, "must be greater than or equal to 0", causes)
        since = _int(query, "sinceSeconds", 1, "must be greater than 0", causes)
        limit = _int(query, "limitBytes", 1, "must be greater than 0", causes)
        since_time = _time(query.get("sinceTime"), causes)
        if since is not None and since_time is not None:
            causes.append(errors.Cause(errors.CauseType.FIELD_VALUE_FORBIDDEN, "",
                                       "at most one of `sinceTime` or `sinceSeconds` may be specified"))
        if causes:
            raise errors.invalid("PodLogOptions", "", pod_name, causes)
        return cls(
            container=query.get("container") or None,
            follow=parse_bool(query, "follow", False),
            previous=parse_bool(query, "previous", False),
            timestamps=parse_bool(query, "timestamps", False),
            tail_lines=tail, since_seconds=since, since_time=since_time, limit_bytes=limit,
        )

    def to_query(self) -> dict[str, str]:
        """The query string that :meth:`from_query` reads back to equal options."""
        query = {key: "true" for key, on in
                 (("follow", self.follow), ("previous", self.previous), ("timestamps", self.timestamps)) if on}
        if self.container:
            query["container"] = self.container
        for key, value in (("tailLines", self.tail_lines), ("sinceSeconds", self.since_seconds),
                           ("limitBytes", self.limit_bytes)):
            if value is not None:
                query[key] = str(value)
        if self.since_time is not None:
            query["sinceTime"] = self.since_time.isoformat().replace("+00:00", "Z")
        return query


class LogsUnavailable(str, Enum):
    """Why there is no log to show, with the kubelet's message for each."""

    NOT_STARTED = "NotStarted"               # no instance of the container exists yet
    NO_PREVIOUS = "NoPrevious"               # --previous, but it never restarted
    IMAGE_PULL = "ErrImagePull"
    IMAGE_PULL_BACKOFF = "ImagePullBackOff"

    def message(self, container: str, pod: str, waiting_reason: str = "ContainerCreating") -> str:
        where = f'container "{container}" in pod "{pod}"'
        if self is LogsUnavailable.NO_PREVIOUS:
            return f"previous terminated {where} not found"
        if self is LogsUnavailable.IMAGE_PULL:
            return f"{where} is waiting to start: image can't be pulled"
        if self is LogsUnavailable.IMAGE_PULL_BACKOFF:
            return f"{where} is waiting to start: trying and failing to pull image"
        return f"{where} is waiting to start: {waiting_reason}"

    def error(self, container: str, pod: str, waiting_reason: str = "ContainerCreating") -> errors.ApiError:
        return errors.bad_request(self.message(container, pod, waiting_reason))


def _int(query: Mapping[str, str], key: str, minimum: int, rule: str,
         causes: list[errors.Cause]) -> int | None:
    raw = query.get(key)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        causes.append(errors.Cause(errors.CauseType.FIELD_VALUE_INVALID, key,
                                   f'Invalid value: "{raw}": must be a whole number'))
        return None
    if value < minimum:
        causes.append(errors.Cause(errors.CauseType.FIELD_VALUE_INVALID, key, f"Invalid value: {value}: {rule}"))
        return None
    return value


def _time(raw: str | None, causes: list[errors.Cause]) -> datetime | None:
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        causes.append(errors.Cause(errors.CauseType.FIELD_VALUE_INVALID, "sinceTime",
                                   f'Invalid value: "{raw}": must be an RFC 3339 time such as 2024-01-01T00:00:00Z'))
        return None
    return parsed
