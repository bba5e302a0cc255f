"""From a request to its reply: the cluster's own names from the snapshot, the rest from upstream.

Resolving happens in two steps so the server can keep the fast path fast:

1. :meth:`Resolver.plan` needs no network. For a name in the cluster zone it yields the whole
   reply (a few dictionary look-ups); for anything else it says what must be asked upstream.
2. :meth:`Resolver.finish` does that asking (bounded by the upstream deadline): forwarding the
   request as it came, or adding an ExternalName target's records after its CNAME.

The server answers step 1 on its receiving thread and hands only step 2 to its worker pool, so
cluster names keep answering at once while the upstream is slow or gone.

Before the first snapshot arrives (the snapshot callable returns None) the zone is unknown:
questions about it get SERVFAIL, never an NXDOMAIN that resolvers would cache, as CoreDNS
answers before its informers have synced. Forwarding works from the start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dnslib import OPCODE, RCODE, DNSRecord

from agent.network.clusterview import NetworkSnapshot
from agent.network.dns import records, upstream, wire
from agent.network.dns.errors import UpstreamUnavailable
from agent.network.dns.index import ClusterIndex
from agent.network.dns.records import Outcome
from agent.network.dns.upstream import Upstream
from agent.network.dns.wire import Transport
from orchestrator.api.clusternetwork import ClusterNetwork

log = logging.getLogger(__name__)

SnapshotSource = Callable[[], NetworkSnapshot | None]
UpstreamSource = Callable[[], Sequence[Upstream]]


@dataclass(frozen=True)
class Plan:
    request: DNSRecord
    #: the finished reply, or None when the whole request must be forwarded
    reply: DNSRecord | None
    #: a CNAME target whose records the upstream should add to ``reply`` ("" for none)
    chase: str = ""

    @property
    def needs_upstream(self) -> bool:
        return self.reply is None or bool(self.chase)


class Resolver:
    def __init__(self, network: ClusterNetwork, snapshot: SnapshotSource, upstreams: UpstreamSource,
                 timeout: float = upstream.DEFAULT_TIMEOUT) -> None:
        self.network = network
        self._snapshot = snapshot
        self._upstreams = upstreams
        self.timeout = timeout
        self._indexed: tuple[NetworkSnapshot, ClusterIndex] | None = None

    def plan(self, request: DNSRecord) -> Plan:
        if request.header.opcode != OPCODE.QUERY:
            return Plan(request, wire.error_reply(request, RCODE.NOTIMP))
        if len(request.questions) != 1:
            return Plan(request, wire.error_reply(request, RCODE.FORMERR))
        if not wire.is_internet_class(request):
            return Plan(request, wire.error_reply(request, RCODE.REFUSED))
        name, qtype = wire.question(request)
        index = self._index()
        answer = records.answer(name, qtype, index or ClusterIndex(), self.network)
        if answer.outcome is Outcome.FORWARD:
            return Plan(request, None)
        if index is None:
            return Plan(request, wire.error_reply(request, RCODE.SERVFAIL))
        return Plan(request, wire.reply_from(request, answer), chase=answer.chase)

    def finish(self, plan: Plan, transport: Transport) -> DNSRecord:
        """The plan's reply, completed from upstream (SERVFAIL when forwarding finds nobody)."""
        if plan.reply is None:
            try:
                return upstream.exchange(plan.request, self._upstreams(), transport, self.timeout)
            except UpstreamUnavailable as error:
                log.debug("forwarding %s failed: %s", plan.request.q.qname, error)
                return wire.error_reply(plan.request, RCODE.SERVFAIL)
        if plan.chase:
            try:
                extra = upstream.lookup(plan.chase, plan.request.q.qtype, self._upstreams(), self.timeout)
            except UpstreamUnavailable as error:
                log.debug("resolving the ExternalName target %s failed: %s", plan.chase, error)
            else:
                if extra.header.rcode == RCODE.NOERROR:
                    plan.reply.add_answer(*extra.rr)
        return plan.reply

    def resolve(self, request: DNSRecord, transport: Transport) -> DNSRecord:
        plan = self.plan(request)
        return self.finish(plan, transport) if plan.needs_upstream else plan.reply

    def _index(self) -> ClusterIndex | None:
        snapshot = self._snapshot()
        if snapshot is None:
            return None
        indexed = self._indexed
        if indexed is None or indexed[0] is not snapshot:
            indexed = self._indexed = (snapshot, ClusterIndex.of(snapshot))
        return indexed[1]
