"""A container engine in memory that answers as :class:`~agent.runtime.docker_runtime.DockerRuntime` does.

The pod worker's unit tests (``tests/unit/test_agent_pod_worker.py``) run on it; the contract
suite (:mod:`tests.support.runtime_contract`) runs against it and against real Docker, so every
answer it gives is one Docker gives: labels read back as the agent's state, one engine-wide
namespace of container names, images by normalised reference, a sandbox's address held only
while it runs, app containers that join their sandbox's namespaces, the errors and their words.

What the real engine cannot be made to do on cue is a knob, named after what it stands for:

* ``registry`` — the images a pull finds (empty, as on a machine with no registry reachable);
* ``sandbox_error`` / ``create_error`` / ``start_error`` — the next sandboxes, creates or starts
  fail with this message (a hostPort taken, a bad mount, a missing executable…);
* ``foreign_addresses`` — addresses held on the pod network by containers that are not ours
  (other nodes' pods); ``taken_behind_our_back`` — addresses Docker refuses though no listing
  shows them (someone attached a container by hand meanwhile);
* ``overlap`` — a barrier each stop of an app container waits at, to show stops run side by side;
* :meth:`FakeRuntime.exit` — a container's process ends by itself (a crash, a finished job).

There is no process inside: app containers ignore SIGTERM as a shell or ``sleep`` as PID 1 does
(so :meth:`~FakeRuntime.stop` ends them with 137, as SIGKILL does), and the pause container exits
0 on it, as ``agent/images/pause/pause.c`` does. Stops take no time.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from agent import labels
from agent.labels import SANDBOX, Owner
from agent.observed import ObservedContainer, ObservedPod, RuntimeState
from agent.runtime.errors import (
    AddressInUse, CreateFailed, ImagePullFailed, InvalidImageName, SandboxFailed, StartFailed, SubnetOverlaps,
)
from agent.runtime.specs import ContainerSpec, NetworkSpec, NetworkState, SandboxSpec

#: what a pull says on a machine with no registry reachable (Docker's words, with the address
#: of the resolver left out)
NO_REGISTRY = 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host'

#: exit code of a process ended by SIGKILL (128 + 9)
KILLED = 137

# An image reference, per the grammar Docker parses them with: an optional registry host (and
# port), lowercase path components joined by ``.``, ``_``, ``__`` or dashes, an optional tag, an
# optional digest.
_HOST = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(rf"(?:{_HOST}(?:\.{_HOST})*(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
                        r"(?::\w[\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?")
#: Docker Hub's spellings of an image that ``docker images`` shows without them
_HUB_PREFIXES = ("docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/")


def normalized(reference: str) -> str:
    """The reference as the engine keys images: Docker Hub's prefix dropped, ``:latest`` added
    when neither tag nor digest is given. ``nginx`` and ``docker.io/library/nginx:latest`` are
    ``nginx:latest``."""
    for prefix in _HUB_PREFIXES:
        if reference.startswith(prefix):
            reference = reference[len(prefix):]
            break
    if "@" not in reference and ":" not in reference.rpartition("/")[2]:
        reference += ":latest"
    return reference


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class _Held:
    """One container as the engine holds it."""

    id: str
    docker_name: str
    labels: dict[str, str]
    image: str
    state: RuntimeState
    network: str | None = None        # a sandbox's network
    address: str | None = None        # a sandbox's address on it
    sandbox_id: str | None = None     # an app container's sandbox, whose namespaces it joins
    exit_code: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox_id is None

    def observed(self) -> ObservedContainer:
        exited = self.state is RuntimeState.EXITED
        return ObservedContainer.from_labels(
            self.id, self.labels, self.state, exit_code=self.exit_code if exited else None,
            started_at=self.started_at, finished_at=self.finished_at if exited else None, image=self.image,
            image_id="sha256:" + hashlib.sha256(normalized(self.image).encode()).hexdigest(),
            ip=self.address if self.state is RuntimeState.RUNNING else None)


class FakeRuntime:
    """``images``: on the node; ``networks``: on the engine already. ``log`` records every call
    that acts (pull, create, start, stop, remove, volumes) and each look at the networks, in
    order, as tuples such as ``("stop", container_id, grace_seconds)``."""

    def __init__(self, owner: Owner, *, images: Iterable[str] = (), registry: Iterable[str] = (),
                 networks: Iterable[NetworkSpec] = (), now: Callable[[], datetime] = _utc_now,
                 log: list[tuple] | None = None) -> None:
        self.owner = owner
        self.now = now
        self.log: list[tuple] = [] if log is None else log
        self.images = {normalized(i) for i in images}
        self.registry = {normalized(i) for i in registry}
        self.sandbox_error: str | None = None
        self.create_error: str | None = None
        self.start_error: str | None = None
        self.foreign_addresses: set[str] = set()
        self.taken_behind_our_back: set[str] = set()
        self.overlap: threading.Barrier | None = None
        self.specs: dict[str, SandboxSpec | ContainerSpec] = {}   # container id -> the spec it was made from
        self.volumes: dict[str, str] = {}                         # volume name -> pod uid
        self._held: dict[str, _Held] = {}
        self._networks: dict[str, NetworkState] = {}
        self._serial = itertools.count(1)
        for spec in networks:
            self._add_network(spec)

    # -- the pod network ---------------------------------------------------------------------

    def networks(self, name: str | None = None) -> list[NetworkState]:
        self.log.append(("networks", name))
        return [n for n in self._networks.values() if name is None or n.name == name]

    def create_network(self, spec: NetworkSpec) -> str:
        self.log.append(("create_network", spec.name))
        ours = ipaddress.IPv4Network(spec.subnet)
        if any(ours.overlaps(ipaddress.IPv4Network(s)) for n in self._networks.values() for s in n.subnets):
            raise SubnetOverlaps(f"cannot create the pod network {spec.name}: "
                                 "Pool overlaps with other one on this address space")
        return self._add_network(spec)

    def network_addresses(self, name: str) -> set[str]:
        return {h.address for h in self._held.values()
                if h.network == name and h.address and h.state is RuntimeState.RUNNING} | self.foreign_addresses

    # -- observing ---------------------------------------------------------------------------

    def observe_pod(self, pod_uid: str) -> ObservedPod:
        mine = {**self.owner.labels(), labels.POD_UID: pod_uid}
        newest_first = reversed(self._held.values())  # as Docker lists them
        return ObservedPod(pod_uid, tuple(h.observed() for h in newest_first
                                          if all(h.labels.get(k) == v for k, v in mine.items())))

    # -- images ------------------------------------------------------------------------------

    def image_present(self, reference: str) -> bool:
        if not _REFERENCE.fullmatch(reference):
            raise InvalidImageName(f'Failed to apply default image tag "{reference}": '
                                   f"couldn't parse image reference: invalid reference format")
        return normalized(reference) in self.images

    def pull(self, reference: str) -> None:
        self.log.append(("pull", reference))
        if normalized(reference) not in self.registry:
            raise ImagePullFailed(f'Failed to pull image "{reference}": {NO_REGISTRY}')
        self.images.add(normalized(reference))

    # -- volumes -----------------------------------------------------------------------------

    def ensure_volume(self, name: str, pod_uid: str, in_memory: bool = False) -> str:
        self.log.append(("ensure_volume", name, in_memory))
        self.volumes.setdefault(name, pod_uid)
        return name

    def remove_pod_volumes(self, pod_uid: str) -> None:
        self.log.append(("remove_pod_volumes", pod_uid))
        self.volumes = {name: uid for name, uid in self.volumes.items() if uid != pod_uid}

    # -- sandboxes and containers ------------------------------------------------------------

    def create_sandbox(self, spec: SandboxSpec) -> ObservedContainer:
        self.log.append(("create_sandbox", spec.name))
        if self.sandbox_error:
            raise SandboxFailed(self.sandbox_error)
        refused = self._refuse_create(spec.name, spec.image)
        if refused:
            raise SandboxFailed(f"Failed to create pod sandbox: {refused}")
        if not spec.host_network and spec.network not in {n.name for n in self._networks.values()}:
            raise SandboxFailed(f"Failed to start pod sandbox: network {spec.network} not found")
        address = None if spec.host_network else spec.ipv4_address
        if address is not None and (address in self.network_addresses(spec.network)
                                    or address in self.taken_behind_our_back):
            raise AddressInUse(f"Failed to start pod sandbox: {address}: Address already in use")
        held = self._add(spec, network=None if spec.host_network else spec.network, address=address)
        held.state, held.started_at = RuntimeState.RUNNING, self.now()
        return held.observed()

    def create_container(self, spec: ContainerSpec) -> str:
        self.log.append(("create", spec.name))
        if self.create_error:
            raise CreateFailed(self.create_error)
        refused = self._refuse_create(spec.name, spec.image)
        if refused:
            raise CreateFailed(f"Error: {refused}")
        for needed in (spec.sandbox_id, spec.pid_target):
            if needed is not None and needed not in self._held:
                raise CreateFailed(f"Error: No such container: {needed}")
        return self._add(spec, sandbox_id=spec.sandbox_id).id

    def start(self, container_id: str) -> None:
        self.log.append(("start", container_id))
        if self.start_error:
            raise StartFailed(self.start_error)
        held = self._held.get(container_id)
        if held is None:
            raise StartFailed(f"Error: failed to start container: No such container: {container_id}")
        if held.state is RuntimeState.RUNNING:
            return
        sandbox = self._held.get(held.sandbox_id or "")
        if sandbox is None or sandbox.state is not RuntimeState.RUNNING:
            raise StartFailed(f"Error: failed to start container: cannot join network of a non running "
                              f"container: {held.sandbox_id}")
        made_from = self.specs[container_id]
        pid_target = made_from.pid_target if isinstance(made_from, ContainerSpec) else None
        target = self._held.get(pid_target or "")
        if pid_target is not None and (target is None or target.state is not RuntimeState.RUNNING):
            raise StartFailed(f"Error: failed to start container: container {pid_target} is not running")
        held.state, held.started_at = RuntimeState.RUNNING, self.now()

    def stop(self, container_id: str, grace_seconds: float) -> None:
        self.log.append(("stop", container_id, grace_seconds))
        held = self._held.get(container_id)
        if held is None:
            return
        if self.overlap is not None and not held.is_sandbox:
            try:
                self.overlap.wait()
            except threading.BrokenBarrierError:
                pass  # not every stop arrived in time: the test reads overlap.broken
        if held.state is RuntimeState.RUNNING:
            self.exit(container_id, 0 if held.is_sandbox else KILLED)

    def remove(self, container_id: str) -> None:
        self.log.append(("remove", container_id))
        self._held.pop(container_id, None)

    # -- for the tests -----------------------------------------------------------------------

    @property
    def containers(self) -> dict[str, ObservedContainer]:
        """Every container on the engine, by id."""
        return {h.id: h.observed() for h in self._held.values()}

    def exit(self, container_id: str, code: int) -> None:
        """The container's process ends by itself with ``code``."""
        held = self._held[container_id]
        held.state, held.exit_code, held.finished_at = RuntimeState.EXITED, code, self.now()

    # -- inside ------------------------------------------------------------------------------

    def _add_network(self, spec: NetworkSpec) -> str:
        network_id = hashlib.sha256(spec.name.encode()).hexdigest()
        self._networks[network_id] = NetworkState(network_id, spec.name, (spec.subnet,), (spec.gateway,), spec.bridge)
        return network_id

    def _refuse_create(self, name: str, image: str) -> str | None:
        """Why Docker would refuse to create a container of this name and image, if it would."""
        if normalized(image) not in self.images:
            return f"No such image: {normalized(image)}"
        holder = next((h for h in self._held.values() if h.docker_name == name), None)
        if holder is not None:
            return (f'Conflict. The container name "/{name}" is already in use by container "{holder.id}". '
                    f"You have to remove (or rename) that container to be able to reuse that name.")
        return None

    def _add(self, spec: SandboxSpec | ContainerSpec, *, network: str | None = None, address: str | None = None,
             sandbox_id: str | None = None) -> _Held:
        given = spec.labels
        readable_id = f"{given.get(labels.CONTAINER, SANDBOX)}.{given.get(labels.RESTART_COUNT, 0)}#{next(self._serial)}"
        held = _Held(id=readable_id, docker_name=spec.name, labels=dict(given), image=spec.image,
                     state=RuntimeState.CREATED, network=network, address=address, sandbox_id=sandbox_id)
        self._held[held.id] = held
        self.specs[held.id] = spec
        return held

