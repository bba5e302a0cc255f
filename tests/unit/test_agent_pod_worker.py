"""The pod worker's executor (:mod:`agent.pod_worker`) against fakes: no Docker, no API server.

The planner and the status are pure and tested on their own (test_agent_sync, test_agent_status).
What is left to the worker, and tested here, is how it carries their answers out: the pull
policies and the offline fallback, which runtime error becomes which waiting reason, sandbox
failures and their pacing, the sandbox's address from the node's pod CIDR (and what a refused
address or a full block do), the pod's resolv.conf in every app container, the events it records
and their wording, the kill path (preStop, then stop with what is left of the grace period),
deletion (containers, volumes and files gone before the pod leaves the API), status writes only
when something changed, and what a 409 or 404 on a write does.

The runtime is :class:`~tests.support.fakeruntime.FakeRuntime`, held to the same contract suite as
the real Docker adapter (``test_agent_runtime_contract.py``): it reads containers back from the
labels of the specs the worker built, so the planner sees the worker's own work on the next pass,
and it refuses what Docker refuses (a taken name, a missing image or sandbox). The other fakes keep
just enough state to be honest. A :class:`Clock` stands in for the worker's wall clock and monotonic clock, so back-offs and grace
periods are exact and nothing sleeps. Each pass is one call of :meth:`PodWorker.sync`, as its
thread makes them; the thread itself runs only where its exit path is the point.
"""

from __future__ import annotations

import copy
import tempfile
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from orchestrator.api.defaults import apply_defaults
from orchestrator.api.pod import ContainerWaitingReason as Why
from orchestrator.api.registry import kind_for

from agent import pod_worker
from agent.apiclient import ApiRejected
from agent.config import AgentConfig, BackoffPolicy
from agent.container_config import PodContext, volume_name
from agent.events import EventReason as Ev
from agent.labels import SANDBOX, Owner
from agent.network.ipam import PodAddresses
from agent.observed import ObservedContainer, ObservedPod
from agent.pod_worker import PodWorker
from agent.runtime.specs import MountKind, MountSpec, NetworkSpec
from tests.support.fakeruntime import NO_REGISTRY, FakeRuntime

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
UID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
PAUSE = "dockyard/pause:1.0"
IMAGE = "busybox:1.36"
POD_CIDR = "10.244.1.0/24"
POD_IP = "10.244.1.2"  # the lowest address a pod gets in POD_CIDR
#: what the node's registry serves (tests take images out of it to make pulls fail)
REGISTRY = (PAUSE, IMAGE, "busybox:1.37", "nginx:latest")
NETWORK = NetworkSpec(name="dy-net", subnet="10.244.0.0/16", gateway="10.244.0.1", bridge="dy-3f2b8c1e", labels={})
CTX = PodContext(owner=Owner("3f2b8c1e-5d1a-4c1e-9a7e-0c5b2f1d9e11", "node-1"), network=NETWORK,
                 pause_image=PAUSE, node_ip="192.168.56.11", host_resolv_conf="search lab.example\n")
BACKOFF = BackoffPolicy(initial=5.0, maximum=20.0, reset_after=600.0)
CONFIG = AgentConfig(server="https://127.0.0.1:1", token="unused", node_name="node-1",
                     state_dir=Path("unused"),  # the worker never reads it
                     status_interval=10.0, backoff=BACKOFF, image_backoff=BACKOFF)


# ── fakes ────────────────────────────────────────────────────────────────────────────────────

