"""The agent's one adapter to the Docker engine.

Everything the agent does to Docker goes through :class:`DockerRuntime`: listing what this agent
owns (by its labels, never anything else), the pod network (a bridge network on the cluster CIDR,
and the addresses attached to it), creating sandboxes (each with the pod IP the agent chose) and
containers from the plain specs of :mod:`agent.runtime.specs`, stopping, removing, pulling,
running a probe's command, and following the engine's event stream. Docker errors are translated
here into :mod:`agent.runtime.errors`, so nothing above this module knows docker-py exists.

Containers are created with Docker restart policy ``no``: restarts are the agent's job, with
Kubernetes' back-off (see :mod:`agent.sync`).
"""

from __future__ import annotations

import logging
import platform
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Required, TypedDict

from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.types import CancellableStream, IPAMConfig, IPAMPool, Mount

from agent import labels
from agent.labels import Owner
from agent.observed import ObservedContainer, ObservedPod, RuntimeState
from agent.runtime.engine import connect
from agent.runtime.errors import (
    AddressInUse, CreateFailed, ImagePullFailed, InvalidImageName, SandboxFailed, StartFailed, SubnetOverlaps,
)
from agent.runtime.specs import ContainerSpec, MachineInfo, MountSpec, NetworkSpec, NetworkState, SandboxSpec

log = logging.getLogger("dockyard.agent.runtime")

#: the driver option that names a bridge network's Linux bridge
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
#: the exit code of a command that could not be run at all (the shells' "cannot execute")
CANNOT_EXECUTE = 126


