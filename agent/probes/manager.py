"""The pod worker's :class:`~agent.prober.Prober`: probe workers per running container instance,
and the lifecycle hooks around starting and stopping.

State is keyed by pod uid, then container name, and belongs to one container *instance* (its
Docker id). Every pass of a pod's worker calls :meth:`ProbeManager.update` with what Docker shows
— level-triggered: a running instance without workers gets them (also after an agent restart,
when containers are adopted: the initial delay then counts from Docker's start time), an instance
that stopped or was replaced loses them, and a new instance starts from the initial results. No
result ever carries over from one instance to the next.

Results flow back two ways. Events (``Unhealthy``, ``ProbeWarning``, ``FailedPostStartHook``) go
to ``record`` — :meth:`agent.events.EventRecorder.pod` fits. A change of a published result calls
``wake(pod_uid)`` so the pod's worker reports readiness, or kills an unhealthy container, within
moments instead of at its next periodic pass.

The pod worker asks :meth:`ready` when it writes status and :meth:`unhealthy` when it plans:
a liveness or startup probe that gave up, or a failed postStart hook, makes the planner kill the
instance (the ``Killing`` event carries the kubelet's text from here), and the restart policy and
back-off take it from there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TypeGuard

from agent.events import EventReason
from agent.hooks import Hook, run_hook
from agent.observed import ObservedContainer, ObservedPod
from agent.handlers import CheckResult, Exec, Target
from agent.probes.results import ProbeKind, event_for, kill_message
from agent.probes.worker import ProbeWorker

#: ``(pod, reason, message, container_name)``, as :meth:`agent.events.EventRecorder.pod` takes them
Record = Callable[[dict, EventReason, str, str], None]


@dataclass
class _Instance:
    """The probes and hook outcome of one running container instance."""

    container_id: str
    workers: dict[ProbeKind, ProbeWorker] = field(default_factory=dict)
    post_start_failed: bool = False

    def startup_done(self) -> bool:
        startup = self.workers.get(ProbeKind.STARTUP)
        return startup is None or startup.state.succeeded

    def stop(self, kinds: tuple[ProbeKind, ...] = tuple(ProbeKind)) -> None:
        for kind in kinds:
            if kind in self.workers:
                self.workers[kind].stop()


class ProbeManager:
    """``post_start_timeout`` bounds a postStart hook, which Kubernetes waits on forever: a hook
    still running then has failed (``FailedPostStartHook``) and the container is restarted."""

    def __init__(self, exec_in: Exec, record: Record, wake: Callable[[str], None],
                 post_start_timeout: float = 120.0) -> None:
        self._exec_in, self._record, self._wake = exec_in, record, wake
        self._post_start_timeout = post_start_timeout
        self._lock = threading.Lock()
        self._instances: dict[str, dict[str, _Instance]] = {}   # pod uid -> container name -> instance
        self._pods: dict[str, dict] = {}                        # pod uid -> latest pod object, for events
        self._pod_ips: dict[str, str] = {}

    # -- the pod worker's side ---------------------------------------------------------------

    def update(self, pod_uid: str, pod: dict, observed: ObservedPod) -> None:
        specs = {c["name"]: c for c in pod["spec"].get("containers") or []}
        pod_ip = (observed.sandbox.ip if observed.sandbox else None) or (pod.get("status") or {}).get("podIP") or ""
        stale: list[_Instance] = []
        with self._lock:
            self._pods[pod_uid], self._pod_ips[pod_uid] = pod, pod_ip
            instances = self._instances.setdefault(pod_uid, {})
            for name in list(instances):
                latest = observed.latest(name)
                if name not in specs or not _running(latest) or latest.id != instances[name].container_id:
                    stale.append(instances.pop(name))
            for name, spec in specs.items():
                latest = observed.latest(name)
                if _running(latest) and name not in instances:
                    instances[name] = self._arm(pod_uid, spec, latest.id, pod_ip, self._started_at(latest))
        for instance in stale:
            instance.stop()

    def started(self, pod_uid: str, pod: dict, container: str, container_id: str, pod_ip: str) -> None:
        """Run the postStart hook (in the caller's thread, as the kubelet does), then arm the
        probes; a failed hook is recorded and the instance reported unhealthy instead."""
        spec = next(c for c in pod["spec"]["containers"] if c["name"] == container)
        started_at = time.monotonic()
        failure = run_hook(Hook.POST_START, pod, spec, container_id, pod_ip, self._exec_in,
                           started_at + self._post_start_timeout)
        if failure is not None:
            self._record(pod, Hook.POST_START.failure_reason, failure, container)
        with self._lock:
            self._pods[pod_uid] = pod
            self._pod_ips[pod_uid] = pod_ip or self._pod_ips.get(pod_uid, "")
            instances = self._instances.setdefault(pod_uid, {})
            previous = instances.pop(container, None)
            instances[container] = _Instance(container_id, post_start_failed=True) if failure is not None \
                else self._arm(pod_uid, spec, container_id, pod_ip, started_at)
        if previous is not None:
            previous.stop()
        if failure is not None:
            self._wake(pod_uid)

    def startup_done(self, pod_uid: str, container: str) -> bool:
        with self._lock:
            instance = self._instances.get(pod_uid, {}).get(container)
        return instance is not None and not instance.post_start_failed and instance.startup_done()

    def ready(self, pod_uid: str, container: str) -> bool:
        with self._lock:
            instance = self._instances.get(pod_uid, {}).get(container)
        if instance is None or instance.post_start_failed or not instance.startup_done():
            return False
        readiness = instance.workers.get(ProbeKind.READINESS)
        return readiness is None or readiness.state.succeeded

    def unhealthy(self, pod_uid: str, observed: ObservedPod) -> dict[str, str]:
        with self._lock:
            instances = dict(self._instances.get(pod_uid, {}))
        verdicts: dict[str, str] = {}
        for name, instance in instances.items():
            latest = observed.latest(name)
            if not _running(latest) or latest.id != instance.container_id:
                continue  # the verdict was about an instance that is already gone
            if instance.post_start_failed:
                verdicts[name] = Hook.POST_START.failure_reason.value  # the kubelet's Killing text
                continue
            for kind in (ProbeKind.STARTUP, ProbeKind.LIVENESS):
                worker = instance.workers.get(kind)
                if worker is not None and worker.state.gave_up:
                    verdicts[name] = kill_message(kind, name)
                    break
        return verdicts

    def pre_stop(self, pod: dict, container_spec: dict, container_id: str, deadline: float) -> str | None:
        """Run the preStop hook before ``deadline``. Liveness and startup checks of the instance
        stop first: it is going away, and its shutdown must not read as a failure."""
        uid = pod["metadata"]["uid"]
        with self._lock:
            instance = self._instances.get(uid, {}).get(container_spec["name"])
            pod_ip = self._pod_ips.get(uid) or (pod.get("status") or {}).get("podIP") or ""
        if instance is not None and instance.container_id == container_id:
            instance.stop((ProbeKind.LIVENESS, ProbeKind.STARTUP))
        return run_hook(Hook.PRE_STOP, pod, container_spec, container_id, pod_ip, self._exec_in, deadline)

    def forget(self, pod_uid: str) -> None:
        with self._lock:
            instances = self._instances.pop(pod_uid, {})
            self._pods.pop(pod_uid, None)
            self._pod_ips.pop(pod_uid, None)
        for instance in instances.values():
            instance.stop()

    def stop(self) -> None:
        """The agent is shutting down: stop every worker (containers keep running)."""
        with self._lock:
            uids = list(self._instances)
        for uid in uids:
            self.forget(uid)

    # -- workers -----------------------------------------------------------------------------

    def _arm(self, pod_uid: str, spec: dict, container_id: str, pod_ip: str, started_at: float) -> _Instance:
        instance = _Instance(container_id)
        target = Target(spec, container_id, pod_ip)
        name = spec["name"]

        def on_check(worker: ProbeWorker, check: CheckResult, changed: bool) -> None:
            self._on_check(pod_uid, name, worker, check, changed)

        for kind in ProbeKind:
            probe = spec.get(kind.spec_field)
            if probe:
                instance.workers[kind] = ProbeWorker(kind, probe, target, started_at, exec_in=self._exec_in,
                                                     startup_done=instance.startup_done, on_check=on_check,
                                                     label=f"{name}-{container_id[:12]}")
        for worker in instance.workers.values():
            worker.start()
        return instance

    def _on_check(self, pod_uid: str, container: str, worker: ProbeWorker, check: CheckResult, changed: bool) -> None:
        with self._lock:
            pod = self._pods.get(pod_uid)
            instance = self._instances.get(pod_uid, {}).get(container)
        if instance is None or instance.container_id != worker.target.container_id or pod is None:
            return  # a late answer about an instance the pod has moved past
        event = event_for(worker.kind, check)
        if event is not None:
            self._record(pod, event[0], event[1], container)
        if not changed:
            return
        if worker.kind is ProbeKind.STARTUP and worker.state.succeeded:
            for sibling in instance.workers.values():
                sibling.poke()  # liveness and readiness were waiting for this
        self._wake(pod_uid)

    def _started_at(self, container: ObservedContainer) -> float:
        """Docker's start time on the monotonic clock, so an adopted container's initial delay
        is not counted twice."""
        if container.started_at is None:
            return time.monotonic()
        age = (datetime.now(timezone.utc) - container.started_at).total_seconds()
        return time.monotonic() - max(0.0, age)


def _running(container: ObservedContainer | None) -> TypeGuard[ObservedContainer]:
    return container is not None and container.running
