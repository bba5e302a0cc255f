"""Events the agent records about pods and its node, in the kubelet's words.

``kubectl describe pod`` shows these at the bottom, so reasons and messages follow the kubelet
(``Pulling``/``Pulled``/``Created``/``Started``/``Killing``/``BackOff``/``Unhealthy``/``Failed`` …).
A repeat of the same (object, reason, message) bumps ``count`` and ``lastTimestamp`` on the event
already written, as Kubernetes' event correlator does, instead of piling up copies — a crash loop
shows ``(x12 over 3m)``, not twelve lines. Recording never raises: an event lost because the API
server is briefly away must not stop a pod from being run.
"""

from __future__ import annotations

import logging
import queue
import threading
from enum import Enum

from orchestrator.api.eventnames import EventNamer
from orchestrator.api.timestamps import now_rfc3339

from agent.apiclient import ApiClient, ApiRejected, ApiUnavailable

log = logging.getLogger("dockyard.agent.events")

COMPONENT = "kubelet"


class EventType(str, Enum):
    NORMAL = "Normal"
    WARNING = "Warning"


class EventReason(str, Enum):
    PULLING = "Pulling"
    PULLED = "Pulled"
    USING_LOCAL_IMAGE = "UsingLocalImage"   # dockyard: pull failed, the node's copy is used
    FAILED = "Failed"                      # pull, create or start failed (with the error)
    BACK_OFF = "BackOff"                   # crash loop or image pull back-off
    ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
    CREATED = "Created"
    STARTED = "Started"
    KILLING = "Killing"
    UNHEALTHY = "Unhealthy"
    PROBE_WARNING = "ProbeWarning"         # a probe passed with a warning (a redirect it did not follow)
    SANDBOX_CHANGED = "SandboxChanged"
    FAILED_CREATE_SANDBOX = "FailedCreatePodSandBox"
    FAILED_PRE_STOP_HOOK = "FailedPreStopHook"
    FAILED_POST_START_HOOK = "FailedPostStartHook"
    FAILED_MOUNT = "FailedMount"
    EXCEEDED_GRACE_PERIOD = "ExceededGracePeriod"
    NODE_STARTING = "Starting"
    NODE_READY = "NodeReady"
    REGISTERED_NODE = "RegisteredNode"
    NETWORKING_DISABLED = "ClusterNetworkingDisabled"  # dockyard: no root, so no proxy/DNS/routes here
    NETWORKING_FAILED = "HostNetworkingFailed"         # dockyard: a step of agent.network.host failed


WARNINGS = frozenset({EventReason.FAILED, EventReason.USING_LOCAL_IMAGE, EventReason.BACK_OFF, EventReason.ERR_IMAGE_NEVER_PULL,
                      EventReason.UNHEALTHY, EventReason.PROBE_WARNING, EventReason.FAILED_CREATE_SANDBOX,
                      EventReason.FAILED_PRE_STOP_HOOK, EventReason.FAILED_POST_START_HOOK, EventReason.FAILED_MOUNT,
                      EventReason.NETWORKING_DISABLED, EventReason.NETWORKING_FAILED})


class EventRecorder:
    """Records in the background: a pod worker hands an event over and goes on with its pod
    (the kubelet's recorder is asynchronous too), so a slow API server never slows a restart.
    One thread writes them, in order, which also keeps the repeat bookkeeping single-threaded."""

    def __init__(self, api: ApiClient, node_name: str) -> None:
        self.api = api
        self.node_name = node_name
        self._seen: dict[tuple, tuple[str, int]] = {}  # (uid, fieldPath, reason, message) -> (name, count)
        self._names = EventNamer()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._drain, name="events", daemon=True)
        self._thread.start()

    def pod(self, pod: dict, reason: EventReason, message: str, container: str | None = None) -> None:
        meta = pod["metadata"]
        involved = {"kind": "Pod", "apiVersion": "v1", "namespace": meta.get("namespace"), "name": meta["name"],
                    "uid": meta["uid"], "resourceVersion": meta.get("resourceVersion")}
        if container:
            involved["fieldPath"] = f"spec.{_container_group(pod, container)}{{{container}}}"
        self._queue.put((self._record, (meta.get("namespace") or "default", meta["name"], involved, reason, message,
                                        now_rfc3339())))

    def node(self, node_uid: str, reason: EventReason, message: str) -> None:
        involved = {"kind": "Node", "apiVersion": "v1", "name": self.node_name, "uid": self.node_name}
        self._queue.put((self._record, ("default", self.node_name, involved, reason, message, now_rfc3339())))

    def forget(self, uid: str) -> None:
        """The pod is gone: its repeat bookkeeping can go too (after its last events are written)."""
        self._queue.put((self._forget, (uid,)))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything handed over so far is written (or given up on)."""
        done = threading.Event()
        self._queue.put((done.set, ()))
        return done.wait(timeout)

    def stop(self) -> None:
        self._queue.put(None)

    def _drain(self) -> None:
        while (item := self._queue.get()) is not None:
            action, args = item
            action(*args)

    def _record(self, namespace: str, name: str, involved: dict, reason: EventReason, message: str,
                now: str) -> None:
        key = (involved.get("uid"), involved.get("fieldPath"), reason, message)
        seen = self._seen.get(key)
        try:
            if seen is not None:
                self.api.patch_event(namespace, seen[0], {"count": seen[1] + 1, "lastTimestamp": now})
                self._seen[key] = (seen[0], seen[1] + 1)
                return
            event_name = self._names.name(name)
            event = {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": event_name, "namespace": namespace},
                "involvedObject": involved, "reason": reason.value, "message": message,
                "type": (EventType.WARNING if reason in WARNINGS else EventType.NORMAL).value,
                "source": {"component": COMPONENT, "host": self.node_name},
                "reportingComponent": COMPONENT, "reportingInstance": self.node_name,
                "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            }
            self.api.create_event(namespace, event)
            self._seen[key] = (event_name, 1)
        except (ApiUnavailable, ApiRejected) as error:
            log.warning("could not record event %s for %s: %s", reason.value, name, error)

    def _forget(self, uid: str) -> None:
        for key in [k for k in self._seen if k[0] == uid]:
            del self._seen[key]


def _container_group(pod: dict, container: str) -> str:
    """Which list of the pod spec names the container, as the kubelet's field paths say
    (``spec.ephemeralContainers{debugger}`` for what ``kubectl debug`` added)."""
    spec = pod.get("spec") or {}
    for group in ("initContainers", "ephemeralContainers"):
        if any(c.get("name") == container for c in spec.get(group) or []):
            return group
    return "containers"
