"""What the agent sees of a pod on its node: plain values built from Docker labels and state.

The runtime adapter (:mod:`agent.runtime.docker_runtime`) turns ``docker inspect`` into these;
everything downstream (the planner in :mod:`agent.sync`, the status in :mod:`agent.status`) works on
them alone, so it is pure and unit-tested without Docker. Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from agent import labels
from agent.labels import SANDBOX


class RuntimeState(str, Enum):
    CREATED = "created"     # made, never started (an agent died between create and start)
    RUNNING = "running"
    EXITED = "exited"
    UNKNOWN = "unknown"     # paused, dead, removing: nothing we start ourselves


@dataclass(frozen=True)
class ObservedContainer:
    id: str
    name: str                       # the container's name in the pod spec, or SANDBOX
    pod_uid: str
    pod_name: str
    pod_namespace: str
    spec_hash: str
    attempt: int                    # restart count when it was created: 0, 1, 2 …
    backoff_streak: int             # quick crashes in a row before this one (see agent.sync)
    state: RuntimeState
    exit_code: int | None = None
    oom_killed: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    image: str = ""                 # the reference it was created from
    image_id: str = ""              # sha256:… of the image
    ip: str | None = None           # the sandbox's address on the cluster network
    grace_seconds: int = 30         # the pod's terminationGracePeriodSeconds when it was created

    @classmethod
    def from_labels(cls, container_id: str, given: Mapping[str, str], state: RuntimeState, *,
                    exit_code: int | None = None, oom_killed: bool = False, started_at: datetime | None = None,
                    finished_at: datetime | None = None, image: str = "", image_id: str = "",
                    ip: str | None = None) -> ObservedContainer:
        """A container as its labels describe it (the agent's memory), with the state the engine
        reports. Labels another program wrote wrong read as zero, never as an error."""
        return cls(
            id=container_id, name=given.get(labels.CONTAINER, ""), pod_uid=given.get(labels.POD_UID, ""),
            pod_name=given.get(labels.POD_NAME, ""), pod_namespace=given.get(labels.POD_NAMESPACE, ""),
            spec_hash=given.get(labels.SPEC_HASH, ""), attempt=_count(given.get(labels.RESTART_COUNT)),
            backoff_streak=_count(given.get(labels.BACKOFF_STREAK)), state=state, exit_code=exit_code,
            oom_killed=oom_killed, started_at=started_at, finished_at=finished_at, image=image, image_id=image_id,
            ip=ip, grace_seconds=_count(given.get(labels.GRACE_PERIOD) or "30"))

    @property
    def is_sandbox(self) -> bool:
        return self.name == SANDBOX

    @property
    def running(self) -> bool:
        return self.state is RuntimeState.RUNNING

    @property
    def exited(self) -> bool:
        return self.state is RuntimeState.EXITED

    def ran_for(self) -> float:
        """Seconds between start and exit (0 if it never ran)."""
        if self.started_at is None or self.finished_at is None:
            return 0.0
        return max(0.0, (self.finished_at - self.started_at).total_seconds())


@dataclass(frozen=True)
class ObservedPod:
    """Every Docker container of one pod on this node, newest attempt first per name."""

    uid: str
    containers: tuple[ObservedContainer, ...] = field(default=())

    def instances(self, name: str) -> list[ObservedContainer]:
        return sorted((c for c in self.containers if c.name == name), key=lambda c: c.attempt, reverse=True)

    def latest(self, name: str) -> ObservedContainer | None:
        found = self.instances(name)
        return found[0] if found else None

    def previous(self, name: str) -> ObservedContainer | None:
        """The instance before the latest: what ``kubectl logs --previous`` shows."""
        found = self.instances(name)
        return found[1] if len(found) > 1 else None

    @property
    def sandbox(self) -> ObservedContainer | None:
        return self.latest(SANDBOX)

    def app_containers(self) -> list[ObservedContainer]:
        return [c for c in self.containers if not c.is_sandbox]


def _count(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0
