"""Separate machines on one host: a control machine and workers, each with its own kernel network
stack and Docker engine, joined over a LAN the way real machines join.

What the Vagrant cluster does with VMs (``vagrant/provision.sh``), this does in seconds with
network namespaces, so the test suite can check what only shows across machines: host-gw routes
between nodes' pod ranges, proxy ARP on each bridge, cluster DNS on every machine's bridge
gateway, NodePorts on each machine's LAN address, masquerading and the FORWARD path through
Docker's DROP policy. The pieces:

* :mod:`tests.support.lan` — the LAN: a bridge in a namespace of its own, each machine a namespace
  with one veth into it, addresses 192.168.N.10 (control), .11, .12 … (workers), and .1 on the
  bridge itself, the *workstation* from which kubectl and curl run as a user's laptop would;
* :mod:`tests.support.machine_engine` — each worker's own ``dockerd`` (own data root, exec root,
  socket, containerd, cgroup parent; no default bridge), images loaded from
* :mod:`tests.support.image_archive` — ``docker save`` once per session.

:meth:`SeparateMachines.start` then follows the real join path, the same commands a user types:

1. on the control machine ``dockyard server --listen 0.0.0.0:6443 --advertise <its LAN address>``;
2. there, ``dockyard token create --server https://<its LAN address>:6443``, which prints the
   ``dockyard agent --server … --token … --ca-cert-hash …`` command;
3. on each worker, that command plus ``--node-name worker-N --node-ip <its LAN address>`` (as
   provision.sh adds them), with ``DOCKER_HOST`` naming the worker's engine and a ``TMPDIR`` of its
   own (the agent's host lock lives there: two workers sharing it would elect one networking
   holder for both machines);
4. kubectl on the workstation, with the admin kubeconfig pointed at the control machine's LAN
   address (as ``external_kubeconfig`` in provision.sh does), until every worker's Node is Ready.

Every process runs under ``ip netns exec`` (the machine's network and a /sys of its own, so the
agent sees its own bridge's ports there), except dockerd, which needs the host's cgroup mounts and
runs under ``nsenter --net`` (:mod:`tests.support.lan`). The control machine has no engine: like
the Vagrant control node, it runs no pods.

Cost, measured on this 2-core machine shared with other test runs (load 5 to 7): 8 to 12 s to set
up two workers with the pause and echo-hostname images, 12 s with the 170 MB curl image added on
one of them, plus 2 s once per session to save that image; 7 to 8 s to tear down, up to 5 of them
waiting for the agents to stop. A test module therefore takes one set for all its tests
(``machine_factory`` in ``tests/conftest.py``, module-scoped), and loads only the images it needs.

Teardown (:meth:`SeparateMachines.teardown`) runs every step whatever failed before: agents, then
the server (SIGTERM, SIGKILL after a grace period), each engine's containers and dockerd, whatever a
crashed engine left (:meth:`~tests.support.machine_engine.MachineEngine.clean_up`), every process
still on a machine, the namespaces (with them every veth, the bridge, routes and iptables rules the
engines and agents made) and the run's directory. It then checks itself with
:func:`tests.support.leftovers.machine_objects` and fails if anything of the run is left. The
host's own engine, containers, links and rules are never touched: everything is named with the
run's tag and lives in the run's namespaces, cgroup directories and temp directory.

Use it from a test module::

    @pytest.fixture(scope="module")
    def machines(machine_factory):
        return machine_factory(workers=2, images=(PAUSE, ECHO_HOSTNAME, CURL))

    def test_something(machines):
        kubectl = machines.kubectl()               # real kubectl, from the workstation
        machines.run_on("worker-1", "ip", "route")  # a command on a machine
        machines.run_on_lan("curl", f"http://{machines.address('worker-2')}:30080/")
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.cluster import LAB_KNOBS
from tests.support.image_archive import PAUSE, ImageArchive
from tests.support.kubectl import Kubectl
from tests.support.lan import PREFIX, Lan, Machine
from tests.support.leftovers import machine_objects
from tests.support.machine_engine import MachineEngine, end_processes, host_storage_driver, machine_pids
from tests.support.waiting import wait_for

API_PORT = 6443
#: the control machine's LAN host number; workers follow it (192.168.N.10, .11, .12 as in the Vagrantfile)
CONTROL_HOST = 10
CONTROL = "control"


def worker_name(index: int) -> str:
    return f"worker-{index}"


def dockyard_argv(*args: str) -> list[str]:
    """The ``dockyard`` command, as installed for this interpreter."""
    return [sys.executable, "-m", "orchestrator.cli.main", *args]


def join_argv(join_command: str) -> list[str]:
    """The argv of the ``dockyard agent …`` line ``dockyard token create`` printed."""
    words = shlex.split(join_command.strip())
    if words[:2] != ["dockyard", "agent"]:
        raise AssertionError(f"dockyard token create printed no join command: {join_command!r}")
    return dockyard_argv(*words[1:])


def lan_kubeconfig(text: str, server: str) -> str:
    """The admin kubeconfig with its server changed to ``server``: the server writes its own
    loopback address, which no other machine can use."""
    config = yaml.safe_load(text)
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = server
    return yaml.safe_dump(config, sort_keys=False)


@dataclass
class LanKubectl(Kubectl):
    """The real kubectl, run from the LAN's workstation."""
    lan: Lan

    def command(self, *args: str) -> list[str]:
        return self.lan.command(*super().command(*args))


