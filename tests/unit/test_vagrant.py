"""The Vagrant cluster's files, checked without Vagrant or VMs.

* ``Vagrantfile``: ``ruby -c`` accepts it, and loaded under a stand-in ``Vagrant`` module that
  records every setting, it defines the control node and two workers on 192.168.56.10/11/12 with
  2 GB each and hands each the provisioning script, its role and one shared join secret.
* ``vagrant/provision.sh``: ``bash -n`` and ``shellcheck`` accept it, and its functions, sourced
  into bash, do what the VMs rely on: the join command ``dockyard token create`` prints is parsed
  (and anything else refused before it reaches a systemd unit), the units' command lines are ones
  ``dockyard server`` and ``dockyard agent`` accept, the kubeconfig is pointed at the control
  node's address, and the control node's share hands the join command to a worker over HTTP.

ruby and shellcheck are required (Debian packages ``ruby`` and ``shellcheck``): these tests fail,
never skip, without them.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from orchestrator.cli.agent import config_from_args
from orchestrator.cli.main import _parser
from orchestrator.cli.tokens import join_command
from orchestrator.cluster.init import init_cluster
from orchestrator.cluster.kubeconfig import read_kubeconfig
from orchestrator.cluster.pki import ca_fingerprint
from orchestrator.cluster.statedir import StateDir
from orchestrator.cluster.tokens import TokenBook

REPO = Path(__file__).resolve().parents[2]
VAGRANTFILE = REPO / "Vagrantfile"
SCRIPT = REPO / "vagrant" / "provision.sh"


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: the Vagrant files cannot be checked without it. "
                    f"Install it with `apt-get install -y {package}` (the Makefile should).")
    return path


# -- Vagrantfile ----------------------------------------------------------------------------------

# A stand-in for Vagrant: every `x = v` is an attribute, every call with arguments or a block is
# recorded (a block gets a fresh recorder), and a bare name (`config.vm`) is a nested namespace.
RECORDER = r"""
require "json"

class Recorder
  def initialize
    @attrs = {}
    @spaces = {}
    @calls = []
  end

  def method_missing(name, *args, **kwargs, &block)
    name = name.to_s
    if name.end_with?("=")
      @attrs[name.chomp("=")] = args.first
    elsif args.empty? && kwargs.empty? && block.nil?
      @spaces[name] ||= Recorder.new
    else
      inner = block && Recorder.new
      @calls << { "call" => name, "args" => args, "kwargs" => kwargs, "block" => inner }
      block.call(inner) if block
      nil
    end
  end

  def respond_to_missing?(*)
    true
  end

  def to_h
    { "attrs" => @attrs, "spaces" => @spaces.transform_values(&:to_h),
      "calls" => @calls.map { |c| c.merge("block" => c["block"] && c["block"].to_h) } }
  end
end

module Vagrant
  def self.configure(version)
    raise "configuration version #{version}" unless version == "2"
    $root = Recorder.new
    yield $root
  end
end

