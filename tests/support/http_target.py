"""A real HTTP server on 127.0.0.1 for probe and hook tests, scripted per path.

``routes[path] = Route(status, body, headers, delay)`` decides each answer; every request is
logged in ``requests`` (path and headers) so tests can check what the agent sent. Paths not in
``routes`` answer 404.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]


class HttpTarget:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                target.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = target.routes.get(self.path.split("?")[0], Route(404, "not found"))
                if route.delay:
                    time.sleep(route.delay)
                body = route.body.encode()
                try:
                    self.send_response(route.status)
                    for name, value in route.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the prober gave up on a slow answer and hung up: expected

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       name="http-target", daemon=True)

    def __enter__(self) -> HttpTarget:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