@dataclass
class SeparateMachines:
    archive: ImageArchive
    workers: int = 2
    images: tuple[str, ...] = (PAUSE,)                                        # on every worker
    more_images: dict[str, tuple[str, ...]] = field(default_factory=dict)   # worker name: only there
    server_args: tuple[str, ...] = ()
    agent_args: tuple[str, ...] = LAB_KNOBS
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    root: Path = field(init=False)
    lan: Lan = field(init=False)
    engines: dict[str, MachineEngine] = field(default_factory=dict)
    server: subprocess.Popen | None = None
    agents: dict[str, subprocess.Popen] = field(default_factory=dict)
    join: list[str] = field(default_factory=list)   # the agents' command, as `dockyard token create` printed it
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # short: the engines' unix sockets live below it, and a socket path has at most 107 bytes
        self.root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-{self.tag}-"))
        self.lan = Lan(self.tag)

    # -- where things are --------------------------------------------------------------------

    @property
    def worker_names(self) -> list[str]:
        return [worker_name(i) for i in range(1, self.workers + 1)]

    def machine(self, name: str) -> Machine:
        return next(machine for machine in self.lan.machines if machine.name == name)

    def address(self, name: str) -> str:
        """A machine's LAN address (a worker's is its Node's InternalIP)."""
        return self.machine(name).address

    @property
    def server_url(self) -> str:
        return f"https://{self.address(CONTROL)}:{API_PORT}"

    @property
    def state_dir(self) -> Path:
        """The control machine's ``dockyard server --state-dir``."""
        return self.root / CONTROL / "state"

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig for the workstation (the server's, pointed at its LAN address)."""
        return self.root / "kubeconfig"

    def logs_dir(self) -> Path:
        return self.root / "logs"

    # -- use ---------------------------------------------------------------------------------

    def kubectl(self) -> LanKubectl:
        return LanKubectl(self.kubeconfig, self.root / "kube-cache", self.lan)

    def run_on(self, name: str, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a command on a machine (its network, the host's files)."""
        return subprocess.run(self.machine(name).command(*argv), capture_output=True, text=True, timeout=timeout)

    def run_on_lan(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a command on the workstation: on the LAN, on none of the machines."""
        return subprocess.run(self.lan.command(*argv), capture_output=True, text=True, timeout=timeout)

    def logs(self, lines: int = 30) -> str:
        """The tail of every process's log (server, agents, engines), for failure messages."""
        parts = []
        for log in sorted(self.logs_dir().glob("*.log")):
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
            parts.append(f"--- {log.name}:\n{tail}")
        return "\n".join(parts) or "(no logs)"

    # -- set-up ------------------------------------------------------------------------------

    def start(self, timeout: float = 120) -> SeparateMachines:
        """Stand the machines up; the engines start and load their images side by side, while
        the control machine's server starts."""
        began = time.monotonic()
        self.logs_dir().mkdir(parents=True)
        self.lan.create()
        control = self.lan.add_machine(CONTROL, CONTROL_HOST)
        storage_driver = host_storage_driver()
        for index, name in enumerate(self.worker_names, start=1):
            machine = self.lan.add_machine(name, CONTROL_HOST + index)
            self.engines[name] = MachineEngine(machine, self.root / name / "engine", f"{PREFIX}-{self.tag}-{name}",
                                               self.logs_dir() / f"{name}-dockerd.log", storage_driver)
        archives = {name: [self.archive.tar(images) for images in (self.images, self.more_images.get(name)) if images]
                    for name in self.worker_names}
        self._spawn_server(control)
        with ThreadPoolExecutor(max_workers=len(self.engines)) as pool:
            for started in [pool.submit(self._start_engine, self.engines[name], archives[name])
                            for name in self.worker_names]:
                started.result()
        self._wait_for_server(control, timeout)
        self.join = self._join_command(control)
        for name in self.worker_names:
            self._start_agent(self.machine(name), self.join)
        self.wait_for_nodes(timeout)
        self.timings["set up"] = time.monotonic() - began
        return self

    @staticmethod
    def _start_engine(engine: MachineEngine, archives: list[Path]) -> None:
        engine.start()
        for archive in archives:
            engine.load(archive)

    def _spawn_server(self, control: Machine) -> None:
        argv = dockyard_argv("server", "--state-dir", str(self.state_dir), "--listen", f"0.0.0.0:{API_PORT}",
                             "--cluster-name", f"machines-{self.tag}", "--advertise", control.address,
                             *self.server_args)
        self.server = self._spawn(CONTROL, control.command(*argv), os.environ)

    def _wait_for_server(self, control: Machine, timeout: float) -> None:
        def ready() -> bool:
            if self.server is not None and self.server.poll() is not None:
                raise AssertionError(f"dockyard server exited with {self.server.returncode}:\n{self.logs()}")
            if not self.state_dir.joinpath("kubeconfig").exists():
                return False
            answer = self.run_on_lan("curl", "-sk", "--max-time", "2", f"{self.server_url}/readyz", timeout=10)
            return answer.stdout.strip() == "ok"

        wait_for(f"dockyard server on {control.address}", ready, explain=self.logs, timeout=timeout, every=0.2)
        self.kubeconfig.write_text(lan_kubeconfig(self.state_dir.joinpath("kubeconfig").read_text(),
                                                  self.server_url))
        self.kubeconfig.chmod(0o600)

    def _join_command(self, control: Machine) -> list[str]:
        created = subprocess.run(control.command(*dockyard_argv(
            "token", "create", "--state-dir", str(self.state_dir), "--server", self.server_url, "--ttl", "1h")),
            capture_output=True, text=True, timeout=60)
        if created.returncode != 0:
            raise AssertionError(f"dockyard token create failed:\n{created.stdout}\n{created.stderr}")
        return join_argv(created.stdout)

    def _start_agent(self, machine: Machine, join: list[str]) -> None:
        home = self.root / machine.name
        tmp = home / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        argv = [*join, "--node-name", machine.name, "--node-ip", machine.address,
                "--state-dir", str(home / "agent"), *self.agent_args]
        env = {**os.environ, "DOCKER_HOST": self.engines[machine.name].url, "TMPDIR": str(tmp)}
        self.agents[machine.name] = self._spawn(machine.name, machine.command(*argv), env)

    def wait_for_nodes(self, timeout: float = 120) -> None:
        """Until every worker's Node is Ready; fails at once if an agent has exited."""
        kubectl = self.kubectl()

        def all_ready() -> bool:
            for name, agent in self.agents.items():
                if agent.poll() is not None:
                    raise AssertionError(f"the agent on {name} exited with {agent.returncode}:\n{self.logs()}")
            listed = kubectl.run("get", "nodes", "-o", "json", check=False)
            if listed.returncode != 0:
                return False
            ready = {node["metadata"]["name"] for node in yaml.safe_load(listed.stdout)["items"]
                     if any(c["type"] == "Ready" and c["status"] == "True"
                            for c in node.get("status", {}).get("conditions") or [])}
            return ready == set(self.worker_names)

        wait_for("every worker's Node to be Ready", all_ready, explain=self.logs, timeout=timeout, every=0.5)

    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str]) -> subprocess.Popen:
        with open(self.logs_dir() / f"{name}.log", "ab") as log:
            return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    # -- crashes and restarts (what the chaos tests play) --------------------------------------

    def kill_server(self) -> None:
        """``kill -9`` the control plane, as a crash or the OOM killer does."""
        kill_processes([self.server] if self.server is not None else [])

    def start_server(self, timeout: float = 120) -> None:
        """Start ``dockyard server`` again on its state dir, as a user (or systemd) does after a crash."""
        control = self.machine(CONTROL)
        self._spawn_server(control)
        self._wait_for_server(control, timeout)

    def kill_agent(self, name: str) -> None:
        kill_processes([self.agents[name]])

    def start_agent(self, name: str, wait: bool = True, timeout: float = 60) -> None:
        """Run the machine's join command again (the agent finds its node token in its state
        dir); with ``wait``, until the agent says it is ready (its loops and signal handlers run)."""
        log = self.logs_dir() / f"{name}.log"
        offset = log.stat().st_size if log.exists() else 0
        self._start_agent(self.machine(name), self.join)
        if not wait:
            return
        ready = f"node {name} ready (".encode()

        def started() -> bool:
            agent = self.agents[name]
            if agent.poll() is not None:
                raise AssertionError(f"the agent on {name} exited with {agent.returncode}:\n{self.logs()}")
            with open(log, "rb") as text:
                text.seek(offset)
                return ready in text.read()

        wait_for(f"the agent on {name} to start", started, explain=self.logs, timeout=timeout, every=0.2)

    # -- teardown ----------------------------------------------------------------------------

    def teardown(self) -> None:
        """Remove everything of the run, whatever state it is in; then fail if anything is left."""
        began = time.monotonic()
        errors: list[BaseException] = []

        def step(action: Callable[..., object], *args: object) -> None:
            try:
                action(*args)
            except Exception as error:  # noqa: BLE001 - every step runs; the first error is raised
                errors.append(error)

        # side by side: each agent and engine takes seconds to stop
        step(stop_processes, list(self.agents.values()))
        if self.server is not None:
            step(stop_processes, [self.server])
        with ThreadPoolExecutor(max_workers=max(1, len(self.engines))) as pool:
            for stopped in [pool.submit(engine.stop) for engine in self.engines.values()]:
                step(stopped.result)
        for engine in self.engines.values():
            step(engine.clean_up)
        for machine in self.lan.machines:
            step(end_processes, machine_pids(machine.netns))
        step(end_processes, machine_pids(self.lan.netns))
        step(self.lan.remove)
        step(shutil.rmtree, self.root, True)
        self.timings["tear down"] = time.monotonic() - began
        left = machine_objects(self.tag)
        if any(left.values()) and not errors:
            errors.append(AssertionError(f"the separate machines of run {self.tag} left {left}"))
        if errors:
            raise errors[0]


def stop_processes(processes: list[subprocess.Popen], grace: float = 15) -> None:
    """SIGTERM to processes we started (each in its own session), SIGKILL to those still running
    after ``grace`` seconds."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in running:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def kill_processes(processes: list[subprocess.Popen]) -> None:
    """SIGKILL to processes we started (each in its own session, with whatever they started)."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


class MachineFactory:
    """Makes sets of separate machines on demand; tears each down at the end of its scope."""

    def __init__(self, archive: ImageArchive) -> None:
        self.archive = archive
        self.made: list[SeparateMachines] = []

    def __call__(self, workers: int = 2, images: tuple[str, ...] = (PAUSE,), **kwargs: Any) -> SeparateMachines:
        """``workers`` worker machines with ``images`` loaded (``more_images={"worker-1": (…)}``
        adds some to one machine only), plus the control machine."""
        machines = SeparateMachines(self.archive, workers=workers, images=images, **kwargs)
        self.made.append(machines)
        return machines.start()

    def teardown(self) -> None:
        errors = []
        for machines in reversed(self.made):
            try:
                machines.teardown()
            except Exception as error:  # noqa: BLE001 - tear the others down too, then report
                errors.append(error)
        if errors:
            raise errors[0]