load ARGV.fetch(0)
puts JSON.generate($root.to_h)
"""


def load_vagrantfile(tmp_path: Path, **env: str) -> dict:
    ruby = tool("ruby", "ruby")
    stub = tmp_path / "recorder.rb"
    stub.write_text(RECORDER)
    environment = {**os.environ, "VAGRANT_DOTFILE_PATH": str(tmp_path / "dotvagrant"), **env}
    done = subprocess.run([ruby, str(stub), str(VAGRANTFILE)], capture_output=True, text=True,
                          env=environment, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr.lower(), done.stderr
    return json.loads(done.stdout)


def calls(recorder: dict, name: str) -> list[dict]:
    return [call for call in recorder["calls"] if call["call"] == name]


def machines(root: dict) -> dict[str, dict]:
    return {call["args"][0]: call for call in calls(root["spaces"]["vm"], "define")}


def test_ruby_accepts_the_vagrantfile():
    done = subprocess.run([tool("ruby", "ruby"), "-c", str(VAGRANTFILE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Syntax OK" in done.stdout


def test_the_vagrantfile_defines_a_control_node_and_two_workers(tmp_path):
    root = load_vagrantfile(tmp_path)
    vm = root["spaces"]["vm"]
    assert vm["attrs"]["box"] == "debian/bookworm64"
    defined = machines(root)
    assert list(defined) == ["control", "worker-1", "worker-2"]  # control first: it is provisioned first
    assert defined["control"]["kwargs"] == {"primary": True}
    secrets = set()
    for name, ip, role in [("control", "192.168.56.10", "control"), ("worker-1", "192.168.56.11", "worker"),
                           ("worker-2", "192.168.56.12", "worker")]:
        machine = defined[name]["block"]["spaces"]["vm"]
        assert machine["attrs"]["hostname"] == name
        (network,) = calls(machine, "network")
        assert network["args"] == ["private_network"] and network["kwargs"] == {"ip": ip}
        (shell,) = calls(machine, "provision")
        assert shell["args"] == ["shell"]
        assert shell["kwargs"]["path"] == "vagrant/provision.sh"
        assert (REPO / shell["kwargs"]["path"]).is_file()
        assert shell["kwargs"]["args"] == [role]
        env = shell["kwargs"]["env"]
        assert env["DOCKYARD_CONTROL_IP"] == "192.168.56.10"
        assert env["DOCKYARD_NODE_IP"] == ip and env["DOCKYARD_NODE_NAME"] == name
        assert env["DOCKYARD_KUBECTL_VERSION"].startswith("v1.32.")
        secrets.add(env["DOCKYARD_JOIN_SECRET"])
    assert len(secrets) == 1, "every machine must get the same join secret"


def test_every_vm_gets_2_gb_on_virtualbox_and_libvirt(tmp_path):
    vm = load_vagrantfile(tmp_path)["spaces"]["vm"]
    providers = {call["args"][0]: call["block"]["attrs"] for call in calls(vm, "provider")}
    assert providers == {"virtualbox": {"memory": 2048, "cpus": 2}, "libvirt": {"memory": 2048, "cpus": 2}}
    bigger = load_vagrantfile(tmp_path, DOCKYARD_VM_MEMORY="3072")["spaces"]["vm"]
    assert {call["block"]["attrs"]["memory"] for call in calls(bigger, "provider")} == {3072}


def test_the_synced_folder_is_rsync_without_the_hosts_virtualenv(tmp_path):
    vm = load_vagrantfile(tmp_path)["spaces"]["vm"]
    (folder,) = calls(vm, "synced_folder")
    assert folder["args"] == [".", "/vagrant"]
    assert folder["kwargs"]["type"] == "rsync"
    assert {".venv/", ".git/", ".vagrant/"} <= set(folder["kwargs"]["rsync__exclude"])


def test_the_join_secret_is_made_once_private_and_kept(tmp_path):
    first = load_vagrantfile(tmp_path)
    secret_file = tmp_path / "dotvagrant" / "dockyard-join-secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text().strip()
    assert len(secret) == 32 and all(c in "0123456789abcdef" for c in secret)
    again = load_vagrantfile(tmp_path)
    for root in (first, again):
        for machine in machines(root).values():
            (shell,) = calls(machine["block"]["spaces"]["vm"], "provision")
            assert shell["kwargs"]["env"]["DOCKYARD_JOIN_SECRET"] == secret


# -- provision.sh: syntax -------------------------------------------------------------------------


def test_bash_accepts_the_provisioning_script():
    done = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_shellcheck_finds_nothing_in_the_provisioning_script():
    done = subprocess.run([tool("shellcheck", "shellcheck"), str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("args", [[], ["bogus"], ["control", "worker"]])
def test_the_script_wants_one_known_role(args):
    # Never a valid role here: that would provision this machine.
    done = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "usage:" in done.stderr and "control|worker" in done.stderr


# -- provision.sh: its functions ------------------------------------------------------------------


def bash(body: str, *, env: dict[str, str] | None = None, check: bool = True, timeout: float = 60
         ) -> subprocess.CompletedProcess:
    """Run ``body`` in bash after sourcing the script (which must not provision anything then)."""
    program = f"source {shlex.quote(str(SCRIPT))}\n{body}\n"
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if check:
        assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture
def state(tmp_path) -> StateDir:
    """A control plane's state directory as `dockyard server --listen 0.0.0.0:6443 --advertise
    192.168.56.10` makes it (no server runs)."""
    made = StateDir(tmp_path / "server")
    init_cluster(made, cluster_name="vagrant", api_host="0.0.0.0", api_port=6443, extra_hosts=["192.168.56.10"])
    return made


@pytest.fixture
def dockyard_cli(tmp_path) -> Path:
    """This checkout's `dockyard`, as one executable path (what the script's $DOCKYARD is)."""
    wrapper = tmp_path / "bin" / "dockyard"
    wrapper.parent.mkdir()
    wrapper.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m orchestrator.cli.main \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper


def a_join_command(state: StateDir) -> str:
    token = TokenBook.for_state(state).issue_join()
    return join_command("https://192.168.56.10:6443", token, ca_fingerprint(state), None)


def test_sourcing_the_script_defines_its_functions_and_runs_nothing():
    done = bash("type -t provision_control provision_worker parse_join_command")
    assert done.stdout.split() == ["function"] * 3
    assert done.stderr == ""


def test_a_real_join_command_is_parsed_into_server_token_and_ca_hash(state):
    command = a_join_command(state)
    done = parse(command + "\n")
    assert done.returncode == 0, done.stderr
    words = command.split()
    assert done.stdout.splitlines() == [words[words.index(flag) + 1]
                                       for flag in ("--server", "--token", "--ca-cert-hash")]


def parse(text: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"source {shlex.quote(str(SCRIPT))}; parse_join_command"], input=text,
                          capture_output=True, text=True, timeout=30)


HASH = "sha256:" + "ab" * 32
TOKEN = "dyj_" + "A1b2-_" * 7


@pytest.mark.parametrize("text, complaint", [
    ("", "no --server"),
    (f"dockyard agent --token {TOKEN} --ca-cert-hash {HASH}", "no --server"),
    (f"dockyard agent --server https://192.168.56.10:6443 --ca-cert-hash {HASH}", "no --token"),
    (f"dockyard agent --server https://192.168.56.10:6443 --token {TOKEN}", "no --ca-cert-hash"),
    (f"dockyard agent --server http://192.168.56.10:6443 --token {TOKEN} --ca-cert-hash {HASH}", "--server"),
    (f"dockyard agent --server https://192.168.56.10:6443 --token dyn_{TOKEN[4:]} --ca-cert-hash {HASH}",
     "not a join token"),
    (f"dockyard agent --server https://192.168.56.10:6443 --token {TOKEN};reboot --ca-cert-hash {HASH}",
     "not a join token"),
    (f"dockyard agent --server https://x:6443$(reboot) --token {TOKEN} --ca-cert-hash {HASH}", "--server"),
    (f"dockyard agent --server https://192.168.56.10:6443 --token {TOKEN} --ca-cert-hash sha256:abc", "--ca-cert-hash"),
    ("<html>404 Not Found</html>", "no --server"),
])
def test_anything_but_a_join_command_is_refused(text, complaint):
    done = parse(text + "\n")
    assert done.returncode != 0
    assert done.stdout == ""
    assert complaint in done.stderr


def test_only_the_first_agent_command_counts_and_no_extra_line_reaches_the_unit():
    good = f"dockyard agent --server https://192.168.56.10:6443 --token {TOKEN} --ca-cert-hash {HASH}"
    done = parse(f"{good}\nExecStartPre=/bin/rm -rf /\ndockyard agent --server https://evil:1 --token {TOKEN}x "
                 f"--ca-cert-hash {HASH}\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["https://192.168.56.10:6443", TOKEN, HASH]


@pytest.mark.parametrize("address, ok", [
    ("192.168.56.11", True), ("10.0.0.1", True), ("255.255.255.255", True), ("192.168.56.256", False),
    ("192.168.56", False), ("", False), ("192.168.56.11 ", False), ("a.b.c.d", False), ("08.1.1.1", True),
])
def test_is_ipv4(address, ok):
    assert (bash(f"is_ipv4 {shlex.quote(address)}", check=False).returncode == 0) is ok


@pytest.mark.parametrize("name, ok", [
    ("worker-1", True), ("control", True), ("a.b", True), ("Worker-1", False), ("-w", False), ("w_1", False),
    ("", False), ("w" * 254, False),
])
def test_is_node_name(name, ok):
    assert (bash(f"is_node_name {shlex.quote(name)}", check=False).returncode == 0) is ok


def exec_start(unit: str) -> list[str]:
    (line,) = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


def test_the_server_unit_runs_the_control_plane_on_every_address_advertising_the_private_one():
    unit = bash("render_server_unit 192.168.56.10").stdout
    argv = exec_start(unit)
    assert argv[0] == "/opt/dockyard/venv/bin/dockyard"
    args = _parser().parse_args(argv[1:])
    assert args.verb == "server"
    assert args.listen == "0.0.0.0:6443"
    assert args.advertise == ["192.168.56.10"]
    assert str(args.state_dir) == "/var/lib/dockyard/server"
    assert "Restart=always" in unit and "WantedBy=multi-user.target" in unit


def test_the_agent_unit_is_a_command_line_dockyard_agent_accepts(state, tmp_path):
    command = a_join_command(state)
    token = command.split("--token ")[1].split()[0]
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "join-token").write_text(token + "\n")
    hash_ = ca_fingerprint(state)
    unit = bash(f"ETC={shlex.quote(str(tmp_path / 'etc'))}; "
                f"render_agent_unit https://192.168.56.10:6443 {hash_} worker-1 192.168.56.11").stdout
    assert token not in unit, "the join token belongs in a 0600 file, not in a world-readable unit"
    argv = exec_start(unit)
    args = _parser().parse_args(argv[1:])
    assert args.verb == "agent"
    config = config_from_args(args)
    assert config.server == "https://192.168.56.10:6443"
    assert config.token == token
    assert config.ca_cert_hash == hash_
    assert config.node_name == "worker-1" and config.node_ip == "192.168.56.11"
    assert not config.node_ip_on_bridge
    assert str(config.state_dir) == "/var/lib/dockyard/agent"
    assert "Requires=docker.service" in unit and "Restart=always" in unit


def test_the_share_unit_serves_only_the_share_directory_for_a_day_as_nobody():
    unit = bash("render_share_unit 192.168.56.10").stdout
    assert exec_start(unit) == ["/usr/bin/python3", "-m", "http.server", "--bind", "192.168.56.10",
                                "--directory", "/var/lib/dockyard-share", "8477"]
    assert "User=nobody" in unit and "RuntimeMaxSec=86400" in unit
    assert "Restart=" not in unit, "a restart would outlive the join token's 24 hours"
    assert "[Install]" not in unit, "started by provisioning only, never at boot"


def test_the_kubeconfig_is_pointed_at_the_control_nodes_private_address(state, tmp_path):
    original = read_kubeconfig(state.kubeconfig)
    assert original["server"] == "https://127.0.0.1:6443"
    done = subprocess.run(["bash", "-c", f"source {shlex.quote(str(SCRIPT))}; "
                                         "external_kubeconfig https://192.168.56.10:6443"],
                          input=state.kubeconfig.read_text(), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    copied = tmp_path / "copied-kubeconfig"
    copied.write_text(done.stdout)
    assert read_kubeconfig(copied) == {**original, "server": "https://192.168.56.10:6443"}
    before, after = state.kubeconfig.read_text().splitlines(), done.stdout.splitlines()
    assert [line for line in before if "server:" not in line] == [line for line in after if "server:" not in line]


def test_write_if_changed_writes_atomically_with_the_mode_and_says_whether_it_did(tmp_path):
    target = tmp_path / "sub" / "file"
    body = (f"t={shlex.quote(str(target))}\n"
            "echo one | write_if_changed \"$t\" 0600; echo \"first $?\"\n"
            "echo one | write_if_changed \"$t\" 0600 || echo \"second $?\"\n"
            "echo two | write_if_changed \"$t\" 0644; echo \"third $?\"\n")
    done = bash(body)
    assert done.stdout.split("\n")[:3] == ["first 0", "second 1", "third 0"]
    assert target.read_text() == "two\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["file"]  # no temporary files left


# -- the join command's way from the control node to a worker -------------------------------------


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def share_server(tmp_path):
    """What dockyard-join-share runs (python's http.server over the share directory), on 127.0.0.1."""
    directory = tmp_path / "share"
    directory.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield directory, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


SECRET = "0123456789abcdef0123456789abcdef"


def control_side(tmp_path: Path, state: StateDir, dockyard_cli: Path, share: Path) -> subprocess.CompletedProcess:
    """make_join_command as the control node runs it, with systemd and the file locations stubbed."""
    body = (f"DOCKYARD={shlex.quote(str(dockyard_cli))}; SERVER_STATE={shlex.quote(str(state.root))}; "
            f"ETC={shlex.quote(str(tmp_path / 'etc'))}; SHARE_DIR={shlex.quote(str(share))}; "
            f"UNIT_DIR={shlex.quote(str(tmp_path / 'units'))}; ADMIN_USER=no-such-user-here; "
            f"JOIN_SECRET={SECRET}; CONTROL_IP=192.168.56.10\n"
            "systemctl() { echo \"systemctl $*\"; }\n"
            "make_join_command\n")
    return bash(body)


def test_the_control_node_makes_a_join_command_and_shares_it_under_the_secret(tmp_path, state, dockyard_cli):
    share = tmp_path / "share"
    done = control_side(tmp_path, state, dockyard_cli, share)
    assert "systemctl restart dockyard-join-share" in done.stdout
    assert (share / "index.html").read_text() == "", "an empty index stops http.server listing the secret"
    assert sorted(p.name for p in share.iterdir()) == [SECRET, "index.html"]
    shared = (share / SECRET / "join-command").read_text()
    assert shared == (tmp_path / "etc" / "join-command").read_text()
    assert stat.S_IMODE((tmp_path / "etc" / "join-command").stat().st_mode) == 0o600
    assert shared.startswith("dockyard agent --server https://192.168.56.10:6443 --token dyj_")
    assert f"--ca-cert-hash {ca_fingerprint(state)}" in shared
    assert (tmp_path / "units" / "dockyard-join-share.service").is_file()
    token = shared.split("--token ")[1].split()[0]
    assert TokenBook.for_state(state).authenticate(token) is not None, "the token must be one the server accepts"
    # provisioning again makes a fresh token; the old one stays valid until it expires
    control_side(tmp_path, state, dockyard_cli, share)
    again = (share / SECRET / "join-command").read_text()
    assert again != shared and TokenBook.for_state(state).authenticate(token) is not None


def test_a_worker_fetches_the_join_command_from_the_share(tmp_path, state, dockyard_cli, share_server):
    share, port = share_server
    control_side(tmp_path, state, dockyard_cli, share)
    done = bash(f"CONTROL_IP=127.0.0.1; SHARE_PORT={port}; JOIN_SECRET={SECRET}\n"
                "fetch_join_command | parse_join_command")
    server, token, hash_ = done.stdout.splitlines()
    assert server == "https://192.168.56.10:6443" and token.startswith("dyj_") and hash_ == ca_fingerprint(state)


def test_a_worker_with_another_secret_gives_up_with_advice(tmp_path, state, dockyard_cli, share_server):
    share, port = share_server
    control_side(tmp_path, state, dockyard_cli, share)
    done = bash(f"CONTROL_IP=127.0.0.1; SHARE_PORT={port}; JOIN_SECRET={'f' * 32}\n"
                "sleep() { :; }\n"  # the minute of 404s, without the minute
                "fetch_join_command", check=False)
    assert done.returncode != 0
    assert "vagrant provision control" in done.stderr


def test_a_worker_waits_for_a_control_node_that_is_not_up_yet(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed
    done = bash(f"CONTROL_IP=127.0.0.1; SHARE_PORT={port}; JOIN_SECRET={SECRET}\n"
                "sleep() { :; }\n"
                "fetch_join_command", check=False, timeout=120)
    assert done.returncode != 0
    assert "waiting for the control node" in done.stderr
    assert "after 15 minutes: is the control node up?" in done.stderr


def test_a_join_file_replaces_the_share(tmp_path, state):
    path = tmp_path / "join"
    path.write_text(a_join_command(state) + "\n")
    done = bash(f"JOIN_FILE={shlex.quote(str(path))}; JOIN_SECRET=\nfetch_join_command | parse_join_command")
    assert done.stdout.splitlines()[0] == "https://192.168.56.10:6443"


@pytest.mark.parametrize("version, warning", [
    ("none", ""),
    ("1.32.4", "is not like v1.32.4"),
    ("v1.32.4/../../evil", "is not like v1.32.4"),
    ("v1.32.4; reboot", "is not like v1.32.4"),
])
def test_kubectl_is_skipped_when_asked_or_when_the_version_is_not_one(version, warning):
    done = bash(f"install_kubectl {shlex.quote(version)}")
    assert (warning in done.stderr) if warning else done.stderr == ""
    assert "downloading" not in done.stdout
