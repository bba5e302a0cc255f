"""DNS messages on the wire: our :class:`Answer` in dnslib's form, and the size rules of each transport.

Size rules (RFC 1035 §4.2, RFC 6891, RFC 7766): over TCP a message may be 65535 bytes, each one
prefixed by its 2-byte length. Over UDP it must fit 512 bytes, or the size the client announced
in its EDNS OPT record. A reply that does not fit is sent with the TC ("truncated") bit, the
question and no records, and the client asks again over TCP. Worked example: ``big.default.svc.
cluster.local``, a headless Service with 40 ready endpoints, answers a 12-byte header, the
35-byte question and 40 A records of 16 bytes each (the name compressed to a 2-byte pointer):
687 bytes. A plain query (no EDNS) gets TC (``dig +noedns`` shows ``flags: qr aa tc rd ra``) and
glibc asks again over TCP and gets all 40; a query announcing 1232 bytes gets them over UDP.
"""

from __future__ import annotations

import socket
from enum import Enum

from dnslib import CLASS, CNAME, NS, PTR, QTYPE, RCODE, RD, RR, SOA, SRV, TXT, A, DNSHeader, DNSRecord, EDNS0

from agent.network.dns.records import Answer, Outcome, Record, RType, Soa, Srv

#: the classic UDP limit when the client says nothing else
UDP_PAYLOAD_DEFAULT = 512
#: what we announce in our own OPT record (the 2020 DNS flag day's recommendation)
UDP_PAYLOAD_ADVERTISED = 1232
TCP_MESSAGE_MAX = 65535


class Transport(Enum):
    UDP = "udp"
    TCP = "tcp"


_RCODES = {
    Outcome.ANSWER: RCODE.NOERROR,
    Outcome.NODATA: RCODE.NOERROR,
    Outcome.NXDOMAIN: RCODE.NXDOMAIN,
    Outcome.REFUSED: RCODE.REFUSED,
}


def question(request: DNSRecord) -> tuple[str, str]:
    """(name as asked, type mnemonic) of the request's single question."""
    return str(request.q.qname), QTYPE.get(request.q.qtype)


def is_internet_class(request: DNSRecord) -> bool:
    return request.q.qclass == CLASS.IN


def reply_from(request: DNSRecord, answer: Answer) -> DNSRecord:
    """The reply to ``request`` saying ``answer`` (any outcome but FORWARD)."""
    reply = _reply(request, aa=int(answer.authoritative))
    reply.header.rcode = _RCODES[answer.outcome]
    for record in answer.answers:
        reply.add_answer(_rr(record))
    for record in answer.authority:
        reply.add_auth(_rr(record))
    for record in answer.additional:
        reply.add_ar(_rr(record))
    return reply


def error_reply(request: DNSRecord, rcode: int) -> DNSRecord:
    """An empty reply with ``rcode`` (SERVFAIL, REFUSED, NOTIMP …), question echoed."""
    reply = _reply(request, aa=0)
    reply.header.rcode = rcode
    return reply


def _reply(request: DNSRecord, aa: int) -> DNSRecord:
    reply = request.reply(ra=1, aa=aa)
    reply.header.ad = 0  # dnslib copies the query's flags; we never validate DNSSEC (RFC 6840 §5.8)
    return reply


def header_error(packet: bytes, rcode: int) -> bytes | None:
    """A reply to a packet too broken to parse (FORMERR), when at least its ID can be read."""
    if len(packet) < 2:
        return None
    return DNSRecord(DNSHeader(id=int.from_bytes(packet[:2], "big"), qr=1, ra=1, rcode=rcode)).pack()


def udp_limit(request: DNSRecord) -> int:
    """How large a UDP reply to ``request`` may be."""
    announced = [rr.rclass for rr in request.ar if rr.rtype == QTYPE.OPT]
    return max(UDP_PAYLOAD_DEFAULT, min(announced[0], TCP_MESSAGE_MAX)) if announced else UDP_PAYLOAD_DEFAULT


def encode(reply: DNSRecord, request: DNSRecord, transport: Transport) -> bytes:
    """``reply`` packed for ``transport``: with our OPT record when the client used EDNS, and
    truncated (TC, question only) when UDP cannot carry it."""
    uses_edns = any(rr.rtype == QTYPE.OPT for rr in request.ar)
    if uses_edns and not any(rr.rtype == QTYPE.OPT for rr in reply.ar):
        reply.add_ar(EDNS0(udp_len=UDP_PAYLOAD_ADVERTISED))
    packed = reply.pack()
    if transport is Transport.UDP and len(packed) > udp_limit(request):
        truncated = DNSRecord(DNSHeader(id=reply.header.id, bitmap=reply.header.bitmap, tc=1), q=reply.q)
        packed = truncated.pack()
    return packed


def frame(message: bytes) -> bytes:
    """A TCP message: its 2-byte length, then the message."""
    return len(message).to_bytes(2, "big") + message


def address_family(address: str) -> socket.AddressFamily:
    """The socket family for ``address`` (an IPv6 address has colons, an IPv4 one never)."""
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def read_frame(sock: socket.socket) -> bytes | None:
    """The next TCP message from ``sock``; None when the peer closed cleanly between messages.
    A close in the middle of one is a ConnectionError; the socket's timeout applies."""
    header = _receive(sock, 2)
    return _receive(sock, int.from_bytes(header, "big")) if header is not None else None


def _receive(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            if data:
                raise ConnectionError("the peer closed the connection in the middle of a DNS message")
            return None
        data += chunk
    return data


def _rr(record: Record) -> RR:
    return RR(record.name, QTYPE.reverse[record.rtype.value], CLASS.IN, record.ttl, _rdata(record))


def _rdata(record: Record) -> RD:
    data = record.data
    if isinstance(data, Srv):
        return SRV(priority=data.priority, weight=data.weight, port=data.port, target=data.target)
    if isinstance(data, Soa):
        return SOA(data.mname, data.rname, (data.serial, data.refresh, data.retry, data.expire, data.minimum))
    return {RType.A: A, RType.CNAME: CNAME, RType.NS: NS, RType.PTR: PTR, RType.TXT: TXT}[record.rtype](data)
