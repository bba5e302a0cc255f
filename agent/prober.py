"""What the pod worker needs from probes and lifecycle hooks, as one small protocol.

The pod worker asks: is this container ready, did its liveness or startup probe give up, and
please run its preStop hook. :class:`Prober` is that seam; the real implementation wraps the probe
workers of :mod:`agent.probes` and the hook runner of :mod:`agent.hooks`, and unit tests of the
worker's logic can pass a fake.
"""

from __future__ import annotations

from typing import Protocol

from agent.observed import ObservedPod


class Prober(Protocol):
    def update(self, pod_uid: str, pod: dict, observed: ObservedPod) -> None:
        """Start, keep or stop probe workers to match the running containers."""

    def started(self, pod_uid: str, pod: dict, container: str, container_id: str, pod_ip: str) -> None:
        """A container was just started: run its postStart hook, arm its probes."""

    def ready(self, pod_uid: str, container: str) -> bool:
        """Readiness of the running container (True once running when it has no readiness probe)."""

    def startup_done(self, pod_uid: str, container: str) -> bool:
        """The running container's startup probe has passed (True when it has none)."""

    def unhealthy(self, pod_uid: str, observed: ObservedPod) -> dict[str, str]:
        """Container name → why its liveness/startup probe gave up on the running instance."""

    def pre_stop(self, pod: dict, container_spec: dict, container_id: str, deadline: float) -> str | None:
        """Run the preStop hook before ``deadline`` (monotonic); the failure message, if any."""

    def forget(self, pod_uid: str) -> None:
        """The pod is gone: stop its probe workers."""