class DockerRuntime:
    def __init__(self, owner: Owner, docker_host: str | None = None) -> None:
        self.owner = owner
        self.client = connect(docker_host)

    # -- the node ----------------------------------------------------------------------------

    def machine(self) -> MachineInfo:
        """What the Node object reports: cpus, memory, OS, kernel, engine version."""
        info = self.client.info()
        version = self.client.version()
        return {
            "cpus": int(info.get("NCPU") or 1),
            "memory_bytes": int(info.get("MemTotal") or 0),
            "os": (info.get("OSType") or "linux").lower(),
            "arch": _go_arch(info.get("Architecture") or platform.machine()),
            "os_image": info.get("OperatingSystem") or "",
            "kernel": info.get("KernelVersion") or "",
            "engine": version.get("Version") or "",
            "machine_id": info.get("ID") or "",
        }

    def reachable(self) -> bool:
        """Whether the engine answers: the node's Ready condition follows it."""
        try:
            return bool(self.client.ping())
        except (DockerException, OSError):
            return False

    # -- the pod network ---------------------------------------------------------------------

    def networks(self, name: str | None = None) -> list[NetworkState]:
        """Every network of the engine, or those named exactly ``name`` (Docker's name filter
        also matches substrings)."""
        try:
            found = self.client.api.networks(names=[name] if name else None)
        except DockerException as error:
            raise SandboxFailed(f"cannot list Docker networks: {error}") from None
        return [_network_state(n) for n in found if name is None or n.get("Name") == name]

    def create_network(self, spec: NetworkSpec) -> str:
        """Create the bridge network with the cluster CIDR as its subnet; returns its id."""
        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=spec.subnet, gateway=spec.gateway)])
        try:
            network = self.client.networks.create(spec.name, driver="bridge", ipam=ipam, labels=spec.labels,
                                                  options={BRIDGE_NAME_OPTION: spec.bridge})
        except APIError as error:
            message = error.explanation or str(error)
            if "overlaps" in message:  # "Pool overlaps with other one on this address space"
                raise SubnetOverlaps(f"cannot create the pod network {spec.name}: {message}") from None
            raise SandboxFailed(f"cannot create the pod network {spec.name}: {message}") from None
        return network.id

    def network_addresses(self, name: str) -> set[str]:
        """The IPv4 addresses of the containers attached to network ``name`` (running ones: a
        stopped container holds no address)."""
        try:
            attached = self.client.api.inspect_network(name).get("Containers") or {}
        except NotFound:
            return set()
        except DockerException as error:
            raise SandboxFailed(f"cannot read the addresses in use on the pod network {name}: {error}") from None
        return {endpoint["IPv4Address"].split("/")[0] for endpoint in attached.values()
                if endpoint.get("IPv4Address")}

    # -- observing ---------------------------------------------------------------------------

    def list_pods(self) -> dict[str, ObservedPod]:
        """Every pod this agent has containers for, keyed by pod uid."""
        by_pod: dict[str, list[ObservedContainer]] = {}
        for container in self._list(self.owner.filters()):
            by_pod.setdefault(container.pod_uid, []).append(container)
        return {uid: ObservedPod(uid, tuple(found)) for uid, found in by_pod.items()}

    def observe_pod(self, pod_uid: str) -> ObservedPod:
        return ObservedPod(pod_uid, tuple(self._list(self.owner.filters(**{labels.POD_UID: pod_uid}))))

    def _list(self, filters: dict) -> list[ObservedContainer]:
        found = []
        for summary in self.client.api.containers(all=True, filters=filters):
            try:
                attrs = self.client.api.inspect_container(summary["Id"])
            except NotFound:  # removed between list and inspect
                continue
            found.append(_observed(attrs))
        return found

    # -- images ------------------------------------------------------------------------------

    def image_present(self, reference: str) -> bool:
        try:
            self.client.images.get(reference)
            return True
        except ImageNotFound:
            return False
        except APIError as error:
            if "invalid reference format" in str(error):
                raise InvalidImageName(f'Failed to apply default image tag "{reference}": '
                                       f"couldn't parse image reference: invalid reference format") from None
            raise

    def pull(self, reference: str) -> None:
        repository, tag = _split_reference(reference)
        try:
            self.client.api.pull(repository, tag=tag)
        except APIError as error:
            raise ImagePullFailed(f'Failed to pull image "{reference}": {error.explanation or error}') from None
        except DockerException as error:
            raise ImagePullFailed(f'Failed to pull image "{reference}": {error}') from None

    def image_id(self, reference: str) -> str:
        return self.client.images.get(reference).id

    # -- sandboxes and containers ------------------------------------------------------------

    def create_sandbox(self, spec: SandboxSpec) -> ObservedContainer:
        ports: dict[str, list] = {}
        for binding in spec.ports:
            ports.setdefault(f"{binding.container_port}/{binding.protocol}", []).append(
                (binding.host_ip or "0.0.0.0", binding.host_port))
        network = {"network_mode": "host"} if spec.host_network else {"network": spec.network}
        try:
            container = self.client.containers.create(
                spec.image, name=spec.name, hostname=spec.hostname, labels=spec.labels, detach=True,
                ports=ports or None, ipc_mode="shareable", **network,
                networking_config={spec.network: self.client.api.create_endpoint_config(
                    ipv4_address=spec.ipv4_address)} if spec.ipv4_address else None,
                restart_policy={"Name": "no"},
                extra_hosts=dict(h.split(":", 1) for h in spec.extra_hosts) or None,
                shm_size=spec.shm_size)
        except APIError as error:
            raise SandboxFailed(f"Failed to create pod sandbox: {error.explanation or error}") from None
        try:
            container.start()
        except APIError as error:
            self.remove(container.id)
            message = error.explanation or str(error)
            if spec.ipv4_address and message.startswith("Address already in use"):
                raise AddressInUse(f"Failed to start pod sandbox: {spec.ipv4_address}: {message}") from None
            if "port is already allocated" in message or "address already in use" in message:
                message += " (another pod or program on this node holds the hostPort; pick another hostPort)"
            raise SandboxFailed(f"Failed to start pod sandbox: {message}") from None
        return _observed(self.client.api.inspect_container(container.id))

    def create_container(self, spec: ContainerSpec) -> str:
        sandbox = f"container:{spec.sandbox_id}"
        try:
            # docker-py sets StdinOnce exactly when a container with an open stdin is created to be
            # attached (detach=False): that is how ``stdinOnce`` reaches Docker, which then keeps the
            # output of ``kubectl run -i`` flowing after the client's stdin ends.
            container = self.client.containers.create(
                spec.image, name=spec.name, labels=spec.labels, detach=not spec.stdin_once,
                entrypoint=spec.entrypoint, command=spec.command, environment=spec.env or None,
                working_dir=spec.working_dir, network_mode=sandbox,
                ipc_mode="host" if spec.host_ipc else sandbox, pid_mode=_pid_mode(spec),
                mounts=[_mount(m) for m in spec.mounts] or None, nano_cpus=spec.nano_cpus,
                mem_limit=spec.memory_bytes, memswap_limit=spec.memory_bytes, tty=spec.tty,
                stdin_open=spec.stdin_open, user=spec.user, privileged=spec.privileged,
                cap_add=list(spec.cap_add) or None, cap_drop=list(spec.cap_drop) or None,
                read_only=spec.read_only_rootfs, stop_signal=spec.stop_signal,
                restart_policy={"Name": "no"}, log_config={"Type": "json-file"})
        except APIError as error:
            raise CreateFailed(f"Error: {error.explanation or error}") from None
        return container.id

    def start(self, container_id: str) -> None:
        try:
            self.client.api.start(container_id)
        except APIError as error:
            raise StartFailed(f"Error: failed to start container: {error.explanation or error}") from None

    def stop(self, container_id: str, grace_seconds: float) -> None:
        """SIGTERM (or the image's STOPSIGNAL), then SIGKILL after the grace period."""
        try:
            self.client.api.stop(container_id, timeout=max(0, int(round(grace_seconds))))
        except NotFound:
            pass
        except APIError as error:
            log.warning("stopping %s: %s", container_id[:12], error.explanation or error)

    def remove(self, container_id: str) -> None:
        try:
            self.client.api.remove_container(container_id, force=True, v=True)
        except NotFound:
            pass
        except APIError as error:
            if error.status_code != 409:  # 409: removal already in progress
                raise

    # -- volumes -----------------------------------------------------------------------------

    def ensure_volume(self, name: str, pod_uid: str, in_memory: bool = False) -> str:
        """A pod's emptyDir: a labelled Docker volume (tmpfs-backed for ``medium: Memory``), shared
        by every container of the pod that mounts it and removed with the pod."""
        try:
            return self.client.volumes.get(name).name
        except NotFound:
            options = {"type": "tmpfs", "device": "tmpfs"} if in_memory else None
            volume = self.client.volumes.create(
                name, driver_opts=options,
                labels={**self.owner.labels(), labels.POD_UID: pod_uid, labels.ROLE: "volume"})
            return volume.name

    def remove_pod_volumes(self, pod_uid: str) -> None:
        for volume in self.client.volumes.list(filters=self.owner.filters(**{labels.POD_UID: pod_uid})):
            try:
                volume.remove(force=True)
            except NotFound:
                pass

    def orphaned_volume_pods(self) -> set[str]:
        """Pod uids that still have volumes on this node."""
        return {v.attrs.get("Labels", {}).get(labels.POD_UID, "")
                for v in self.client.volumes.list(filters=self.owner.filters())} - {""}

    # -- probes and hooks --------------------------------------------------------------------

    def exec_in(self, container_id: str, argv: list[str], timeout: float) -> tuple[int, str]:
        """Run ``argv`` in a running container; (exit code, combined output). A command still
        running after ``timeout`` counts as failed (exit code -1), as a timed-out exec probe does."""
        finished: list[tuple[int, str]] = []  # (exit code, output) once the command ended

        def run() -> None:
            try:
                exec_id = self.client.api.exec_create(container_id, argv, stdout=True, stderr=True)["Id"]
                output = self.client.api.exec_start(exec_id).decode(errors="replace")
                code = self.client.api.exec_inspect(exec_id).get("ExitCode")
                finished.append((CANNOT_EXECUTE if code is None else int(code), output))
            except APIError as error:
                finished.append((CANNOT_EXECUTE, str(error.explanation or error)))
        worker = threading.Thread(target=run, daemon=True, name="exec")
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            return -1, f"command timed out after {timeout:g}s"
        return finished[0] if finished else (CANNOT_EXECUTE, "")

    # -- events ------------------------------------------------------------------------------

    def watch_events(self, on_event: Callable[[str, str], None], stop: threading.Event) -> None:
        """Call ``on_event(pod_uid, action)`` for every event of this agent's containers until
        ``stop`` is set. Docker pushes ``die``/``oom``/``start`` within milliseconds, which is how
        a crash is noticed in well under a second."""
        while not stop.is_set():
            stream = None
            try:
                stream = self.client.events(decode=True, filters={"type": "container", **self.owner.filters()})
                closer = threading.Thread(target=_close_when, args=(stop, stream), daemon=True)
                closer.start()
                for event in stream:
                    attributes = (event.get("Actor") or {}).get("Attributes") or {}
                    uid = attributes.get(labels.POD_UID)
                    if uid:
                        on_event(uid, event.get("Action") or event.get("status") or "")
            except (DockerException, OSError, ValueError) as error:
                if not stop.is_set():
                    log.warning("docker event stream broke (%s); reconnecting", error)
                    stop.wait(1.0)
            finally:
                if stream is not None:
                    stream.close()


