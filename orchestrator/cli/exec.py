"""``dockyard exec POD [-c C] [-i] [-t] -- COMMAND [ARG…]``: kubectl exec.

It speaks to the API server exactly as kubectl 1.32 does: a WebSocket to ``pods/{name}/exec``
with the ``v5.channel.k8s.io`` subprotocol (:mod:`orchestrator.api.remotecommand`), the bearer
token in the handshake. Output is written as it arrives; with ``-i`` a thread feeds our stdin to
the command and signals end-of-file on the close channel; with ``-t`` (and a terminal on stdin)
the terminal goes raw for the session and window size changes are forwarded.

Like kubectl, it exits with the command's exit code and says ``command terminated with exit
code N`` on stderr when N is not 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import termios
import threading
import tty as terminal
from contextlib import contextmanager, nullcontext
from typing import BinaryIO, Iterator, TextIO
from urllib.parse import urlencode

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol as WireSubprotocol

from orchestrator.api.podstatus import is_finished, phase
from orchestrator.api.remotecommand import (
    Channel, ExecOptions, Subprotocol, TerminalSize, exit_code_of, frame, unframe,
)
from orchestrator.cli.client import ApiClient, ClientError
from orchestrator.cli.pods import choose_container, get_pod, pod_name

# A refused handshake reaches us as InvalidStatus and is reported in kubectl's words; websockets'
# reader thread may meanwhile log the same closed connection as an "unexpected internal error"
# with a traceback, which Python's last-resort handler would print under our message.
logging.getLogger("websockets").addHandler(logging.NullHandler())


def add_exec_parser(verbs: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = verbs.add_parser("exec", help="run a command in a container of a pod (kubectl exec)")
    parser.add_argument("pod", help="pod name (or pod/NAME)")
    parser.add_argument("-c", "--container", help="container name (default: the pod's default or only one)")
    parser.add_argument("-i", "--stdin", action="store_true", help="pass our stdin to the command")
    parser.add_argument("-t", "--tty", action="store_true", help="give the command a terminal (with -i)")
    parser.add_argument("command", nargs="*", help="-- COMMAND [ARG…]")
    return parser


def split_command(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """``exec POD -c C -- sh -c 'x'`` → (``exec POD -c C``, ``sh -c 'x'``): everything after the
    first ``--`` belongs to the command. argparse cannot say that once subcommands are involved
    (it takes ``-c`` inside the command for its own option), so ``main`` splits first."""
    if argv[:1] == ["exec"] and "--" in argv:
        cut = argv.index("--")
        return argv[:cut], argv[cut + 1:]
    return argv, None


def run_exec(client: ApiClient, args: argparse.Namespace, out: BinaryIO, err: TextIO, stdin: BinaryIO) -> int:
    command = args.command
    if not command:
        raise ClientError("error: you must specify at least one command for the container")
    namespace = args.namespace or "default"
    name = pod_name(args.pod)
    pod = get_pod(client, namespace, name)
    if is_finished(pod):
        raise ClientError(f"error: cannot exec into a container in a completed pod; current phase is {phase(pod)}")
    use_tty = args.tty and args.stdin and os.isatty(stdin.fileno())
    if args.tty and args.stdin and not use_tty:
        err.write("Unable to use a TTY - input is not a terminal or the right kind of file\n")
    options = ExecOptions(tuple(command), choose_container(pod, args.container, err), stdin=args.stdin,
                          stdout=True, stderr=not use_tty, tty=use_tty)
    with _session(client, namespace, name, options) as ws:
        if args.stdin:
            _feed(ws, stdin, close_signal=ws.subprotocol == Subprotocol.V5.value)
        with _raw_terminal(stdin, ws) if use_tty else nullcontext():
            status = _receive(ws, out, err)
    return _outcome(status, err)


@contextmanager
def _session(client: ApiClient, namespace: str, name: str, options: ExecOptions) -> Iterator[ClientConnection]:
    scheme = "wss" if client.server.startswith("https") else "ws"
    url = (f"{scheme}://{client.server.split('://', 1)[1]}/api/v1/namespaces/{namespace}/pods/{name}/exec?"
           + urlencode(options.to_query()))
    try:
        ws = connect(url, ssl=client.ssl_context if scheme == "wss" else None,
                     additional_headers={"Authorization": f"Bearer {client.token}"},
                     subprotocols=[WireSubprotocol(p.value) for p in (Subprotocol.V5, Subprotocol.V4)],
                     open_timeout=30, max_size=None, compression=None)
    except InvalidStatus as refused:
        raise ClientError.refused(refused.response.status_code,
                                  (refused.response.body or b"").decode(errors="replace")) from None
    except (InvalidHandshake, OSError, TimeoutError) as error:
        raise ClientError(f"unable to connect to the server at {client.server}: {error}") from None
    with ws:
        yield ws


def _receive(ws: ClientConnection, out: BinaryIO, err: TextIO) -> dict | None:
    """Write output as it comes; return the final status (None if the connection just ended)."""
    status = None
    try:
        for message in ws:
            channel, payload = unframe(message if isinstance(message, bytes) else message.encode())
            if channel == Channel.STDOUT:
                out.write(payload)
                out.flush()
            elif channel == Channel.STDERR:
                err.flush()
                err.buffer.write(payload)
                err.buffer.flush()
            elif channel == Channel.ERROR:
                status = json.loads(payload)
    except ConnectionClosed:
        pass
    return status


def _outcome(status: dict | None, err: TextIO) -> int:
    if status is None:
        err.write("error: the connection to the server ended before the command finished\n")
        return 1
    code = exit_code_of(status)
    if code is None:
        err.write(f"error: {status.get('message') or 'the command could not be run'}\n")
        return 1
    if code:
        err.write(f"command terminated with exit code {code}\n")
    return code


def _feed(ws: ClientConnection, stdin: BinaryIO, *, close_signal: bool) -> None:
    """Our stdin to the command, in a daemon thread; end-of-file is passed on (v5) so commands
    such as ``cat`` finish."""

    def pump() -> None:
        try:
            while chunk := os.read(stdin.fileno(), 32 * 1024):
                ws.send(frame(Channel.STDIN, chunk))
            if close_signal:
                ws.send(frame(Channel.CLOSE, bytes([Channel.STDIN])))
        except (ConnectionClosed, OSError):
            pass  # the command ended first

    threading.Thread(target=pump, name="exec-stdin", daemon=True).start()


@contextmanager
def _raw_terminal(stdin: BinaryIO, ws: ClientConnection) -> Iterator[None]:
    """Raw mode on our terminal, restored at the end; window size sent now and on SIGWINCH."""
    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)

    def send_size(*_: object) -> None:  # also a SIGWINCH handler: (signum, frame)
        size = os.get_terminal_size(fd)
        try:
            ws.send(frame(Channel.RESIZE, TerminalSize(size.columns, size.lines).payload()))
        except ConnectionClosed:
            pass

    previous = signal.signal(signal.SIGWINCH, send_size)
    terminal.setraw(fd)
    try:
        send_size()
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        signal.signal(signal.SIGWINCH, previous)
