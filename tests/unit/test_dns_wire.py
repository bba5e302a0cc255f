"""DNS messages and the resolver's first step, without sockets: :mod:`agent.network.dns.wire`,
:class:`~agent.network.dns.resolver.Resolver` planning, and :class:`~agent.network.dns.upstream.HostResolvers`.
"""

from __future__ import annotations

import os

from dnslib import CLASS, OPCODE, QTYPE, RCODE, DNSRecord, EDNS0

from agent.network.clusterview import NetworkSnapshot
from agent.network.dns import wire
from agent.network.dns.resolver import Resolver
from agent.network.dns.upstream import HostResolvers, Upstream
from agent.network.dns.wire import Transport
from orchestrator.api.clusternetwork import ClusterNetwork

NETWORK = ClusterNetwork()
ENDPOINTS = 40
SNAPSHOT = NetworkSnapshot(
    services=({"metadata": {"name": "big", "namespace": "default"}, "spec": {"clusterIP": "None"}},
              {"metadata": {"name": "ext", "namespace": "default"},
               "spec": {"type": "ExternalName", "externalName": "example.com"}}),
    endpoints=({"metadata": {"name": "big", "namespace": "default"},
                "subsets": [{"addresses": [{"ip": f"10.244.1.{n}"} for n in range(2, 2 + ENDPOINTS)]}]},),
)


def resolver(snapshot=SNAPSHOT, upstreams=()) -> Resolver:
    return Resolver(NETWORK, lambda: snapshot, lambda: upstreams, timeout=0.2)


def query(name: str, qtype: str = "A", edns: int | None = None) -> DNSRecord:
    request = DNSRecord.question(name, qtype)
    if edns:
        request.add_ar(EDNS0(udp_len=edns))
    return request


def decoded(request: DNSRecord, transport: Transport = Transport.UDP) -> DNSRecord:
    return DNSRecord.parse(wire.encode(resolver().resolve(request, transport), request, transport))


# -- sizes and truncation --------------------------------------------------------------------------


def test_an_answer_too_big_for_512_bytes_is_truncated_over_udp() -> None:
    request = query("big.default.svc.cluster.local")
    reply = decoded(request)
    assert reply.header.tc == 1 and reply.header.id == request.header.id
    assert reply.rr == [] and str(reply.q.qname) == "big.default.svc.cluster.local."


def test_the_clients_edns_size_lets_it_through_with_our_opt_record() -> None:
    reply = decoded(query("big.default.svc.cluster.local", edns=4096))
    assert reply.header.tc == 0 and len(reply.rr) == ENDPOINTS
    assert [(rr.rtype, rr.rclass) for rr in reply.ar] == [(QTYPE.OPT, wire.UDP_PAYLOAD_ADVERTISED)]


def test_tcp_carries_the_whole_answer() -> None:
    reply = decoded(query("big.default.svc.cluster.local"), Transport.TCP)
    assert reply.header.tc == 0 and len(reply.rr) == ENDPOINTS


def test_udp_limit() -> None:
    assert wire.udp_limit(query("a.b")) == 512
    assert wire.udp_limit(query("a.b", edns=1232)) == 1232
    assert wire.udp_limit(query("a.b", edns=100)) == 512  # below 512 means 512 (RFC 6891)


def test_records_on_the_wire() -> None:
    reply = decoded(query("big.default.svc.cluster.local", "AAAA"))
    assert (reply.header.rcode, reply.header.aa, reply.rr) == (RCODE.NOERROR, 1, [])
    soa = reply.auth[0]
    assert (soa.rtype, soa.ttl, str(soa.rname)) == (QTYPE.SOA, 5, "cluster.local.")
    missing = decoded(query("nope.default.svc.cluster.local"))
    assert (missing.header.rcode, missing.header.aa, len(missing.auth)) == (RCODE.NXDOMAIN, 1, 1)
    version = decoded(query("dns-version.cluster.local", "TXT"))
    assert [str(rr.rdata) for rr in version.rr] == ['"1.1.0"']
    no_ns = decoded(query("big.default.svc.cluster.local", "NS"))
    assert no_ns.header.rcode == RCODE.NOERROR and no_ns.rr == []


