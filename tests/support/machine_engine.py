"""A Docker engine of a machine's own: ``dockerd`` started inside the machine's network namespace.

Nested Docker (a privileged container running dockerd) fails on this host's runc, but a second
``dockerd`` in another network namespace works, checked by hand (see GUIDE.md, section 5)::

    nsenter --net=/run/netns/NAME dockerd --config-file EMPTY.json --data-root D --exec-root E \\
        -H unix://SOCK --pidfile P --storage-driver fuse-overlayfs --bridge none \\
        --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent /CG

(``nsenter --net``, not ``ip netns exec``: the latter mounts a /sys of the namespace's own, which
hides the host's cgroup mounts that dockerd needs.)

Each flag keeps it apart from the host's engine, which must never be touched:

* ``--config-file`` an empty JSON file: without it dockerd reads the host's /etc/docker/daemon.json,
  whose ``data-root`` would collide with the flag;
* ``--data-root``, ``--exec-root``, ``-H``, ``--pidfile``: its own images, containers, containerd
  (dockerd starts a containerd of its own under the exec-root, since the host runs no system
  containerd), socket and pid file, all under one directory of the run;
* ``--storage-driver``: the one the host's engine uses (:func:`host_storage_driver`, from ``docker
  info``), since it works on this host's filesystems: fuse-overlayfs here;
* ``--exec-opt native.cgroupdriver=cgroupfs``: what the host's engine uses here (on cgroup v1),
  said explicitly so that a host whose engine uses systemd's driver gets the same layout, and
* ``--cgroup-parent``: the containers' cgroups live under one run-unique directory instead of the
  host engine's ``/docker``, so even containers whose engine died can be found and ended (in every
  v1 hierarchy, ``/sys/fs/cgroup/*/PARENT``, or in the v2 tree, ``/sys/fs/cgroup/PARENT``);
* ``--bridge none``: no default ``docker0`` bridge. dockyard makes its own pod network, so a default
  bridge would only need a ``--bip`` range of its own per engine.

The engine's iptables rules live in the machine's namespace and go with it. Images come in from a
tar made once per session (:mod:`tests.support.image_archive`) with ``docker -H … load``.

:meth:`MachineEngine.stop` is the graceful path: remove every container through the API (they are
all the run's: the engine is), then SIGTERM, so dockerd unmounts its layers and stops its
containerd. :meth:`MachineEngine.clean_up` then removes whatever a crash left behind, and is safe
to run whatever state the engine is in: it ends the processes in the engine's cgroup parent and on
its machine (a killed dockerd leaves its shims, fuse-overlayfs mounts and container processes
running), unmounts what is left under its directory (layers, the data root's own bind mount,
network namespaces under the exec-root), removes the shims' sockets in /run/containerd/s (named by a
hash of containerd's address, the namespace and the container id), the cgroup directories and the
directory itself.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import docker

from tests.support.lan import Machine, sh

#: the containerd namespace dockerd keeps its containers in
CONTAINERD_NAMESPACE = "moby"
#: where containerd's runc shims put their sockets, whichever containerd started them
SHIM_SOCKETS = Path("/run/containerd/s")
CGROUP_ROOT = Path("/sys/fs/cgroup")


class EngineFailed(RuntimeError):
    """The machine's dockerd did not start or load images; the message carries its log's tail."""


@dataclass
class MachineEngine:
    machine: Machine
    root: Path
    cgroup_parent: str                  # a single run-unique directory name
    log_path: Path
    storage_driver: str
    process: subprocess.Popen | None = None

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def url(self) -> str:
        """What ``DOCKER_HOST`` says on this machine."""
        return f"unix://{self.socket}"

    @property
    def containerd_address(self) -> str:
        return str(self.root / "exec" / "containerd" / "containerd.sock")

    def start(self, timeout: float = 60) -> MachineEngine:
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "daemon.json"
        config.write_text("{}\n")
        argv = self.machine.command_with_host_sys(
            "dockerd", "--config-file", str(config), "--data-root", str(self.root / "data"),
            "--exec-root", str(self.root / "exec"), "-H", self.url, "--pidfile", str(self.root / "docker.pid"),
            "--storage-driver", self.storage_driver, "--bridge", "none", "--exec-opt", "native.cgroupdriver=cgroupfs",
            "--cgroup-parent", f"/{self.cgroup_parent}", "--shutdown-timeout", "5")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EngineFailed(f"dockerd on {self.machine.name} exited with {self.process.returncode}:\n"
                                   f"{self.log_tail()}")
            if self.socket.exists() and self._answers():
                return self
            time.sleep(0.1)
        raise EngineFailed(f"dockerd on {self.machine.name} did not answer within {timeout}s:\n{self.log_tail()}")

    def load(self, archive: Path) -> None:
        done = subprocess.run(["docker", "-H", self.url, "load", "-q", "-i", str(archive)],
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise EngineFailed(f"loading {archive.name} into {self.machine.name}'s engine failed: {done.stderr}")

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, timeout=60)

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return "(no dockerd log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    # -- teardown ----------------------------------------------------------------------------

    def stop(self, grace: float = 20) -> None:
        """Every container removed, then dockerd stopped with SIGTERM (SIGKILL after ``grace``)."""
        if self.process is None or self.process.poll() is not None:
            return
        if self._answers():
            client = self.client()
            try:
                for container in client.containers.list(all=True):
                    container.remove(force=True, v=True)
            finally:
                client.close()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self, grace: float = 20, timeout: float = 60) -> None:
        """Stop dockerd as ``systemctl restart docker`` does (SIGTERM: it stops the containers,
        which stay, exited, in its data root) and start it again on the same directories."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.start(timeout)

    def clean_up(self) -> None:
        """Remove everything the engine left, whatever state it is in (see the module docstring)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        container_ids = sorted(path.name for path in (self.root / "data" / "containers").glob("*"))
        end_processes(self.cgroup_pids() | machine_pids(self.machine.netns))
        unmount_under(self.root)
        for container_id in container_ids:
            shim_socket(self.containerd_address, container_id).unlink(missing_ok=True)
        remove_cgroups(self.cgroup_parent)
        shutil.rmtree(self.root, ignore_errors=True)

    def cgroup_pids(self) -> set[int]:
        pids = set()
        for top in cgroup_tops(self.cgroup_parent):
            for procs in top.glob("**/cgroup.procs"):
                pids |= {int(pid) for pid in procs.read_text().split()}
        return pids

    def _answers(self) -> bool:
        try:
            client = self.client()
        except docker.errors.DockerException:
            return False
        try:
            return bool(client.ping())
        except (docker.errors.DockerException, OSError):
            return False
        finally:
            client.close()


def host_storage_driver() -> str:
    """The storage driver of the host's own engine (``docker info``)."""
    done = subprocess.run(["docker", "info", "--format", "{{.Driver}}"], capture_output=True, text=True, timeout=60)
    if done.returncode != 0 or not done.stdout.strip():
        raise EngineFailed(f"docker info failed: {done.stderr.strip()}; the machines' engines copy its storage driver")
    return done.stdout.strip()


