"""One container handler, run once and judged the way the kubelet judges it (``pkg/probe`` in
Kubernetes): a probe's check, or the action of a lifecycle hook (:mod:`agent.hooks`), which share
``httpGet`` and ``exec``. It lives beside both, so neither imports the other's package for it.

A probe's action is one of:

* ``httpGet`` — a GET from the agent's host to ``scheme://host:port/path`` (host defaults to the
  pod IP, port may name a container port). 200–299 is success; 300–399 is success *with a
  warning*: the kubelet follows redirects only to the same host name and reports the response it
  stopped at as ``Probe terminated redirects, Response body: …``. Anything else fails with
  ``HTTP probe failed with statuscode: N`` (the body is never shown: it may hold secrets).
  HTTPS certificates are not verified, as the kubelet does not verify them either.
* ``tcpSocket`` — the connection is accepted.
* ``exec`` — the command exits 0 within the timeout (run through the injected :data:`Exec`, so
  Docker stays in :mod:`agent.runtime`).
* ``grpc`` — reported as :attr:`ProbeOutcome.UNSUPPORTED`; dockyard does not speak gRPC health.

Two kinds of trouble are kept apart, as in the kubelet: a check that *ran and failed* (connection
refused, timeout, non-zero exit) is a :attr:`~ProbeOutcome.FAILURE` and counts towards
``failureThreshold``; a check that *could not be run* (a named port the container does not have,
no pod IP yet) is :attr:`~ProbeOutcome.UNKNOWN` and is not counted. Failure texts copy Go's error
strings (``Get "http://…": dial tcp …: connect: connection refused``) so they read like
``kubectl describe`` output from a real cluster.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urljoin, urlsplit

from agent.runtime.errors import ContainerRuntimeError

#: ``(container_id, argv, timeout_seconds) -> (exit_code, combined_output)``; the runtime adapter's
#: ``exec_in``. An exit code of :data:`EXEC_TIMED_OUT` means the command outlived the timeout.
Exec = Callable[[str, list[str], float], tuple[int, str]]
EXEC_TIMED_OUT = -1

PROBE_USER_AGENT = "kube-probe/1.32"
HOOK_USER_AGENT = "kube-lifecycle/1.32"
MAX_REDIRECTS = 10          # Go's http.Client default, which the kubelet keeps
MAX_BODY = 10 * 1024        # the kubelet reads at most 10 KiB of a probe's response
GRPC_UNSUPPORTED = ("gRPC probes are not supported by dockyard; "
                    "use an httpGet, tcpSocket or exec probe instead")


class ProbeOutcome(str, Enum):
    SUCCESS = "Success"
    WARNING = "Warning"          # counts as success; recorded as a ProbeWarning event
    FAILURE = "Failure"          # counts towards failureThreshold
    UNKNOWN = "Unknown"          # the check could not be run; not counted
    UNSUPPORTED = "Unsupported"  # the action is one dockyard cannot run (grpc)


@dataclass(frozen=True)
class CheckResult:
    outcome: ProbeOutcome
    output: str


@dataclass(frozen=True)
class Target:
    """What a check runs against: one running instance of one container of a pod."""

    container: dict        # the container's spec (its named ports)
    container_id: str
    pod_ip: str


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: str


class HandlerError(Exception):
    """A check could not be completed; ``str()`` is the text for events."""


class InvalidHandler(HandlerError):
    """The action cannot be run as written (unknown named port, no pod IP yet)."""


class CheckFailed(HandlerError):
    """The action ran and failed: refused, unreachable, timed out."""


def run_probe(probe: dict, target: Target, exec_in: Exec) -> CheckResult:
    """Run ``probe``'s action once, bounded by its ``timeoutSeconds`` (the API server defaults it)."""
    timeout = float(probe["timeoutSeconds"])
    try:
        if probe.get("exec") is not None:
            return _run_exec(probe["exec"], target, exec_in, timeout)
        if probe.get("httpGet") is not None:
            return _judge_http(http_get(probe["httpGet"], target, timeout, PROBE_USER_AGENT))
        if probe.get("tcpSocket") is not None:
            _tcp_connect(probe["tcpSocket"], target, timeout)
            return CheckResult(ProbeOutcome.SUCCESS, "")
        if probe.get("grpc") is not None:
            return CheckResult(ProbeOutcome.UNSUPPORTED, GRPC_UNSUPPORTED)
    except CheckFailed as error:
        return CheckResult(ProbeOutcome.FAILURE, str(error))
    except (InvalidHandler, ContainerRuntimeError) as error:
        return CheckResult(ProbeOutcome.UNKNOWN, str(error))
    return CheckResult(ProbeOutcome.UNKNOWN, "the probe has no action: give it one of exec, httpGet, tcpSocket")


def _judge_http(reply: HttpReply) -> CheckResult:
    if 200 <= reply.status < 300:
        return CheckResult(ProbeOutcome.SUCCESS, reply.body)
    if 300 <= reply.status < 400:
        return CheckResult(ProbeOutcome.WARNING, f"Probe terminated redirects, Response body: {reply.body}")
    return CheckResult(ProbeOutcome.FAILURE, f"HTTP probe failed with statuscode: {reply.status}")


