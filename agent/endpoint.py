"""The agent's authenticated HTTPS endpoint, where the API server asks for logs, exec, attach and
port-forward, and, for ``nodes/NAME/proxy``, the agent's ``/healthz`` and ``/pods`` (:mod:`agent.nodeinfo`).

It is the kubelet's port 10250 in miniature, with the same trust model:

* **Who may call**: TLS with ``CERT_REQUIRED`` against the cluster CA, and OpenSSL checks the
  client certificate's EKU for ``clientAuth`` (its default purpose when verifying a client). In a
  dockyard cluster only the API server holds such a certificate
  (``pki/apiserver-kubelet-client.crt``), so a node, a pod or a user with a bearer token gets
  nothing here: the handshake fails before any HTTP is spoken. There is no unauthenticated route
  at all, not even ``/healthz``, and the Docker socket is never exposed: the routes
  (:mod:`agent.streaming`) only read logs of, and exec into or attach to, containers carrying this agent's
  own labels, and :mod:`agent.nodeinfo` only reports.
* **Who is answering**: the serving certificate is self-signed and pinned by the API server
  through the Node annotation (:mod:`agent.servingcert`).

:class:`AgentEndpoint` runs uvicorn in a thread of its own (its own event loop), so the agent's
loops stay plain threads. The socket is bound in :meth:`AgentEndpoint.start`, in the caller's
thread, so a port already in use fails the agent's start-up at once with a clear message, and
``--listen HOST:0`` (tests) learns its port before the Node is registered.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from agent.config import AgentConfig
from agent.labels import Owner
from agent.nodeinfo import PodsSource, node_routes
from agent.portforward.server import PortForwarder
from agent.runtime.streams import ContainerStreams
from agent.servingcert import ensure_serving_cert
from agent.streaming import streaming_app

log = logging.getLogger("dockyard.agent.endpoint")

#: how long open ``logs -f`` and exec streams may take to end when the agent stops
SHUTDOWN_GRACE = 1  # whole seconds: uvicorn's timeout_graceful_shutdown takes an int
STARTUP_TIMEOUT = 10.0


class EndpointError(RuntimeError):
    """The endpoint cannot start; the message says why and what to change."""


class AgentEndpoint:
    def __init__(self, config: AgentConfig, owner: Owner, ca_pem: str,
                 streams: ContainerStreams | None = None, pods: PodsSource = list) -> None:
        self.host, self._requested_port = parse_listen(config.listen)
        self._cert = ensure_serving_cert(config.state_dir, config.node_name,
                                         [h for h in (config.node_ip, self.host) if h])
        # uvicorn reads the trusted CA from a file: the kubelet's --client-ca-file
        self._client_ca = config.state_dir / "client-ca.crt"
        if not self._client_ca.exists() or self._client_ca.read_text() != ca_pem:
            self._client_ca.write_text(ca_pem)
        self._streams = streams or ContainerStreams.connect(owner, config.docker_host)
        self._port_forwarder = PortForwarder(self._streams)
        self._pods = pods
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    @property
    def fingerprint(self) -> str:
        """Hex SHA-256 of the serving certificate, for the Node annotation the API server pins."""
        return self._cert.fingerprint

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the endpoint has no port before start()")
        return self._port

    def start(self) -> AgentEndpoint:
        sock = self._bind()
        self._port = sock.getsockname()[1]
        app = Starlette(routes=[*node_routes(self._pods),
                                Mount("", app=streaming_app(self._streams, self._port_forwarder))])
        self._server = uvicorn.Server(uvicorn.Config(
            app, lifespan="off", log_config=None, log_level="warning",
            access_log=False, timeout_graceful_shutdown=SHUTDOWN_GRACE,
            ssl_certfile=str(self._cert.cert_file), ssl_keyfile=str(self._cert.key_file),
            ssl_ca_certs=str(self._client_ca), ssl_cert_reqs=ssl.CERT_REQUIRED,
        ))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="agent-endpoint", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise EndpointError(f"the logs/exec endpoint did not start on {self.host}:{self._port}; "
                                    "see the agent log for uvicorn's error")
            time.sleep(0.01)
        log.info("logs/exec endpoint listening on https://%s:%d (certificate sha256 %s)",
                 self.host, self._port, self.fingerprint)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=SHUTDOWN_GRACE + 5)
        self._port_forwarder.close()

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError as error:
            sock.close()
            raise EndpointError(
                f"cannot listen on {self.host}:{self._requested_port} for logs and exec: {error.strerror}. "
                "Another agent on this machine may hold the port: give each agent its own --listen "
                "HOST:PORT (port 0 picks a free one)") from None
        return sock


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::]:10250`` for IPv6) → (host, port)."""
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    try:
        number = int(port)
        if not sep or not 0 <= number < 65536:
            raise ValueError
        if host:
            ipaddress.ip_address(host)
    except ValueError:
        raise EndpointError(f"--listen {listen!r} is not HOST:PORT with an IP address, e.g. 0.0.0.0:10250") from None
    return host or "0.0.0.0", number