def test_we_never_claim_dnssec_validation() -> None:
    request = query("big.default.svc.cluster.local", edns=4096)
    request.header.ad = 1  # dig asks with AD set
    assert decoded(request).header.ad == 0


def test_frame_and_a_header_only_error() -> None:
    assert wire.frame(b"abc") == b"\x00\x03abc"
    broken = DNSRecord.parse(wire.header_error(b"\x12\x34garbage", RCODE.FORMERR))
    assert (broken.header.id, broken.header.rcode, broken.header.qr) == (0x1234, RCODE.FORMERR, 1)
    assert wire.header_error(b"\x12", RCODE.FORMERR) is None


# -- the resolver's plan ---------------------------------------------------------------------------


def test_cluster_names_need_no_upstream_and_the_rest_do() -> None:
    plan = resolver().plan(query("big.default.svc.cluster.local"))
    assert not plan.needs_upstream and plan.reply.header.rcode == RCODE.NOERROR
    forward = resolver().plan(query("example.com"))
    assert forward.needs_upstream and forward.reply is None
    chase = resolver().plan(query("ext.default.svc.cluster.local"))
    assert chase.needs_upstream and chase.chase == "example.com."


def test_before_the_first_snapshot_the_zone_is_servfail_but_forwarding_works() -> None:
    unsynced = resolver(snapshot=None)
    assert unsynced.plan(query("web.default.svc.cluster.local")).reply.header.rcode == RCODE.SERVFAIL
    assert unsynced.plan(query("example.com")).needs_upstream


def test_no_upstream_means_servfail_and_an_external_name_keeps_its_cname() -> None:
    forwarded = resolver().resolve(query("example.com"), Transport.UDP)
    assert forwarded.header.rcode == RCODE.SERVFAIL
    external = resolver().resolve(query("ext.default.svc.cluster.local"), Transport.UDP)
    assert external.header.rcode == RCODE.NOERROR
    assert [(rr.rtype, str(rr.rdata)) for rr in external.rr] == [(QTYPE.CNAME, "example.com.")]


def test_other_opcodes_and_classes_are_refused_politely() -> None:
    notify = query("cluster.local", "SOA")
    notify.header.opcode = OPCODE.NOTIFY
    assert resolver().plan(notify).reply.header.rcode == RCODE.NOTIMP
    chaos = query("version.bind", "TXT")
    chaos.q.qclass = CLASS.CH
    assert resolver().plan(chaos).reply.header.rcode == RCODE.REFUSED


def test_the_index_is_rebuilt_only_for_a_new_snapshot() -> None:
    snapshots = [SNAPSHOT]
    resolving = Resolver(NETWORK, lambda: snapshots[-1], lambda: ())
    assert resolving.plan(query("big.default.svc.cluster.local")).reply.rr
    snapshots.append(NetworkSnapshot())
    assert resolving.plan(query("big.default.svc.cluster.local")).reply.header.rcode == RCODE.NXDOMAIN


# -- the host's resolvers --------------------------------------------------------------------------


def test_host_resolvers_follow_resolv_conf(tmp_path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text("search lan\nnameserver 10.244.0.1\nnameserver 192.0.2.53\n")
    host = HostResolvers(path, exclude=[Upstream("10.244.0.1")])
    assert host() == (Upstream("192.0.2.53"),)
    path.write_text("nameserver 198.51.100.1  # after a DHCP renewal\n")
    os.utime(path, ns=(1, 1))  # a distinct mtime even on coarse clocks
    assert host() == (Upstream("198.51.100.1"),)
    path.unlink()
    assert host() == ()