# The parts of Docker's inspect answers the adapter reads (docker-py hands them over as plain
# dicts); every field may be missing or null in some engine version, hence total=False and the
# ``or`` defaults where they are read.

class _RawPool(TypedDict, total=False):
    Subnet: str
    Gateway: str


class _RawIpam(TypedDict, total=False):
    Config: list[_RawPool] | None


class _RawNetwork(TypedDict, total=False):
    Id: Required[str]
    Name: str
    IPAM: _RawIpam | None
    Options: dict[str, str] | None


class _RawConfig(TypedDict, total=False):
    Labels: dict[str, str] | None
    Image: str


class _RawState(TypedDict, total=False):
    Status: str                 # created | running | paused | restarting | removing | exited | dead
    ExitCode: int
    OOMKilled: bool
    StartedAt: str              # RFC 3339 with nanoseconds; 0001-01-01T00:00:00Z for never
    FinishedAt: str


class _RawEndpoint(TypedDict, total=False):
    IPAddress: str


class _RawNetworkSettings(TypedDict, total=False):
    Networks: dict[str, _RawEndpoint] | None


class _RawContainer(TypedDict, total=False):
    Id: Required[str]
    Image: str                  # the image id, sha256:…
    Config: _RawConfig | None
    State: _RawState | None
    NetworkSettings: _RawNetworkSettings | None