class Clock:
    """The worker's ``utc_now`` and ``time.monotonic``, moved only by :meth:`advance`."""

    def __init__(self) -> None:
        self.wall, self.mono = NOW, 1000.0

    def utcnow(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


def as_stored(value):
    """What the API server keeps of a written status: nulls, empty maps and empty lists dropped."""
    if isinstance(value, dict):
        kept = {k: as_stored(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [as_stored(v) for v in value]
    return value


class FakeApi:
    """Status writes succeed (bumping the resourceVersion) unless ``reject`` holds codes to answer
    the next ones with; ``stored`` is what a read of the pod returns."""

    def __init__(self, log: list) -> None:
        self.log = log
        self.writes: list[dict] = []
        self.reject: list[int] = []
        self.stored: dict | None = None
        self.reads: list[tuple[str, str]] = []
        self.configs: dict[tuple[str, str, str], dict] = {}

    def put_pod_status(self, pod: dict, status: dict) -> dict:
        if self.reject:
            code = self.reject.pop(0)
            raise ApiRejected(code, {404: "NotFound", 409: "Conflict"}.get(code, "Invalid"), "rejected by the fake")
        self.writes.append(status)
        meta = pod["metadata"]
        self.stored = {**pod, "metadata": {**meta, "resourceVersion": str(int(meta["resourceVersion"]) + 1)},
                       "status": as_stored(status)}
        return self.stored

    def get_pod(self, namespace: str, name: str) -> dict | None:
        self.reads.append((namespace, name))
        return self.stored

    def finish_pod_deletion(self, pod: dict) -> None:
        self.log.append(("finish_pod_deletion", pod["metadata"]["uid"]))

    def get_config(self, kind: str, namespace: str, name: str) -> dict | None:
        return self.configs.get((kind, namespace, name))


class FakeFiles:
    """The agent's per-pod files, in memory: pod uid -> resolv.conf text."""

    def __init__(self) -> None:
        self.resolv_confs: dict[str, str] = {}

    def write_resolv_conf(self, pod_uid: str, text: str) -> Path:
        self.resolv_confs[pod_uid] = text
        return Path("/state/pods", pod_uid, "resolv.conf")

    def remove(self, pod_uid: str) -> None:
        self.resolv_confs.pop(pod_uid, None)


class FakeEvents:
    """EventRecorder's pod side: (reason, message, container) in the order recorded."""

    def __init__(self) -> None:
        self.recorded: list[tuple[Ev, str, str | None]] = []
        self.forgotten: list[str] = []

    def pod(self, pod: dict, reason: Ev, message: str, container: str | None = None) -> None:
        self.recorded.append((reason, message, container))

    def forget(self, uid: str) -> None:
        self.forgotten.append(uid)

    def of(self, reason: Ev) -> list[str]:
        return [message for r, message, _ in self.recorded if r is reason]


class FakeProber:
    """Every container ready; the liveness verdicts (``failing``) and ``pre_stop_failure`` are set by
    the test; a preStop hook takes ``pre_stop_takes`` seconds of the clock."""

    def __init__(self, clock: Clock, log: list) -> None:
        self.clock, self.log = clock, log
        self.failing: dict[str, str] = {}
        self.pre_stop_failure: str | None = None
        self.pre_stop_takes = 0.0
        self.started_calls: list[tuple[str, str, str]] = []
        self.forgotten: list[str] = []

    def update(self, pod_uid: str, pod: dict, observed: ObservedPod) -> None:
        pass  # no probe workers to keep

    def started(self, pod_uid: str, pod: dict, container: str, container_id: str, pod_ip: str) -> None:
        self.started_calls.append((container, container_id, pod_ip))

    def ready(self, pod_uid: str, container: str) -> bool:
        return True

    def startup_done(self, pod_uid: str, container: str) -> bool:
        return True

    def unhealthy(self, pod_uid: str, observed: ObservedPod) -> dict[str, str]:
        return dict(self.failing)

    def pre_stop(self, pod: dict, container_spec: dict, container_id: str, deadline: float) -> str | None:
        self.log.append(("pre_stop", container_id, deadline - self.clock.monotonic()))
        self.clock.advance(self.pre_stop_takes)
        return self.pre_stop_failure

    def forget(self, pod_uid: str) -> None:
        self.forgotten.append(pod_uid)


class Node:
    """One pod worker wired to the fakes; ``log`` is every step done to Docker, every preStop hook
    and the pod's final deletion, in order."""

    def __init__(self, clock: Clock, pod: dict, images=(PAUSE, IMAGE)) -> None:
        self.clock = clock
        self.log: list[tuple] = []
        self.runtime = FakeRuntime(CTX.owner, images=images, registry=REGISTRY, networks=(NETWORK,),
                                   now=clock.utcnow, log=self.log)
        self.api = FakeApi(self.log)
        self.events = FakeEvents()
        self.prober = FakeProber(clock, self.log)
        self.files = FakeFiles()
        self.exits: list[str] = []
        self.worker = PodWorker(UID, pod, config=CONFIG, ctx=CTX, runtime=self.runtime, api=self.api,
                                events=self.events, prober=self.prober,
                                addresses=PodAddresses(POD_CIDR, lambda: self.runtime.network_addresses("dy-net")),
                                files=self.files,
                                on_exit=lambda uid, worker: self.exits.append(uid))

    @property
    def pod(self) -> dict | None:
        """The pod as the worker knows it (its own status writes included), as its loop reads it."""
        return self.worker._pod

    def sync(self) -> float:
        return self.worker.sync(self.pod)

    def latest(self, name: str) -> ObservedContainer:
        """The newest instance of container ``name`` of the pod."""
        found = self.runtime.observe_pod(UID).latest(name)
        assert found is not None, f"no container {name} in Docker"
        return found

    def crash(self, name: str, code: int) -> None:
        """The newest instance of ``name`` exits on its own (a crash, or a dead pause container)."""
        self.runtime.exit(self.latest(name).id, code)

    def app_status(self, name: str = "app") -> dict:
        return next(s for s in self.api.writes[-1]["containerStatuses"] if s["name"] == name)

    def waiting(self, name: str = "app") -> dict | None:
        return self.app_status(name)["state"].get("waiting")

    def run_thread(self) -> None:
        self.worker.start()
        self.worker.thread.join(5)
        assert not self.worker.thread.is_alive(), "the pod worker did not finish"


@pytest.fixture
def clock(monkeypatch, tmp_path) -> Clock:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the pod network's creation lock file
    clock = Clock()
    monkeypatch.setattr(pod_worker, "utc_now", clock.utcnow)
    monkeypatch.setattr(pod_worker, "time", SimpleNamespace(monotonic=clock.monotonic))
    return clock


def container(name: str = "app", image: str = IMAGE, **extra) -> dict:
    return {"name": name, "image": image, **extra}


def make_pod(*containers: dict, **spec) -> dict:
    manifest = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "web", "namespace": "shop", "uid": UID, "resourceVersion": "10"},
                "spec": {"nodeName": "node-1", "containers": list(containers) or [container()], **spec}}
    return apply_defaults(kind_for("v1", "Pod"), manifest)


def changed(pod: dict, **metadata) -> dict:
    """A newer version of ``pod`` (as a watch would bring it), with ``metadata`` merged in."""
    newer = copy.deepcopy(pod)
    newer["metadata"].update(metadata, resourceVersion=str(int(pod["metadata"]["resourceVersion"]) + 1))
    return newer


# ── starting ─────────────────────────────────────────────────────────────────────────────────

def test_a_new_pod_gets_volumes_then_a_sandbox_then_its_container_pulled_created_and_started(clock):
    pod = make_pod(volumes=[{"name": "cache", "emptyDir": {}}, {"name": "scratch", "emptyDir": {"medium": "Memory"}}])
    node = Node(clock, pod, images=(PAUSE,))

    assert node.sync() == CONFIG.status_interval  # all done: the next unprompted pass is the safety net

    sandbox, app = node.latest(SANDBOX), node.latest("app")
    assert node.log == [
        ("ensure_volume", volume_name(UID, "cache"), False), ("ensure_volume", volume_name(UID, "scratch"), True),
        ("networks", "dy-net"), ("create_sandbox", node.runtime.specs[sandbox.id].name),  # pause present: no pull
        ("pull", IMAGE), ("create", node.runtime.specs[app.id].name), ("start", app.id)]
    assert node.runtime.specs[app.id].sandbox_id == sandbox.id
    assert (app.attempt, app.backoff_streak, app.running) == (0, 0, True)
    reasons = [(reason, container) for reason, _, container in node.events.recorded]
    assert reasons == [(Ev.PULLING, "app"), (Ev.PULLED, "app"), (Ev.CREATED, "app"), (Ev.STARTED, "app")]
    assert node.events.of(Ev.PULLING) == [f'Pulling image "{IMAGE}"']
    assert node.events.of(Ev.PULLED)[0].startswith(f'Successfully pulled image "{IMAGE}" in ')
    assert node.events.of(Ev.CREATED) == ["Created container app"]
    assert node.events.of(Ev.STARTED) == ["Started container app"]
    assert node.prober.started_calls == [("app", app.id, POD_IP)]
    [status] = node.api.writes
    assert (status["phase"], status["podIP"]) == ("Running", POD_IP)
    assert node.app_status()["state"]["running"] and node.app_status()["containerID"] == f"docker://{app.id}"


def test_an_unchanged_second_pass_does_nothing_and_writes_no_status(clock):
    node = Node(clock, make_pod())
    node.sync()
    done, recorded = len(node.log), len(node.events.recorded)
    assert node.pod["status"] != node.api.writes[0]  # the server dropped the empty values (lastState: {})

    clock.advance(3)
    node.sync()

    assert node.log[done:] == [] and node.events.recorded[recorded:] == []
    assert len(node.api.writes) == 1


def test_if_not_present_uses_the_image_on_the_node(clock):
    node = Node(clock, make_pod(container(imagePullPolicy="IfNotPresent")))
    node.sync()

    assert not [step for step in node.log if step[0] == "pull"]
    assert node.events.of(Ev.PULLED) == [f'Container image "{IMAGE}" already present on machine']
    assert node.latest("app").running


def test_never_without_the_image_waits_with_err_image_never_pull_and_pulls_nothing(clock):
    node = Node(clock, make_pod(container(imagePullPolicy="Never")), images=(PAUSE,))
    node.sync()

    message = f'Container image "{IMAGE}" is not present with pull policy of Never'
    assert node.events.recorded == [(Ev.ERR_IMAGE_NEVER_PULL, message, "app")]
    assert not [step for step in node.log if step[0] in ("pull", "create")]
    assert node.waiting() == {"reason": Why.ERR_IMAGE_NEVER_PULL.value, "message": message}
    assert node.api.writes[-1]["phase"] == "Pending"


def test_never_with_the_image_present_says_it_is_already_there(clock):
    node = Node(clock, make_pod(container(imagePullPolicy="Never")))
    node.sync()

    assert node.latest("app").running
    assert node.events.of(Ev.PULLED) == [f'Container image "{IMAGE}" already present on machine']


def test_always_with_no_registry_falls_back_to_the_copy_on_the_node_with_a_warning(clock):
    node = Node(clock, make_pod(container(image="nginx:latest")), images=(PAUSE, "nginx:latest"))
    node.runtime.registry.discard("nginx:latest")
    node.sync()

    assert [step for step in node.log if step[0] == "pull"] == [("pull", "nginx:latest")]
    assert [reason for reason, _, _ in node.events.recorded] == [Ev.PULLING, Ev.USING_LOCAL_IMAGE, Ev.CREATED,
                                                                   Ev.STARTED]
    assert node.events.of(Ev.USING_LOCAL_IMAGE) == [
        f'Failed to pull image "nginx:latest": {NO_REGISTRY}; using the copy already on this node']
    assert node.latest("app").running and node.api.writes[-1]["phase"] == "Running"


def test_a_failed_pull_shows_err_image_pull_then_image_pull_back_off_then_is_retried(clock):
    node = Node(clock, make_pod(), images=(PAUSE,))
    node.runtime.registry.discard(IMAGE)
    pull_error = f'Failed to pull image "{IMAGE}": {NO_REGISTRY}'

    assert node.sync() == 2.0  # wake when ErrImagePull turns into ImagePullBackOff
    assert node.events.recorded == [(Ev.PULLING, f'Pulling image "{IMAGE}"', "app"), (Ev.FAILED, pull_error, "app"),
                                    (Ev.FAILED, "Error: ErrImagePull", "app")]
    assert node.waiting() == {"reason": Why.ERR_IMAGE_PULL.value, "message": pull_error}
    assert node.api.writes[-1]["phase"] == "Pending"

    clock.advance(1)
    node.sync()  # inside the back-off: no pull, nothing new to say
    assert len([step for step in node.log if step[0] == "pull"]) == 1 and len(node.api.writes) == 1

    clock.advance(1)
    node.sync()
    back_off = f'Back-off pulling image "{IMAGE}"'
    assert node.waiting() == {"reason": Why.IMAGE_PULL_BACK_OFF.value, "message": back_off}
    assert node.events.recorded[-1] == (Ev.BACK_OFF, back_off, "app")
    clock.advance(1)
    node.sync()
    assert node.events.of(Ev.BACK_OFF) == [back_off]  # announced once, not on every pass

    clock.advance(2)  # the image back-off (5 s) is over; the registry is back
    node.runtime.registry.add(IMAGE)
    node.sync()
    assert len([step for step in node.log if step[0] == "pull"]) == 2
    assert node.latest("app").running and node.app_status()["state"]["running"]


def test_every_image_pull_back_off_period_is_announced(clock):
    node = Node(clock, make_pod(), images=(PAUSE,))
    node.runtime.registry.discard(IMAGE)
    node.sync()
    clock.advance(2)
    node.sync()   # first ImagePullBackOff
    clock.advance(3)
    node.sync()   # retried after 5 s: fails again, ErrImagePull
    clock.advance(2)
    node.sync()   # second ImagePullBackOff

    assert node.waiting()["reason"] == Why.IMAGE_PULL_BACK_OFF.value
    assert len(node.events.of(Ev.BACK_OFF)) == 2


def test_an_unparsable_image_name_is_an_invalid_image_name_and_nothing_is_pulled_or_made(clock):
    node = Node(clock, make_pod(container(image="Busybox:1.36")))
    node.sync()

    message = ('Failed to apply default image tag "Busybox:1.36": couldn\'t parse image reference: '
               'invalid reference format')
    assert node.waiting() == {"reason": Why.INVALID_IMAGE_NAME.value, "message": message}
    assert node.events.recorded[-1] == (Ev.FAILED, "Error: InvalidImageName", "app")
    assert not [step for step in node.log if step[0] in ("pull", "create")]


@pytest.mark.parametrize("knob, reason, message", [
    ("create_error", Why.CREATE_CONTAINER_ERROR, "Error: invalid mount config for type \"bind\""),
    ("start_error", Why.RUN_CONTAINER_ERROR, 'Error: failed to start container: exec: "serve": not found'),
])
def test_a_runtime_failure_becomes_its_waiting_reason_and_is_retried_after_the_back_off(clock, knob, reason, message):
    node = Node(clock, make_pod())
    setattr(node.runtime, knob, message)
    node.sync()

    assert node.waiting() == {"reason": reason.value, "message": message}
    assert node.events.recorded[-1] == (Ev.FAILED, f"Error: {reason.value}", "app")
    attempts = len([step for step in node.log if step[0] == "create"])

    clock.advance(4)
    node.sync()
    assert len([step for step in node.log if step[0] == "create"]) == attempts  # still backing off

    node.runtime.create_error = node.runtime.start_error = None
    clock.advance(1)
    node.sync()
    assert node.app_status()["state"]["running"]
    assert len(node.runtime.observe_pod(UID).instances("app")) == 1  # a created-but-never-started one is removed


def test_a_missing_config_map_is_a_create_container_config_error_until_it_exists(clock):
    env = [{"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "color"}}}]
    node = Node(clock, make_pod(container(env=env)))
    node.sync()

    assert node.waiting() == {"reason": Why.CREATE_CONTAINER_CONFIG_ERROR.value,
                              "message": 'configmap "settings" not found'}
    assert node.events.recorded[-1] == (Ev.FAILED, "Error: CreateContainerConfigError", "app")
    assert not [step for step in node.log if step[0] == "create"]

    node.api.configs[("ConfigMap", "shop", "settings")] = {"data": {"color": "blue"}}
    clock.advance(5)
    node.sync()
    app = node.latest("app")
    assert app.running and node.runtime.specs[app.id].env == {"COLOR": "blue"}


# ── the sandbox ──────────────────────────────────────────────────────────────────────────────

def test_a_sandbox_failure_is_reported_and_retried_at_a_doubling_pace(clock):
    failure = "Failed to start pod sandbox: port is already allocated"
    node = Node(clock, make_pod())
    node.runtime.sandbox_error = failure

    assert node.sync() == 2.0  # the next pass when the sandbox back-off is over
    assert node.events.recorded == [(Ev.FAILED_CREATE_SANDBOX, failure, None)]
    assert node.waiting() == {"reason": Why.CONTAINER_CREATING.value, "message": failure}
    assert node.api.writes[-1]["phase"] == "Pending"

    def tries() -> int:
        return len([step for step in node.log if step[0] == "create_sandbox"])

    clock.advance(1.9)
    assert node.sync() == pytest.approx(0.1)
    assert (tries(), len(node.events.recorded), len(node.api.writes)) == (1, 1, 1)
    clock.advance(0.1)  # 2 s after the first failure
    assert node.sync() == 4.0
    assert tries() == 2 and len(node.events.of(Ev.FAILED_CREATE_SANDBOX)) == 2
    clock.advance(3.9)
    node.sync()
    assert tries() == 2  # 4 s after the second
    node.runtime.sandbox_error = None
    clock.advance(0.1)
    node.sync()
    assert tries() == 3 and node.latest("app").running and node.api.writes[-1]["phase"] == "Running"


# ── the pod's address and resolv.conf ────────────────────────────────────────────────────────

def test_the_sandbox_gets_the_lowest_address_of_the_node_block_that_nobody_holds(clock):
    node = Node(clock, make_pod())
    node.runtime.foreign_addresses = {"10.244.1.2", "10.244.1.4", "10.244.2.3"}
    node.sync()

    sandbox = node.latest(SANDBOX)
    assert node.runtime.specs[sandbox.id].ipv4_address == "10.244.1.3"
    assert node.api.writes[-1]["podIP"] == "10.244.1.3"


def test_an_address_docker_refuses_is_skipped_for_the_next(clock):
    node = Node(clock, make_pod())
    node.runtime.taken_behind_our_back = {"10.244.1.2"}
    node.sync()

    assert [step[0] for step in node.log].count("create_sandbox") == 2
    assert node.api.writes[-1]["podIP"] == "10.244.1.3"
    assert not node.events.of(Ev.FAILED_CREATE_SANDBOX)


def test_a_full_pod_cidr_is_a_sandbox_failure_that_says_what_to_do(clock):
    node = Node(clock, make_pod())
    node.runtime.foreign_addresses = {f"10.244.1.{host}" for host in range(2, 255)}
    node.sync()

    [message] = node.events.of(Ev.FAILED_CREATE_SANDBOX)
    assert message.startswith("no free pod IP in this node's pod CIDR 10.244.1.0/24: all 253 addresses are in use")
    assert "--node-cidr-mask-size" in message
    assert node.waiting() == {"reason": Why.CONTAINER_CREATING.value, "message": message}
    assert not [step for step in node.log if step[0] == "create_sandbox"]


def test_every_app_container_mounts_the_pods_rendered_resolv_conf(clock):
    node = Node(clock, make_pod(container("app"), container("sidecar")))
    node.sync()

    assert node.files.resolv_confs[UID] == ("search shop.svc.cluster.local svc.cluster.local cluster.local lab.example\n"
                                            "nameserver 10.96.0.10\noptions ndots:5\n")
    for name in ("app", "sidecar"):
        mounts = node.runtime.specs[node.latest(name).id].mounts
        assert MountSpec("/etc/resolv.conf", f"/state/pods/{UID}/resolv.conf", MountKind.BIND, False) in mounts


def test_dns_policy_default_without_dns_config_keeps_dockers_resolv_conf(clock):
    node = Node(clock, make_pod(dnsPolicy="Default"))
    node.sync()

    assert UID not in node.files.resolv_confs
    assert node.runtime.specs[node.latest("app").id].mounts == ()


def test_a_pause_image_that_cannot_be_pulled_is_a_sandbox_failure(clock):
    node = Node(clock, make_pod(), images=())
    node.runtime.registry.discard(PAUSE)
    node.sync()

    pull_error = f'Failed to pull image "{PAUSE}": {NO_REGISTRY}'
    assert (Ev.FAILED_CREATE_SANDBOX, pull_error, None) in node.events.recorded
    assert not node.events.of(Ev.PULLING)  # the pause image is the node's business: pulled quietly
    assert node.waiting() == {"reason": Why.CONTAINER_CREATING.value, "message": pull_error}


def test_a_dead_sandbox_is_rebuilt_and_its_containers_restarted_in_it(clock):
    node = Node(clock, make_pod())
    node.sync()
    old_sandbox, old_app = node.latest(SANDBOX), node.latest("app")
    node.crash(SANDBOX, 2)
    mark, recorded = len(node.log), len(node.events.recorded)

    node.sync()

    new_sandbox, new_app = node.latest(SANDBOX), node.latest("app")
    assert (new_sandbox.attempt, new_app.attempt) == (1, 1)
    assert node.runtime.specs[new_app.id].sandbox_id == new_sandbox.id
    assert old_sandbox.id not in node.runtime.containers
    assert old_app.id in node.runtime.containers  # kept for kubectl logs --previous
    assert ("stop", old_app.id, 30.0) in node.log[mark:]
    events = node.events.recorded[recorded:]
    assert {events[0][0], events[1][0]} == {Ev.SANDBOX_CHANGED, Ev.KILLING}
    assert (Ev.SANDBOX_CHANGED, "Pod sandbox changed, it will be killed and re-created.", None) in events
    assert (Ev.KILLING, "Stopping container app", "app") in events
    assert [reason for reason, _, _ in events[2:]] == [Ev.PULLED, Ev.CREATED, Ev.STARTED]
    assert node.app_status()["restartCount"] == 1


# ── restarts and kills ───────────────────────────────────────────────────────────────────────

def test_a_crash_loop_back_off_is_announced_once_per_crashed_container(clock):
    node = Node(clock, make_pod())
    node.sync()
    clock.advance(1)
    node.crash("app", 1)
    node.sync()  # the first restart is immediate
    assert node.latest("app").attempt == 1
    clock.advance(1)
    node.crash("app", 1)

    assert node.sync() == 5.0  # next pass when the back-off ends
    announced = f"Back-off restarting failed container app in pod web_shop({UID})"
    assert node.events.of(Ev.BACK_OFF) == [announced]
    assert node.waiting() == {"reason": Why.CRASH_LOOP_BACK_OFF.value,
                              "message": f"back-off 5s restarting failed container=app pod=web_shop({UID})"}
    assert node.app_status()["lastState"]["terminated"]["exitCode"] == 1
    clock.advance(2)
    node.sync()
    assert node.events.of(Ev.BACK_OFF) == [announced]  # the same crash: not again

    clock.advance(3)
    node.sync()
    assert node.latest("app").attempt == 2 and node.app_status()["state"]["running"]
    clock.advance(1)
    node.crash("app", 1)
    node.sync()
    assert node.events.of(Ev.BACK_OFF) == [announced, announced]  # a new crash: announced again
    assert "back-off 10s" in node.waiting()["message"]


def test_a_failed_liveness_probe_kills_with_the_probe_message_and_the_full_grace(clock):
    node = Node(clock, make_pod(terminationGracePeriodSeconds=3))
    node.sync()
    first = node.latest("app")
    why = "Container app failed liveness probe, will be restarted"
    node.prober.failing = {"app": why}
    mark = len(node.log)

    node.sync()
    assert node.events.recorded[-1] == (Ev.KILLING, why, "app")
    assert node.log[mark:] == [("pre_stop", first.id, 3.0), ("stop", first.id, 3.0)]

    node.prober.failing = {}
    node.sync()
    assert node.latest("app").attempt == 1 and node.app_status()["restartCount"] == 1


def test_a_changed_container_spec_is_announced_as_such(clock):
    node = Node(clock, make_pod(), images=(PAUSE, IMAGE, "busybox:1.37"))
    node.sync()
    edited = changed(node.pod)
    edited["spec"]["containers"] = [container(image="busybox:1.37")]
    node.worker.update(edited)

    node.sync()
    assert node.latest("app").image == "busybox:1.37"
    assert (Ev.KILLING, "Container app definition changed, will be restarted", "app") in node.events.recorded


# ── deletion ─────────────────────────────────────────────────────────────────────────────────

def deleting(pod: dict, grace: int) -> dict:
    return changed(pod, deletionTimestamp="2025-03-01T12:00:30Z", deletionGracePeriodSeconds=grace)


def test_deletion_runs_pre_stop_then_stops_with_the_grace_left_then_removes_everything(clock):
    node = Node(clock, make_pod())
    node.sync()
    sandbox, app = node.latest(SANDBOX), node.latest("app")
    node.prober.pre_stop_takes = 3.0
    mark = len(node.log)

    node.worker._terminate(deleting(node.pod, grace=8))

    assert node.log[mark:] == [
        ("pre_stop", app.id, 8.0), ("stop", app.id, 5.0),  # the hook used 3 of the 8 seconds
        ("stop", sandbox.id, 0), ("remove", app.id), ("remove", sandbox.id),
        ("remove_pod_volumes", UID), ("finish_pod_deletion", UID)]
    assert node.runtime.containers == {}
    assert node.files.resolv_confs == {}
    assert node.events.recorded[-1] == (Ev.KILLING, "Stopping container app", "app")
    assert node.events.forgotten == [UID]


def test_the_containers_of_a_deleted_pod_are_stopped_side_by_side(clock):
    node = Node(clock, make_pod(container("app"), container("sidecar")))
    node.sync()
    node.runtime.overlap = threading.Barrier(2, timeout=2)  # a one-by-one stop would wait here in vain

    node.worker._terminate(deleting(node.pod, grace=5))

    assert not node.runtime.overlap.broken
    assert node.runtime.containers == {} and node.log[-1] == ("finish_pod_deletion", UID)


def test_a_failed_pre_stop_hook_is_an_event_and_the_container_is_stopped_anyway(clock):
    node = Node(clock, make_pod())
    node.sync()
    app = node.latest("app")
    node.prober.pre_stop_failure = 'PreStopHook failed: exec: "drain": not found'

    node.worker._terminate(deleting(node.pod, grace=4))

    assert node.events.recorded[-1] == (Ev.FAILED_PRE_STOP_HOOK, 'PreStopHook failed: exec: "drain": not found', "app")
    assert ("stop", app.id, 4.0) in node.log and ("finish_pod_deletion", UID) in node.log


def test_the_worker_thread_ends_after_deleting_the_pod(clock):
    node = Node(clock, make_pod())
    node.sync()
    node.worker.update(deleting(node.pod, grace=2))

    node.run_thread()

    assert node.runtime.containers == {} and node.log[-1] == ("finish_pod_deletion", UID)
    assert node.exits == [UID] and node.prober.forgotten == [UID]


def test_a_host_network_pod_takes_no_pod_ip_and_reports_its_nodes(clock):
    node = Node(clock, make_pod(hostNetwork=True))
    node.sync()
    made = node.runtime.specs[node.latest(SANDBOX).id]
    assert (made.host_network, made.ipv4_address) == (True, None)
    assert node.runtime.network_addresses("dy-net") == set()
    assert node.api.writes[-1]["podIP"] == CTX.node_ip
    assert node.prober.started_calls == [("app", node.latest("app").id, CTX.node_ip)]


# ── ephemeral containers (kubectl debug) ─────────────────────────────────────────────────────

def debugged(pod: dict, *debuggers: dict) -> dict:
    """``pod`` as the watch brings it after ``kubectl debug`` patched the ephemeralcontainers subresource."""
    newer = changed(pod)
    newer["spec"]["ephemeralContainers"] = [{"imagePullPolicy": "IfNotPresent", "terminationMessagePolicy": "File",
                                             **d} for d in debuggers]
    return newer


def test_a_debug_container_starts_in_its_targets_pid_namespace_once_and_goes_with_the_pod(clock):
    node = Node(clock, make_pod())
    node.sync()
    app = node.latest("app")
    node.worker.update(debugged(node.pod, container("dbg", targetContainerName="app", stdin=True, tty=True)))
    mark = len(node.log)

    node.sync()

    dbg = node.latest("dbg")
    assert node.log[mark:] == [("create", node.runtime.specs[dbg.id].name), ("start", dbg.id)]
    made = node.runtime.specs[dbg.id]
    assert (made.sandbox_id, made.pid_target) == (node.latest(SANDBOX).id, app.id)
    assert (made.stdin_open, made.tty) == (True, True)
    assert node.prober.started_calls == [("app", app.id, POD_IP)]  # nothing to probe in a debug container
    assert (Ev.STARTED, "Started container dbg", "dbg") in node.events.recorded
    [debugging] = node.api.writes[-1]["ephemeralContainerStatuses"]
    assert (debugging["name"], list(debugging["state"]), debugging["ready"]) == ("dbg", ["running"], False)

    node.crash("dbg", 0)  # `exit` in the debug shell
    mark = len(node.log)
    node.sync()
    clock.advance(60)
    node.sync()

    assert node.log[mark:] == []  # never started again
    assert node.api.writes[-1]["ephemeralContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"

    node.worker._terminate(deleting(node.pod, grace=5))
    assert node.runtime.containers == {}


def test_a_debug_container_whose_image_cannot_be_pulled_waits_and_the_pod_stays_ready(clock):
    node = Node(clock, make_pod())
    node.sync()
    node.worker.update(debugged(node.pod, container("dbg", image="nosuch:1")))

    node.sync()

    [debugging] = node.api.writes[-1]["ephemeralContainerStatuses"]
    assert debugging["state"]["waiting"]["reason"] == Why.ERR_IMAGE_PULL.value
    assert node.api.writes[-1]["phase"] == "Running"
    assert {c["type"]: c["status"] for c in node.api.writes[-1]["conditions"]}["Ready"] == "True"


# ── status writes ────────────────────────────────────────────────────────────────────────────

def test_a_conflict_on_the_status_write_reads_the_pod_again(clock):
    node = Node(clock, make_pod())
    fresh = changed(make_pod(), labels={"tier": "web"})
    node.api.reject, node.api.stored = [409], fresh

    node.sync()
    assert node.api.reads == [("shop", "web")] and node.api.writes == []
    assert node.pod == fresh and node.worker._wake.is_set()  # the next pass comes at once, on the fresh pod

    node.sync()
    assert len(node.api.writes) == 1 and node.pod["metadata"]["resourceVersion"] == "12"


def test_a_conflict_with_a_new_pod_of_the_same_name_lets_ours_go(clock):
    node = Node(clock, make_pod())
    node.api.reject = [409]
    node.api.stored = changed(make_pod(), uid="0b7e2c55-1111-4a7e-8f00-3d2c1b0a9f88")

    node.sync()
    assert node.pod is None


def test_a_pod_gone_from_the_api_is_stopped_with_the_grace_its_labels_recorded_and_not_deleted_again(clock):
    node = Node(clock, make_pod(terminationGracePeriodSeconds=12))
    node.api.reject = [404]  # deleted meanwhile: the status write finds no pod
    node.sync()
    assert node.pod is None
    sandbox, app = node.latest(SANDBOX), node.latest("app")
    mark, recorded = len(node.log), len(node.events.recorded)

    node.run_thread()

    # No pod left to read hooks from: plain stops, with the grace period the labels recorded;
    # the pause container, which holds nothing to save, last and at once.
    steps = node.log[mark:]
    assert steps[:2] == [("stop", app.id, 12.0), ("stop", sandbox.id, 0)]
    assert set(steps[2:4]) == {("remove", sandbox.id), ("remove", app.id)}
    assert steps[4:] == [("remove_pod_volumes", UID)]
    assert node.events.recorded[recorded:] == [] and node.runtime.containers == {}
    assert node.exits == [UID] and node.prober.forgotten == [UID]


def test_a_pod_gone_from_the_api_has_its_containers_stopped_side_by_side(clock):
    node = Node(clock, make_pod(container("app"), container("sidecar")))
    node.sync()
    node.runtime.overlap = threading.Barrier(2, timeout=0.5)

    node.worker._terminate(None)

    assert not node.runtime.overlap.broken


def test_other_rejections_of_a_status_write_reach_the_loop(clock):
    node = Node(clock, make_pod())
    node.api.reject = [422]

    with pytest.raises(ApiRejected):
        node.sync()
