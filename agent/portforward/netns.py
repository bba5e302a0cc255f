"""Sockets inside a pod's network namespace, for ``kubectl port-forward``.

Kubernetes' port-forward connects to ``localhost:PORT`` *inside* the pod (containerd enters the
sandbox's network namespace to dial), so a server listening on ``127.0.0.1`` in the pod is
reachable, which connecting to the pod's IP from outside would miss.

**How.** A socket belongs to the network namespace of the thread that created it, for its whole
life, wherever it is used afterwards. So only the ``socket()`` call has to happen inside: a
dedicated thread enters the pod's namespace with ``setns(2)``, creates an IPv4 and an IPv6 TCP
socket, and returns to its own namespace at once; the agent's event loop then connects them
without blocking, as it would any socket. ``setns`` changes the calling *thread* only, which is
why it runs on a thread of its own and never on the event loop's (a thread left in a pod's
namespace would put every later socket of that thread there). Python 3.11 has no ``os.setns``,
so it is called through ``ctypes``. Before every entry the thread checks that it is back in its
own namespace, and refuses to work if a return ever failed, so a socket can never be made in the
wrong place. Entering another namespace needs ``CAP_SYS_ADMIN``: the agent runs as root.

Considered and not taken: ``nsenter … socat`` per connection (a process and a pipe per
connection, and a tool the node may lack), and connecting to the pod IP (misses ``127.0.0.1``).

**Which namespace.** :class:`PodNetwork` holds the sandbox's namespace open by a file
descriptor (``/proc/<pause pid>/ns/net``), so later connections of the session enter exactly that
namespace even if the pid were reused, plus a pidfd of the pause process, which becomes readable
when it exits: that is how a session learns that its pod is gone.
"""

from __future__ import annotations

import ctypes
import os
import socket
from concurrent.futures import Future, ThreadPoolExecutor

CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


class NetnsError(OSError):
    """A namespace could not be entered or left; ``str()`` says why and what to do."""


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        number = ctypes.get_errno()
        raise NetnsError(number, os.strerror(number))


class PodNetwork:
    """A pod's network namespace (an open fd) and a pidfd telling when its sandbox process ends."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)
        try:
            #: how the kernel names it, ``net:[4026532712]``, for messages
            self.name = os.readlink(f"/proc/{pid}/ns/net")
            self.netns = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            os.close(self.pidfd)
            raise

    def close(self) -> None:
        for fd in (self.netns, self.pidfd):
            try:
                os.close(fd)
            except OSError:
                pass


class NamespaceSockets:
    """The one thread that makes sockets inside pods' network namespaces."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netns-sockets")
        self._home: int | None = None  # the worker thread's own namespace, opened by it
        self._broken: str | None = None

    def submit(self, netns_fd: int) -> Future[tuple[socket.socket, socket.socket | None]]:
        """An IPv4 and (if the pod has IPv6) an IPv6 TCP socket in that namespace, made on the
        dedicated thread."""
        return self._executor.submit(self._make, netns_fd)

    def _make(self, netns_fd: int) -> tuple[socket.socket, socket.socket | None]:
        if self._broken:
            raise NetnsError(self._broken)
        if self._home is None:
            self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        if not _same_namespace(self._home):
            self._broken = "the port-forward thread is not in the agent's own network namespace; restart the agent"
            raise NetnsError(self._broken)
        try:
            _setns(netns_fd)
        except NetnsError as error:
            raise NetnsError(error.errno, f"cannot enter the pod's network namespace ({error.strerror}); "
                             "port-forward needs the agent to run as root") from None
        try:
            ipv4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                ipv6: socket.socket | None = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            except OSError:
                ipv6 = None  # IPv6 is off in this pod
        finally:
            try:
                _setns(self._home)
            except NetnsError as error:
                self._broken = f"the port-forward thread could not return to the agent's network namespace " \
                               f"({error.strerror}); restart the agent"
                raise NetnsError(self._broken) from None
        return ipv4, ipv6

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._home is not None:
            os.close(self._home)
            self._home = None


def _same_namespace(home: int) -> bool:
    here, there = os.stat("/proc/thread-self/ns/net"), os.fstat(home)
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)