def _network_state(attrs: _RawNetwork) -> NetworkState:
    pools = (attrs.get("IPAM") or _RawIpam()).get("Config") or []
    return NetworkState(
        id=attrs["Id"], name=attrs.get("Name") or "",
        subnets=tuple(p["Subnet"] for p in pools if p.get("Subnet")),
        gateways=tuple(p["Gateway"] for p in pools if p.get("Gateway")),
        bridge=(attrs.get("Options") or {}).get(BRIDGE_NAME_OPTION))


def _close_when(stop: threading.Event, stream: CancellableStream) -> None:
    stop.wait()
    stream.close()


def _observed(attrs: _RawContainer) -> ObservedContainer:
    config = attrs.get("Config") or _RawConfig()
    state = attrs.get("State") or _RawState()
    runtime_state = {"created": RuntimeState.CREATED, "running": RuntimeState.RUNNING,
                     "exited": RuntimeState.EXITED}.get(state.get("Status") or "", RuntimeState.UNKNOWN)
    exited = runtime_state is RuntimeState.EXITED
    networks = (attrs.get("NetworkSettings") or _RawNetworkSettings()).get("Networks") or {}
    return ObservedContainer.from_labels(
        attrs["Id"], config.get("Labels") or {}, runtime_state,
        exit_code=state.get("ExitCode") if exited else None,
        oom_killed=bool(state.get("OOMKilled")),
        started_at=_docker_time(state.get("StartedAt")),
        finished_at=_docker_time(state.get("FinishedAt")) if exited else None,
        image=config.get("Image") or "",
        image_id=attrs.get("Image") or "",
        ip=next((n["IPAddress"] for n in networks.values() if n.get("IPAddress")), None))


def _docker_time(value: str | None) -> datetime | None:
    """Docker's RFC 3339 with nanoseconds; ``0001-01-01T00:00:00Z`` means never."""
    if not value or value.startswith("0001-"):
        return None
    main, _, rest = value.rstrip("Z").partition(".")
    micros = (rest[:6] if rest else "0").ljust(6, "0")
    return datetime.strptime(f"{main}.{micros}", "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc)


def _pid_mode(spec: ContainerSpec) -> str | None:
    """The machine's (hostPID), else the pod's shared one (the sandbox's), else a debug target's,
    else its own."""
    if spec.host_pid:
        return "host"
    if spec.share_process_namespace:
        return f"container:{spec.sandbox_id}"
    if spec.pid_target:
        return f"container:{spec.pid_target}"
    return None


def _mount(spec: MountSpec) -> Mount:
    return Mount(spec.target, spec.source, type=spec.kind.value, read_only=spec.read_only)


def _split_reference(reference: str) -> tuple[str, str]:
    """``nginx`` → (nginx, latest); ``host:5000/a/b:1.2`` → (host:5000/a/b, 1.2); digests kept."""
    if "@" in reference:
        return reference, ""
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:
        return reference, "latest"
    return name, tag


def _go_arch(machine: str) -> str:
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)

