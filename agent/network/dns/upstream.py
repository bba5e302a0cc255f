"""Asking the host's resolvers: the only code here that sends DNS messages to other servers.

Names outside the cluster domain go to the nameservers of the host's ``/etc/resolv.conf`` (what
CoreDNS's ``forward . /etc/resolv.conf`` does). The whole exchange has one deadline (2 s by
default), shared among the nameservers in order: with two of them and the first one dead, each
gets 1 s, so the client hears SERVFAIL before its own resolver's timeout (5 s in glibc) and
does not retry into a pile-up.

Each forwarded message gets a fresh random ID, and only a reply with that ID and the same
question is accepted (RFC 5452), so a stray or spoofed datagram cannot answer it. Socket and
parse failures become :class:`UpstreamUnavailable`, whose message names every nameserver tried
and what went wrong with it.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dnslib import DNSError, DNSQuestion, DNSRecord

from agent.network.dns.errors import UpstreamUnavailable
from agent.network.dns.wire import Transport, address_family, frame, read_frame
from agent.network.resolvconf import HOST_RESOLV_CONF, parse_resolv_conf

DEFAULT_TIMEOUT = 2.0
_RECEIVE_BUFFER = 65535


@dataclass(frozen=True)
class Upstream:
    address: str
    port: int = 53

    def __str__(self) -> str:
        return f"{self.address}:{self.port}"


class HostResolvers:
    """The host's nameservers, re-read whenever ``resolv.conf`` changes (DHCP, VPNs rewrite it).

    ``exclude`` drops the DNS server's own address, so a host whose resolv.conf names the
    cluster's DNS never forwards to itself in a loop."""

    def __init__(self, path: Path = HOST_RESOLV_CONF, exclude: Iterable[Upstream] = ()) -> None:
        self._path = path
        self._exclude = frozenset(exclude)
        self._stamp: tuple[int, int] | None = None
        self._upstreams: tuple[Upstream, ...] = ()

    def __call__(self) -> tuple[Upstream, ...]:
        try:
            stat = self._path.stat()
            stamp = (stat.st_mtime_ns, stat.st_ino)
            if stamp != self._stamp:
                nameservers, _, _ = parse_resolv_conf(self._path.read_text())
                self._upstreams = tuple(upstream for upstream in map(Upstream, nameservers)
                                        if upstream not in self._exclude)
                self._stamp = stamp
        except OSError:
            self._upstreams, self._stamp = (), None  # no file: nothing to forward to (SERVFAIL)
        return self._upstreams


def exchange(query: DNSRecord, upstreams: Sequence[Upstream], transport: Transport,
             timeout: float = DEFAULT_TIMEOUT) -> DNSRecord:
    """Ask ``upstreams`` in turn until one answers; the reply carries ``query``'s own ID."""
    deadline = time.monotonic() + timeout
    failures = []
    for position, upstream in enumerate(upstreams):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            failures.append(f"{upstream}: not tried, the {timeout:g} s budget was spent")
            continue
        try:
            reply = _ask(upstream, query, transport, remaining / (len(upstreams) - position))
        except TimeoutError:
            failures.append(f"{upstream}: no answer in time")
        except (OSError, DNSError) as error:
            failures.append(f"{upstream}: {error}")
        else:
            reply.header.id = query.header.id
            return reply
    raise UpstreamUnavailable("no upstream resolver answered: " + ("; ".join(failures) if failures else
                              "the host's /etc/resolv.conf names none; add a nameserver line"))


def lookup(name: str, qtype: int, upstreams: Sequence[Upstream], timeout: float = DEFAULT_TIMEOUT) -> DNSRecord:
    """A recursive question of our own (the target of an ExternalName; ``qtype`` as its number),
    over UDP and, when the reply comes truncated, again over TCP within the same deadline."""
    deadline = time.monotonic() + timeout
    query = DNSRecord(q=DNSQuestion(name, qtype))  # recursion desired, a fresh ID
    reply = exchange(query, upstreams, Transport.UDP, timeout)
    if reply.header.tc:
        reply = exchange(query, upstreams, Transport.TCP, max(deadline - time.monotonic(), 0.001))
    return reply


def _ask(upstream: Upstream, query: DNSRecord, transport: Transport, timeout: float) -> DNSRecord:
    wire_id = secrets.randbelow(65536)
    packet = wire_id.to_bytes(2, "big") + query.pack()[2:]
    if transport is Transport.UDP:
        return _ask_udp(upstream, packet, wire_id, query, timeout)
    return _ask_tcp(upstream, packet, wire_id, query, timeout)


def _ask_udp(upstream: Upstream, packet: bytes, wire_id: int, query: DNSRecord, timeout: float) -> DNSRecord:
    deadline = time.monotonic() + timeout
    with socket.socket(address_family(upstream.address), socket.SOCK_DGRAM) as sock:
        # connected, so only the upstream's datagrams arrive and an ICMP "port unreachable"
        # fails at once (ConnectionRefusedError) instead of running out the clock
        sock.connect((upstream.address, upstream.port))
        sock.send(packet)
        while True:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            reply = _accept(sock.recv(_RECEIVE_BUFFER), wire_id, query)
            if reply is not None:
                return reply


def _ask_tcp(upstream: Upstream, packet: bytes, wire_id: int, query: DNSRecord, timeout: float) -> DNSRecord:
    with socket.create_connection((upstream.address, upstream.port), timeout=timeout) as sock:
        sock.sendall(frame(packet))
        data = read_frame(sock)
    if data is None:
        raise ConnectionError("the upstream closed the connection without replying")
    reply = _accept(data, wire_id, query)
    if reply is None:
        raise DNSError("the reply did not match the question")
    return reply


def _accept(data: bytes, wire_id: int, query: DNSRecord) -> DNSRecord | None:
    """The reply in ``data`` when it answers our question; None for anything else."""
    if len(data) < 2 or int.from_bytes(data[:2], "big") != wire_id:
        return None
    reply = DNSRecord.parse(data)
    if not reply.header.qr or [(q.qname, q.qtype, q.qclass) for q in reply.questions] \
            != [(q.qname, q.qtype, q.qclass) for q in query.questions]:
        return None
    return reply

