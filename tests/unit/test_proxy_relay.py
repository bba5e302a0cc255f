"""The proxy relay: which headers pass, how redirects are rewritten, and, over real loopback HTTP
(an upstream app and a proxy app on uvicorn), that bodies stream both ways and failures to connect
are Kubernetes' 503."""

from __future__ import annotations

import gzip
import socket
import threading
from collections.abc import AsyncIterator, Iterator

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from orchestrator.api import errors
from orchestrator.apiserver.proxyrelay import relay, request_headers, response_headers, rewrite_location
from orchestrator.apiserver.proxytarget import ProxyScheme, Upstream
from tests.support.loopback import serving

PREFIX = "/api/v1/namespaces/default/services/web/proxy"


def raw(*pairs: tuple[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.encode(), value.encode()) for name, value in pairs]


def test_request_headers_lose_hop_by_hop_ones_and_the_callers_credentials():
    sent = raw(("Host", "127.0.0.1:6443"), ("Authorization", "Bearer admin-token"), ("Connection", "keep-alive, X-Hop"),
               ("X-Hop", "1"), ("Keep-Alive", "timeout=5"), ("Transfer-Encoding", "chunked"), ("TE", "trailers"),
               ("Upgrade", "h2c"), ("Proxy-Authorization", "Basic x"), ("Accept", "text/html"), ("Cookie", "a=1"),
               ("Cookie", "b=2"), ("X-Forwarded-Uri", "/forged"))
    assert request_headers(sent, "10.1.2.3", PREFIX + "/x") == raw(
        ("Host", "127.0.0.1:6443"), ("Accept", "text/html"), ("Cookie", "a=1"), ("Cookie", "b=2"),
        ("x-forwarded-for", "10.1.2.3"), ("x-forwarded-uri", PREFIX + "/x"))


def test_the_client_address_is_appended_to_a_forwarded_chain():
    sent = raw(("X-Forwarded-For", "192.0.2.1"), ("x-forwarded-for", "192.0.2.2"))
    assert request_headers(sent, "10.1.2.3", "/p")[0] == (b"x-forwarded-for", b"192.0.2.1, 192.0.2.2, 10.1.2.3")


def test_response_headers_lose_hop_by_hop_and_cors_ones_and_keep_repeats():
    answered = raw(("Content-Type", "text/html"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
                   ("Transfer-Encoding", "chunked"), ("Connection", "close"), ("Access-Control-Allow-Origin", "*"),
                   ("Access-Control-Allow-Credentials", "true"), ("Access-Control-Expose-Headers", "X-A"),
                   ("Location", "/login"))
    assert response_headers(answered, lambda location: "rewritten" + location) == raw(
        ("Content-Type", "text/html"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
        ("Access-Control-Expose-Headers", "X-A"), ("Location", "rewritten/login"))


@pytest.mark.parametrize(("location", "expected"), [
    ("/login", PREFIX + "/login"),
    ("/login/?next=/a#top", PREFIX + "/login/?next=/a#top"),
    ("http://10.244.1.5:8080/app/", PREFIX + "/app/"),  # the pod's own address: unreachable for the client
    ("https://127.0.0.1:6443/app", "https://127.0.0.1:6443" + PREFIX + "/app"),  # the API server's: kept
    (PREFIX + "/already", PREFIX + "/already"),
    ("/a/../b//c", PREFIX + "/b/c"),
    ("https://example.com/elsewhere", "https://example.com/elsewhere"),
    ("relative/path", "relative/path"),
])
def test_a_redirect_back_into_the_app_goes_through_the_proxy_again(location, expected):
    assert rewrite_location(location, upstream="10.244.1.5:8080", request_host="127.0.0.1:6443",
                            prefix=PREFIX) == expected


# -- over real HTTP --------------------------------------------------------------------------


class Upstreams:
    """The app behind the proxy; ``release`` and ``first_chunk`` pace the streaming tests."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.first_chunk = threading.Event()

    def app(self) -> Starlette:
        async def slow(request: Request) -> Response:
            async def chunks() -> AsyncIterator[bytes]:
                yield b"first\n"
                for _ in range(500):  # until the test has seen the first line, or 10 s
                    if self.release.is_set():
                        break
                    await anyio.sleep(0.02)
                yield b"second\n" if self.release.is_set() else b"never released\n"
            return StreamingResponse(chunks(), media_type="text/plain")

        async def count(request: Request) -> Response:
            total = 0
            async for chunk in request.stream():
                if chunk:
                    self.first_chunk.set()
                total += len(chunk)
            return PlainTextResponse(f"{request.method} {total} {request.url.query}")

        async def zipped(request: Request) -> Response:
            return Response(gzip.compress(b"hello " * 100), headers={"Content-Encoding": "gzip"},
                            media_type="text/plain")

        return Starlette(routes=[Route("/slow", slow), Route("/count", count, methods=["POST", "PUT"]),
                                 Route("/zipped", zipped)])


def proxy_app(port: int) -> Starlette:
    async def proxied(request: Request) -> Response:
        upstream = Upstream(ProxyScheme.HTTP, "127.0.0.1", port)
        try:
            return await relay(request, upstream, "/" + request.path_params["path"], PREFIX, None)
        except errors.ApiError as error:
            return PlainTextResponse(f"{error.code} {error.message}", error.code)

    return Starlette(routes=[Route(PREFIX + "/{path:path}", proxied, methods=["GET", "HEAD", "POST", "PUT"])])


@pytest.fixture(scope="module")
def proxied():
    upstreams = Upstreams()
    with serving(upstreams.app()) as up, serving(proxy_app(up)) as front:
        with httpx.Client(base_url=f"http://127.0.0.1:{front}{PREFIX}", timeout=10) as client:
            yield client, upstreams


def test_the_answer_streams_back_before_the_app_has_finished_it(proxied):
    client, upstreams = proxied
    upstreams.release.clear()
    with client.stream("GET", "/slow") as response:
        lines = response.iter_lines()
        assert next(lines) == "first"  # the app has not written its second line yet
        upstreams.release.set()
        assert next(lines) == "second"


def test_the_body_streams_to_the_app_before_the_client_has_finished_it(proxied):
    client, upstreams = proxied
    upstreams.first_chunk.clear()

    def body() -> Iterator[bytes]:
        yield b"x" * 1000
        # were the body gathered before being passed on, the app would never see this first part
        assert upstreams.first_chunk.wait(10), "the app got nothing before the whole body was sent"
        yield b"y" * 1000

    response = client.post("/count", params={"a": "1"}, content=body())
    assert response.text == "POST 2000 a=1"
    assert client.put("/count", content=b"abc").text == "PUT 3 "


def test_an_encoded_answer_passes_undecoded(proxied):
    client, _ = proxied
    with client.stream("GET", "/zipped", headers={"Accept-Encoding": "gzip"}) as response:
        sent = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) == len(sent) and gzip.decompress(sent) == b"hello " * 100


def test_a_port_nobody_listens_on_is_kubernetes_503():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with serving(proxy_app(port)) as front:
        response = httpx.get(f"http://127.0.0.1:{front}{PREFIX}/")
    assert response.status_code == 503
    assert response.text == (f"503 error trying to reach service: dial tcp 127.0.0.1:{port}: "
                             "connect: connection refused")
