"""API errors, shaped like Kubernetes' ``metav1.Status``.

Every layer (validation, store, API server) raises one of these named errors; the HTTP edge turns
them into a ``Status`` body so that kubectl prints its familiar lines, for example
``Error from server (NotFound): pods "x" not found``. The message wording follows
k8s.io/apimachinery/pkg/api/errors so that users can search for it.

A caller for whom "it is not there" is an answer, not a failure, says so with :func:`or_none`
(a read) or :func:`ignore_not_found` (a delete that may race another), rather than catching
the 404 by hand.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")


class StatusReason(str, Enum):
    """``metav1.StatusReason``: the machine-readable reason kubectl prints in parentheses."""

    BAD_REQUEST = "BadRequest"
    UNAUTHORIZED = "Unauthorized"
    FORBIDDEN = "Forbidden"
    NOT_FOUND = "NotFound"
    ALREADY_EXISTS = "AlreadyExists"
    CONFLICT = "Conflict"
    GONE = "Gone"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    NOT_ACCEPTABLE = "NotAcceptable"
    REQUEST_ENTITY_TOO_LARGE = "RequestEntityTooLarge"
    UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType"
    SERVICE_UNAVAILABLE = "ServiceUnavailable"
    INTERNAL_ERROR = "InternalError"


class CauseType(str, Enum):
    """``metav1.CauseType`` values used in ``details.causes`` of Invalid errors."""

    FIELD_VALUE_REQUIRED = "FieldValueRequired"
    FIELD_VALUE_INVALID = "FieldValueInvalid"
    FIELD_VALUE_NOT_SUPPORTED = "FieldValueNotSupported"
    FIELD_VALUE_DUPLICATE = "FieldValueDuplicate"
    FIELD_VALUE_FORBIDDEN = "FieldValueForbidden"
    FIELD_VALUE_TOO_LONG = "FieldValueTooLong"
    FIELD_VALUE_NOT_FOUND = "FieldValueNotFound"
    UNKNOWN_FIELD = "FieldValueUnknown"


#: reasons whose Kubernetes constructors (``NewNotFound``, ``NewConflict``, ``NewForbidden``,
#: ``NewInvalid``, ``NewGenericServerResponse`` …) always set ``details``, empty or not. Clients
#: read it without a nil check: kubectl 1.32's ``debug`` reads ``details.name`` of any 404 to tell
#: "no such pod" from "no ephemeralcontainers subresource", and crashed on a Status without it.
ALWAYS_DETAILED = frozenset({StatusReason.NOT_FOUND, StatusReason.ALREADY_EXISTS, StatusReason.CONFLICT,
                             StatusReason.FORBIDDEN, StatusReason.INVALID, StatusReason.METHOD_NOT_ALLOWED,
                             StatusReason.INTERNAL_ERROR})


@dataclass(frozen=True)
class Cause:
    """One problem with one field; ``field`` is a Kubernetes field path like ``spec.containers[0].name``."""

    type: CauseType
    field: str
    message: str

    def to_dict(self) -> dict:
        return {"reason": self.type.value, "message": self.message, "field": self.field}

    def describe(self) -> str:
        """The ``field: Invalid value: …`` fragment Kubernetes joins into an Invalid message."""
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass
class ApiError(Exception):
    """Base of every error the API can return. ``kind``/``group``/``name`` fill ``details``."""

    message: str
    reason: StatusReason = StatusReason.INTERNAL_ERROR
    code: int = 500
    name: str = ""
    group: str = ""
    kind: str = ""
    causes: list[Cause] = field(default_factory=list)
    retry_after_seconds: int | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def to_status(self) -> dict:
        details: dict = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [cause.to_dict() for cause in self.causes]
        if self.retry_after_seconds is not None:
            details["retryAfterSeconds"] = self.retry_after_seconds
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason.value,
            "code": self.code,
        }
        if details or self.reason in ALWAYS_DETAILED:
            status["details"] = details
        return status


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        f'{_qualified(resource, group)} "{name}" not found',
        StatusReason.NOT_FOUND, 404, name=name, group=group, kind=resource,
    )


def already_exists(resource: str, group: str, name: str) -> ApiError:
    return ApiError(
        f'{_qualified(resource, group)} "{name}" already exists',
        StatusReason.ALREADY_EXISTS, 409, name=name, group=group, kind=resource,
    )


def conflict(resource: str, group: str, name: str, why: str | None = None) -> ApiError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return ApiError(
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}',
        StatusReason.CONFLICT, 409, name=name, group=group, kind=resource,
    )


def invalid(kind: str, group: str, name: str, causes: list[Cause]) -> ApiError:
    """``Deployment.apps "x" is invalid: spec.selector: Invalid value: …`` (note: kind, not resource)."""
    joined = ", ".join(cause.describe() for cause in causes)
    if len(causes) > 1:
        joined = f"[{joined}]"
    return ApiError(
        f'{_qualified(kind, group)} "{name}" is invalid: {joined}',
        StatusReason.INVALID, 422, name=name, group=group, kind=kind, causes=list(causes),
    )


def bad_request(message: str) -> ApiError:
    return ApiError(message, StatusReason.BAD_REQUEST, 400)


def gone(message: str) -> ApiError:
    """A watch or continue token older than what the store keeps (HTTP 410, reason Expired)."""
    return ApiError(message, StatusReason.EXPIRED, 410)


def unauthorized(message: str = "Unauthorized") -> ApiError:
    return ApiError(message, StatusReason.UNAUTHORIZED, 401)


def forbidden(user: str, verb: str, resource: str, group: str, namespace: str, why: str = "") -> ApiError:
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    message = (
        f'{resource}{"." + group if group else ""} is forbidden: User "{user}" cannot {verb} '
        f'resource "{resource}" in API group "{group}"{where}'
    )
    if why:
        message += f": {why}"
    return ApiError(message, StatusReason.FORBIDDEN, 403, group=group, kind=resource)


def method_not_allowed(message: str) -> ApiError:
    return ApiError(message, StatusReason.METHOD_NOT_ALLOWED, 405)


def too_large(limit_bytes: int) -> ApiError:
    return ApiError(
        f"the request body is too large: limit is {limit_bytes // (1024 * 1024)} MiB",
        StatusReason.REQUEST_ENTITY_TOO_LARGE, 413,
    )


def unsupported_media_type(content_type: str, supported: list[str]) -> ApiError:
    return ApiError(
        f"the body of the request was in an unknown format ({content_type!r}) - accepted media types "
        f"include: {', '.join(supported)}",
        StatusReason.UNSUPPORTED_MEDIA_TYPE, 415,
    )


def internal(message: str) -> ApiError:
    return ApiError(message, StatusReason.INTERNAL_ERROR, 500)


def or_none(read: Callable[[], T]) -> T | None:
    """``read()``, or None when what it reads does not exist (a 404); other errors propagate."""
    try:
        return read()
    except ApiError as error:
        if error.code == 404:
            return None
        raise


@contextlib.contextmanager
def ignore_not_found() -> Iterator[None]:
    """Let a 404 pass: for deletes and updates of something that may already be gone."""
    try:
        yield
    except ApiError as error:
        if error.code != 404:
            raise
