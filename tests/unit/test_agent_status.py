"""Pod status from Docker's view (:mod:`agent.status`) against the kubelet's rules.

``pod_phase`` is checked with a table transcribed from the kubelet's ``getPhase``; the container
states, reasons and conditions through :func:`compute_pod_status` on pods built by hand, as
``kubectl get pods`` and ``kubectl describe`` would read them (generate.go for the conditions).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from orchestrator.api.defaults import apply_defaults
from orchestrator.api.pod import ContainerWaitingReason, PodPhase
from orchestrator.api.registry import kind_for

from agent.container_config import spec_hash
from agent.labels import SANDBOX
from agent.observed import ObservedContainer, ObservedPod, RuntimeState
from agent.status import compute_pod_status, container_status, pod_phase, terminated_state
from orchestrator.api.timestamps import format_rfc3339 as rfc3339
from agent.sync import Waiting

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
EARLIER = "2025-03-01T11:00:00Z"
UID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
NODE_IP = "192.168.56.11"
POD_IP = "10.244.1.7"
RUNNING, EXITED, CREATED = RuntimeState.RUNNING, RuntimeState.EXITED, RuntimeState.CREATED


def make_pod(*names: str, restart_policy: str = "Always", status: dict | None = None) -> dict:
    containers = [{"name": n, "image": "busybox:1.36"} for n in names or ("c",)]
    pod = apply_defaults(kind_for("v1", "Pod"), {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default", "uid": UID},
        "spec": {"containers": containers, "restartPolicy": restart_policy, "nodeName": "node-1"}})
    pod["status"] = status or {}
    return pod


def seen(pod: dict, name: str = "c", *, state: RuntimeState = RUNNING, attempt: int = 0, exit_code: int | None = None,
         oom: bool = False, ago: float = 10.0) -> ObservedContainer:
    """One Docker container of ``pod``: started an hour ago, exited ``ago`` seconds before NOW."""
    is_sandbox = name == SANDBOX
    return ObservedContainer(
        id=f"{name.lower()}{attempt}" + "0" * 10, name=name, pod_uid=UID, pod_name="p", pod_namespace="default",
        spec_hash="" if is_sandbox else spec_hash(next(c for group in ("containers", "ephemeralContainers")
                                                      for c in pod["spec"].get(group) or [] if c["name"] == name)),
        attempt=attempt, backoff_streak=0, state=state, exit_code=exit_code if state is EXITED else None,
        oom_killed=oom, started_at=None if state is CREATED else NOW - timedelta(hours=1),
        finished_at=NOW - timedelta(seconds=ago) if state is EXITED else None,
        image="busybox:1.36", image_id="sha256:" + "ab" * 32, ip=POD_IP if is_sandbox else None)


def box(pod: dict, state: RuntimeState = RUNNING) -> ObservedContainer:
    return seen(pod, SANDBOX, state=state, exit_code=0)


def status_of(pod: dict, *containers: ObservedContainer, waiting: dict[str, Waiting] | None = None,
              ready: bool | dict[str, bool] = True) -> dict:
    def is_ready(name: str) -> bool:
        return ready.get(name, False) if isinstance(ready, dict) else ready
    return compute_pod_status(pod, ObservedPod(UID, tuple(containers)), waiting or {}, ready=is_ready,
                              node_ip=NODE_IP, now=NOW)


def condition(status: dict, kind: str) -> dict:
    return next(c for c in status["conditions"] if c["type"] == kind)


CRASH = Waiting(ContainerWaitingReason.CRASH_LOOP_BACK_OFF,
                f"back-off 20s restarting failed container=c pod=p_default({UID})")


# ── pod_phase: the kubelet's getPhase ────────────────────────────────────────────────────────

def running() -> dict:
    return {"state": {"running": {}}, "lastState": {}}


def terminated(code: int) -> dict:
    return {"state": {"terminated": {"exitCode": code}}, "lastState": {}}


def waiting_first() -> dict:                       # never ran: ContainerCreating, ErrImagePull …
    return {"state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}}


def waiting_again(code: int) -> dict:              # ran, exited, waiting to restart
    return {"state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": code}}}


@pytest.mark.parametrize(
    ("policy", "statuses", "phase"),
    [
        ("Always", [waiting_first()], PodPhase.PENDING),
        ("Always", [running(), waiting_first()], PodPhase.PENDING),     # one container not started yet
        ("Always", [running()], PodPhase.RUNNING),
        ("Always", [running(), terminated(1)], PodPhase.RUNNING),
        ("Always", [waiting_again(1)], PodPhase.RUNNING),                # CrashLoopBackOff
        ("Always", [terminated(0)], PodPhase.RUNNING),                   # about to restart
        ("Always", [terminated(0), terminated(1)], PodPhase.RUNNING),
        ("OnFailure", [terminated(0)], PodPhase.SUCCEEDED),
        ("OnFailure", [terminated(0), terminated(0)], PodPhase.SUCCEEDED),
        ("OnFailure", [terminated(0), waiting_again(1)], PodPhase.RUNNING),
        ("OnFailure", [terminated(1)], PodPhase.RUNNING),                # will be restarted
        ("OnFailure", [waiting_again(0)], PodPhase.RUNNING),             # a waiting restart is not a success
        ("Never", [terminated(0)], PodPhase.SUCCEEDED),
        ("Never", [terminated(0), terminated(0)], PodPhase.SUCCEEDED),
        ("Never", [terminated(1)], PodPhase.FAILED),
        ("Never", [terminated(0), terminated(137)], PodPhase.FAILED),
        ("Never", [running(), terminated(1)], PodPhase.RUNNING),
        ("Never", [waiting_first(), terminated(0)], PodPhase.PENDING),
    ],
)
def test_pod_phase(policy: str, statuses: list[dict], phase: PodPhase) -> None:
    pod = make_pod(*[f"c{i}" for i in range(len(statuses))], restart_policy=policy)
    assert pod_phase(pod, statuses) is phase


# ── container states ─────────────────────────────────────────────────────────────────────────

def test_pending_while_container_creating() -> None:
    pod = make_pod()
    status = status_of(pod)
    assert status["phase"] == "Pending"
    assert status["containerStatuses"] == [{
        "name": "c", "image": "busybox:1.36", "imageID": "", "ready": False, "restartCount": 0, "started": False,
        "lastState": {}, "state": {"waiting": {"reason": "ContainerCreating"}}}]
    assert "podIP" not in status
    assert condition(status, "PodReadyToStartContainers")["status"] == "False"
    assert condition(status, "Initialized")["status"] == "True"
    for kind in ("Ready", "ContainersReady"):
        assert condition(status, kind) == {"type": kind, "status": "False", "lastTransitionTime": rfc3339(NOW),
                                           "reason": "ContainersNotReady",
                                           "message": "containers with unready status: [c]"}


def test_pending_in_a_ready_sandbox_shows_the_pull_failure() -> None:
    pod = make_pod()
    why = Waiting(ContainerWaitingReason.IMAGE_PULL_BACK_OFF, 'Back-off pulling image "busybox:1.36"')
    status = status_of(pod, box(pod), waiting={"c": why})
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"] == {
        "waiting": {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "busybox:1.36"'}}
    assert condition(status, "PodReadyToStartContainers")["status"] == "True"
    assert status["podIP"] == POD_IP


def test_running_and_ready() -> None:
    pod = make_pod()
    app = seen(pod, attempt=0)
    status = status_of(pod, box(pod), app)
    assert status["phase"] == "Running"
    assert status["containerStatuses"] == [{
        "name": "c", "image": "busybox:1.36", "imageID": "docker://sha256:" + "ab" * 32,
        "containerID": f"docker://{app.id}", "ready": True, "restartCount": 0, "started": True, "lastState": {},
        "state": {"running": {"startedAt": rfc3339(NOW - timedelta(hours=1))}}}]
    assert [c["type"] for c in status["conditions"]] == [
        "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
    assert all(c["status"] == "True" for c in status["conditions"])
    assert "reason" not in condition(status, "Ready")
    assert (status["podIP"], status["podIPs"]) == (POD_IP, [{"ip": POD_IP}])
    assert (status["hostIP"], status["hostIPs"]) == (NODE_IP, [{"ip": NODE_IP}])


def test_running_but_not_ready_names_the_unready_containers() -> None:
    pod = make_pod("web", "side", "log")
    status = status_of(pod, box(pod), seen(pod, "web"), seen(pod, "side"), seen(pod, "log"),
                       ready={"side": True})
    assert status["phase"] == "Running"
    assert [s["ready"] for s in status["containerStatuses"]] == [False, True, False]
    assert condition(status, "Ready")["message"] == "containers with unready status: [web log]"
    assert condition(status, "ContainersReady")["reason"] == "ContainersNotReady"


def test_crash_loop_back_off_waiting_with_last_state() -> None:
    pod = make_pod()
    older, latest = seen(pod, state=EXITED, attempt=1, exit_code=1, ago=30), \
        seen(pod, state=EXITED, attempt=2, exit_code=1, ago=5)
    status = status_of(pod, box(pod), older, latest, waiting={"c": CRASH})
    container = status["containerStatuses"][0]
    assert status["phase"] == "Running"
    assert container["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": CRASH.message}}
    assert container["lastState"] == {"terminated": {
        "exitCode": 1, "reason": "Error", "containerID": f"docker://{latest.id}",
        "startedAt": rfc3339(NOW - timedelta(hours=1)), "finishedAt": rfc3339(NOW - timedelta(seconds=5))}}
    assert container["restartCount"] == 2
    assert container["ready"] is False and container["started"] is False


def test_restart_count_and_last_state_of_a_restarted_container() -> None:
    pod = make_pod()
    previous = seen(pod, state=EXITED, attempt=4, exit_code=137, oom=True)
    status = status_of(pod, box(pod), seen(pod, state=EXITED, attempt=3, exit_code=1), previous,
                       seen(pod, attempt=5))
    container = status["containerStatuses"][0]
    assert container["restartCount"] == 5
    assert "running" in container["state"]
    assert container["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert container["lastState"]["terminated"]["containerID"] == f"docker://{previous.id}"


def test_recreated_container_not_yet_started_shows_last_state() -> None:
    pod = make_pod()
    status = status_of(pod, box(pod), seen(pod, state=EXITED, attempt=0, exit_code=2),
                       seen(pod, state=CREATED, attempt=1))
    container = status["containerStatuses"][0]
    assert container["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert container["lastState"]["terminated"]["exitCode"] == 2
    assert container["restartCount"] == 1
    assert status["phase"] == "Running"    # it has run before: not Pending again


@pytest.mark.parametrize(
    ("code", "oom", "reason"),
    [(0, False, "Completed"), (1, False, "Error"), (2, False, "Error"), (143, False, "Error"),
     (137, False, "Error"), (137, True, "OOMKilled")],
)
def test_terminated_reasons(code: int, oom: bool, reason: str) -> None:
    pod = make_pod()
    state = terminated_state(seen(pod, state=EXITED, exit_code=code, oom=oom))["terminated"]
    assert (state["exitCode"], state["reason"]) == (code, reason)


def test_terminated_state_without_waiting_when_no_restart_follows() -> None:
    pod = make_pod(restart_policy="Never")
    latest = seen(pod, state=EXITED, exit_code=0)
    container = container_status(pod["spec"]["containers"][0], ObservedPod(UID, (latest,)), None, ready=True)
    assert container["state"]["terminated"]["reason"] == "Completed"
    assert container["lastState"] == {}
    assert container["ready"] is False and container["started"] is False


# ── finished pods ────────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize(("policy", "codes", "phase"), [
    ("Never", (0,), "Succeeded"), ("OnFailure", (0, 0), "Succeeded"), ("Never", (0, 1), "Failed"),
])
def test_finished_pod_phase_and_readiness(policy: str, codes: tuple[int, ...], phase: str) -> None:
    names = [f"c{i}" for i in range(len(codes))]
    pod = make_pod(*names, restart_policy=policy)
    status = status_of(pod, box(pod), *[seen(pod, n, state=EXITED, exit_code=c) for n, c in zip(names, codes)],
                       ready=True)
    assert status["phase"] == phase
    assert all(s["ready"] is False for s in status["containerStatuses"])
    assert condition(status, "Ready")["status"] == "False"
    assert "message" not in condition(status, "Ready")


def test_succeeded_pod_conditions_say_pod_completed() -> None:
    pod = make_pod(restart_policy="Never")
    status = status_of(pod, box(pod, EXITED), seen(pod, state=EXITED, exit_code=0))
    assert condition(status, "Ready")["reason"] == "PodCompleted"
    assert condition(status, "ContainersReady")["reason"] == "PodCompleted"


def test_failed_pod_conditions_say_pod_failed() -> None:
    pod = make_pod(restart_policy="Never")
    status = status_of(pod, box(pod, EXITED), seen(pod, state=EXITED, exit_code=1))
    assert status["phase"] == "Failed"
    assert condition(status, "Ready")["reason"] == "PodFailed"
    assert condition(status, "ContainersReady")["reason"] == "PodFailed"


def test_finished_pod_with_its_sandbox_stopped_is_not_ready_to_start_containers() -> None:
    pod = make_pod(restart_policy="Never")
    status = status_of(pod, box(pod, EXITED), seen(pod, state=EXITED, exit_code=0))
    assert condition(status, "PodReadyToStartContainers")["status"] == "False"


def test_finished_pod_keeps_its_ip_after_the_sandbox_stopped() -> None:
    pod = make_pod(restart_policy="Never", status={"podIP": POD_IP, "podIPs": [{"ip": POD_IP}]})
    status = status_of(pod, box(pod, EXITED), seen(pod, state=EXITED, exit_code=0))
    assert (status["podIP"], status["podIPs"]) == (POD_IP, [{"ip": POD_IP}])


def test_running_pod_without_a_sandbox_has_no_ip() -> None:
    pod = make_pod(status={"podIP": POD_IP, "podIPs": [{"ip": POD_IP}]})
    status = status_of(pod, box(pod, EXITED), seen(pod))
    assert "podIP" not in status and "podIPs" not in status
    assert condition(status, "PodReadyToStartContainers")["status"] == "False"


# ── what is kept between reports ─────────────────────────────────────────────────────────────

def test_transition_times_move_only_when_a_condition_changes() -> None:
    pod = make_pod()
    first = status_of(pod, box(pod), seen(pod), ready=True)
    old = {**first, "conditions": [{**c, "lastTransitionTime": EARLIER} for c in first["conditions"]]}
    pod["status"] = old

    unchanged = status_of(pod, box(pod), seen(pod), ready=True)
    assert {c["type"]: c["lastTransitionTime"] for c in unchanged["conditions"]} == {
        c["type"]: EARLIER for c in old["conditions"]}

    flipped = status_of(pod, box(pod), seen(pod), ready=False)
    assert condition(flipped, "Ready")["lastTransitionTime"] == rfc3339(NOW)
    assert condition(flipped, "ContainersReady")["lastTransitionTime"] == rfc3339(NOW)
    assert condition(flipped, "Initialized")["lastTransitionTime"] == EARLIER
    assert condition(flipped, "PodReadyToStartContainers")["lastTransitionTime"] == EARLIER


def test_pod_scheduled_written_by_the_scheduler_is_kept() -> None:
    scheduled = {"type": "PodScheduled", "status": "True", "lastTransitionTime": EARLIER}
    pod = make_pod(status={"conditions": [scheduled]})
    assert condition(status_of(pod), "PodScheduled") == scheduled


def test_start_time_and_qos_class_are_kept() -> None:
    pod = make_pod(status={"startTime": EARLIER, "qosClass": "BestEffort"})
    status = status_of(pod, box(pod), seen(pod))
    assert status["startTime"] == EARLIER
    assert status["qosClass"] == "BestEffort"


def test_start_time_is_set_on_the_first_report() -> None:
    status = status_of(make_pod())
    assert status["startTime"] == rfc3339(NOW)
    assert "qosClass" not in status


def test_rfc3339_is_utc_seconds() -> None:
    assert rfc3339(datetime(2025, 3, 1, 12, 0, 5, 999_000, tzinfo=timezone.utc)) == "2025-03-01T12:00:05Z"


# ── ephemeral containers (kubectl debug) ─────────────────────────────────────────────────────

def debugged(*names: str) -> dict:
    pod = make_pod()
    pod["spec"]["ephemeralContainers"] = [{"name": n, "image": "busybox:1.36"} for n in names]
    return pod


def test_ephemeral_containers_have_their_own_statuses_never_ready_and_without_started() -> None:
    pod = debugged("shell", "done", "coming")
    waiting = {"coming": Waiting(ContainerWaitingReason.CONTAINER_CREATING,
                                 'waiting for the target container "c" to run')}
    status = status_of(pod, box(pod), seen(pod), seen(pod, "shell"), seen(pod, "done", state=EXITED, exit_code=0),
                       waiting=waiting)
    shell, done, coming = status["ephemeralContainerStatuses"]
    assert shell == {"name": "shell", "state": {"running": {"startedAt": "2025-03-01T11:00:00Z"}}, "lastState": {},
                     "ready": False, "restartCount": 0, "image": "busybox:1.36",
                     "imageID": "docker://sha256:" + "ab" * 32, "containerID": "docker://shell0" + "0" * 10}
    assert done["state"]["terminated"]["reason"] == "Completed" and done["ready"] is False
    assert coming["state"] == {"waiting": {"reason": "ContainerCreating",
                                           "message": 'waiting for the target container "c" to run'}}
    assert all("started" not in s for s in (shell, done, coming))


def test_ephemeral_containers_count_for_neither_phase_nor_readiness() -> None:
    pod = debugged("shell")
    status = status_of(pod, box(pod), seen(pod), waiting={"shell": Waiting(ContainerWaitingReason.ERR_IMAGE_PULL)},
                       ready={"c": True})
    assert status["phase"] == "Running"
    assert condition(status, "Ready")["status"] == condition(status, "ContainersReady")["status"] == "True"
    assert [s["name"] for s in status["containerStatuses"]] == ["c"]


def test_no_ephemeral_container_statuses_without_ephemeral_containers() -> None:
    pod = make_pod()
    assert "ephemeralContainerStatuses" not in status_of(pod, box(pod), seen(pod))


def test_a_host_network_pods_address_is_its_nodes() -> None:
    pod = make_pod()
    pod["spec"]["hostNetwork"] = True
    status = status_of(pod, box(pod), seen(pod))
    assert (status["podIP"], status["podIPs"]) == (NODE_IP, [{"ip": NODE_IP}])
