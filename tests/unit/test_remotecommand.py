"""The exec wire protocol: channels, subprotocol choice, PodExecOptions, the final status."""

from __future__ import annotations

import json

import pytest

from orchestrator.api import errors
from orchestrator.api.remotecommand import (
    Channel, ExecOptions, Subprotocol, TerminalSize, exit_code_of, exit_status, failure_status, frame, negotiate,
    offered_protocols, unframe,
)


def test_frames_carry_the_channel_in_the_first_byte():
    assert frame(Channel.STDOUT, b"hi") == b"\x01hi"
    assert frame(Channel.CLOSE, bytes([Channel.STDIN])) == b"\xff\x00"
    assert unframe(b"\x02oops") == (Channel.STDERR, b"oops")
    assert unframe(b"\x07") == (7, b"")  # an unknown channel is reported, not refused
    with pytest.raises(ValueError):
        unframe(b"")


@pytest.mark.parametrize(("header", "chosen"), [
    ("v5.channel.k8s.io", Subprotocol.V5),                       # kubectl 1.32
    ("v4.channel.k8s.io", Subprotocol.V4),                       # the python client
    ("v4.channel.k8s.io, v5.channel.k8s.io", Subprotocol.V4),    # the client's order wins
    ("channel.k8s.io, base64.channel.k8s.io", None),
    ("", None),
])
def test_negotiation_takes_the_clients_first_spoken_protocol(header, chosen):
    assert negotiate(offered_protocols(header)) is chosen


def test_exec_options_from_a_query_with_repeated_commands():
    query = [("command", "sh"), ("command", "-c"), ("command", "echo a b"), ("container", "app"),
             ("stdout", "true"), ("stderr", "1"), ("stdin", "false")]
    options = ExecOptions.from_query(query)
    assert options == ExecOptions(("sh", "-c", "echo a b"), "app", stdin=False, stdout=True, stderr=True, tty=False)
    assert ExecOptions.from_query(options.to_query()) == options


@pytest.mark.parametrize(("query", "message"), [
    ([("stdout", "true")], "you must specify at least one command for the container"),
    ([("command", "ls")], "you must specify at least 1 of stdin, stdout, stderr"),
    ([("command", "ls"), ("stdout", "maybe")], 'invalid value for stdout: "maybe" is not a boolean (use true or false)'),
])
def test_exec_options_are_validated_with_kubernetes_messages(query, message):
    with pytest.raises(errors.ApiError) as refused:
        ExecOptions.from_query(query)
    assert (refused.value.code, refused.value.message) == (400, message)


def test_exit_status_as_the_kubelet_writes_it():
    assert exit_status(0) == {"metadata": {}, "status": "Success"}
    status = exit_status(3, ["sh", "-c", "exit 3"])
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"] == {"causes": [{"reason": "ExitCode", "message": "3"}]}
    assert status["message"] == "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3"
    assert exit_code_of(json.loads(json.dumps(status))) == 3
    assert exit_code_of(exit_status(0)) == 0


def test_a_command_that_never_ran_has_no_exit_code():
    status = failure_status('container not found ("app")')
    assert status["status"] == "Failure" and status["message"] == 'container not found ("app")'
    assert exit_code_of(status) is None
    assert exit_code_of({"status": "Failure", "reason": "NonZeroExitCode", "details": {"causes": []}}) is None


def test_terminal_size_messages():
    size = TerminalSize.parse(b'{"Width": 120, "Height": 40}')
    assert size == TerminalSize(120, 40)
    assert TerminalSize.parse(size.payload()) == size
    for bad in (b"{}", b"not json", b'{"Width": -1, "Height": 3}'):
        with pytest.raises(ValueError):
            TerminalSize.parse(bad)
