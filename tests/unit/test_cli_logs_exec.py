"""``dockyard logs`` / ``exec`` on the client side: argument splitting, kubectl's container
defaulting, the exit code and messages."""

from __future__ import annotations

import io

import pytest

from orchestrator.api.remotecommand import exit_status, failure_status
from orchestrator.cli.client import ClientError
from orchestrator.cli.exec import _outcome, split_command
from orchestrator.cli.pods import check_container, choose_container, pod_name


@pytest.mark.parametrize(("argv", "rest", "command"), [
    (["exec", "web", "--", "sh", "-c", "exit 3"], ["exec", "web"], ["sh", "-c", "exit 3"]),
    (["exec", "web", "-c", "app", "--", "ls", "--", "-l"], ["exec", "web", "-c", "app"], ["ls", "--", "-l"]),
    (["exec", "web", "ls"], ["exec", "web", "ls"], None),
    (["get", "pods", "--", "x"], ["get", "pods", "--", "x"], None),
])
def test_everything_after_the_double_dash_is_the_command(argv, rest, command):
    assert split_command(argv) == (rest, command)


def pod(*names: str, default: str | None = None) -> dict:
    annotations = {"kubectl.kubernetes.io/default-container": default} if default else {}
    return {"metadata": {"name": "web", "annotations": annotations},
            "spec": {"containers": [{"name": n} for n in names]}}


def test_container_defaulting_as_kubectl_does():
    err = io.StringIO()
    assert choose_container(pod("app"), None, err) == "app" and err.getvalue() == ""
    assert choose_container(pod("app", "side"), "side", err) == "side" and err.getvalue() == ""
    assert choose_container(pod("app", "side", default="side"), None, err) == "side" and err.getvalue() == ""
    assert choose_container(pod("app", "side"), None, err) == "app"
    assert err.getvalue() == 'Defaulted container "app" out of: app, side\n'
    assert pod_name("pod/web") == pod_name("pods/web") == pod_name("web") == "web"


def test_logs_checks_the_container_name_first():
    check_container(pod("app"), "app")
    check_container(pod("app"), None)
    with pytest.raises(ClientError, match="^error: container nope is not valid for pod web$"):
        check_container(pod("app"), "nope")


@pytest.mark.parametrize(("status", "code", "message"), [
    (exit_status(0), 0, ""),
    (exit_status(3, ["false"]), 3, "command terminated with exit code 3\n"),
    (failure_status('container not found ("app")'), 1, 'error: container not found ("app")\n'),
    (None, 1, "error: the connection to the server ended before the command finished\n"),
])
def test_exit_code_and_message(status, code, message):
    err = io.StringIO()
    assert _outcome(status, err) == code
    assert err.getvalue() == message
