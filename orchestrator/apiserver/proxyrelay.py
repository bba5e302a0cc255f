"""One HTTP request through to an upstream and its answer back, streamed both ways.

This is what kube-apiserver's proxy handler (its ``UpgradeAwareHandler`` over Go's reverse
proxy) does with a ``pods/proxy``, ``services/proxy`` or ``nodes/proxy`` request, in the same order:

* **request headers**: the hop-by-hop ones (``Connection`` and every header it names,
  ``Keep-Alive``, ``Transfer-Encoding``, ``Upgrade``, ``TE``, ``Trailer``, ``Proxy-*``) stay behind,
  and so does ``Authorization``: it was the caller's credential for the API server, consumed by
  authentication (Kubernetes deletes it there too), never something to hand to an app.
  ``X-Forwarded-For`` gains the client's address and ``X-Forwarded-Uri`` tells the app the path
  the client asked for; ``Host`` passes unchanged, as Go's reverse proxy leaves it.
* **request body**: read from the client only as the upstream takes it, never gathered in
  memory, so it has no size limit here (the API server's 3 MiB is a limit on objects).
* **response**: status and headers as the upstream sent them, less the hop-by-hop headers and
  the CORS ``Access-Control-Allow-*`` ones (the API server's origin is not the app's). A
  redirect is not followed: it goes to the client with its ``Location`` rewritten when it
  points back into the app, so that following it comes through the proxy again. The body goes
  back chunk by chunk as it arrives, undecoded (``Content-Encoding`` and ``Content-Length`` stay
  true).
* **failure to connect**: 503 ``error trying to reach service: dial tcp 10.244.1.5:8080:
  connect: connection refused``, in Kubernetes' words. A failure once the answer has started
  can only end it early, as in Kubernetes.

Kubernetes also rewrites the links inside ``text/html`` pages; that needs the whole page in
memory and is not done here, so an app whose pages link with absolute paths (``/static/app.js``)
is better reached with ``kubectl port-forward``.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import ssl
from typing import AsyncIterator, Callable
from urllib.parse import urlsplit, urlunsplit

import httpx
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from orchestrator.api import errors
from orchestrator.apiserver.agenttls import CONNECT_TIMEOUT
from orchestrator.apiserver.proxytarget import Upstream

RawHeaders = list[tuple[bytes, bytes]]

#: headers that belong to one connection, not to the message (RFC 9110 7.6.1; Go's hopHeaders)
HOP_BY_HOP = frozenset({"connection", "proxy-connection", "keep-alive", "proxy-authenticate",
                        "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"})
#: the caller's credentials for the API server: consumed by authentication, never passed on
CONSUMED = frozenset({"authorization"})
#: the app's CORS answers, which must not speak for the API server's origin (Kubernetes removes them)
CORS = frozenset({"access-control-allow-credentials", "access-control-allow-headers",
                  "access-control-allow-methods", "access-control-allow-origin"})
#: set by the proxy itself, whatever the client sent
FORWARDED_URI = "x-forwarded-uri"
FORWARDED_FOR = "x-forwarded-for"


def request_headers(raw: RawHeaders, client_ip: str | None, forwarded_uri: str) -> RawHeaders:
    """The headers to send upstream (see the module docstring)."""
    kept = _without(raw, CONSUMED | {FORWARDED_URI, FORWARDED_FOR})
    prior = [value.decode("latin-1") for name, value in raw if name.lower() == FORWARDED_FOR.encode()]
    chain = [*prior, client_ip] if client_ip else prior
    if chain:
        kept.append((FORWARDED_FOR.encode(), ", ".join(chain).encode("latin-1")))
    kept.append((FORWARDED_URI.encode(), forwarded_uri.encode("latin-1")))
    return kept


def response_headers(raw: RawHeaders, rewrite_location: Callable[[str], str]) -> RawHeaders:
    """The upstream's headers as the client gets them (see the module docstring)."""
    return [(name, rewrite_location(value.decode("latin-1")).encode("latin-1") if name.lower() == b"location"
             else value) for name, value in _without(raw, CORS)]


