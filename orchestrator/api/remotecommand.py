"""``kubectl exec`` and ``kubectl attach`` on the wire: the ``channel.k8s.io`` WebSocket protocol
and its final status.

kubectl 1.30+ runs ``exec`` and ``attach`` (which ``kubectl run -i`` uses) over a WebSocket (the
older SPDY upgrade is only its fallback) and the official Python client does too, so that is the
one transport dockyard serves. The two verbs (:class:`StreamVerb`) share the protocol: exec starts
a new process in the container, attach joins the streams of its main process. Every WebSocket
message is binary: its first byte names a channel, the rest is the payload.

=====  ========  =========================================================================
  0    stdin     client → server, raw bytes
  1    stdout    server → client
  2    stderr    server → client
  3    error     server → client, once, last: a ``metav1.Status`` as JSON (below)
  4    resize    client → server, ``{"Width": 80, "Height": 24}`` for a TTY
 255   close     client → server, ``[255, channel]``: "no more data on that channel" (v5 only,
               how kubectl says stdin reached end-of-file)
=====  ========  =========================================================================

``v5.channel.k8s.io`` is what kubectl 1.32 offers (and only that); the Python client offers
``v4.channel.k8s.io``, which is v5 without the close signal. The server takes the first protocol
in the client's list that it speaks, as Kubernetes' ``wsstream`` does.

For exec, the error channel carries the exit status the way the kubelet writes it: ``{"status":
"Success"}``, or ``Failure`` with reason ``NonZeroExitCode`` and a cause ``{"reason":
"ExitCode", "message": "3"}``; kubectl turns the latter into ``command terminated with exit code
3`` and exits 3. Any other Failure is printed as ``error: <message>``. An attach ends with
``Success`` once the container's output ends (``kubectl run`` then reads the exit code from the
pod's status).

The same protocol, unchanged, runs between the API server and the node agent, which is how
the kubelet does it too: the API server only relays messages and never needs to know what a
command does.

Everything here is pure; both ends (``orchestrator.apiserver`` and ``agent``) import it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Iterable, Mapping, Sequence

from orchestrator.api import errors


class Subprotocol(str, Enum):
    V5 = "v5.channel.k8s.io"
    V4 = "v4.channel.k8s.io"


class StreamVerb(str, Enum):
    """The pod subresources served over this protocol."""

    EXEC = "exec"
    ATTACH = "attach"


class Channel(IntEnum):
    STDIN = 0
    STDOUT = 1
    STDERR = 2
    ERROR = 3
    RESIZE = 4
    CLOSE = 255


#: kubelet's metav1.Status reason and cause type for a command that exited non-zero
NON_ZERO_EXIT_CODE = "NonZeroExitCode"
EXIT_CODE_CAUSE = "ExitCode"


def negotiate(offered: Iterable[str]) -> Subprotocol | None:
    """The first protocol of the client's list that we speak, or None."""
    spoken = {protocol.value: protocol for protocol in Subprotocol}
    for name in offered:
        if name.strip() in spoken:
            return spoken[name.strip()]
    return None


def offered_protocols(header: str | None) -> list[str]:
    """``Sec-WebSocket-Protocol: a, b`` → ``["a", "b"]``."""
    return [name.strip() for name in (header or "").split(",") if name.strip()]


def frame(channel: Channel, data: bytes = b"") -> bytes:
    return bytes([channel]) + data


def unframe(message: bytes) -> tuple[int, bytes]:
    """``(channel, payload)``; the channel is an int because a peer may send one we don't know."""
    if not message:
        raise ValueError("an empty message carries no channel byte")
    return message[0], message[1:]


@dataclass(frozen=True)
class ExecOptions:
    """``PodExecOptions`` as the query string carries them (``command`` repeats, one per argv item),
    or ``PodAttachOptions``: the same without a command."""

    command: tuple[str, ...]
    container: str | None = None
    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    tty: bool = False

    @classmethod
    def from_query(cls, items: Sequence[tuple[str, str]], verb: StreamVerb = StreamVerb.EXEC) -> ExecOptions:
        """Parse ``[(key, value), …]`` (repeated keys kept), with Kubernetes' validation messages."""
        values: dict[str, list[str]] = {}
        for key, value in items:
            values.setdefault(key, []).append(value)
        single = {key: found[-1] for key, found in values.items()}
        options = cls(
            command=tuple(values.get("command", [])),
            container=single.get("container") or None,
            stdin=parse_bool(single, "stdin", False),
            stdout=parse_bool(single, "stdout", False),
            stderr=parse_bool(single, "stderr", False),
            tty=parse_bool(single, "tty", False),
        )
        if verb is StreamVerb.EXEC and not options.command:
            raise errors.bad_request("you must specify at least one command for the container")
        if not (options.stdin or options.stdout or options.stderr):
            raise errors.bad_request("you must specify at least 1 of stdin, stdout, stderr")
        return options

    def to_query(self) -> list[tuple[str, str]]:
        items = [("command", part) for part in self.command]
        if self.container:
            items.append(("container", self.container))
        for key in ("stdin", "stdout", "stderr", "tty"):
            items.append((key, "true" if getattr(self, key) else "false"))
        return items


def parse_bool(query: Mapping[str, str], key: str, default: bool) -> bool:
    """Go's ``strconv.ParseBool``, which is what Kubernetes' query decoding accepts."""
    raw = query.get(key)
    if raw is None or raw == "":
        return default
    if raw in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if raw in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise errors.bad_request(f'invalid value for {key}: "{raw}" is not a boolean (use true or false)')


@dataclass(frozen=True)
class TerminalSize:
    width: int
    height: int

    @classmethod
    def parse(cls, payload: bytes) -> TerminalSize:
        """``{"Width": 80, "Height": 24}`` from the resize channel; ValueError if it is not that."""
        data = json.loads(payload)
        width, height = int(data.get("Width", 0)), int(data.get("Height", 0))
        if width <= 0 or height <= 0:
            raise ValueError(f"not a terminal size: {payload!r}")
        return cls(width, height)

    def payload(self) -> bytes:
        return json.dumps({"Width": self.width, "Height": self.height}).encode()


def exit_status(code: int, command: Sequence[str] = ()) -> dict:
    """The kubelet's final status for a command that ran and exited with ``code``."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {
        "metadata": {},
        "status": "Failure",
        # the command printed as Go prints a []string, as in the kubelet's message
        "message": f"command terminated with non-zero exit code: error executing command "
                   f"[{' '.join(command)}], exit code {code}",
        "reason": NON_ZERO_EXIT_CODE,
        "details": {"causes": [{"reason": EXIT_CODE_CAUSE, "message": str(code)}]},
    }


def failure_status(message: str) -> dict:
    """The final status when the command could not be run at all (kubectl prints ``error: …``)."""
    return {"metadata": {}, "status": "Failure", "message": message,
            "reason": errors.StatusReason.INTERNAL_ERROR.value, "code": 500}


def exit_code_of(status: dict) -> int | None:
    """The exit code a final status reports: 0 for Success, N for NonZeroExitCode, None when the
    command never ran (the status's message then says why)."""
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == NON_ZERO_EXIT_CODE:
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == EXIT_CODE_CAUSE:
                try:
                    return int(cause.get("message", ""))
                except ValueError:
                    return None
    return None
