"""The cluster DNS server of one host: UDP and TCP on one address, answering through a :class:`Resolver`.

In production it listens on the pod network's gateway, port 53 (``network.gateway``, the
``kube-dns`` Service's endpoint), in the one agent per host that holds the host lock::

    server = DnsServer(Resolver(network, view.snapshot, HostResolvers(exclude=[Upstream(network.gateway)])),
                       network.gateway)
    server.start()          # raises DnsBindError when the address cannot be bound
    …
    server.stop()

Threads: one receives UDP datagrams, one accepts TCP connections. Cluster names are answered
on the receiving thread itself (no I/O, microseconds). What needs the upstream (forwarded names,
ExternalName targets) and every TCP connection runs on a bounded worker pool: at most
``max_forwards`` forwarded datagrams in flight (more get SERVFAIL at once, and the client
retries) and ``max_connections`` open TCP connections (more are closed at once). A dead upstream
therefore costs one worker for the upstream deadline, never the cluster answers.

``stop()`` returns promptly: a wake-up pipe ends both receiving threads' wait at once,
open TCP connections are shut down, and workers still waiting on an upstream are left to run out
their deadline on their own (their late reply goes nowhere).
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from dnslib import RCODE, DNSError, DNSRecord

from agent.network.dns import wire
from agent.network.dns.errors import DnsBindError
from agent.network.dns.resolver import Plan, Resolver
from agent.network.dns.wire import Transport
from orchestrator.api.clusternetwork import DNS_PORT

log = logging.getLogger(__name__)

DEFAULT_MAX_FORWARDS = 32
DEFAULT_MAX_CONNECTIONS = 16
#: how long an idle TCP connection is kept (RFC 7766 suggests seconds, not minutes)
TCP_IDLE_TIMEOUT = 10.0
#: how often binding "any free port" is retried when the port UDP got is taken for TCP
_EPHEMERAL_BIND_ATTEMPTS = 5
_MAX_DATAGRAM = 65535

#: a UDP client's socket address: (host, port) for IPv4, (host, port, flowinfo, scope id) for IPv6
ClientAddress = tuple[str, int] | tuple[str, int, int, int]


@dataclass
class _Listening:
    """What exists only while the server runs: both sockets, the pipe that wakes the receiving
    threads for a stop, the worker pool, and the receiving threads themselves."""

    udp: socket.socket
    tcp: socket.socket
    wake_read: int
    wake_write: int
    pool: ThreadPoolExecutor
    threads: tuple[threading.Thread, ...] = ()


class DnsServer:
    def __init__(self, resolver: Resolver, address: str, port: int = DNS_PORT, *,
                 max_forwards: int = DEFAULT_MAX_FORWARDS, max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 tcp_idle_timeout: float = TCP_IDLE_TIMEOUT) -> None:
        self.resolver = resolver
        self.address = address
        self.port = port  # the bound port once started (a requested 0 becomes the one picked)
        self._tcp_idle_timeout = tcp_idle_timeout
        self._forward_slots = threading.BoundedSemaphore(max_forwards)
        self._connection_slots = threading.BoundedSemaphore(max_connections)
        self._max_workers = max_forwards + max_connections
        self._listening: _Listening | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        if self._listening is not None:
            raise RuntimeError("the DNS server is already running")
        udp, tcp = self._bind()
        self._stopping.clear()
        wake_read, wake_write = os.pipe()
        pool = ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="dns-worker")
        listening = _Listening(udp, tcp, wake_read, wake_write, pool)
        listening.threads = (
            threading.Thread(target=self._serve_udp, args=(listening,), name=f"dns-udp-{self.port}", daemon=True),
            threading.Thread(target=self._serve_tcp, args=(listening,), name=f"dns-tcp-{self.port}", daemon=True))
        self._listening = listening
        for thread in listening.threads:
            thread.start()
        log.info("cluster DNS listening on %s:%d (udp, tcp)", self.address, self.port)

    def stop(self) -> None:
        listening, self._listening = self._listening, None
        if listening is None:
            return
        self._stopping.set()
        os.write(listening.wake_write, b"x")
        for thread in listening.threads:
            thread.join()
        with self._connections_lock:
            for connection in self._connections:
                _shutdown(connection)
        # queued connection workers still run, see the stop and close their sockets
        listening.pool.shutdown(wait=False)
        for sock in (listening.udp, listening.tcp):
            sock.close()
        os.close(listening.wake_read)
        os.close(listening.wake_write)

    def __enter__(self) -> DnsServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _bind(self) -> tuple[socket.socket, socket.socket]:
        family = wire.address_family(self.address)
        attempt = 1
        while True:
            udp = _bound(socket.socket(family, socket.SOCK_DGRAM), Transport.UDP, self.address, self.port)
            port = udp.getsockname()[1]
            try:
                tcp = socket.socket(family, socket.SOCK_STREAM)
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # rebind past TIME_WAIT
                _bound(tcp, Transport.TCP, self.address, port).listen(64)
            except DnsBindError:
                udp.close()
                if self.port != 0 or attempt == _EPHEMERAL_BIND_ATTEMPTS:
                    raise
                attempt += 1  # the kernel's free UDP port was taken for TCP: pick another
                continue
            self.port = port
            return udp, tcp

    # -- UDP -------------------------------------------------------------------------------------

    def _serve_udp(self, listening: _Listening) -> None:
        for _ in self._readable(listening.udp, listening.wake_read):
            try:
                packet, client = listening.udp.recvfrom(_MAX_DATAGRAM)
            except OSError:
                continue  # e.g. an ICMP error queued for an earlier reply
            try:
                self._handle_datagram(listening, packet, client)
            except Exception:
                log.exception("answering a DNS datagram from %s failed", client)

    def _handle_datagram(self, listening: _Listening, packet: bytes, client: ClientAddress) -> None:
        request = _parse(packet)
        if request is None:
            _send(listening.udp, wire.header_error(packet, RCODE.FORMERR), client)
            return
        if request.header.qr:
            return  # a reply, not a question: never answer those (reflection loops)
        plan = self.resolver.plan(request)
        if not plan.needs_upstream:
            _send(listening.udp, wire.encode(plan.reply, request, Transport.UDP), client)
        elif self._forward_slots.acquire(blocking=False):
            listening.pool.submit(self._finish_datagram, listening.udp, plan, client)
        else:
            _send(listening.udp, wire.encode(wire.error_reply(request, RCODE.SERVFAIL), request, Transport.UDP),
                  client)

    def _finish_datagram(self, udp: socket.socket, plan: Plan, client: ClientAddress) -> None:
        try:
            reply = self.resolver.finish(plan, Transport.UDP)
            _send(udp, wire.encode(reply, plan.request, Transport.UDP), client)
        except Exception:
            log.exception("answering %s from upstream failed", plan.request.q.qname)
        finally:
            self._forward_slots.release()

    # -- TCP -------------------------------------------------------------------------------------

    def _serve_tcp(self, listening: _Listening) -> None:
        for _ in self._readable(listening.tcp, listening.wake_read):
            try:
                connection, _ = listening.tcp.accept()
            except OSError:
                continue
            if not self._connection_slots.acquire(blocking=False):
                connection.close()
                continue
            with self._connections_lock:
                self._connections.add(connection)
            listening.pool.submit(self._serve_connection, connection)

    def _serve_connection(self, connection: socket.socket) -> None:
        """Length-prefixed questions, answered in order, until the client closes or idles out."""
        try:
            connection.settimeout(self._tcp_idle_timeout)
            while not self._stopping.is_set():
                message = wire.read_frame(connection)
                if not message:
                    return
                request = _parse(message)
                if request is None:
                    reply = wire.header_error(message, RCODE.FORMERR)
                    if reply:
                        connection.sendall(wire.frame(reply))
                    return
                if request.header.qr:
                    return
                reply = self.resolver.resolve(request, Transport.TCP)
                connection.sendall(wire.frame(wire.encode(reply, request, Transport.TCP)))
        except OSError as error:  # idle timeout, reset, or shut down by stop()
            log.debug("DNS TCP connection ended: %s", error)
        except Exception:
            log.exception("answering on a DNS TCP connection failed")
        finally:
            with self._connections_lock:
                self._connections.discard(connection)
            connection.close()
            self._connection_slots.release()

    # -- helpers ---------------------------------------------------------------------------------

    def _readable(self, sock: socket.socket, wake: int) -> Iterator[None]:
        """Yields whenever ``sock`` has something to read, until the server stops (``wake``
        becomes readable then)."""
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while True:
                ready = selector.select()
                if self._stopping.is_set():
                    return
                if any(key.fileobj is sock for key, _ in ready):
                    yield


def _send(udp: socket.socket, data: bytes | None, client: ClientAddress) -> None:
    if data is None:
        return
    try:
        udp.sendto(data, client)
    except OSError as error:  # the client went away, or the server is stopping
        log.debug("cannot send a DNS reply to %s: %s", client, error)


def _bound(sock: socket.socket, transport: Transport, address: str, port: int) -> socket.socket:
    try:
        sock.bind((address, port))
    except OSError as error:
        sock.close()
        raise DnsBindError.from_os_error(error, transport.value, address, port) from None
    return sock


def _parse(packet: bytes) -> DNSRecord | None:
    try:
        return DNSRecord.parse(packet)
    except (DNSError, ValueError, IndexError):
        return None


def _shutdown(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by its worker