def rewrite_location(location: str, *, upstream: str, request_host: str, prefix: str) -> str:
    """A redirect's ``Location`` as the client must follow it (Kubernetes' ``rewriteURL``).

    One that leads elsewhere (another host, or a relative path) is left alone. One that leads
    back to the app (no host, the upstream's ``upstream`` host:port, or the API server's own
    ``request_host``) gets the proxy ``prefix`` in front of its path, unless it has it already:
    ``/login`` from a Service's pod becomes ``/api/v1/namespaces/default/services/web/proxy/login``.
    """
    parts = urlsplit(location)
    if (parts.netloc and parts.netloc not in (upstream, request_host)) or not parts.path.startswith("/"):
        return location
    # a host the client reached (the API server's) stays; the upstream's, which it cannot reach, goes
    scheme, netloc = (parts.scheme, parts.netloc) if parts.netloc == request_host else ("", "")
    path = parts.path
    if not path.startswith(prefix):
        path = posixpath.normpath(f"{prefix}/{path}") + ("/" if path.endswith("/") else "")
    return urlunsplit((scheme, netloc, path, parts.query, parts.fragment))


def _without(raw: RawHeaders, also: frozenset[str]) -> RawHeaders:
    named_by_connection = {token.strip().lower() for name, value in raw if name.lower() == b"connection"
                           for token in value.decode("latin-1").split(",")}
    dropped = HOP_BY_HOP | also | named_by_connection
    return [(name, value) for name, value in raw if name.decode("latin-1").lower() not in dropped]


def unreachable(upstream: Upstream, error: BaseException) -> errors.ApiError:
    """Kubernetes' 503 for an upstream that could not be reached, the dial error in Go's form."""
    return errors.ApiError(f"error trying to reach service: dial tcp {upstream.netloc}: {_why(error)}",
                           errors.StatusReason.SERVICE_UNAVAILABLE, 503)


def _why(error: BaseException) -> str:
    if isinstance(error, (httpx.TimeoutException, asyncio.TimeoutError)):
        return "i/o timeout"
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno:
            return f"connect: {os.strerror(cause.errno).lower()}"
        cause = cause.__cause__ or cause.__context__
    return str(error) or type(error).__name__


async def relay(request: Request, upstream: Upstream, path: str, prefix: str, tls: ssl.SSLContext | None) -> Response:
    """Send ``request`` to ``upstream`` at ``path`` (its query string unchanged) and stream the
    answer back. ``prefix`` is the API server's side of the path; ``tls`` is the context for an
    HTTPS upstream."""
    query = request.scope.get("query_string") or b""
    url = httpx.URL(scheme=upstream.scheme.value, host=upstream.host, port=upstream.port,
                    raw_path=(path or "/").encode("latin-1") + (b"?" + query if query else b""))
    client_ip = request.client.host if request.client else None
    outgoing = httpx.Request(request.method, url, headers=request_headers(request.headers.raw, client_ip, prefix + path),
                             content=_body(request))
    # one client per request: it holds this upstream's TLS context, and closes with the answer
    client = httpx.AsyncClient(verify=tls if tls is not None else False, trust_env=False,
                               timeout=httpx.Timeout(CONNECT_TIMEOUT, read=None, write=None, pool=None))
    try:
        answer = await client.send(outgoing, stream=True)
    except ClientDisconnect:
        await client.aclose()
        return Response(status_code=499)  # the client left while its body was being sent: no one to answer
    except (httpx.HTTPError, OSError, ssl.SSLError) as error:
        await client.aclose()
        raise unreachable(upstream, error) from None

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in answer.aiter_raw():
                yield chunk
        except httpx.HTTPError:
            return  # the upstream broke off mid-answer: the client's answer ends there too
        finally:
            await answer.aclose()
            await client.aclose()

    def rewrite(location: str) -> str:
        return rewrite_location(location, upstream=upstream.netloc, request_host=request.headers.get("host", ""),
                                prefix=prefix)

    response = StreamingResponse(body(), status_code=answer.status_code)
    response.raw_headers = response_headers(answer.headers.raw, rewrite)
    return response


def _body(request: Request) -> AsyncIterator[bytes] | None:
    """The client's body as a stream, or None when it sent none (so none is announced upstream)."""
    headers = request.headers
    if "transfer-encoding" in headers or headers.get("content-length", "0") != "0":
        return request.stream()
    return None
