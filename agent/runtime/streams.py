"""Logs, exec and attach of this agent's containers, and the sandbox port-forward enters, through
docker-py.

The agent's HTTPS endpoint (:mod:`agent.endpoint`) serves ``kubectl logs``, ``kubectl exec`` and
``kubectl attach`` (what ``kubectl run -i`` uses) from here, and finds the process whose network
namespace ``kubectl port-forward`` connects in (:meth:`ContainerStreams.sandbox_pid`). Three rules keep it safe and honest:

* **Only our own containers.** A container is found by the agent's Owner labels plus the pod's
  namespace, name and uid and the container's name, never by a Docker name or id from the
  request, so nothing outside this agent's pods (other agents, other clusters, the user's own
  containers) can ever be read or entered. The pause container is never a target.
* **Which instance.** The agent keeps the last exited instance of each container when it
  restarts one (its restart-count label one lower): logs come from the newest instance, and
  ``previous`` means the one before it (:meth:`agent.observed.ObservedPod.previous`), as the
  kubelet's "previous terminated container". Exec and attach need the newest instance running.
* **Blocking I/O that can be interrupted.** Docker streams are blocking sockets read in worker
  threads; :meth:`LogStream.close` and :meth:`StreamSession.close` shut the socket down, which
  wakes a thread blocked in a read, so a client that goes away never leaves a thread behind.

An exec and an attach are the same kind of session (:class:`StreamSession`): a hijacked Docker
socket carrying stdin one way and stdout/stderr the other. They differ in what they join (a new
process, or the container's main one) and so in how the terminal is resized and what the end
means: an exec's exit code, or for an attach simply that the container's output ended. A pod
created by ``kubectl run -i`` has ``stdin: true`` and ``stdinOnce: true``, which Docker turns
into ``OpenStdin`` and ``StdinOnce``: when the attached client closes stdin, the main process
reads end-of-file, as in Kubernetes.

Docker's failures become :mod:`agent.runtime.errors` with messages in the kubelet's words.
"""

from __future__ import annotations

import socket
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Iterator

import docker
from docker.errors import APIError, DockerException, NotFound
from docker.utils.socket import frames_iter

from agent import labels
from agent.labels import Owner
from agent.observed import ObservedContainer, ObservedPod, RuntimeState
from agent.runtime.engine import connect
from agent.runtime.errors import ContainerNotRunning, DockerUnavailable, LogsNotAvailable, SandboxNotRunning
from orchestrator.api.podlogs import LogOptions, LogsUnavailable
from orchestrator.api.remotecommand import Channel, ExecOptions, TerminalSize

#: how long to wait for Docker to report an exit code once a command's output has ended
EXIT_CODE_WAIT = 5.0


@dataclass(frozen=True)
class ContainerRef:
    """A container of a pod, as a request names it."""

    namespace: str
    pod: str
    pod_uid: str
    container: str