def shim_socket(containerd_address: str, container_id: str) -> Path:
    """The socket of a container's runc shim: containerd names it by a hash of its own address,
    the namespace and the container's id (``shim.SocketAddress``)."""
    digest = hashlib.sha256(f"{containerd_address}/{CONTAINERD_NAMESPACE}/{container_id}".encode()).hexdigest()
    return SHIM_SOCKETS / digest


def machine_pids(netns: str) -> set[int]:
    """The processes on a machine (in its network namespace); none once it is gone."""
    done = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True)
    return {int(pid) for pid in done.stdout.split()} if done.returncode == 0 else set()


def end_processes(pids: set[int], timeout: float = 10) -> None:
    """SIGKILL each of ``pids`` and wait until they are gone (they are not our children: a killed
    dockerd's shims and container processes belong to init)."""
    pids.discard(os.getpid())
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        pids = {pid for pid in pids if _alive(pid)}
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def mounts_under(directory: Path) -> list[str]:
    """Mount points at or below ``directory``, deepest first."""
    prefix = str(directory)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return sorted(points, key=len, reverse=True)


def unmount_under(directory: Path) -> None:
    # lazily: a fuse mount whose process was killed answers "transport endpoint is not connected"
    for point in mounts_under(directory):
        sh("umount", "-l", point)


def cgroup_tops(parent: str) -> list[Path]:
    """The directory ``parent`` in every cgroup v1 hierarchy, or in the v2 tree."""
    return [path for path in (CGROUP_ROOT / parent, *CGROUP_ROOT.glob(f"*/{parent}")) if path.is_dir()]


def cgroup_dirs(parent: str) -> list[Path]:
    """Every cgroup directory at or below ``parent``, in every hierarchy, deepest first."""
    found = [path for top in cgroup_tops(parent) for path in (top, *top.rglob("*")) if path.is_dir()]
    return sorted(found, key=lambda path: len(path.parts), reverse=True)


def remove_cgroups(parent: str) -> None:
    for directory in cgroup_dirs(parent):
        try:
            directory.rmdir()
        except FileNotFoundError:
            pass
