"""Lifecycle hooks: exec, httpGet (against a real local server) and sleep, with the kubelet's
failure texts, bounded by the caller's deadline."""

from __future__ import annotations

import socket
import time

import pytest

from agent.events import EventReason
from agent.hooks import Hook, run_hook
from agent.handlers import EXEC_TIMED_OUT
from tests.support.http_target import HttpTarget, Route

POD = {"metadata": {"name": "web", "namespace": "shop", "uid": "u-1"}}
PREFIX = 'for Container "app" in Pod "web_shop(u-1)" failed - error:'


def container(**handler) -> dict:
    return {"name": "app", "lifecycle": {"preStop": handler}}


def run(spec: dict, exec_in=None, within: float = 2.0) -> str | None:
    def refuse(container_id, argv, timeout):
        raise AssertionError("no exec expected")
    return run_hook(Hook.PRE_STOP, POD, spec, "c0ffee", "127.0.0.1", exec_in or refuse, time.monotonic() + within)


def test_no_hook_is_nothing_to_do():
    assert run({"name": "app"}) is None
    assert run_hook(Hook.POST_START, POD, container(sleep={"seconds": 5}), "c", "127.0.0.1", None, 0) is None


def test_exec_hook_success_failure_and_timeout():
    seen = []

    def exec_in(container_id, argv, timeout):
        seen.append((container_id, argv, timeout))
        return {"ok": (0, ""), "fail": (3, "oops\n"), "hang": (EXEC_TIMED_OUT, "")}[argv[0]]

    assert run(container(exec={"command": ["ok"]}), exec_in) is None
    assert seen[0][:2] == ("c0ffee", ["ok"]) and 1.5 < seen[0][2] <= 2.0  # bounded by the deadline
    assert run(container(exec={"command": ["fail", "now"]}), exec_in) == \
        f"Exec lifecycle hook ([fail now]) {PREFIX} command 'fail now' exited with 3: oops\n, message: \"oops\\n\""
    assert run(container(exec={"command": ["hang"]}), exec_in) == \
        f"Exec lifecycle hook ([hang]) {PREFIX} command 'hang' did not finish in the time the hook is given, " \
        "message: \"\""


def test_http_hook_needs_only_an_answer():
    with HttpTarget() as web:
        web.routes["/drain"] = Route(500, "whatever")
        spec = container(httpGet={"path": "/drain", "port": web.port})
        assert run(spec) is None  # the kubelet does not judge a hook's status code
        assert web.requests[-1].path == "/drain"
        assert web.requests[-1].headers["user-agent"] == "kube-lifecycle/1.32"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    assert run(container(httpGet={"path": "/drain", "port": closed})) == (
        f'HTTP lifecycle hook (/drain) {PREFIX} Get "http://127.0.0.1:{closed}/drain": '
        f"dial tcp 127.0.0.1:{closed}: connect: connection refused")


def test_sleep_hook_is_cut_at_the_deadline():
    started = time.monotonic()
    assert run(container(sleep={"seconds": 0.1})) is None
    assert 0.09 < time.monotonic() - started < 0.5
    started = time.monotonic()
    assert run(container(sleep={"seconds": 30}), within=0.2) == \
        f"Sleep lifecycle hook (30) {PREFIX} container terminated before sleep hook finished"
    assert time.monotonic() - started < 0.5


def test_tcp_socket_cannot_run_as_a_hook():
    message = run(container(tcpSocket={"port": 80}))
    assert message.startswith("Cannot run handler: invalid preStop handler of container 'app' (tcpSocket)")


@pytest.mark.parametrize(("hook", "reason"), [(Hook.POST_START, EventReason.FAILED_POST_START_HOOK),
                                              (Hook.PRE_STOP, EventReason.FAILED_PRE_STOP_HOOK)])
def test_failure_reasons(hook, reason):
    assert hook.failure_reason is reason
