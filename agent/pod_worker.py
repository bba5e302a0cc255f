"""One thread per pod: observe, plan, apply, report — until the pod is gone.

Each pass of :meth:`PodWorker.sync` is level-triggered: it re-reads the pod's containers from
Docker (labels and state), asks the pure planner (:func:`agent.sync.compute_pod_actions`) for the
next steps, carries them out here, and writes the status (:func:`agent.status.compute_pod_status`)
when it changed. A pass is woken by a change of the pod in the API, a Docker event of one of its
containers (``die`` reaches us within milliseconds), a probe result, or the end of a back-off;
otherwise it runs every ``status_interval`` as a safety net. One pod's slow image pull or stuck
stop never delays another pod: each has its own thread.

Deletion follows Kubernetes' graceful path: preStop hooks, then SIGTERM, then SIGKILL when the
grace period runs out, all containers in parallel; only when nothing of the pod is left in Docker
does the agent remove the pod from the API (grace period 0 with a uid precondition).

A new sandbox gets the lowest free address of the node's pod CIDR (:mod:`agent.network.ipam`);
every app container gets the pod's resolv.conf (:mod:`agent.podfiles`), written before it is made.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from orchestrator.api.containers import ImagePullPolicy
from orchestrator.api.pod import ContainerWaitingReason
from orchestrator.api.timestamps import utc_now

from agent.apiclient import ApiClient, ApiRejected, ApiUnavailable
from agent.config import AgentConfig
from agent.container_config import (
    ConfigError, PodContext, build_container, build_sandbox, decode_data, pod_volumes,
)
from agent.events import EventReason, EventRecorder
from agent.network.ipam import PodAddresses, PodCIDRFull
from agent.network.podnet import ensure_pod_network
from agent.network.resolvconf import pod_resolv_conf
from agent.observed import ObservedContainer, ObservedPod, RuntimeState
from agent.podfiles import PodFiles
from agent.prober import Prober
from agent.runtime.errors import (
    ContainerRuntimeError, CreateFailed, ImageNotPresent, ImagePullFailed, InvalidImageName, StartFailed,
)
from agent.runtime.protocol import Runtime
from agent.status import compute_pod_status
from agent.sync import Kill, KillReason, PodActions, Start, StartFailure, Waiting, compute_pod_actions

log = logging.getLogger("dockyard.agent.pod")

_FAILURE_REASONS = {
    ImagePullFailed: ContainerWaitingReason.ERR_IMAGE_PULL,
    ImageNotPresent: ContainerWaitingReason.ERR_IMAGE_NEVER_PULL,
    InvalidImageName: ContainerWaitingReason.INVALID_IMAGE_NAME,
    ConfigError: ContainerWaitingReason.CREATE_CONTAINER_CONFIG_ERROR,
    CreateFailed: ContainerWaitingReason.CREATE_CONTAINER_ERROR,
    StartFailed: ContainerWaitingReason.RUN_CONTAINER_ERROR,
}


class PodWorker:
    def __init__(self, uid: str, pod: dict | None, *, config: AgentConfig, ctx: PodContext, runtime: Runtime,
                 api: ApiClient, events: EventRecorder, prober: Prober, addresses: PodAddresses, files: PodFiles,
                 on_exit: Callable[[str, PodWorker], None]) -> None:
        self.uid = uid
        self.config, self.ctx, self.runtime, self.api, self.events, self.prober = \
            config, ctx, runtime, api, events, prober
        self.addresses, self.files = addresses, files
        self._pod: dict | None = pod
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._start_failures: dict[str, StartFailure] = {}
        self._sandbox_failure: StartFailure | None = None
        self._backoff_reported: dict[str, str] = {}   # container name -> id whose back-off was announced
        self._on_exit = on_exit
        self.thread = threading.Thread(target=self._run, name=f"pod-{pod['metadata']['name'] if pod else uid[:8]}",
                                       daemon=True)

    # -- the manager's side ------------------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def update(self, pod: dict | None) -> None:
        """A newer version of the pod from the API; ``None`` when it no longer exists there."""
        with self._lock:
            if pod is None or self._pod is None or _newer(pod, self._pod):
                self._pod = pod
        self._wake.set()

    @property
    def pod(self) -> dict | None:
        """The newest version of the pod seen; None once it is gone from the API."""
        with self._lock:
            return self._pod

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """The agent is shutting down: leave the containers running (a restart adopts them)."""
        self._stop.set()
        self._wake.set()

    # -- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.clear()
                with self._lock:
                    pod = self._pod
                try:
                    if pod is None or pod["metadata"].get("deletionTimestamp"):
                        self._terminate(pod)
                        return
                    wait = self.sync(pod)
                except (ApiUnavailable, ContainerRuntimeError) as error:
                    log.warning("pod %s: %s; retrying", self.uid, error)
                    wait = 2.0
                except Exception:  # noqa: BLE001 - one pod's bug must not kill the worker silently
                    log.exception("pod %s: unexpected error; retrying", self.uid)
                    wait = 5.0
                self._wake.wait(wait)
        finally:
            self.prober.forget(self.uid)
            self._on_exit(self.uid, self)

    def sync(self, pod: dict) -> float:
        """One pass; returns seconds until the next unprompted pass."""
        observed, actions = self._plan(pod)
        if not actions.idle:
            applied = self._apply(pod, observed, actions)
            # Look again: the status must show what the steps just did, and the next wake-up
            # must come from the new state (a fresh pull failure, a container that died at once).
            observed, actions = self._plan(pod)
            waiting = {**applied, **actions.waiting}
        else:
            waiting = dict(actions.waiting)
        self._announce_backoffs(pod, observed, waiting)
        self._report(pod, observed, waiting)
        if not actions.idle:
            return 0.05
        wake = actions.wake_in if actions.wake_in is not None else self.config.status_interval
        return max(0.05, min(wake, self.config.status_interval))

    def _plan(self, pod: dict) -> tuple[ObservedPod, PodActions]:
        observed = self.runtime.observe_pod(self.uid)
        self.prober.update(self.uid, pod, observed)
        actions = compute_pod_actions(
            pod, observed, now=utc_now(), backoff=self.config.backoff, image_backoff=self.config.image_backoff,
            sandbox_backoff=self.config.sandbox_backoff, start_failures=self._start_failures,
            sandbox_failure=self._sandbox_failure, unhealthy=self.prober.unhealthy(self.uid, observed))
        return observed, actions

    # -- applying actions --------------------------------------------------------------------

    def _apply(self, pod: dict, observed: ObservedPod, actions: PodActions) -> dict[str, Waiting]:
        waiting: dict[str, Waiting] = {}
        self._kill_all(pod, actions.kill)
        # Leftovers that were never started carry the names the new containers take: they go
        # first. Older dead instances go after the starts, off the path of a restart.
        unstarted = {c.id for c in observed.containers if c.state is RuntimeState.CREATED}
        for container_id in actions.remove:
            if container_id in unstarted:
                self.runtime.remove(container_id)
        self._start_all(pod, observed, actions, waiting)
        for container_id in actions.remove:
            if container_id not in unstarted:
                self.runtime.remove(container_id)
        return waiting

    def _start_all(self, pod: dict, observed: ObservedPod, actions: PodActions, waiting: dict[str, Waiting]) -> None:
        sandbox = observed.sandbox
        if actions.new_sandbox_attempt is not None:
            if sandbox is not None and actions.new_sandbox_attempt > 0:
                self.events.pod(pod, EventReason.SANDBOX_CHANGED, "Pod sandbox changed, it will be killed and re-created.")
            sandbox = self._make_sandbox(pod, actions.new_sandbox_attempt)
        if sandbox is None:
            return  # no sandbox to start them in: the next plan has them wait, saying why
        for start in actions.start:
            result = self._start(pod, sandbox, start)
            if result is not None:
                waiting[start.name] = result

    def _make_sandbox(self, pod: dict, attempt: int) -> ObservedContainer | None:
        """The new sandbox; None when it could not be made (an event says why, and the planner
        holds the next try back by the sandbox back-off)."""
        failure = self._sandbox_failure
        try:
            for name, in_memory in pod_volumes(self.ctx, pod):
                self.runtime.ensure_volume(name, self.uid, in_memory)
            self._ensure_image(pod, self.ctx.pause_image, ImagePullPolicy.IF_NOT_PRESENT.value, None, quiet=True)
            ensure_pod_network(self.runtime, self.ctx.network)  # back if someone removed it meanwhile
            if pod["spec"].get("hostNetwork"):  # the machine's network: no pod IP to take
                sandbox = self.runtime.create_sandbox(build_sandbox(self.ctx, pod, attempt))
            else:
                sandbox = self.addresses.create_with_address(
                    lambda address: self.runtime.create_sandbox(build_sandbox(self.ctx, pod, attempt, address)))
        except (ContainerRuntimeError, PodCIDRFull) as error:
            self.events.pod(pod, EventReason.FAILED_CREATE_SANDBOX, str(error))
            self._sandbox_failure = StartFailure(ContainerWaitingReason.CONTAINER_CREATING, str(error),
                                                 (failure.failures if failure else 0) + 1, utc_now())
            return None
        self._sandbox_failure = None
        return sandbox

    def _start(self, pod: dict, sandbox: ObservedContainer, start: Start) -> Waiting | None:
        group = "ephemeralContainers" if start.ephemeral else "containers"
        container = next(c for c in pod["spec"][group] if c["name"] == start.name)
        pod_ip = self.ctx.node_ip if pod["spec"].get("hostNetwork") else sandbox.ip or ""
        try:
            self._ensure_image(pod, container["image"], container.get("imagePullPolicy"), start.name)
            spec = build_container(self.ctx, pod, container, sandbox_id=sandbox.id, pod_ip=pod_ip,
                                   attempt=start.attempt, streak=start.streak, lookup=self._lookup,
                                   resolv_conf=self._resolv_conf(pod), pid_target=start.pid_target)
            container_id = self.runtime.create_container(spec)
            self.events.pod(pod, EventReason.CREATED, f"Created container {start.name}", start.name)
            self.runtime.start(container_id)
        except (ContainerRuntimeError, ConfigError) as error:
            reason = _FAILURE_REASONS.get(type(error), ContainerWaitingReason.CREATE_CONTAINER_ERROR)
            previous = self._start_failures.get(start.name)
            self._start_failures[start.name] = StartFailure(reason, str(error), (previous.failures if previous else 0) + 1,
                                                            utc_now(), container["image"])
            if reason is not ContainerWaitingReason.ERR_IMAGE_NEVER_PULL:
                self.events.pod(pod, EventReason.FAILED, f"Error: {reason.value}", start.name)
            return Waiting(reason, str(error))
        self._start_failures.pop(start.name, None)
        self.events.pod(pod, EventReason.STARTED, f"Started container {start.name}", start.name)
        if not start.ephemeral:  # no probes, no hooks: nothing for the prober to arm
            self.prober.started(self.uid, pod, start.name, container_id, pod_ip)
        return None

    def _resolv_conf(self, pod: dict) -> str | None:
        """The host path of the pod's resolv.conf, written now; None when the pod keeps Docker's."""
        text = pod_resolv_conf(pod, self.ctx.cluster_network, self.ctx.host_resolv_conf)
        if text is None:
            return None
        try:
            return str(self.files.write_resolv_conf(self.uid, text))
        except OSError as error:
            raise CreateFailed(f"Error: cannot write the pod's resolv.conf: {error}") from None

    def _ensure_image(self, pod: dict, image: str, policy: str | None, container: str | None,
                      quiet: bool = False) -> None:
        """Kubernetes' pull policies. ``Always`` with no registry reachable falls back to the copy
        already on the node, with a warning event — dockyard's one deliberate difference, so
        manifests naming ``:latest`` run offline (Kubernetes would fail with ErrImagePull)."""
        def record(reason: EventReason, message: str) -> None:
            if not quiet:  # the pause image: a failure is told by FailedCreatePodSandBox instead
                self.events.pod(pod, reason, message, container)

        present = self.runtime.image_present(image)
        if policy == ImagePullPolicy.NEVER.value and not present:
            message = f'Container image "{image}" is not present with pull policy of Never'
            record(EventReason.ERR_IMAGE_NEVER_PULL, message)
            raise ImageNotPresent(message)
        if present and policy != ImagePullPolicy.ALWAYS.value:
            record(EventReason.PULLED, f'Container image "{image}" already present on machine')
            return
        record(EventReason.PULLING, f'Pulling image "{image}"')
        started = time.monotonic()
        try:
            self.runtime.pull(image)
        except ImagePullFailed as error:
            if present:
                record(EventReason.USING_LOCAL_IMAGE, f"{error}; using the copy already on this node")
                return
            record(EventReason.FAILED, str(error))
            raise
        record(EventReason.PULLED, f'Successfully pulled image "{image}" in {time.monotonic() - started:.3f}s')

    def _lookup(self, kind: str, namespace: str, name: str) -> dict[str, str] | None:
        obj = self.api.get_config(kind, namespace, name)
        return None if obj is None else decode_data(kind, obj)

    # -- stopping ----------------------------------------------------------------------------

    def _kill_all(self, pod: dict | None, kills: tuple[Kill, ...], grace: float | None = None) -> None:
        """Stop the app containers in parallel (preStop, SIGTERM, SIGKILL after ``grace``), then
        the sandbox. ``pod`` is None for a pod already gone from the API: no hooks, no events."""
        if not kills:
            return
        if grace is None:
            grace = float((pod or {}).get("spec", {}).get("terminationGracePeriodSeconds", 30))
        apps = [k for k in kills if not k.container.is_sandbox]
        with ThreadPoolExecutor(max_workers=max(1, len(apps))) as pool:
            list(pool.map(lambda kill: self._kill(pod, kill, grace), apps))
        for kill in kills:
            if kill.container.is_sandbox:
                self.runtime.stop(kill.container.id, 0)

    def _kill(self, pod: dict | None, kill: Kill, grace: float) -> None:
        container = kill.container
        deadline = time.monotonic() + grace
        if pod is not None:
            explained = kill.reason in (KillReason.UNHEALTHY, KillReason.SPEC_CHANGED)
            message = kill.message if explained else f"Stopping container {container.name}"
            self.events.pod(pod, EventReason.KILLING, message, container.name)
            spec = next((c for c in pod["spec"].get("containers") or [] if c["name"] == container.name), None)
            if spec is not None and container.running:
                failure = self.prober.pre_stop(pod, spec, container.id, deadline)
                if failure:
                    self.events.pod(pod, EventReason.FAILED_PRE_STOP_HOOK, failure, container.name)
        self.runtime.stop(container.id, max(0.0, deadline - time.monotonic()))

    def _terminate(self, pod: dict | None) -> None:
        """The pod is being deleted (or is gone from the API): stop and remove all of it."""
        observed = self.runtime.observe_pod(self.uid)
        if pod is not None:
            grace = float(pod["metadata"].get("deletionGracePeriodSeconds",
                                              pod["spec"].get("terminationGracePeriodSeconds", 30)))
        else:
            grace = float(_label_grace(observed))
        kills = tuple(Kill(c, KillReason.POD_COMPLETED, "") for c in observed.containers if c.running)
        self._kill_all(pod, kills, grace)
        for container in observed.containers:
            self.runtime.remove(container.id)
        self.runtime.remove_pod_volumes(self.uid)
        self.files.remove(self.uid)
        self.events.forget(self.uid)
        if pod is not None:
            self.api.finish_pod_deletion(pod)
        log.info("pod %s (%s) removed", self.uid, pod["metadata"]["name"] if pod else "gone from the API")

    # -- reporting ---------------------------------------------------------------------------

    def _announce_backoffs(self, pod: dict, observed: ObservedPod, waiting: dict[str, Waiting]) -> None:
        for name, why in waiting.items():
            latest = observed.latest(name)
            failure = self._start_failures.get(name)
            # one announcement per back-off: per crashed container, per failed pull
            marker = f"{latest.id if latest else ''}/{failure.failures if failure else 0}"
            if why.reason in (ContainerWaitingReason.CRASH_LOOP_BACK_OFF, ContainerWaitingReason.IMAGE_PULL_BACK_OFF) \
                    and self._backoff_reported.get(name) != f"{why.reason}{marker}":
                self._backoff_reported[name] = f"{why.reason}{marker}"
                meta = pod["metadata"]
                message = (f"Back-off restarting failed container {name} in pod "
                           f"{meta['name']}_{meta.get('namespace')}({self.uid})"
                           if why.reason is ContainerWaitingReason.CRASH_LOOP_BACK_OFF else why.message)
                self.events.pod(pod, EventReason.BACK_OFF, message, name)

    def _report(self, pod: dict, observed: ObservedPod, waiting: dict[str, Waiting]) -> None:
        status = compute_pod_status(pod, observed, waiting, ready=lambda name: self.prober.ready(self.uid, name),
                                    started=lambda name: self.prober.startup_done(self.uid, name),
                                    node_ip=self.ctx.node_ip, now=utc_now())
        if _same_status(pod.get("status") or {}, status):
            return
        try:
            written = self.api.put_pod_status(pod, status)
        except ApiRejected as error:
            if error.code == 404:
                self.update(None)
                return
            if error.code == 409:  # the pod moved on; read it again and report next pass
                fresh = self.api.get_pod(pod["metadata"]["namespace"], pod["metadata"]["name"])
                self.update(fresh if fresh and fresh["metadata"]["uid"] == self.uid else None)
                return
            raise
        with self._lock:  # our own write: remember it without waking ourselves up again
            if self._pod is not None and _newer(written, self._pod):
                self._pod = written


def _newer(candidate: dict, current: dict) -> bool:
    try:
        return int(candidate["metadata"]["resourceVersion"]) >= int(current["metadata"]["resourceVersion"])
    except (KeyError, ValueError):
        return True


def _same_status(old: Mapping[str, object], new: Mapping[str, object]) -> bool:
    """Equal once empty values are ignored (the API server drops nulls and empty maps)."""
    return _pruned(old) == _pruned(new)


def _pruned(value: object) -> object:
    if isinstance(value, Mapping):
        pruned = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _label_grace(observed: ObservedPod) -> int:
    return max((c.grace_seconds for c in observed.containers), default=0)

