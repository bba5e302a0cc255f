"""`dockyard up / status / down` as users run them, for the control plane alone (`--nodes 0`):
idempotence, healing a crashed process, refusing to clash, and leaving nothing behind.
(With agents and Docker: tests/integration/test_local_cluster.py.)"""

from __future__ import annotations

import json
import os
import signal
import socket
import time

from orchestrator.cli.lifecycle.processes import alive, records
from tests.support.cluster import LocalCluster, dockyard


def test_up_is_idempotent_heals_and_down_purges(tmp_path):
    cluster = LocalCluster(tmp_path / "state", nodes=0)
    try:
        first = cluster.up()
        assert f"export KUBECONFIG={cluster.kubeconfig}" in first.up_result.stdout
        assert "waiting for the API server" in first.up_result.stderr
        [server] = records(cluster.state)
        assert server.name == "server" and alive(server)

        again = cluster.run_up()
        assert again.returncode == 0 and "is already running" in again.stdout
        assert records(cluster.state) == [server]  # nothing restarted

        status = dockyard("status", "--state-dir", str(cluster.state_dir))
        assert status.returncode == 0, status.stderr
        assert f'cluster "{cluster.name}" (uid {cluster.uid})' in status.stdout
        assert f"server    {server.pid}   running" in status.stdout

        os.kill(server.pid, signal.SIGKILL)
        _wait(lambda: not alive(server))
        assert dockyard("status", "--state-dir", str(cluster.state_dir)).returncode == 1
        healed = cluster.run_up()
        assert healed.returncode == 0 and "is up" in healed.stdout, healed.stderr
        [restarted] = records(cluster.state)
        assert restarted.pid != server.pid and alive(restarted)
        assert json_uid(cluster) == cluster.uid  # the same cluster, restarted

        down = cluster.down("--purge")
        assert down.returncode == 0, down.stderr
        assert "server (pid" in down.stdout and "terminated" in down.stdout
        assert f"of cluster {cluster.uid}" in down.stdout
        assert not alive(restarted) and not cluster.state_dir.exists()
        assert dockyard("down", "--state-dir", str(cluster.state_dir)).returncode == 0  # nothing to do
    finally:
        cluster.teardown()


def test_a_running_cluster_keeps_its_port(tmp_path):
    cluster = LocalCluster(tmp_path / "state", nodes=0)
    try:
        cluster.up()
        moved = LocalCluster(cluster.state_dir, nodes=0, name=cluster.name).run_up()
        assert moved.returncode == 1 and f"running with --api-port {cluster.api_port}" in moved.stderr
    finally:
        cluster.teardown()


def test_a_busy_port_fails_cleanly(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        cluster = LocalCluster(tmp_path / "state", nodes=0, api_port=squatter.getsockname()[1])
        try:
            result = cluster.run_up()
            assert result.returncode == 1
            assert "already in use" in result.stderr and "--api-port" in result.stderr
            assert records(cluster.state) == []
        finally:
            cluster.teardown()


def test_a_crashing_server_is_reported_with_its_log(tmp_path):
    cluster = LocalCluster(tmp_path / "state", nodes=0)
    cluster.state_dir.mkdir(parents=True)
    (cluster.state_dir / "pki").mkdir(mode=0o700)
    (cluster.state_dir / "pki" / "ca.key").write_text("half a CA")  # the server refuses to start on this
    try:
        result = cluster.run_up()
        assert result.returncode == 1
        assert "the server process" in result.stderr and "exited" in result.stderr
        assert "holds only half of the CA" in result.stderr  # the tail of the server's log
        assert records(cluster.state) == []
    finally:
        cluster.teardown()


def json_uid(cluster: LocalCluster) -> str:
    return json.loads(cluster.state.cluster_json.read_text())["uid"]


def _wait(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
