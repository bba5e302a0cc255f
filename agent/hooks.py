"""Container lifecycle hooks: ``postStart`` right after a container starts, ``preStop`` before it
is stopped — the kubelet's handler runner (``pkg/kubelet/lifecycle/handlers.go``).

A hook is one of ``exec`` (a command in the container; it fails on a non-zero exit), ``httpGet``
(a GET to the pod, like a probe's; only a request that gets no response fails — the kubelet does
not look at the status code of a hook) or ``sleep`` (wait ``seconds``). ``tcpSocket`` is accepted
by the API for old manifests but cannot run as a hook, in Kubernetes as here.

Hooks run in the caller's thread and are bounded by a ``deadline`` (monotonic seconds): for
``preStop`` the caller gives the pod's grace period, as the kubelet does; ``postStart``, which
Kubernetes waits on without a limit, gets a fixed allowance from the caller (see
:class:`agent.probes.manager.ProbeManager`) so a hung hook cannot wedge the pod's worker — past
it, the hook has failed and the container is killed like after any failed postStart.

:func:`run_hook` returns ``None`` on success, or the kubelet's failure text; the caller records it
as ``hook.failure_reason`` (``FailedPostStartHook`` / ``FailedPreStopHook``) and, after a failed
postStart, kills the container.
"""

from __future__ import annotations

import json
import time
from enum import Enum

from agent.events import EventReason
from agent.handlers import EXEC_TIMED_OUT, HOOK_USER_AGENT, Exec, HandlerError, Target, http_get
from agent.runtime.errors import ContainerRuntimeError


class Hook(str, Enum):
    POST_START = "postStart"
    PRE_STOP = "preStop"

    @property
    def failure_reason(self) -> EventReason:
        return EventReason.FAILED_POST_START_HOOK if self is Hook.POST_START else EventReason.FAILED_PRE_STOP_HOOK


def run_hook(hook: Hook, pod: dict, container: dict, container_id: str, pod_ip: str, exec_in: Exec,
             deadline: float) -> str | None:
    """Run the container's ``hook`` handler, if it has one; the failure message, or ``None``."""
    handler = (container.get("lifecycle") or {}).get(hook.value)
    if not handler:
        return None
    where = f'for Container "{container["name"]}" in Pod "{_pod_ref(pod)}" failed - error:'
    target = Target(container, container_id, pod_ip)
    if handler.get("exec") is not None:
        return _run_exec(handler["exec"].get("command") or [], target, exec_in, deadline, where)
    if handler.get("httpGet") is not None:
        action = handler["httpGet"]
        try:
            http_get(action, target, max(0.0, deadline - time.monotonic()), HOOK_USER_AGENT)
        except HandlerError as error:
            return f"HTTP lifecycle hook ({action.get('path', '/')}) {where} {error}"
        return None
    if handler.get("sleep") is not None:
        seconds = float(handler["sleep"].get("seconds") or 0)
        remaining = max(0.0, deadline - time.monotonic())
        time.sleep(min(seconds, remaining))
        if seconds > remaining:
            return f"Sleep lifecycle hook ({handler['sleep'].get('seconds')}) {where} " \
                   "container terminated before sleep hook finished"
        return None
    kinds = ", ".join(sorted(handler)) or "nothing"
    return (f"Cannot run handler: invalid {hook.value} handler of container {container['name']!r} ({kinds}): "
            "lifecycle hooks run exec, httpGet or sleep")


def _run_exec(command: list, target: Target, exec_in: Exec, deadline: float, where: str) -> str | None:
    argv = [str(arg) for arg in command]
    shown = " ".join(argv)
    if not argv:
        return f"Exec lifecycle hook ([]) {where} the exec action has no command, message: \"\""
    try:
        code, output = exec_in(target.container_id, argv, max(0.0, deadline - time.monotonic()))
    except ContainerRuntimeError as error:
        return f"Exec lifecycle hook ([{shown}]) {where} {error}, message: \"\""
    if code == 0:
        return None
    if code == EXEC_TIMED_OUT:  # the output is the runtime's note, not the command's
        return (f"Exec lifecycle hook ([{shown}]) {where} command '{shown}' did not finish in the time the hook "
                f"is given, message: \"\"")
    return (f"Exec lifecycle hook ([{shown}]) {where} command '{shown}' exited with {code}: {output}, "
            f"message: {json.dumps(output, ensure_ascii=False)}")


def _pod_ref(pod: dict) -> str:
    """The kubelet's ``format.Pod``: ``name_namespace(uid)``."""
    meta = pod["metadata"]
    return f"{meta['name']}_{meta.get('namespace') or 'default'}({meta.get('uid', '')})"