class ContainerStreams:
    def __init__(self, client: docker.DockerClient, owner: Owner) -> None:
        self.client = client
        self.owner = owner

    @classmethod
    def connect(cls, owner: Owner, docker_host: str | None = None) -> ContainerStreams:
        """A client of its own: long ``logs -f`` streams then never compete with pod sync for
        connections."""
        return cls(connect(docker_host), owner)

    # -- finding ----------------------------------------------------------------------------

    def find(self, ref: ContainerRef, *, previous: bool = False) -> str:
        """The Docker id of the instance whose logs to read; :class:`LogsNotAvailable` if none."""
        pod = self._instances(ref)
        chosen = pod.previous(ref.container) if previous else pod.latest(ref.container)
        if chosen is None:
            reason = LogsUnavailable.NO_PREVIOUS if previous and pod.latest(ref.container) else LogsUnavailable.NOT_STARTED
            raise LogsNotAvailable(reason.message(ref.container, ref.pod))
        return chosen.id

    def find_running(self, ref: ContainerRef) -> str:
        """The Docker id of the running instance, for exec; :class:`ContainerNotRunning` if none."""
        latest = self._instances(ref).latest(ref.container)
        if latest is None or not latest.running:
            raise ContainerNotRunning(f'container not found ("{ref.container}")')
        return latest.id

    def _instances(self, ref: ContainerRef) -> ObservedPod:
        if ref.container == labels.SANDBOX:
            return ObservedPod(ref.pod_uid)  # the pause container is nobody's to read or enter
        wanted = {labels.POD_NAMESPACE: ref.namespace, labels.POD_NAME: ref.pod,
                  labels.POD_UID: ref.pod_uid, labels.CONTAINER: ref.container}
        try:
            summaries = self.client.api.containers(all=True, filters=self.owner.filters(**wanted))
        except (DockerException, OSError) as error:  # OSError: requests' connection errors
            raise DockerUnavailable(f"cannot list containers on this node: {error}") from None
        return ObservedPod(ref.pod_uid, tuple(_instance(summary) for summary in summaries))

    def sandbox_pid(self, namespace: str, pod: str, pod_uid: str) -> int:
        """The process id of the pod's running pause container, whose network namespace every
        container of the pod shares; :class:`SandboxNotRunning` in the runtime's words if none."""
        wanted = {labels.POD_NAMESPACE: namespace, labels.POD_NAME: pod, labels.POD_UID: pod_uid,
                  labels.CONTAINER: labels.SANDBOX}
        try:
            summaries = self.client.api.containers(filters=self.owner.filters(**wanted))
            pids = [int((self.client.api.inspect_container(summary["Id"]).get("State") or {}).get("Pid") or 0)
                    for summary in summaries]
        except NotFound:
            pids = []  # removed between the listing and the inspection
        except (DockerException, OSError) as error:
            raise DockerUnavailable(f"cannot look for the pod's sandbox on this node: {error}") from None
        running = [pid for pid in pids if pid > 0]
        if not running:
            raise SandboxNotRunning(f'pod "{pod}" has no running sandbox on this node: sandbox container is not '
                                    "running")
        return running[0]

    # -- logs -------------------------------------------------------------------------------

    def logs(self, ref: ContainerRef, options: LogOptions) -> LogStream:
        container_id = self.find(ref, previous=options.previous)
        since = None
        if options.since_seconds is not None:
            since = time.time() - options.since_seconds
        elif options.since_time is not None:
            since = options.since_time.timestamp()
        try:
            chunks = self.client.api.logs(
                container_id, stdout=True, stderr=True, stream=True, follow=options.follow,
                timestamps=options.timestamps,
                tail="all" if options.tail_lines is None else options.tail_lines,
                since=since)
        except NotFound:
            raise LogsNotAvailable("the container was removed while its logs were requested; try again") from None
        except (APIError, OSError) as error:
            raise LogsNotAvailable(f"Docker cannot read the logs: {getattr(error, 'explanation', None) or error}") from None
        return LogStream(chunks, options.limit_bytes)

    # -- exec -------------------------------------------------------------------------------

    def exec(self, ref: ContainerRef, options: ExecOptions) -> StreamSession:
        container_id = self.find_running(ref)
        gone = f'container not found ("{ref.container}")'
        try:
            exec_id = self.client.api.exec_create(
                container_id, list(options.command), stdout=options.stdout, stderr=options.stderr,
                stdin=options.stdin, tty=options.tty)["Id"]
            sock = self.client.api.exec_start(exec_id, socket=True, tty=options.tty)
        except NotFound:
            raise ContainerNotRunning(gone) from None
        except APIError as error:
            if error.status_code == 409:  # "Container … is not running": it stopped a moment ago
                raise ContainerNotRunning(gone) from None
            raise ContainerNotRunning(f"Docker refused the exec: {error.explanation or error}") from None
        except OSError as error:
            raise DockerUnavailable(f"cannot reach the Docker engine to exec: {error}") from None
        return ExecSession(self.client.api, exec_id, sock, options.tty)

    # -- attach -----------------------------------------------------------------------------

    def attach(self, ref: ContainerRef, options: ExecOptions) -> StreamSession:
        container_id = self.find_running(ref)
        params = {"stream": 1, "stdin": int(options.stdin), "stdout": int(options.stdout),
                  "stderr": int(options.stderr)}
        try:
            sock = self.client.api.attach_socket(container_id, params=params)
        except NotFound:
            raise ContainerNotRunning(f'container not found ("{ref.container}")') from None
        except APIError as error:
            raise ContainerNotRunning(f"Docker refused the attach: {error.explanation or error}") from None
        except OSError as error:
            raise DockerUnavailable(f"cannot reach the Docker engine to attach: {error}") from None
        tty = bool(self.client.api.inspect_container(container_id)["Config"].get("Tty"))
        return AttachSession(self.client.api, container_id, sock, tty)


class LogStream:
    """Lines of a container's log (``b"…\\n"``; the last may lack the newline), at most
    ``limit_bytes`` in all when a limit is set."""

    def __init__(self, chunks: Iterator[bytes], limit_bytes: int | None) -> None:
        self._chunks = chunks
        self._pending = b""
        self._left = limit_bytes
        self._done = False

    def next_line(self) -> bytes | None:
        """The next line, blocking while a followed container is quiet; None at the end."""
        if self._done:
            return None
        while b"\n" not in self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._done = True
                line, self._pending = self._pending, b""
                return self._limited(line) if line else None
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return self._limited(line + b"\n")

    def _limited(self, line: bytes) -> bytes | None:
        if self._left is None:
            return line
        if self._left <= 0:
            self._done = True
            return None
        line = line[: self._left]
        self._left -= len(line)
        return line

    def close(self) -> None:
        self._done = True
        close = getattr(self._chunks, "close", None)
        if close is not None:
            try:
                close()
            except (OSError, AttributeError):  # already closed by Docker's side
                pass


