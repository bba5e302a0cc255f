"""The pod planner (:func:`agent.sync.compute_pod_actions`) against the kubelet's ``computePodActions``.

Every case builds what Docker would show for a pod by hand (:func:`seen` below, the same values the
runtime adapter derives from labels and ``docker inspect``) and checks the one next set of steps.
Times are relative to a fixed ``NOW``, so back-off arithmetic is exact.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from orchestrator.api.defaults import apply_defaults
from orchestrator.api.pod import ContainerWaitingReason
from orchestrator.api.registry import kind_for

from agent.config import SANDBOX_BACKOFF, BackoffPolicy
from agent.container_config import sandbox_hash, spec_hash
from agent.labels import SANDBOX
from agent.observed import ObservedContainer, ObservedPod, RuntimeState
from agent.sync import (
    ERR_IMAGE_PULL_SHOWN_FOR, Kill, KillReason, PodActions, Start, StartFailure, Waiting, compute_pod_actions,
    go_duration, is_finished,
)

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
UID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
KUBELET = BackoffPolicy()           # 10 s doubling to 300 s, reset after 600 s
SANDBOX_CHANGED = "Pod sandbox changed, it will be killed and re-created."
SANDBOX_FAILED = "Failed to start pod sandbox: port is already allocated"
CREATING = Waiting(ContainerWaitingReason.CONTAINER_CREATING, SANDBOX_FAILED)
RUNNING, EXITED, CREATED = RuntimeState.RUNNING, RuntimeState.EXITED, RuntimeState.CREATED


# ── factories ────────────────────────────────────────────────────────────────────────────────

def make_pod(*names: str, restart_policy: str = "Always", **container_extra: object) -> dict:
    """A defaulted pod ``p`` in ``default`` with one busybox container per name."""
    containers = [{"name": n, "image": "busybox:1.36", **container_extra} for n in names or ("c",)]
    manifest = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "namespace": "default", "uid": UID},
                "spec": {"containers": containers, "restartPolicy": restart_policy}}
    return apply_defaults(kind_for("v1", "Pod"), manifest)


def container_spec(pod: dict, name: str) -> dict:
    return next(c for c in pod["spec"]["containers"] if c["name"] == name)


def seen(pod: dict, name: str = "c", *, state: RuntimeState = RUNNING, attempt: int = 0, streak: int = 0,
         exit_code: int | None = None, ran: float = 60.0, ago: float = 1.0, stale: bool = False,
         oom: bool = False) -> ObservedContainer:
    """What Docker shows of one container of ``pod``: started ``ran + ago`` seconds before NOW and,
    when exited, finished ``ago`` seconds before NOW. ``stale`` labels it with another spec hash."""
    if name == SANDBOX:
        current = sandbox_hash(pod)
    elif any(c["name"] == name for c in pod["spec"]["containers"]):
        current = spec_hash(container_spec(pod, name))
    else:
        current = "0" * 16
    started = None if state is CREATED else NOW - timedelta(seconds=ran + (ago if state is EXITED else 0))
    return ObservedContainer(
        id=f"{name}-{attempt}", name=name, pod_uid=UID, pod_name="p", pod_namespace="default",
        spec_hash="f" * 16 if stale else current, attempt=attempt, backoff_streak=streak, state=state,
        exit_code=exit_code if state is EXITED else None, oom_killed=oom, started_at=started,
        finished_at=NOW - timedelta(seconds=ago) if state is EXITED else None,
        image="busybox:1.36", ip="10.244.0.5" if name == SANDBOX else None)


def sandbox(pod: dict, **kwargs) -> ObservedContainer:
    return seen(pod, SANDBOX, **kwargs)


def exited(pod: dict, name: str = "c", code: int = 1, **kwargs) -> ObservedContainer:
    return seen(pod, name, state=EXITED, exit_code=code, **kwargs)


def plan(pod: dict, *containers: ObservedContainer, now: datetime = NOW,
         failures: dict[str, StartFailure] | None = None, sandbox_failure: StartFailure | None = None,
         unhealthy: dict[str, str] | None = None) -> PodActions:
    return compute_pod_actions(pod, ObservedPod(UID, tuple(containers)), now=now, backoff=KUBELET,
                               image_backoff=KUBELET, sandbox_backoff=SANDBOX_BACKOFF, start_failures=failures or {},
                               sandbox_failure=sandbox_failure, unhealthy=unhealthy or {})


def pull_failure(failures: int = 1, ago: float = 0.5) -> StartFailure:
    return StartFailure(ContainerWaitingReason.ERR_IMAGE_PULL, 'Failed to pull image "busybox:1.36": not found',
                        failures, NOW - timedelta(seconds=ago), "busybox:1.36")


def sandbox_failure(failures: int = 1, ago: float = 0.5) -> StartFailure:
    return StartFailure(ContainerWaitingReason.CONTAINER_CREATING, SANDBOX_FAILED, failures,
                        NOW - timedelta(seconds=ago))


# ── sandbox ──────────────────────────────────────────────────────────────────────────────────

def test_new_pod_builds_a_sandbox_and_starts_every_container() -> None:
    pod = make_pod("web", "sidecar")
    assert plan(pod) == PodActions(new_sandbox_attempt=0, start=(Start("web", 0, 0), Start("sidecar", 0, 0)))


def test_adopted_pod_needs_nothing() -> None:
    """An agent restarted (even after kill -9) finds the pod running as specified: hands off."""
    pod = make_pod("web", "sidecar")
    actions = plan(pod, sandbox(pod, attempt=2), seen(pod, "web", attempt=4, streak=3), seen(pod, "sidecar"))
    assert actions.idle
    assert actions == PodActions()


def test_dead_sandbox_kills_everything_and_starts_over() -> None:
    pod = make_pod("web", "sidecar")
    dead = sandbox(pod, state=EXITED, exit_code=137, attempt=1)
    web, side = seen(pod, "web", attempt=3, streak=2), seen(pod, "sidecar", attempt=0)
    actions = plan(pod, dead, web, side)
    assert actions.new_sandbox_attempt == 2
    assert actions.kill == (Kill(web, KillReason.SANDBOX_CHANGED, SANDBOX_CHANGED),
                            Kill(side, KillReason.SANDBOX_CHANGED, SANDBOX_CHANGED))
    # a sandbox change is not a crash: restart counts go up, the back-off streak stays
    assert actions.start == (Start("web", 4, 2), Start("sidecar", 1, 0))
    assert dead.id in actions.remove
    assert actions.waiting == {}


def test_sandbox_removed_by_hand_is_rebuilt() -> None:
    pod = make_pod()
    app = seen(pod, attempt=1)
    actions = plan(pod, app)
    assert actions.new_sandbox_attempt == 0
    assert actions.kill == (Kill(app, KillReason.SANDBOX_CHANGED, SANDBOX_CHANGED),)
    assert actions.start == (Start("c", 2, 0),)


def test_changed_sandbox_spec_rebuilds_the_sandbox() -> None:
    """A hostPort added to the pod needs a new pause container (ports are published there)."""
    before = make_pod()
    after = make_pod(ports=[{"containerPort": 80, "hostPort": 8080}])
    assert sandbox_hash(before) != sandbox_hash(after)
    old_sandbox = sandbox(before, attempt=0)
    app = seen(after, attempt=0)                 # the app spec hash is already the new one
    actions = plan(after, old_sandbox, app)
    assert actions.new_sandbox_attempt == 1
    assert actions.kill == (Kill(app, KillReason.SANDBOX_CHANGED, SANDBOX_CHANGED),
                            Kill(old_sandbox, KillReason.SANDBOX_CHANGED, SANDBOX_CHANGED))
    assert actions.start == (Start("c", 1, 0),)
    assert actions.remove == (old_sandbox.id,)


def test_dead_sandbox_keeps_the_back_off_of_a_crashing_container() -> None:
    """A container already waiting out its back-off keeps waiting in the new sandbox."""
    pod = make_pod()
    actions = plan(pod, sandbox(pod, state=EXITED, exit_code=0), exited(pod, attempt=3, streak=3, ran=1, ago=5))
    assert actions.new_sandbox_attempt == 1
    assert actions.start == ()
    assert actions.waiting["c"].reason is ContainerWaitingReason.CRASH_LOOP_BACK_OFF
    assert actions.wake_in == pytest.approx(35)


def test_dead_sandbox_of_a_never_pod_is_not_rebuilt() -> None:
    pod = make_pod(restart_policy="Never")
    app = seen(pod, attempt=0)
    actions = plan(pod, sandbox(pod, state=EXITED, exit_code=137), app)
    assert app.id in {k.container.id for k in actions.kill}
    assert actions.new_sandbox_attempt is None
    assert actions.start == ()


def test_created_container_is_removed_when_the_sandbox_is_rebuilt() -> None:
    pod = make_pod()
    leftover = seen(pod, state=CREATED, attempt=2, streak=1)
    actions = plan(pod, sandbox(pod, state=EXITED, exit_code=0), leftover)
    assert actions.start == (Start("c", 2, 1),)
    assert leftover.id in actions.remove


# ── sandbox back-off ─────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize(
    ("failures", "ago", "retry_in"),
    [
        # The worked example of agent/sync.py's docstring: 2 s doubling to 30 s, from the last failure.
        (1, 0, 2), (1, 1.5, 0.5), (1, 2, 0),
        (2, 0, 4), (2, 3, 1), (2, 4, 0),
        (3, 0, 8), (3, 7.5, 0.5), (3, 8, 0),
        (4, 0, 16), (4, 16, 0),
        (5, 0, 30), (5, 29, 1), (5, 30, 0),   # 32 s, capped
        (12, 10, 20), (12, 45, 0),
    ],
)
def test_sandbox_back_off(failures: int, ago: float, retry_in: float) -> None:
    pod = make_pod("web", "sidecar")
    actions = plan(pod, sandbox_failure=sandbox_failure(failures, ago))
    if retry_in > 0:
        assert (actions.new_sandbox_attempt, actions.start) == (None, ())
        assert actions.waiting == {"web": CREATING, "sidecar": CREATING}
        assert actions.wake_in == pytest.approx(retry_in)
    else:
        assert actions == PodActions(new_sandbox_attempt=0, start=(Start("web", 0, 0), Start("sidecar", 0, 0)))


def test_a_dead_sandbox_is_cleared_away_while_its_successor_waits_out_the_back_off() -> None:
    pod = make_pod()
    dead = sandbox(pod, state=EXITED, exit_code=137, attempt=3)
    app = seen(pod, attempt=3, streak=1)
    actions = plan(pod, dead, app, sandbox_failure=sandbox_failure(failures=2, ago=1))
    assert actions.kill == (Kill(app, KillReason.SANDBOX_CHANGED, SANDBOX_CHANGED),)
    assert actions.remove == (dead.id,)
    assert (actions.new_sandbox_attempt, actions.start) == (None, ())
    assert actions.waiting == {"c": CREATING} and actions.wake_in == pytest.approx(3)
    # the same pod once the back-off is over: the next sandbox, and the container back in it
    later = plan(pod, dead, app, now=NOW + timedelta(seconds=3), sandbox_failure=sandbox_failure(failures=2, ago=1))
    assert (later.new_sandbox_attempt, later.start, later.waiting) == (4, (Start("c", 4, 1),), {})


def test_a_crash_loop_keeps_its_reason_and_the_earliest_wait_wakes_the_pod() -> None:
    pod = make_pod("web", "crashing")
    crashed = exited(pod, "crashing", attempt=3, streak=3, ran=1, ago=39)  # 40 s back-off: 1 s left
    actions = plan(pod, crashed, sandbox_failure=sandbox_failure(failures=4, ago=2))  # 14 s left
    assert actions.waiting["web"] == CREATING
    assert actions.waiting["crashing"].reason is ContainerWaitingReason.CRASH_LOOP_BACK_OFF
    assert actions.wake_in == pytest.approx(1)
    # a crash loop that outlasts the sandbox back-off: the pod wakes for the sandbox
    assert plan(pod, replace(crashed, finished_at=NOW), sandbox_failure=sandbox_failure(failures=4, ago=2)
                ).wake_in == pytest.approx(14)


def test_a_sandbox_failure_does_not_hold_back_a_pod_whose_sandbox_runs() -> None:
    """Only a sandbox about to be made waits: the failure of an earlier try is history once one runs."""
    pod = make_pod()
    assert plan(pod, sandbox(pod), sandbox_failure=sandbox_failure(failures=5, ago=0)).start == (Start("c", 0, 0),)


# ── restart policy and back-off ──────────────────────────────────────────────────────────────

@pytest.mark.parametrize(
    ("policy", "code", "restarts"),
    [
        ("Always", 0, True), ("Always", 1, True),
        ("OnFailure", 0, False), ("OnFailure", 1, True), ("OnFailure", 137, True),
        ("Never", 0, False), ("Never", 1, False),
    ],
)
def test_restart_policy(policy: str, code: int, restarts: bool) -> None:
    """A second, running container keeps the pod from being finished: only the policy decides."""
    pod = make_pod("c", "keeper", restart_policy=policy)
    actions = plan(pod, sandbox(pod), exited(pod, code=code, attempt=0), seen(pod, "keeper"))
    assert actions.kill == ()
    assert actions.start == ((Start("c", 1, 1),) if restarts else ())
    assert actions.waiting == {}


def test_first_crash_restarts_at_once() -> None:
    pod = make_pod()
    assert plan(pod, sandbox(pod), exited(pod, attempt=0, streak=0, ran=2, ago=0)).start == (Start("c", 1, 1),)


@pytest.mark.parametrize(
    ("streak", "ago", "shown", "wake"),
    [
        (1, 3, "10s", 7),
        (2, 0.5, "20s", 19.5),
        (5, 100, "2m40s", 60),
        (7, 1, "5m0s", 299),
    ],
)
def test_crash_loop_back_off(streak: int, ago: float, shown: str, wake: float) -> None:
    pod = make_pod()
    actions = plan(pod, sandbox(pod), exited(pod, attempt=streak, streak=streak, ran=2, ago=ago))
    assert actions.start == ()
    assert actions.waiting == {"c": Waiting(
        ContainerWaitingReason.CRASH_LOOP_BACK_OFF,
        f"back-off {shown} restarting failed container=c pod=p_default({UID})")}
    assert actions.wake_in == pytest.approx(wake)


@pytest.mark.parametrize(("streak", "ago"), [(1, 10), (1, 10.5), (3, 40), (8, 301)])
def test_back_off_over_starts_with_the_next_streak(streak: int, ago: float) -> None:
    pod = make_pod()
    actions = plan(pod, sandbox(pod), exited(pod, attempt=4, streak=streak, ran=2, ago=ago))
    assert actions.start == (Start("c", 5, streak + 1),)
    assert actions.waiting == {}


def test_long_clean_run_resets_the_streak() -> None:
    pod = make_pod()
    actions = plan(pod, sandbox(pod), exited(pod, attempt=9, streak=8, ran=700, ago=0))
    assert actions.start == (Start("c", 10, 1),)


def test_wake_in_is_the_earliest_back_off_end() -> None:
    pod = make_pod("a", "b")
    actions = plan(pod, sandbox(pod), exited(pod, "a", attempt=2, streak=2, ran=1, ago=1),
                   exited(pod, "b", attempt=1, streak=1, ran=1, ago=4))
    assert set(actions.waiting) == {"a", "b"}
    assert actions.wake_in == pytest.approx(6)


# ── spec changes and liveness ────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("policy", ["Always", "OnFailure", "Never"])
def test_changed_spec_replaces_the_container_at_once(policy: str) -> None:
    """kubelet: 'Restart regardless of the restart policy because the container spec changed.'"""
    pod = make_pod(restart_policy=policy)
    old = seen(pod, attempt=2, streak=1, stale=True)
    actions = plan(pod, sandbox(pod), old)
    assert actions.new_sandbox_attempt is None
    assert actions.kill == (Kill(old, KillReason.SPEC_CHANGED, "Container c definition changed, will be restarted"),)
    assert actions.start == (Start("c", 3, 1),)


def test_changed_spec_of_a_crash_looping_container_skips_the_old_back_off() -> None:
    pod = make_pod()
    actions = plan(pod, sandbox(pod), exited(pod, attempt=6, streak=6, ran=1, ago=5, stale=True))
    assert [s.name for s in actions.start] == ["c"]
    assert actions.start[0].attempt == 7 and actions.start[0].streak <= 1
    assert actions.waiting == {}


def test_unhealthy_container_is_killed_only() -> None:
    """The restart (policy, back-off) is decided on the next pass, from the exited container."""
    pod = make_pod()
    live = seen(pod, attempt=1)
    why = "Container c failed liveness probe, will be restarted"
    actions = plan(pod, sandbox(pod), live, unhealthy={"c": why})
    assert actions == PodActions(kill=(Kill(live, KillReason.UNHEALTHY, why),))


def test_unhealthy_ignored_for_containers_not_named() -> None:
    pod = make_pod("a", "b")
    a = seen(pod, "a")
    actions = plan(pod, sandbox(pod), a, seen(pod, "b"), unhealthy={"a": "liveness"})
    assert [k.container for k in actions.kill] == [a]


@pytest.mark.parametrize(("policy", "restarts"), [("Always", True), ("OnFailure", True), ("Never", False)])
def test_after_a_liveness_kill_the_restart_policy_decides(policy: str, restarts: bool) -> None:
    pod = make_pod("c", "keeper", restart_policy=policy)
    killed = exited(pod, code=137, attempt=1, streak=0, ran=120, ago=0)
    actions = plan(pod, sandbox(pod), killed, seen(pod, "keeper"))
    assert actions.start == ((Start("c", 2, 1),) if restarts else ())


# ── start failures ───────────────────────────────────────────────────────────────────────────

def test_fresh_pull_failure_shows_err_image_pull() -> None:
    pod = make_pod()
    failure = pull_failure(ago=0.5)
    actions = plan(pod, sandbox(pod), failures={"c": failure})
    assert actions.start == ()
    assert actions.waiting == {"c": Waiting(ContainerWaitingReason.ERR_IMAGE_PULL, failure.message)}
    # wake up when the status must turn into ImagePullBackOff
    assert actions.wake_in == pytest.approx(ERR_IMAGE_PULL_SHOWN_FOR - 0.5)


@pytest.mark.parametrize(("failures", "ago", "wake"), [(1, ERR_IMAGE_PULL_SHOWN_FOR, 8), (1, 3, 7), (2, 15, 5),
                                                       (6, 200, 100)])
def test_pull_failure_then_image_pull_back_off(failures: int, ago: float, wake: float) -> None:
    pod = make_pod()
    actions = plan(pod, sandbox(pod), failures={"c": pull_failure(failures, ago)})
    assert actions.start == ()
    assert actions.waiting == {"c": Waiting(ContainerWaitingReason.IMAGE_PULL_BACK_OFF,
                                            'Back-off pulling image "busybox:1.36"')}
    assert actions.wake_in == pytest.approx(wake)


@pytest.mark.parametrize(("failures", "ago"), [(1, 10), (2, 20.5), (9, 300)])
def test_pull_is_retried_when_the_image_back_off_is_over(failures: int, ago: float) -> None:
    pod = make_pod()
    assert plan(pod, sandbox(pod), failures={"c": pull_failure(failures, ago)}).start == (Start("c", 0, 0),)


def test_pull_failure_of_a_new_pod_still_builds_the_sandbox() -> None:
    pod = make_pod("bad", "good")
    actions = plan(pod, failures={"bad": pull_failure(ago=5)})
    assert actions.new_sandbox_attempt == 0
    assert actions.start == (Start("good", 0, 0),)
    assert actions.waiting["bad"].reason is ContainerWaitingReason.IMAGE_PULL_BACK_OFF


def test_config_error_waits_out_the_back_off_with_its_own_message() -> None:
    pod = make_pod()
    failure = StartFailure(ContainerWaitingReason.CREATE_CONTAINER_CONFIG_ERROR, 'configmap "cm" not found', 1,
                           NOW - timedelta(seconds=4))
    actions = plan(pod, sandbox(pod), failures={"c": failure})
    assert actions.waiting == {"c": Waiting(ContainerWaitingReason.CREATE_CONTAINER_CONFIG_ERROR,
                                            'configmap "cm" not found')}
    assert actions.wake_in == pytest.approx(6)


def test_failed_restart_keeps_attempt_and_streak() -> None:
    """A crashed container whose restart failed to pull: retried as the same attempt, same streak."""
    pod = make_pod()
    crashed = exited(pod, attempt=2, streak=2, ran=1, ago=60)
    assert plan(pod, sandbox(pod), crashed, failures={"c": pull_failure(1, 11)}).start == (Start("c", 3, 3),)
    waiting = plan(pod, sandbox(pod), crashed, failures={"c": pull_failure(1, 5)})
    assert waiting.waiting["c"].reason is ContainerWaitingReason.IMAGE_PULL_BACK_OFF


def test_created_but_never_started_container_is_made_anew() -> None:
    pod = make_pod()
    leftover = seen(pod, state=CREATED, attempt=2, streak=1)
    actions = plan(pod, sandbox(pod), leftover)
    assert actions.start == (Start("c", 2, 1),)
    assert actions.remove == (leftover.id,)


# ── garbage ──────────────────────────────────────────────────────────────────────────────────

def test_garbage_keeps_the_newest_two_instances() -> None:
    pod = make_pod()
    history = [exited(pod, attempt=a, streak=a, ran=1, ago=100 - a) for a in range(4)]
    current = seen(pod, attempt=4)
    actions = plan(pod, sandbox(pod), *history, current)
    assert set(actions.remove) == {"c-0", "c-1", "c-2"}
    assert actions.start == () and actions.kill == ()


def test_garbage_removes_containers_gone_from_the_spec_but_not_running_ones() -> None:
    pod = make_pod()
    actions = plan(pod, sandbox(pod), seen(pod), exited(pod, "renamed", code=0),
                   seen(pod, "still-running", attempt=1))
    assert actions.remove == ("renamed-0",)


# ── finished pods ────────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize(("policy", "codes"), [("Never", (0,)), ("Never", (1,)), ("Never", (0, 2)),
                                              ("OnFailure", (0,)), ("OnFailure", (0, 0))])
def test_finished_pod_stops_its_sandbox_and_builds_no_new_one(policy: str, codes: tuple[int, ...]) -> None:
    names = [f"c{i}" for i in range(len(codes))]
    pod = make_pod(*names, restart_policy=policy)
    box = sandbox(pod)
    observed = [exited(pod, n, code=code) for n, code in zip(names, codes)]
    assert is_finished(pod, ObservedPod(UID, (box, *observed)))
    actions = plan(pod, box, *observed)
    assert actions == PodActions(kill=(Kill(box, KillReason.POD_COMPLETED, "pod completed"),))
    # and once the sandbox has stopped there is nothing left to do
    stopped = sandbox(pod, state=EXITED, exit_code=0)
    assert plan(pod, stopped, *observed) == PodActions()


@pytest.mark.parametrize(("policy", "codes"), [("Always", (0,)), ("OnFailure", (0, 1))])
def test_pods_that_will_restart_are_not_finished(policy: str, codes: tuple[int, ...]) -> None:
    names = [f"c{i}" for i in range(len(codes))]
    pod = make_pod(*names, restart_policy=policy)
    assert not is_finished(pod, ObservedPod(UID, tuple(exited(pod, n, code=c) for n, c in zip(names, codes))))


def test_pod_with_an_unstarted_container_is_not_finished() -> None:
    pod = make_pod("a", "b", restart_policy="Never")
    assert not is_finished(pod, ObservedPod(UID, (exited(pod, "a", code=0),)))


def test_finished_pod_still_collects_garbage() -> None:
    pod = make_pod(restart_policy="OnFailure")
    history = [exited(pod, attempt=a, code=1 if a < 3 else 0) for a in range(4)]
    actions = plan(pod, sandbox(pod, state=EXITED, exit_code=0), *history)
    assert set(actions.remove) == {"c-0", "c-1"}
    assert actions.new_sandbox_attempt is None and actions.start == ()


# ── ephemeral containers (kubectl debug) ─────────────────────────────────────────────────────

def debugged(*debuggers: dict, restart_policy: str = "Always", share_pids: bool = False) -> dict:
    """``make_pod()`` (one container ``c``) after ``kubectl debug`` added ephemeral containers."""
    pod = make_pod(restart_policy=restart_policy)
    pod["spec"]["ephemeralContainers"] = [{"image": "busybox:1.36", **d} for d in debuggers]
    pod["spec"]["shareProcessNamespace"] = share_pids
    return pod


def crashed(pod: dict) -> ObservedContainer:
    """``c`` in CrashLoopBackOff: crashed after 2 s, a second ago, after an earlier quick crash."""
    return exited(pod, attempt=1, streak=1, ran=2, ago=1.0)


DBG = {"name": "dbg"}
DBG_ON_C = {"name": "dbg", "targetContainerName": "c"}
WAITING_FOR_C = {"dbg": Waiting(ContainerWaitingReason.CONTAINER_CREATING,
                                'waiting for the target container "c" to run')}

EPHEMERAL_CASES = [
    # (id, pod, what Docker shows, failures, the next steps)
    ("a new debug container starts once in the running sandbox",
     debugged(DBG), lambda p: [sandbox(p), seen(p)], {},
     PodActions(start=(Start("dbg", 0, 0, ephemeral=True),))),
    ("with --target it joins the target's running instance",
     debugged(DBG_ON_C), lambda p: [sandbox(p), seen(p, attempt=2)], {},
     PodActions(start=(Start("dbg", 0, 0, ephemeral=True, pid_target="c-2"),))),
    ("its target not running, it waits, saying for what",
     debugged(DBG_ON_C), lambda p: [sandbox(p), crashed(p)], {},
     PodActions(waiting={"c": Waiting(ContainerWaitingReason.CRASH_LOOP_BACK_OFF,
                                      f"back-off 10s restarting failed container=c pod=p_default({UID})"),
                         **WAITING_FOR_C}, wake_in=9.0)),
    ("in a pod sharing one PID namespace the target does not matter",
     debugged(DBG_ON_C, share_pids=True), lambda p: [sandbox(p), crashed(p)], {},
     PodActions(start=(Start("dbg", 0, 0, ephemeral=True),),
                waiting={"c": Waiting(ContainerWaitingReason.CRASH_LOOP_BACK_OFF,
                                      f"back-off 10s restarting failed container=c pod=p_default({UID})")},
                wake_in=9.0)),
    ("a running debug container is left alone",
     debugged(DBG), lambda p: [sandbox(p), seen(p), seen(p, "dbg")], {}, PodActions()),
    ("one that exited is never restarted, whatever the restart policy, and its instance is kept",
     debugged(DBG), lambda p: [sandbox(p), seen(p), exited(p, "dbg", code=1)], {}, PodActions()),
    ("a failed start waits out the image back-off",
     debugged(DBG), lambda p: [sandbox(p), seen(p)], {"dbg": "pull"},
     PodActions(waiting={"dbg": Waiting(ContainerWaitingReason.ERR_IMAGE_PULL,
                                        'Failed to pull image "busybox:1.36": not found')}, wake_in=1.5)),
    ("a leftover the agent made but never started is made anew",
     debugged(DBG), lambda p: [sandbox(p), seen(p), seen(p, "dbg", state=CREATED)], {},
     PodActions(start=(Start("dbg", 0, 0, ephemeral=True),), remove=("dbg-0",))),
]


@pytest.mark.parametrize(("pod", "observed", "failures", "expected"), [case[1:] for case in EPHEMERAL_CASES],
                         ids=[case[0] for case in EPHEMERAL_CASES])
def test_ephemeral_containers(pod: dict, observed, failures: dict[str, str], expected: PodActions) -> None:
    given = {name: pull_failure() for name in failures}
    assert plan(pod, *observed(pod), failures=given) == expected


def test_a_debug_container_dies_with_its_sandbox_and_is_not_started_in_the_new_one() -> None:
    pod = debugged(DBG)
    dead = sandbox(pod, state=EXITED, exit_code=137)
    app, debugger = seen(pod), seen(pod, "dbg")
    actions = plan(pod, dead, app, debugger)
    assert actions.kill == (Kill(app, KillReason.SANDBOX_CHANGED, SANDBOX_CHANGED),
                            Kill(debugger, KillReason.SANDBOX_CHANGED, SANDBOX_CHANGED))
    assert (actions.new_sandbox_attempt, actions.start) == (1, (Start("c", 1, 0),))
    # in the new sandbox, the dead debug container stays dead
    new_box = sandbox(pod, attempt=1)
    assert plan(pod, new_box, seen(pod, attempt=1), exited(pod, "dbg", code=137)) == PodActions()


def test_a_finished_pod_stops_its_running_debug_container_with_the_sandbox() -> None:
    pod = debugged(DBG, restart_policy="Never")
    box, debugger = sandbox(pod), seen(pod, "dbg")
    actions = plan(pod, box, exited(pod, code=0), debugger)
    assert actions == PodActions(kill=(Kill(debugger, KillReason.POD_COMPLETED, "pod completed"),
                                       Kill(box, KillReason.POD_COMPLETED, "pod completed")))


# ── go_duration ──────────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (1, "1s"), (10, "10s"), (59, "59s"), (60, "1m0s"), (160, "2m40s"), (300, "5m0s"),
     (3599, "59m59s"), (3600, "1h0m0s"), (3661, "1h1m1s"), (10.2, "10.2s")],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


@pytest.mark.parametrize(("seconds", "text"), [(0.5, "500ms"), (1.5, "1.5s"), (120.5, "2m0.5s")])
def test_go_duration_fractions(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text