def _run_exec(action: dict, target: Target, exec_in: Exec, timeout: float) -> CheckResult:
    argv = [str(arg) for arg in action.get("command") or []]
    if not argv:
        raise InvalidHandler("the exec action has no command: give it one, e.g. [\"cat\", \"/tmp/healthy\"]")
    code, output = exec_in(target.container_id, argv, timeout)
    if code == EXEC_TIMED_OUT:
        return CheckResult(ProbeOutcome.FAILURE, f'command "{" ".join(argv)}" timed out')
    return CheckResult(ProbeOutcome.SUCCESS if code == 0 else ProbeOutcome.FAILURE, output)


def _resolve_port(port: int | str | None, container: dict) -> int:
    """A probe's port: a number, or the name of one of the container's ports (the kubelet also
    accepts a number written as a string)."""
    value = port
    if isinstance(port, str):
        value = next((p.get("containerPort") for p in container.get("ports") or [] if p.get("name") == port), None)
        if value is None and port.isdigit():
            value = int(port)
        if value is None:
            raise InvalidHandler(f"couldn't find port {port!r} in container {container.get('name')!r}: "
                                 f"name one of its ports (ports[].name) or give a port number")
    if not isinstance(value, int) or not 0 < value < 65536:
        raise InvalidHandler(f"invalid port number: {port!r}: give a number from 1 to 65535 or a port name")
    return value


def http_get(action: dict, target: Target, timeout: float, user_agent: str) -> HttpReply:
    """GET the action's URL, following redirects only to the same host name, within ``timeout``
    seconds in all. Raises :class:`CheckFailed` when no response came back."""
    host = action.get("host") or target.pod_ip
    if not host:
        raise InvalidHandler("the pod has no IP address yet")
    port = _resolve_port(action.get("port"), target.container)
    path = action.get("path") or "/"
    if not path.startswith("/"):
        path = f"/{path}"
    url = f"{(action.get('scheme') or 'HTTP').lower()}://{_host_port(host, port)}{path}"
    headers = {"User-Agent": user_agent, "Accept": "*/*"}
    for header in action.get("httpHeaders") or []:
        # the pod's headers win, compared case-insensitively as HTTP does
        for existing in [k for k in headers if k.lower() == str(header.get("name", "")).lower()]:
            del headers[existing]
        headers[header["name"]] = header.get("value", "")
    deadline = time.monotonic() + timeout
    first_host = urlsplit(url).hostname
    followed = 0
    while True:
        reply, location = _request(url, headers, deadline)
        if not (300 <= reply.status < 400 and location):
            return reply
        following = urljoin(url, location)
        if urlsplit(following).hostname != first_host:
            return reply  # a redirect to another host is not followed: the 3xx is the answer
        if followed == MAX_REDIRECTS:
            raise CheckFailed(f'Get "{following}": stopped after {MAX_REDIRECTS} redirects')
        followed += 1
        url = following


def _tcp_connect(action: dict, target: Target, timeout: float) -> None:
    host = action.get("host") or target.pod_ip
    if not host:
        raise InvalidHandler("the pod has no IP address yet")
    port = _resolve_port(action.get("port"), target.container)
    address = _host_port(host, port)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except TimeoutError:
        raise CheckFailed(f"dial tcp {address}: i/o timeout") from None
    except OSError as error:
        raise CheckFailed(f"dial tcp {address}: connect: {_strerror(error)}") from None


def _request(url: str, headers: dict[str, str], deadline: float) -> tuple[HttpReply, str | None]:
    parts = urlsplit(url)
    timed_out = CheckFailed(f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)')
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise timed_out
    if not parts.hostname:
        raise CheckFailed(f'Get "{url}": http: no Host in request URL')  # Go's net/http words
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=remaining, context=_unverified_tls())
    elif parts.scheme == "http":
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=remaining)
    else:
        raise InvalidHandler(f"unsupported scheme {parts.scheme.upper()!r}: use HTTP or HTTPS")
    try:
        try:
            conn.connect()
        except TimeoutError:
            raise timed_out from None
        except OSError as error:
            raise CheckFailed(f'Get "{url}": dial tcp {parts.netloc}: connect: {_strerror(error)}') from None
        try:
            conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
            conn.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            response = conn.getresponse()
            body = response.read(MAX_BODY).decode(errors="replace")
        except TimeoutError:
            raise timed_out from None
        except (OSError, http.client.HTTPException) as error:
            raise CheckFailed(f'Get "{url}": {_strerror(error)}') from None
        return HttpReply(response.status, body), response.getheader("Location")
    finally:
        conn.close()


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _strerror(error: Exception) -> str:
    """Go's lower-case error text (``connection refused``) from Python's (``Connection refused``)."""
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return text[:1].lower() + text[1:]


def _unverified_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
