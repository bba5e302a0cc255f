"""Protobuf at the HTTP edge: what a route's body decodes into, and answers for protobuf-only clients.

Requests: :func:`body_type` names what a route decodes a protobuf body into — the kind itself, or
a subresource's own body (``Scale``, ``Binding``, ``Eviction``) — so
:func:`~orchestrator.api.wire.decode` can refuse a mismatched body in kube-apiserver's words.

Answers stay JSON whenever the client's ``Accept`` lists JSON: kubectl offers protobuf first and
JSON second, and JSON is what every kubectl code path handles. A client that asks for protobuf
only (``Accept: application/vnd.kubernetes.protobuf``) gets protobuf: :func:`answer` re-encodes the
JSON answer the handlers already built — an object, a list, a ``Status`` error, a ``Scale`` — and
turns a JSON watch stream into protobuf frames. Documents that have no wire schema here (discovery,
``/version``, OpenAPI, Tables) stay JSON, as ``/version`` does in Kubernetes. Doing it once, after
the fact, keeps every handler format-blind; it costs a JSON parse per answer, for those clients only.
"""

from __future__ import annotations

import json
from typing import AsyncIterable, AsyncIterator

from starlette.responses import Response, StreamingResponse

from orchestrator.api import errors, wire
from orchestrator.apiserver.routing import Target

#: subresources whose body is their own kind, not the object's
_SUBRESOURCE_BODIES = {
    "scale": wire.Into("autoscaling/v1", "Scale"),
    "binding": wire.Into("v1", "Binding"),
    "eviction": wire.Into("policy/v1", "Eviction"),
}
_JSON_RANGES = ("application/json", "application/*", "*/*")


def body_type(target: Target) -> wire.Into:
    """What a write to ``target`` decodes its body into."""
    return _SUBRESOURCE_BODIES.get(target.subresource or "", wire.Into(target.rk.api_version, target.rk.kind))


def wants_protobuf_only(accept: str | None) -> bool:
    """True when the client offers protobuf and nothing JSON can answer."""
    ranges = [part.split(";", 1)[0].strip().lower() for part in (accept or "").split(",")]
    return wire.MEDIA_TYPE in ranges and not any(r in _JSON_RANGES for r in ranges)


def answer(accept: str | None, response: Response) -> Response:
    """``response`` as the client can read it: unchanged unless it asked for protobuf only."""
    if not wants_protobuf_only(accept) or not (response.media_type or "").startswith("application/json"):
        return response
    if isinstance(response, StreamingResponse):
        return StreamingResponse(_watch_frames(response.body_iterator), response.status_code,
                                 headers=_kept_headers(response), media_type=wire.WATCH_MEDIA_TYPE)
    try:
        body = wire.encode(json.loads(bytes(response.body)))
    except wire.NotEncodable:
        return response
    except wire.WireValueError as error:
        failure = errors.internal(f"the answer cannot be encoded as protobuf ({error}); ask for application/json")
        return Response(wire.encode(failure.to_status()), failure.code, media_type=wire.MEDIA_TYPE)
    return Response(body, response.status_code, headers=_kept_headers(response), media_type=wire.MEDIA_TYPE)


async def _watch_frames(lines: AsyncIterable[str | bytes | memoryview]) -> AsyncIterator[bytes]:
    """JSON watch lines (``{"type": …, "object": …}``) as length-prefixed protobuf WatchEvents."""
    async for line in lines:
        text = line if isinstance(line, str) else bytes(line).decode("utf-8")
        event = json.loads(text)
        yield wire.encode_watch_event(event["type"], event["object"])


def _kept_headers(response: Response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items()
            if name.lower() not in ("content-type", "content-length")}
