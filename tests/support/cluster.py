"""A whole local cluster, stood up the way users do it: ``dockyard up`` / ``dockyard down --purge``.

:class:`LocalCluster` runs the real commands as subprocesses on a temporary state dir, a free API
port and a run-unique cluster name (so its Docker objects carry a cluster uid no other run
shares), with lab-short durations so tests take seconds. Teardown is ``dockyard down --purge``;
if that fails or ``up`` died half way, a last resort stops whatever the pid files name and removes
every Docker object labelled with this cluster's uid, so nothing outlives the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.cli.lifecycle.processes import records, stop
from orchestrator.cluster.statedir import StateDir
from tests.support.apiaccess import ApiAccess
from tests.support.controlplane import free_port
from tests.support.kubectl import Kubectl

#: short enough that heartbeats, resyncs and crash loops play out within a test
LAB_KNOBS = ("--heartbeat-interval", "1", "--resync-interval", "5", "--status-interval", "1",
             "--backoff-initial", "1", "--backoff-max", "4", "--backoff-reset", "30",
             "--image-backoff-initial", "1", "--image-backoff-max", "4")


def dockyard(*args: str, timeout: float = 180, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the ``dockyard`` command as a user would (this interpreter's install of it)."""
    return subprocess.run([sys.executable, "-m", "orchestrator.cli.main", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


@dataclass
class LocalCluster(ApiAccess):
    state_dir: Path
    nodes: int = 1
    api_port: int = field(default_factory=free_port)
    name: str = field(default_factory=lambda: f"t-{uuid.uuid4().hex[:10]}")
    extra_args: tuple[str, ...] = LAB_KNOBS
    env: dict = field(default_factory=dict)  # extra environment of `dockyard up` and its processes
    uid: str | None = None
    up_result: subprocess.CompletedProcess | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def up(self, timeout: float = 120) -> LocalCluster:
        """``dockyard up``; AssertionError with its output and the process logs if it fails."""
        self.up_result = self.run_up(timeout=timeout)
        self._remember_uid()
        if self.up_result.returncode != 0:
            raise AssertionError(f"dockyard up failed ({self.up_result.returncode}):\n"
                                 f"{self.up_result.stdout}\n{self.up_result.stderr}\n{self.logs()}")
        return self

    def run_up(self, *more: str, timeout: float = 120) -> subprocess.CompletedProcess:
        result = dockyard("up", "--nodes", str(self.nodes), "--state-dir", str(self.state_dir),
                          "--api-port", str(self.api_port), "--cluster-name", self.name,
                          "--timeout", str(timeout), *self.extra_args, *more,
                          timeout=timeout + 30, env=self.env)
        self._remember_uid()
        return result

    def down(self, *more: str) -> subprocess.CompletedProcess:
        self._remember_uid()
        return dockyard("down", "--state-dir", str(self.state_dir), "--grace-period", "5", *more, env=self.env)

    def teardown(self) -> None:
        """``dockyard down --purge``, then make sure, whatever happened before."""
        self._remember_uid()
        try:
            result = self.down("--purge")
            if result.returncode != 0:
                print(f"dockyard down failed:\n{result.stdout}\n{result.stderr}", file=sys.stderr)
        finally:
            self._last_resort()

    def _last_resort(self) -> None:
        state = StateDir(self.state_dir)
        if state.run_dir.is_dir():
            stop(records(state), grace=2.0)
        if self.uid:
            from agent.network.teardown import remove_host_networking
            from agent.runtime.cleanup import remove_cluster_objects

            remove_host_networking(self.name, self.uid, None)
            remove_cluster_objects(self.uid)

    def _remember_uid(self) -> None:
        cluster_json = StateDir(self.state_dir).cluster_json
        if self.uid is None and cluster_json.exists():
            self.uid = json.loads(cluster_json.read_text())["uid"]

    # -- access ------------------------------------------------------------------------------

    @property
    def state(self) -> StateDir:
        return StateDir(self.state_dir)

    @property
    def kubeconfig(self) -> Path:
        return self.state.kubeconfig

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def node_names(self) -> list[str]:
        return [f"node-{i}" for i in range(1, self.nodes + 1)]

    def kubectl(self, cache_dir: Path | None = None) -> Kubectl:
        return Kubectl(self.kubeconfig, cache_dir or self.state_dir.parent / f"kube-cache-{self.name}")

    def dockyard(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """A kubectl-style ``dockyard`` verb against this cluster."""
        return dockyard(*args, "--kubeconfig", str(self.kubeconfig), timeout=timeout)

    def logs(self) -> str:
        logs_dir = self.state.logs_dir
        if not logs_dir.is_dir():
            return "(no logs)"
        return "\n".join(f"--- {log.name}:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                         for log in sorted(logs_dir.glob("*.log")))


class ClusterFactory:
    """Makes clusters on demand and tears every one of them down at the end of its scope."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.clusters: list[LocalCluster] = []

    def __call__(self, nodes: int = 1, *, start: bool = True, **kwargs) -> LocalCluster:
        cluster = LocalCluster(self.base / f"cluster-{len(self.clusters)}", nodes=nodes, **kwargs)
        self.clusters.append(cluster)
        return cluster.up() if start else cluster

    def teardown(self) -> None:
        errors = []
        for cluster in reversed(self.clusters):
            try:
                cluster.teardown()
            except Exception as error:  # noqa: BLE001 - tear the others down too, then report
                errors.append(error)
        if errors:
            raise errors[0]
