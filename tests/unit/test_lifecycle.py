"""The local-cluster lifecycle without Docker: what `up` plans, the command lines it builds, how
`dockyard agent` flags become an AgentConfig, pid-file handling with real (tiny) processes, and
the state-directory safety rules of `down --purge`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.config import AgentConfig, BackoffPolicy
from orchestrator.api.clusternetwork import ClusterNetwork
from orchestrator.cli.agent import config_from_args, tuning_argv
from orchestrator.cli.lifecycle.down import foreign_entries
from orchestrator.cli.lifecycle.plan import ClusterSpec, UpPlan, agent_argv, plan_up, server_argv
from orchestrator.cli.lifecycle.up import remembered_knobs
from orchestrator.cli.lifecycle.processes import (
    ProcessRecord, Stopped, alive, launch, records, start_time, stop,
)
from orchestrator.cli.main import _parser
from orchestrator.cli.durations import parse_duration
from orchestrator.cli.tokens import join_command
from orchestrator.cluster.statedir import StateDir


def spec(tmp_path: Path, nodes: int = 3, **kwargs) -> ClusterSpec:
    return ClusterSpec(state=StateDir(tmp_path / "dy"), nodes=nodes, api_port=7443, cluster_name="lab", **kwargs)


# -- planning -----------------------------------------------------------------------------------


@pytest.mark.parametrize("running, expected", [
    (set(), UpPlan(True, ("node-1", "node-2", "node-3"), ())),
    ({"server", "agent-node-1", "agent-node-2", "agent-node-3"}, UpPlan(False, (), ())),
    ({"server", "agent-node-1", "agent-node-3"}, UpPlan(False, ("node-2",), ())),
    ({"agent-node-1", "agent-node-2", "agent-node-3"}, UpPlan(True, (), ())),
    ({"server", "agent-node-1", "agent-node-2", "agent-node-3", "agent-node-4"}, UpPlan(False, (), ("node-4",))),
])
def test_up_starts_only_what_is_missing(tmp_path, running, expected):
    plan = plan_up(spec(tmp_path), running)
    assert plan == expected
    assert plan.nothing_to_do == (not expected.start_server and not expected.start_agents)


def test_zero_nodes_is_a_control_plane_alone(tmp_path):
    assert plan_up(spec(tmp_path, nodes=0), set()) == UpPlan(True, (), ())


def test_command_lines(tmp_path):
    network = ClusterNetwork(cluster_cidr="10.245.0.0/16", service_cidr="10.112.0.0/12")
    wanted = spec(tmp_path, allow_privileged=True, agent_tuning=("--backoff-max", "4.0"))
    server = server_argv(wanted, network)
    assert server[:3] == [sys.executable, "-m", "orchestrator.cli.main"]
    assert server[3:] == ["server", "--state-dir", str(tmp_path / "dy"), "--listen", "127.0.0.1:7443",
                          "--cluster-name", "lab", "--cluster-cidr", "10.245.0.0/16", "--service-cidr",
                          "10.112.0.0/12", "--allow-privileged"]
    agent = agent_argv(wanted, network, "node-2", 40123, tmp_path / "dy/agents/node-2/node-token")
    assert agent[3:] == [
        "agent", "--server", "https://127.0.0.1:7443", "--token-file", str(tmp_path / "dy/agents/node-2/node-token"),
        "--node-name", "node-2", "--ca-file", str(tmp_path / "dy/pki/ca.crt"),
        "--state-dir", str(tmp_path / "dy/agents/node-2"), "--listen", "0.0.0.0:40123",
        "--backoff-max", "4.0", "--node-ip", "10.245.0.12", "--node-ip-on-bridge", "--allow-host-path"]


def test_without_root_the_nodes_keep_the_hosts_address(tmp_path):
    wanted = spec(tmp_path, node_addresses=False)
    agent = agent_argv(wanted, ClusterNetwork(), "node-1", 40123, tmp_path / "token")
    assert "--node-ip" not in agent and "--node-ip-on-bridge" not in agent


# -- `dockyard agent` flags -----------------------------------------------------------------------


def parse(*argv: str):
    return _parser().parse_args(list(argv))


def test_agent_flags_become_the_config(tmp_path):
    args = parse("agent", "--server", "https://10.0.0.1:6443/", "--token", "dyj_abc", "--node-name", "worker-1",
                 "--node-ip", "10.0.0.7", "--docker-host", "unix:///run/docker.sock", "--ca-cert-hash",
                 "sha256:" + "a" * 64, "--state-dir", str(tmp_path), "--listen", "127.0.0.1:10250",
                 "--heartbeat-interval", "2", "--resync-interval", "7", "--backoff-initial", "1",
                 "--backoff-max", "8", "--backoff-reset", "60", "--image-backoff-initial", "0.5",
                 "--image-backoff-max", "3", "--max-pods", "20", "--allow-host-path",
                 "--node-labels", "disk=ssd, zone=a", "--pause-image", "my/pause:2")
    assert config_from_args(args) == AgentConfig(
        server="https://10.0.0.1:6443", token="dyj_abc", node_name="worker-1", state_dir=tmp_path,
        ca_cert_hash="sha256:" + "a" * 64, node_ip="10.0.0.7", docker_host="unix:///run/docker.sock",
        listen="127.0.0.1:10250", heartbeat_interval=2.0, resync_interval=7.0,
        backoff=BackoffPolicy(1.0, 8.0, 60.0), image_backoff=BackoffPolicy(0.5, 3.0, 600.0), max_pods=20,
        pause_image="my/pause:2", allow_host_path=True, labels={"disk": "ssd", "zone": "a"})


def test_agent_defaults_are_the_kubelets(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKYARD_STATE_DIR", str(tmp_path / "home"))
    token_file = tmp_path / "token"
    token_file.write_text("dyn_secret\n")
    config = config_from_args(parse("agent", "--server", "https://cp:6443", "--token-file", str(token_file),
                                    "--node-name", "n1"))
    assert config.token == "dyn_secret"
    assert config.state_dir == tmp_path / "home" / "agents" / "n1"
    reference = AgentConfig(server="", token="", node_name="", state_dir=Path())
    for name in ("heartbeat_interval", "resync_interval", "backoff", "image_backoff", "max_pods", "listen",
                 "allow_host_path", "pause_image"):
        assert getattr(config, name) == getattr(reference, name), name


@pytest.mark.parametrize("argv, message", [
    (("--node-name", "Bad_Name"), "--node-name"),
    (("--node-name", "n1", "--backoff-initial", "50", "--backoff-max", "5"), "back-off"),
    (("--node-name", "n1", "--node-labels", "novalue"), "key=value"),
])
def test_agent_flag_errors_name_the_flag(argv, message):
    with pytest.raises(ValueError, match=message):
        config_from_args(parse("agent", "--server", "https://cp:6443", "--token", "dyn_x", *argv))


def test_agent_refuses_plain_http():
    with pytest.raises(ValueError, match="https://"):
        config_from_args(parse("agent", "--server", "http://cp:6443", "--token", "dyn_x", "--node-name", "n1"))


def test_up_passes_the_knobs_it_was_given_to_every_agent(tmp_path):
    up = parse("up", "--nodes", "2", "--backoff-initial", "1", "--max-pods", "5")
    assert tuning_argv(up) == ["--backoff-initial", "1.0", "--max-pods", "5"]
    agent = parse("agent", "--server", "https://cp:1", "--token", "dyn_x", "--node-name", "n", *tuning_argv(up))
    config = config_from_args(agent)
    assert config.backoff.initial == 1.0 and config.max_pods == 5
    assert tuning_argv(parse("up")) == []  # nothing set: agents keep their defaults


# -- tokens ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, seconds", [
    ("24h", 86400), ("90m", 5400), ("1h30m", 5400), ("45s", 45), ("600", 600), ("0", None), ("0h", None),
    ("1.5h", 5400),
])
def test_ttl_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1d", "h", "10 m", "-5m", "1h-30m"])
def test_bad_ttl_says_what_it_wants(text):
    with pytest.raises(ValueError, match="24h"):
        parse_duration(text)


def test_join_command_is_what_a_new_machine_runs():
    assert join_command("https://10.0.0.2:6443", "dyj_t", "sha256:ab", "worker-1") == \
        "dockyard agent --server https://10.0.0.2:6443 --token dyj_t --ca-cert-hash sha256:ab --node-name worker-1"
    assert "--node-name" not in join_command("https://h:1", "dyj_t", "sha256:ab", None)


# -- processes and pid files ------------------------------------------------------------------------


@pytest.fixture
def state(tmp_path) -> StateDir:
    return StateDir(tmp_path / "dy").ensure()


@pytest.fixture
def started(state):
    """Processes a test launches; killed at teardown whatever the test did."""
    launched: list[ProcessRecord] = []
    yield launched
    stop(launched, grace=0.5)


def test_launch_records_a_detached_process(state, started):
    record = launch(state, "server", [sys.executable, "-c", "import time; print('hello', flush=True); time.sleep(60)"])
    started.append(record)
    assert alive(record) and start_time(record.pid) == record.started
    assert records(state) == [record]
    assert json.loads(state.pid_file("server").read_text())["pid"] == record.pid
    assert os.getsid(record.pid) == record.pid  # its own session: a Ctrl-C in our terminal won't reach it
    deadline = time.monotonic() + 5
    while "hello" not in state.server_log.read_text().splitlines() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "hello" in state.server_log.read_text().splitlines()
    assert stop([record], grace=5) == {"server": Stopped.TERMINATED}
    assert not alive(record)


def test_a_process_ignoring_sigterm_is_killed(state, started):
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    record = launch(state, "agent-stubborn", [sys.executable, "-c", code])
    started.append(record)
    deadline = time.monotonic() + 5
    # (the log's first line echoes the command, so look for "ready" as a line of its own)
    while "ready" not in state.log_file("agent-stubborn").read_text().splitlines() and time.monotonic() < deadline:
        time.sleep(0.05)
    began = time.monotonic()
    assert stop([record], grace=0.5) == {"agent-stubborn": Stopped.KILLED}
    assert time.monotonic() - began < 5 and not alive(record)


def test_a_reused_pid_is_never_signalled(state, started):
    """A pid file from before a reboot may name a pid that now belongs to someone else."""
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = ProcessRecord("server", bystander.pid, start_time(bystander.pid) - 1, ("dockyard", "server"))
        assert not alive(stale)
        assert stop([stale], grace=0.1) == {"server": Stopped.ALREADY_GONE}
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_a_zombie_counts_as_gone(state):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started_at = start_time(child.pid)
    deadline = time.monotonic() + 5
    while start_time(child.pid) is not None and time.monotonic() < deadline:
        time.sleep(0.02)  # exited but not yet reaped by us: a zombie
    assert started_at is not None and start_time(child.pid) is None
    child.wait()


def test_unreadable_pid_files_are_ignored(state):
    state.pid_file("server").write_text("not json")
    good = ProcessRecord("agent-node-1", 1, 5, ("x",))
    state.pid_file("agent-node-1").write_text(json.dumps(good.to_json()))
    state.pid_file("agent-node-0").write_text(json.dumps({**good.to_json(), "name": "agent-node-0"}))
    assert [r.name for r in records(state)] == ["agent-node-0", "agent-node-1"]
    assert good.node_name == "node-1"


# -- down --purge safety --------------------------------------------------------------------------


def test_purge_only_deletes_what_dockyard_made(state):
    for name in ("state.db", "state.db-wal", "state.db-shm", "tokens.json", "tokens.json.lock", "kubeconfig",
                 "cluster.json", ".tokens.json.x1y2.tmp"):
        (state.root / name).write_text("")
    state.agents_dir.mkdir()
    assert foreign_entries(state) == []
    (state.root / "thesis.tex").write_text("")
    (state.root / "Documents").mkdir()
    assert foreign_entries(state) == ["Documents", "thesis.tex"]


def test_sigterm_reaches_the_whole_process_group(state, started):
    """The agent may start helpers; stopping it must not leave them behind."""
    code = ("import subprocess, sys, time; "
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            "print(p.pid, flush=True); time.sleep(60)")
    record = launch(state, "agent-parent", [sys.executable, "-c", code])
    started.append(record)
    deadline = time.monotonic() + 5
    child_pid = None
    while child_pid is None and time.monotonic() < deadline:
        lines = [line for line in state.log_file("agent-parent").read_text().splitlines() if line.isdigit()]
        child_pid = int(lines[0]) if lines else None
        time.sleep(0.05)
    assert child_pid is not None
    stop([record], grace=5)
    deadline = time.monotonic() + 5
    while start_time(child_pid) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert start_time(child_pid) is None


def test_up_remembers_the_lab_knobs_a_plain_up_reuses(tmp_path):
    state = StateDir(tmp_path / "dy").ensure()
    given = ("--heartbeat-interval", "1.0")
    assert remembered_knobs(state, given, ()) == {"agent_tuning": given, "server_tuning": ()}
    assert remembered_knobs(state, (), ()) == {"agent_tuning": given, "server_tuning": ()}  # `up` alone
    grace = ("--node-monitor-grace-period", "5.0")
    assert remembered_knobs(state, (), grace) == {"agent_tuning": (), "server_tuning": grace}  # replaced
    assert remembered_knobs(state, (), ()) == {"agent_tuning": (), "server_tuning": grace}
    assert foreign_entries(state) == []
