"""``kubectl logs``, ``exec``, ``attach`` and ``run -i`` on a cluster made by ``dockyard up``, pods
run by the real agent: the whole path users take (kubectl → API server → agent over mTLS → Docker)."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest
import yaml

from tests.support.terminal import on_a_terminal
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.kubectl]

IMAGE = "alicek106/rr-test:echo-hostname"
TICKER = "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.3; done"
# every run counts itself in an emptyDir, so each instance's log says which run it was
CRASHER = "n=$(cat /data/runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > /data/runs; echo run $n; exit 1"


@pytest.fixture(scope="module")
def lab(cluster_factory, tmp_path_factory):
    cluster = cluster_factory(nodes=1)
    kubectl = cluster.kubectl()
    pods = [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ticker"},
         "spec": {"containers": [{"name": "ticker", "image": IMAGE, "command": ["sh", "-c", TICKER]}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crasher"},
         "spec": {"volumes": [{"name": "data", "emptyDir": {}}],
                  "containers": [{"name": "crasher", "image": IMAGE, "command": ["sh", "-c", CRASHER],
                                  "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}},
    ]
    manifest = tmp_path_factory.mktemp("manifests") / "pods.yaml"
    manifest.write_text(yaml.safe_dump_all(pods))
    kubectl("apply", "-f", str(manifest))
    kubectl("wait", "--for=condition=Ready", "pod/ticker", "--timeout=90s", timeout=100)
    return kubectl


def test_logs_and_follow(lab):
    # Ready comes within a tick of the start, so wait for a second line rather than race it
    logs = wait_for("two ticks in the log", lambda: (out := lab("logs", "ticker")).count("\n") >= 2 and out)
    assert logs.startswith("tick 1\ntick 2\n"), logs
    lines = lab.first_lines(3, "logs", "-f", "--tail=1", "ticker")
    numbers = [int(line.split()[1]) for line in lines]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3, lines


def test_previous_logs_of_a_crash_looping_container(lab):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        restarts = lab("get", "pod", "crasher", "-o", "jsonpath={.status.containerStatuses[0].restartCount}")
        if restarts and int(restarts) >= 2:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"crasher never restarted twice:\n{lab('describe', 'pod', 'crasher')}")
    previous = lab("logs", "crasher", "--previous")
    assert re.fullmatch(r"run \d+\n", previous), previous
    never = lab.run("logs", "ticker", "--previous", check=False)
    assert never.stderr.strip() == ('Error from server (BadRequest): previous terminated container "ticker" '
                                    'in pod "ticker" not found')


def test_exec_returns_output_and_exit_code(lab):
    result = lab.run("exec", "ticker", "--", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert (result.returncode, result.stdout) == (3, "out\n")
    assert result.stderr == "err\ncommand terminated with exit code 3\n"
    assert lab("exec", "ticker", "--", "hostname") == "ticker\n"


def test_kubectl_run_interactive_feeds_stdin_and_exits_with_the_container(lab):
    """The seed's ``kubectl run -i --rm debug``, with a pipe instead of a person: stdin reaches
    the container through attach, its answer comes back, kubectl exits with its exit code and
    ``--rm`` deletes the pod."""
    result = lab.run("run", "-i", "--rm", "asker", f"--image={IMAGE}", "--restart=Never", "--",
                     "sh", "-c", 'read x; echo "got: $x"; exit 3', input="hello\n", check=False, timeout=90)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "got: hello\n" in result.stdout and 'pod "asker" deleted' in result.stdout, result.stdout
    assert "pod default/asker terminated (Error)" in result.stderr, result.stderr
    assert "couldn't attach" not in result.stderr  # no fallback to streaming logs
    assert lab.run("get", "pod", "asker", check=False).returncode != 0


def test_kubectl_attach_joins_a_running_main_process(lab):
    lab("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "listener"},
        "spec": {"containers": [{"name": "main", "image": IMAGE, "stdin": True,
                                 "command": ["sh", "-c", "while read x; do echo heard $x; done"]}]}}))
    lab("wait", "--for=condition=Ready", "pod/listener", "--timeout=60s", timeout=70)
    for word in ("one", "two"):  # attach twice: stdin stays open for the next client
        attach = subprocess.Popen(lab.command("attach", "-i", "listener"), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            attach.stdin.write(f"{word}\n")
            attach.stdin.flush()
            assert attach.stdout.readline() == f"heard {word}\n"
        finally:
            attach.kill()
            attach.wait(timeout=10)
    lab("delete", "pod", "listener", "--grace-period=1")


def test_kubectl_run_with_a_terminal_gives_a_shell(lab):
    """``kubectl run -i --tty --rm debug … -- sh`` exactly as the seed types it, on a pseudo-terminal.
    (kubectl first sets the size one larger, then the real one, to make the shell redraw: the
    ``sleep`` lets both land before ``stty`` looks.)"""
    output = on_a_terminal(lab.command("run", "-i", "--tty", "--rm", "shell", f"--image={IMAGE}",
                                       "--restart=Never", "--", "sh"),
                           [("command prompt", "sleep 1; stty size; echo tty-$((6*7))\r"), ("tty-42", "exit\r")],
                           timeout=90).output
    assert "tty-42" in output and 'pod "shell" deleted' in output, output
    assert "\r\n30 100\r\n" in output, output  # the terminal's size reached the container (resize)
