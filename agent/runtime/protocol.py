"""The seam between the agent's pod logic and a container engine: what it may ask, and nothing more.

:class:`~agent.runtime.docker_runtime.DockerRuntime` is the real implementation; the unit tests'
``FakeRuntime`` (``tests/support/fakeruntime.py``) is the other, and one contract suite
(``tests/support/runtime_contract.py``) runs against both, so the fake answers as Docker does.
The pod worker (:mod:`agent.pod_worker`) and the pod network code (:mod:`agent.network.podnet`)
take these protocols, never the Docker adapter, and an import-linter contract keeps it so.

What an implementation promises, beyond the signatures:

* **labels are the state.** A container's labels (pod uid, container name, spec hash, restart
  count, back-off streak, grace period; see :mod:`agent.labels`) are read back unchanged as the
  fields of :class:`~agent.observed.ObservedContainer`. Nothing else is remembered: a new instance
  over the same engine sees exactly what the old one made.
* **ownership.** :meth:`Runtime.observe_pod` shows only containers labelled with this agent's
  cluster uid and node name; containers of other agents on the same engine are invisible.
* **states.** A created container is ``created`` with no start time; started, ``running``; once
  its process ends, ``exited`` with its exit code and finish time. A sandbox holds its pod IP only
  while it runs. :meth:`Runtime.stop` sends the stop signal and kills after the grace period: the
  pause process exits 0 on SIGTERM, a process that ignores it ends with 137 (SIGKILL).
* **errors** are those of :mod:`agent.runtime.errors`, each with a message for people:
  an unparsable image reference is :class:`InvalidImageName`, a failed pull
  :class:`ImagePullFailed`, a sandbox that cannot be made :class:`SandboxFailed` (its address
  taken: :class:`AddressInUse`, with nothing left behind), a container that cannot be made
  :class:`CreateFailed` (missing image or sandbox, name in use), or started :class:`StartFailed`
  (missing container, sandbox not running). Stopping or removing a container that is gone is
  not an error: the goal is reached.
"""

from __future__ import annotations

from typing import Protocol

from agent.observed import ObservedContainer, ObservedPod
from agent.runtime.specs import ContainerSpec, NetworkSpec, NetworkState, SandboxSpec


class PodNetworks(Protocol):
    """The cluster's pod network on the engine (:mod:`agent.network.podnet`, :mod:`agent.network.ipam`)."""

    def networks(self, name: str | None = None) -> list[NetworkState]:
        """Every network of the engine, or those named exactly ``name``."""
        ...

    def create_network(self, spec: NetworkSpec) -> str:
        """Make the bridge network; its id. :class:`SubnetOverlaps` when another network holds
        part of the subnet."""
        ...

    def network_addresses(self, name: str) -> set[str]:
        """The addresses running containers hold on network ``name`` (none when it is missing)."""
        ...


class Runtime(PodNetworks, Protocol):
    """Everything the pod worker does to a pod's containers, volumes and images."""

    def observe_pod(self, pod_uid: str) -> ObservedPod:
        """This agent's containers of one pod, read back from their labels and state."""
        ...

    def image_present(self, reference: str) -> bool:
        """Whether the image is on the node (a reference without tag means ``:latest``)."""
        ...

    def pull(self, reference: str) -> None:
        ...

    def ensure_volume(self, name: str, pod_uid: str, in_memory: bool = False) -> str:
        """A pod's emptyDir volume, made if missing; its name."""
        ...

    def remove_pod_volumes(self, pod_uid: str) -> None:
        ...

    def create_sandbox(self, spec: SandboxSpec) -> ObservedContainer:
        """Make and start the pause container; it as observed, running, with its address."""
        ...

    def create_container(self, spec: ContainerSpec) -> str:
        """Make an app container in a sandbox (not started); its id."""
        ...

    def start(self, container_id: str) -> None:
        ...

    def stop(self, container_id: str, grace_seconds: float) -> None:
        """The stop signal, then SIGKILL after ``grace_seconds``."""
        ...

    def remove(self, container_id: str) -> None:
        """Remove the container, running or not."""
        ...
