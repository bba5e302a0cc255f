"""Probes: the checks against a real local HTTP server and TCP listener, the threshold and timing
rules with plain numbers for time, and the manager's workers with periods of a few milliseconds."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timezone

import pytest

from orchestrator.api.defaults import apply_defaults
from orchestrator.api.registry import kind_for

from agent.events import EventReason
from agent.labels import SANDBOX
from agent.observed import ObservedContainer, ObservedPod, RuntimeState
from agent.handlers import (
    EXEC_TIMED_OUT, GRPC_UNSUPPORTED, CheckResult, ProbeOutcome, Target, run_probe,
)
from agent.probes.manager import ProbeManager
from agent.probes.results import (
    ProbeKind, ProbeTiming, advance, event_for, initial_state, kill_message, next_probe_in,
)
from agent.runtime.errors import ContainerNotRunning
from tests.support.http_target import HttpTarget, Route


@pytest.fixture
def web():
    with HttpTarget() as target:
        yield target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def probe(**fields) -> dict:
    """A probe as the API server stores it: defaulted, through the real defaulting code."""
    pod = apply_defaults(kind_for("v1", "Pod"), {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "image": "busybox", "livenessProbe": fields}]}})
    return pod["spec"]["containers"][0]["livenessProbe"]


def no_exec(container_id, argv, timeout):
    raise AssertionError("no exec expected")


def target(port: int, ip: str = "127.0.0.1") -> Target:
    return Target({"name": "app", "ports": [{"name": "http", "containerPort": port}]}, "c0ffee", ip)


# ── one check ───────────────────────────────────────────────────────────────────────────────


def test_http_success_and_failure_wording(web):
    web.routes["/healthz"] = Route(200, "fine")
    web.routes["/broken"] = Route(500, "secret stack trace")
    ok = run_probe(probe(httpGet={"path": "/healthz", "port": web.port}), target(web.port), no_exec)
    bad = run_probe(probe(httpGet={"path": "/broken", "port": web.port}), target(web.port), no_exec)
    assert ok == CheckResult(ProbeOutcome.SUCCESS, "fine")
    assert bad == CheckResult(ProbeOutcome.FAILURE, "HTTP probe failed with statuscode: 500")  # never the body


def test_http_named_port_default_host_headers_and_user_agent(web):
    web.routes["/h"] = Route(204, "")
    spec = probe(httpGet={"path": "h", "port": "http", "httpHeaders": [{"name": "X-Probe", "value": "yes"},
                                                                        {"name": "user-agent", "value": "mine"}]})
    assert run_probe(spec, target(web.port), no_exec).outcome is ProbeOutcome.SUCCESS
    seen = web.requests[-1]
    assert seen.path == "/h"
    assert seen.headers["x-probe"] == "yes" and seen.headers["user-agent"] == "mine"
    run_probe(probe(httpGet={"path": "/h", "port": web.port}), target(web.port), no_exec)
    assert web.requests[-1].headers["user-agent"] == "kube-probe/1.32"


def test_http_follows_same_host_redirects_only(web):
    web.routes["/old"] = Route(301, "", {"Location": "/new"})
    web.routes["/new"] = Route(200, "moved here")
    web.routes["/away"] = Route(302, "elsewhere", {"Location": f"http://localhost:{web.port}/new"})
    followed = run_probe(probe(httpGet={"path": "/old", "port": web.port}), target(web.port), no_exec)
    assert followed == CheckResult(ProbeOutcome.SUCCESS, "moved here")
    stopped = run_probe(probe(httpGet={"path": "/away", "port": web.port}), target(web.port), no_exec)
    assert stopped == CheckResult(ProbeOutcome.WARNING, "Probe terminated redirects, Response body: elsewhere")


def test_http_redirect_loop_fails_after_ten(web):
    web.routes["/loop"] = Route(302, "", {"Location": "/loop"})
    result = run_probe(probe(httpGet={"path": "/loop", "port": web.port}), target(web.port), no_exec)
    assert result.outcome is ProbeOutcome.FAILURE
    assert result.output.endswith("stopped after 10 redirects")
    assert len(web.requests) == 11


def test_http_slower_than_timeout_fails_in_time(web):
    web.routes["/slow"] = Route(200, "late", delay=1.0)
    started = time.monotonic()
    result = run_probe(probe(httpGet={"path": "/slow", "port": web.port}, timeoutSeconds=0.2), target(web.port),
                       no_exec)
    assert time.monotonic() - started < 0.8
    assert result == CheckResult(ProbeOutcome.FAILURE, f'Get "http://127.0.0.1:{web.port}/slow": context deadline '
                                                       "exceeded (Client.Timeout exceeded while awaiting headers)")


def test_http_connection_refused_reads_like_go():
    port = free_port()
    result = run_probe(probe(httpGet={"path": "/", "port": port}), target(port), no_exec)
    assert result == CheckResult(ProbeOutcome.FAILURE, f'Get "http://127.0.0.1:{port}/": dial tcp 127.0.0.1:{port}: '
                                                       "connect: connection refused")


def test_unrunnable_checks_are_unknown_not_failures(web):
    unknown_port = run_probe(probe(httpGet={"path": "/", "port": "metrics"}), target(web.port), no_exec)
    assert unknown_port.outcome is ProbeOutcome.UNKNOWN and "'metrics'" in unknown_port.output
    no_ip = run_probe(probe(tcpSocket={"port": 80}), target(80, ip=""), no_exec)
    assert no_ip == CheckResult(ProbeOutcome.UNKNOWN, "the pod has no IP address yet")


def test_tcp_socket():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert run_probe(probe(tcpSocket={"port": port}), target(port), no_exec) == \
            CheckResult(ProbeOutcome.SUCCESS, "")
    closed = free_port()
    assert run_probe(probe(tcpSocket={"port": closed}), target(closed), no_exec) == \
        CheckResult(ProbeOutcome.FAILURE, f"dial tcp 127.0.0.1:{closed}: connect: connection refused")


def test_exec_exit_codes_timeout_and_runtime_errors():
    calls = []

    def exec_in(container_id, argv, timeout):
        calls.append((container_id, argv, timeout))
        return {"true": (0, ""), "false": (1, "cat: /tmp/healthy: No such file or directory\n"),
                "sleep": (EXEC_TIMED_OUT, "")}[argv[0]]

    assert run_probe(probe(exec={"command": ["true"]}), target(1), exec_in).outcome is ProbeOutcome.SUCCESS
    assert calls == [("c0ffee", ["true"], 1.0)]
    assert run_probe(probe(exec={"command": ["false"]}), target(1), exec_in) == \
        CheckResult(ProbeOutcome.FAILURE, "cat: /tmp/healthy: No such file or directory\n")
    assert run_probe(probe(exec={"command": ["sleep", "5"]}, timeoutSeconds=2), target(1), exec_in) == \
        CheckResult(ProbeOutcome.FAILURE, 'command "sleep 5" timed out')

    def gone(container_id, argv, timeout):
        raise ContainerNotRunning("container app is not running")

    assert run_probe(probe(exec={"command": ["true"]}), target(1), gone) == \
        CheckResult(ProbeOutcome.UNKNOWN, "container app is not running")


def test_grpc_is_reported_unsupported():
    assert run_probe(probe(grpc={"port": 9000}), target(1), no_exec) == \
        CheckResult(ProbeOutcome.UNSUPPORTED, GRPC_UNSUPPORTED)


# ── thresholds and timing, with numbers for time ────────────────────────────────────────────

S, F, W, U = ProbeOutcome.SUCCESS, ProbeOutcome.FAILURE, ProbeOutcome.WARNING, ProbeOutcome.UNKNOWN


def published(kind: ProbeKind, outcomes, success_threshold=1, failure_threshold=3):
    timing = ProbeTiming(0, 10, success_threshold, failure_threshold)
    state, seen = initial_state(kind), []
    for at, outcome in enumerate(outcomes):
        state = advance(state, kind, timing, outcome, float(at))
        seen.append(state.result)
    return seen, state


@pytest.mark.parametrize(("outcomes", "success_threshold", "expected"), [
    ([S], 1, [S]),                                   # ready after the first success
    ([F, F, F], 1, [F, F, F]),                       # readiness starts False
    ([S, F, F, F, S], 1, [S, S, S, F, S]),           # the docstring's worked example
    ([S, F, F, S, F, F], 1, [S, S, S, S, S, S]),     # a success breaks the run of failures
    ([S, S, F, S, S], 2, [F, S, S, S, S]),           # successThreshold 2
    ([S, U, U, F, U, F, F], 1, [S, S, S, S, S, S, F]),  # unknowns are neither counted nor reset the run
    ([W], 1, [S]),                                   # a warning counts as success
])
def test_readiness_thresholds(outcomes, success_threshold, expected):
    assert published(ProbeKind.READINESS, outcomes, success_threshold)[0] == expected


def test_liveness_gives_up_after_failure_threshold_and_startup_starts_unknown():
    seen, state = published(ProbeKind.LIVENESS, [F, F, F])
    assert seen == [S, S, F] and state.gave_up
    seen, state = published(ProbeKind.STARTUP, [F, S])
    assert seen == [U, S] and not state.gave_up
    _, readiness = published(ProbeKind.READINESS, [F, F, F])
    assert not readiness.gave_up  # readiness never restarts anything


def test_next_probe_honours_initial_delay_period_and_gating():
    timing = ProbeTiming(initial_delay=5, period=10, success_threshold=1, failure_threshold=3)
    fresh = initial_state(ProbeKind.LIVENESS)
    assert next_probe_in(fresh, ProbeKind.LIVENESS, timing, now=102, started_at=100, startup_done=True) == 3
    assert next_probe_in(fresh, ProbeKind.LIVENESS, timing, now=106, started_at=100, startup_done=True) == 0
    probed = advance(fresh, ProbeKind.LIVENESS, timing, S, 106)
    assert next_probe_in(probed, ProbeKind.LIVENESS, timing, now=107.5, started_at=100, startup_done=True) == 8.5
    assert next_probe_in(fresh, ProbeKind.LIVENESS, timing, now=200, started_at=100, startup_done=False) is None
    startup = initial_state(ProbeKind.STARTUP)
    assert next_probe_in(startup, ProbeKind.STARTUP, timing, now=200, started_at=100, startup_done=False) == 0
    done = advance(startup, ProbeKind.STARTUP, timing, S, 200)
    assert next_probe_in(done, ProbeKind.STARTUP, timing, now=300, started_at=100, startup_done=True) is None
    _, gave_up = published(ProbeKind.LIVENESS, [F, F, F])
    assert next_probe_in(gave_up, ProbeKind.LIVENESS, timing, now=300, started_at=100, startup_done=True) is None
    unsupported = advance(fresh, ProbeKind.LIVENESS, timing, ProbeOutcome.UNSUPPORTED, 106)
    assert next_probe_in(unsupported, ProbeKind.LIVENESS, timing, now=300, started_at=100, startup_done=True) is None


def test_event_wording_is_the_kubelets():
    assert event_for(ProbeKind.LIVENESS, CheckResult(F, "HTTP probe failed with statuscode: 500")) == \
        (EventReason.UNHEALTHY, "Liveness probe failed: HTTP probe failed with statuscode: 500")
    assert event_for(ProbeKind.READINESS, CheckResult(U, "the pod has no IP address yet")) == \
        (EventReason.UNHEALTHY, "Readiness probe errored: the pod has no IP address yet")
    assert event_for(ProbeKind.READINESS, CheckResult(W, "Probe terminated redirects, Response body: x")) == \
        (EventReason.PROBE_WARNING, "Readiness probe warning: Probe terminated redirects, Response body: x")
    assert event_for(ProbeKind.STARTUP, CheckResult(S, "ok")) is None
    assert kill_message(ProbeKind.LIVENESS, "app") == "Container app failed liveness probe, will be restarted"
    assert kill_message(ProbeKind.STARTUP, "app") == "Container app failed startup probe, will be restarted"


# ── the manager, with real threads and millisecond periods ─────────────────────────────────


class Harness:
    """A ProbeManager wired to recording fakes, plus pod and Docker views to feed it."""

    def __init__(self, exec_in=no_exec) -> None:
        self.events: list[tuple[str, str, str]] = []
        self.wakes: list[str] = []
        self.manager = ProbeManager(exec_in, self._record, self.wakes.append)

    def _record(self, pod, reason, message, container):
        self.events.append((reason.value, message, container))

    def messages(self, reason: str) -> list[str]:
        return [m for r, m, _ in list(self.events) if r == reason]


def make_pod(**container) -> dict:
    return apply_defaults(kind_for("v1", "Pod"), {
        "metadata": {"name": "web", "namespace": "default", "uid": "uid-1"},
        "spec": {"containers": [{"name": "app", "image": "x", **container}]}})


def observed(container_id: str | None, state=RuntimeState.RUNNING, ip="127.0.0.1") -> ObservedPod:
    def instance(name, cid, attempt=0):
        return ObservedContainer(id=cid, name=name, pod_uid="uid-1", pod_name="web", pod_namespace="default",
                                 spec_hash="h", attempt=attempt, backoff_streak=0, state=state if name != SANDBOX
                                 else RuntimeState.RUNNING, started_at=datetime.now(timezone.utc), ip=ip)
    containers = [instance(SANDBOX, "sandbox")] + ([instance("app", container_id)] if container_id else [])
    return ObservedPod("uid-1", tuple(containers))


def fast(**fields) -> dict:
    return {"periodSeconds": 0.02, "timeoutSeconds": 0.5, "failureThreshold": 2, **fields}


def eventually(condition, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


@pytest.fixture
def harness():
    made: list[Harness] = []

    def make(exec_in=no_exec) -> Harness:
        made.append(Harness(exec_in))
        return made[-1]
    yield make
    for h in made:
        h.manager.stop()


def test_readiness_follows_the_server_and_wakes_the_pod(web, harness):
    web.routes["/ready"] = Route(500)
    h = harness()
    pod = make_pod(readinessProbe=fast(httpGet={"path": "/ready", "port": web.port}))
    h.manager.update("uid-1", pod, observed("c1"))
    eventually(lambda: h.messages("Unhealthy"))  # probed, and failed
    assert not h.manager.ready("uid-1", "app")  # not ready until the first success
    web.routes["/ready"] = Route(200)
    eventually(lambda: h.manager.ready("uid-1", "app"))
    assert "uid-1" in h.wakes
    web.routes["/ready"] = Route(500)
    eventually(lambda: not h.manager.ready("uid-1", "app"))
    assert "Readiness probe failed: HTTP probe failed with statuscode: 500" in h.messages("Unhealthy")
    assert h.manager.unhealthy("uid-1", observed("c1")) == {}  # readiness never kills


def test_no_probes_means_ready_once_running(harness):
    h = harness()
    h.manager.update("uid-1", make_pod(), observed("c1"))
    assert h.manager.ready("uid-1", "app")
    h.manager.update("uid-1", make_pod(), observed("c1", state=RuntimeState.EXITED))
    assert not h.manager.ready("uid-1", "app")


def test_liveness_failure_asks_for_a_restart_and_a_new_instance_starts_clean(harness):
    healthy = threading.Event()

    def exec_in(container_id, argv, timeout):
        return (0, "") if healthy.is_set() and container_id == "c2" else (1, "boom")

    h = harness(exec_in)
    pod = make_pod(livenessProbe=fast(exec={"command": ["check"]}))
    h.manager.update("uid-1", pod, observed("c1"))
    eventually(lambda: h.manager.unhealthy("uid-1", observed("c1")))
    assert h.manager.unhealthy("uid-1", observed("c1")) == \
        {"app": "Container app failed liveness probe, will be restarted"}
    assert h.messages("Unhealthy")[:2] == ["Liveness probe failed: boom"] * 2  # every failed check is an event
    assert h.manager.unhealthy("uid-1", observed("c2")) == {}  # the verdict is about c1 only
    healthy.set()
    h.manager.update("uid-1", pod, observed("c2"))
    time.sleep(0.1)
    assert h.manager.unhealthy("uid-1", observed("c2")) == {}


def test_startup_gates_liveness_and_readiness(harness):
    started = threading.Event()
    calls: list[str] = []

    def exec_in(container_id, argv, timeout):
        calls.append(argv[0])
        return (0, "") if argv[0] != "startup" or started.is_set() else (1, "still starting")

    h = harness(exec_in)
    pod = make_pod(startupProbe=fast(exec={"command": ["startup"]}, failureThreshold=1000),
                   livenessProbe=fast(exec={"command": ["liveness"]}),
                   readinessProbe=fast(exec={"command": ["readiness"]}))
    h.manager.update("uid-1", pod, observed("c1"))
    eventually(lambda: calls.count("startup") >= 5)
    assert set(calls) == {"startup"} and not h.manager.ready("uid-1", "app")
    started.set()
    eventually(lambda: h.manager.ready("uid-1", "app"))
    eventually(lambda: "liveness" in calls)
    count = calls.count("startup")
    time.sleep(0.1)
    assert calls.count("startup") == count  # startup stops once it succeeded


def test_startup_failure_kills_like_liveness(harness):
    h = harness(lambda cid, argv, timeout: (1, ""))
    h.manager.update("uid-1", make_pod(startupProbe=fast(exec={"command": ["x"]}, failureThreshold=3)), observed("c1"))
    eventually(lambda: h.manager.unhealthy("uid-1", observed("c1")))
    assert h.manager.unhealthy("uid-1", observed("c1")) == \
        {"app": "Container app failed startup probe, will be restarted"}
    assert h.messages("Unhealthy") == ["Startup probe failed: "] * 3


def test_a_slow_probe_does_not_hold_up_another(web, harness):
    web.routes["/slow"] = Route(200, delay=0.6)
    calls: list[float] = []

    def exec_in(container_id, argv, timeout):
        calls.append(time.monotonic())
        return 0, ""

    h = harness(exec_in)
    pod = make_pod(readinessProbe=fast(httpGet={"path": "/slow", "port": web.port}, timeoutSeconds=1),
                   livenessProbe=fast(exec={"command": ["ok"]}))
    h.manager.update("uid-1", pod, observed("c1"))
    eventually(lambda: web.requests)
    waiting_since = time.monotonic()
    time.sleep(0.3)
    during = [at for at in calls if at > waiting_since]
    assert len(during) >= 3  # liveness kept its 20 ms period while readiness waited on the server
    assert not h.manager.ready("uid-1", "app")


def test_initial_delay_counts_from_container_start(harness):
    calls: list[float] = []
    h = harness(lambda cid, argv, timeout: calls.append(time.monotonic()) or (0, ""))
    armed = time.monotonic()
    h.manager.update("uid-1", make_pod(livenessProbe=fast(exec={"command": ["x"]}, initialDelaySeconds=0.3)),
                     observed("c1"))
    eventually(lambda: calls)
    assert calls[0] - armed >= 0.25


def test_grpc_probe_is_reported_once_and_never_ready(harness):
    h = harness()
    h.manager.update("uid-1", make_pod(readinessProbe=fast(grpc={"port": 9000})), observed("c1"))
    eventually(lambda: h.messages("Unhealthy"))
    time.sleep(0.1)
    assert h.messages("Unhealthy") == [f"Readiness probe errored: {GRPC_UNSUPPORTED}"]
    assert not h.manager.ready("uid-1", "app")


def test_forget_stops_every_worker(harness):
    h = harness(lambda cid, argv, timeout: (0, ""))
    h.manager.update("uid-1", make_pod(livenessProbe=fast(exec={"command": ["x"]}),
                                       readinessProbe=fast(exec={"command": ["x"]})), observed("forgotten"))
    eventually(lambda: h.manager.ready("uid-1", "app"))
    probes = [t for t in threading.enumerate() if t.name.startswith("probe-") and t.name.endswith("-forgotten")]
    assert len(probes) == 2
    h.manager.forget("uid-1")
    for thread in probes:
        thread.join(1)
    assert not any(t.is_alive() for t in probes)
    assert not h.manager.ready("uid-1", "app")


def test_post_start_failure_is_recorded_and_kills(harness):
    timeouts: list[float] = []
    h = harness(lambda cid, argv, timeout: timeouts.append(timeout) or (2, "no such file\n"))
    pod = make_pod(lifecycle={"postStart": {"exec": {"command": ["/bin/setup"]}}},
                   readinessProbe=fast(exec={"command": ["x"]}))
    h.manager.started("uid-1", pod, "app", "c1", "127.0.0.1")
    assert h.messages("FailedPostStartHook") == [
        'Exec lifecycle hook ([/bin/setup]) for Container "app" in Pod "web_default(uid-1)" failed - error: '
        "command '/bin/setup' exited with 2: no such file\n, message: \"no such file\\n\""]
    assert "uid-1" in h.wakes
    assert 119 < timeouts[0] <= 120  # Kubernetes waits forever; dockyard gives postStart two minutes
    h.manager.update("uid-1", pod, observed("c1"))
    assert h.manager.unhealthy("uid-1", observed("c1")) == {"app": "FailedPostStartHook"}
    assert not h.manager.ready("uid-1", "app")


def test_pre_stop_runs_the_hook_and_quiets_liveness(harness):
    calls: list[list[str]] = []
    h = harness(lambda cid, argv, timeout: calls.append(argv) or (0, ""))
    pod = make_pod(lifecycle={"preStop": {"exec": {"command": ["drain"]}}}, livenessProbe=fast(exec={"command": ["x"]}))
    h.manager.update("uid-1", pod, observed("c1"))
    eventually(lambda: ["x"] in calls)
    assert h.manager.pre_stop(pod, pod["spec"]["containers"][0], "c1", time.monotonic() + 1) is None
    assert ["drain"] in calls
    time.sleep(0.05)
    count = calls.count(["x"])
    time.sleep(0.1)
    assert calls.count(["x"]) == count