#: what docker-py hands back for an attached stream: a SocketIO over a unix socket, or the raw
#: socket for TLS hosts
HijackedSocket = socket.SocketIO | socket.socket


class StreamSession(ABC):
    """A hijacked Docker socket: read output frames, feed stdin, resize, learn how it ended.

    Reading happens in one thread and writing in another; both use the same socket, which is
    safe for one reader and one writer."""

    def __init__(self, api: docker.APIClient, sock: HijackedSocket, tty: bool) -> None:
        self._api = api
        self._sock = sock
        # the socket itself, for shutdown(); a SocketIO keeps it in its (undeclared) _sock
        self._raw: socket.socket = sock if isinstance(sock, socket.socket) else getattr(sock, "_sock")
        self._frames = frames_iter(sock, tty)
        self._lock = threading.Lock()
        self._closed = False

    def read(self) -> tuple[Channel, bytes] | None:
        """The next piece of output and its channel (stdout or stderr), None once output ends."""
        try:
            stream, data = next(self._frames)
        except (StopIteration, OSError, ValueError):
            return None
        return (Channel.STDERR if stream == 2 else Channel.STDOUT), data

    def write_stdin(self, data: bytes) -> None:
        with self._lock:
            if not self._closed:
                self._raw.sendall(data)

    def close_stdin(self) -> None:
        """End-of-file on the command's stdin (the socket stays open for its output)."""
        with self._lock:
            if not self._closed:
                try:
                    self._raw.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

    def resize(self, size: TerminalSize) -> None:
        try:
            self._resize(size)
        except APIError:
            pass  # the process may have ended between the client's resize and ours

    @abstractmethod
    def _resize(self, size: TerminalSize) -> None: ...

    @abstractmethod
    def exit_code(self) -> int | None:
        """The exit code to report once output ended; None when there is none to tell."""

    def close(self) -> None:
        """Drop the connection; wakes a thread blocked in :meth:`read`."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._raw.close()


class ExecSession(StreamSession):
    """One running ``docker exec``; it ends with the command's exit code."""

    def __init__(self, api: docker.APIClient, exec_id: str, sock: HijackedSocket, tty: bool) -> None:
        super().__init__(api, sock, tty)
        self.exec_id = exec_id

    def _resize(self, size: TerminalSize) -> None:
        self._api.exec_resize(self.exec_id, height=size.height, width=size.width)

    def exit_code(self) -> int | None:
        """The command's exit code once Docker has it; None if it is still running after
        :data:`EXIT_CODE_WAIT` (it closed its output but did not exit) or Docker cannot say
        (the container was removed meanwhile)."""
        deadline = time.monotonic() + EXIT_CODE_WAIT
        while True:
            try:
                state = self._api.exec_inspect(self.exec_id)
            except (APIError, OSError):
                return None
            if not state.get("Running"):
                return int(state.get("ExitCode") or 0)
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)


class AttachSession(StreamSession):
    """The streams of a container's main process (``docker attach``). Its end means the process
    closed its output, and the session ends in success as the kubelet's does: how the container
    itself ended is in the pod's status, which is where ``kubectl run`` reads it."""

    def __init__(self, api: docker.APIClient, container_id: str, sock: HijackedSocket, tty: bool) -> None:
        super().__init__(api, sock, tty)
        self.container_id = container_id

    def _resize(self, size: TerminalSize) -> None:
        self._api.resize(self.container_id, height=size.height, width=size.width)

    def exit_code(self) -> int | None:
        return 0


def _instance(summary: dict) -> ObservedContainer:
    """Enough of a container, from ``docker ps`` output, to tell its instances apart."""
    found = summary.get("Labels") or {}
    try:
        attempt = int(found.get(labels.RESTART_COUNT) or 0)
    except ValueError:
        attempt = 0
    return ObservedContainer(
        id=summary["Id"], name=found.get(labels.CONTAINER, ""), pod_uid=found.get(labels.POD_UID, ""),
        pod_name=found.get(labels.POD_NAME, ""), pod_namespace=found.get(labels.POD_NAMESPACE, ""),
        spec_hash=found.get(labels.SPEC_HASH, ""), attempt=attempt, backoff_streak=0,
        state={"created": RuntimeState.CREATED, "running": RuntimeState.RUNNING,
               "exited": RuntimeState.EXITED}.get(summary.get("State") or "", RuntimeState.UNKNOWN),
    )
