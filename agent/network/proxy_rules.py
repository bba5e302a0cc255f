"""The service proxy's rules: kube-proxy's iptables mode, planned as a pure function.

:func:`plan_rules` turns the cluster's Services and Endpoints into a :class:`RuleSet` for this host;
:mod:`agent.network.proxy` applies it. The chains are kube-proxy's, with the cluster's own prefix
``P = DY-<TAG>-`` (:func:`agent.network.names.chain_prefix`) so clusters sharing a host never meet:

=================  ===========================================================================
nat P-SERVICES     from PREROUTING and OUTPUT: one rule per ClusterIP, external IP and load
                   balancer IP of each service port; last, packets to a local address → NODEPORTS
nat P-NODEPORTS    one rule per NodePort (per local node for ``externalTrafficPolicy: Local``)
nat P-SVC-…        a service port's endpoints, one picked at random (the "Cluster" policy)
nat P-SVL-…        its endpoints on one local node (the "Local" policy)
nat P-EXT-…        traffic arriving through a NodePort, external or load balancer IP: applies
                   ``externalTrafficPolicy``
nat P-SEP-…        one endpoint: DNAT to ``ip:port``
nat P-MARK-MASQ    marks a packet to be masqueraded on its way out
nat P-POSTROUTING  masquerades marked packets; keeps pod-to-pod traffic's source (pod network)
filter P-SERVICES  refuses (REJECT) new connections to what has no endpoint (proxy_plumbing)
filter P-FORWARD   lets traffic to pods through Docker's FORWARD policy DROP (proxy_plumbing)
=================  ===========================================================================

Worked example: ``default/web`` (ClusterIP 10.96.0.20, port 80/TCP) with three ready endpoints
(comments shortened to ``…``)::

    -A P-SERVICES -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -m comment --comment … -j P-SVC-A
    -A P-SVC-A ! -s 10.244.0.0/16 -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -m comment … -j P-MARK-MASQ
    -A P-SVC-A -m comment … -m statistic --mode random --probability 0.3333333333 -j P-SEP-1
    -A P-SVC-A -m comment … -m statistic --mode random --probability 0.5000000000 -j P-SEP-2
    -A P-SVC-A -m comment … -j P-SEP-3
    -A P-SEP-1 -s 10.244.1.5/32 -m comment … -j P-MARK-MASQ
    -A P-SEP-1 -p tcp -m comment … -m tcp -j DNAT --to-destination 10.244.1.5:8080

Rules are tried in order, so the probabilities are conditional: the first takes 1/3 of the
connections, the second half of the remaining 2/3 (another 1/3), the last all that is left — a
third each. Rule by rule, kube-proxy's reasons: a client from outside the cluster CIDR (the host
itself, say) is masqueraded so the reply comes back through this host; an endpoint reaching its
own Service ("hairpin") is masqueraded, or it would answer itself directly and drop the reply
(the frame must also be let back out of the bridge port it came in by: hairpin mode on the pod's
port, which the pod network sets, as the kubelet's ``--hairpin-mode`` does).
With ``sessionAffinity: ClientIP`` each endpoint chain also records the client
(``-m recent --set``) and the service chain first sends a client seen in the last
``timeoutSeconds`` back to the same endpoint (``--rcheck --seconds T --reap``).

**Local nodes.** The agent holding the host lock knows the nodes whose agents run on this host.
On a real machine that is one node, and every local address of the host is that node's (as
kube-proxy's ``-m addrtype --dst-type LOCAL``). A local cluster has several nodes on one host, each
with its own address on the bridge; then NodePorts match each node's own address
(``-d 10.244.0.12/32``), so for a ``Local`` service node-2 answers with node-2's endpoints and
node-1, without one, refuses, as separate machines would. The host's other addresses serve no
NodePort then: they are not nodes, and another local cluster on this host, whose node addresses
are local too, may have allocated the same port numbers. Load balancer or external IPs owned by no
local node refuse ``Local`` services.

**externalTrafficPolicy.** ``Cluster``: any endpoint, and the packet is masqueraded (the pod sees
the node's address). ``Local``: only the receiving node's endpoints and no masquerade (the pod sees
the client's address); a node with none refuses. Pods of the cluster and the host itself are
exempt, as in kube-proxy: they are sent to any endpoint (the host's traffic masqueraded) — except
on a multi-node host, where traffic the host sends to a node's address is treated like a client's
(its source is that node address on the bridge, which the pod can answer), so each node's
behaviour can be watched with ``curl`` from the host.

**Refusing.** A service port without ready endpoints gets no nat rules but filter REJECTs (kube-proxy's
"has no endpoints"), so clients fail at once instead of hanging. A ``Local`` service on a node
without local endpoints is refused the same way (kube-proxy DROPs there; refusing tells a person
at once which node has no endpoint).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from orchestrator.api.clusternetwork import ClusterNetwork

from agent.network import proxy_plumbing
from agent.network.clusterview import NetworkSnapshot
from agent.network.names import chain_prefix
from agent.network.proxy_chains import ChainNames
from agent.network.ruleset import Rule, RuleSet, TableRules, comment
from agent.network.servicemap import Endpoint, ServicePort, service_ports

#: kube-proxy formats probabilities with ten decimals (its ``computeProbability``)
_PROBABILITY_FORMAT = "{:0.10f}"
_HOST = "/32"
_LOCAL_DESTINATION = ("-m", "addrtype", "--dst-type", "LOCAL")
_LOCAL_SOURCE = ("-m", "addrtype", "--src-type", "LOCAL")


def plan_rules(cluster_uid: str, network: ClusterNetwork, local_nodes: Mapping[str, str],
               snapshot: NetworkSnapshot) -> RuleSet:
    """Every rule of the cluster's service proxy on this host.

    ``local_nodes`` maps the names of the nodes whose agents run on this host to their addresses.
    Nothing else goes in, and equal inputs give equal rule sets.
    """
    if not local_nodes:
        raise ValueError("the service proxy needs the name and address of at least one local node")
    chains = ChainNames(chain_prefix(cluster_uid))
    context = _Context(chains, network.cluster_cidr, dict(sorted(local_nodes.items())))
    planned = _Parts()
    for service_port in service_ports(snapshot):
        planned.merge(_plan_service_port(service_port, context))
    nat = TableRules(
        chains=(*proxy_plumbing.nat_chains(chains), *planned.chains),
        rules=(*proxy_plumbing.nat_rules(chains, network), *planned.entries, _nodeports_jump(chains),
               *planned.nodeports, *planned.rules))
    filter_ = TableRules(
        chains=proxy_plumbing.filter_chains(chains),
        rules=(*proxy_plumbing.filter_rules(chains, network, cluster_uid), *planned.refusals))
    return RuleSet(nat=nat, filter=filter_, jumps=proxy_plumbing.jumps(chains, cluster_uid))


@dataclass(frozen=True)
class _Context:
    chains: ChainNames
    cluster_cidr: str
    local_nodes: dict[str, str]   # name → address, sorted by name

    @property
    def several_nodes(self) -> bool:
        return len(self.local_nodes) > 1

    def nodeport_destination(self, node: str) -> tuple[str, ...]:
        """Which NodePort packets are ``node``'s (the jump to NODEPORTS already required a local address)."""
        return ("-d", self.local_nodes[node] + _HOST) if self.several_nodes else ()

    def refusal_destination(self, node: str) -> tuple[str, ...]:
        """The same for a filter rule, which sees packets to any address."""
        return self.nodeport_destination(node) if self.several_nodes else _LOCAL_DESTINATION

    def nodeport_destinations(self) -> list[tuple[str, ...]]:
        """Where a ``Cluster`` NodePort answers: every node's address."""
        return [self.nodeport_destination(node) for node in self.local_nodes]

    def refusal_destinations(self) -> list[tuple[str, ...]]:
        return [self.refusal_destination(node) for node in self.local_nodes]

    def owner(self, address: str) -> str | None:
        """The local node an external or load balancer IP belongs to; None when no local node has it."""
        if not self.several_nodes:
            return next(iter(self.local_nodes))
        return next((node for node, ip in self.local_nodes.items() if ip == address), None)


@dataclass
class _Parts:
    """Planned rules, by where they go."""

    entries: list[Rule] = field(default_factory=list)    # nat SERVICES
    nodeports: list[Rule] = field(default_factory=list)  # nat NODEPORTS
    chains: list[str] = field(default_factory=list)      # per-service-port nat chains …
    rules: list[Rule] = field(default_factory=list)      # … and their rules
    refusals: list[Rule] = field(default_factory=list)   # filter SERVICES

    def merge(self, other: _Parts) -> None:
        for name in ("entries", "nodeports", "chains", "rules", "refusals"):
            getattr(self, name).extend(getattr(other, name))


def _plan_service_port(sp: ServicePort, ctx: _Context) -> _Parts:
    parts, names = _Parts(), ctx.chains
    to_cluster_ip = ("-d", sp.cluster_ip + _HOST, *_to_port(sp, sp.port))
    if not sp.endpoints:
        parts.refusals += _refusals_without_endpoints(sp, ctx)
        return parts
    cluster_chain = names.service(sp)
    parts.entries.append(Rule(names.services, (*to_cluster_ip, *comment(f"{sp.key} cluster IP"), "-j", cluster_chain)))
    parts.chains.append(cluster_chain)
    parts.rules.append(Rule(cluster_chain, ("!", "-s", ctx.cluster_cidr, *to_cluster_ip,
                                            *comment(f"{sp.key} cluster IP"), "-j", names.mark_masq)))
    parts.rules += _balance(sp, cluster_chain, sp.endpoints, names)
    if sp.externally_reachable:
        parts.merge(_plan_local_external(sp, ctx) if sp.external_policy_local else _plan_cluster_external(sp, ctx))
    for endpoint in sp.endpoints:
        parts.chains.append(names.endpoint(sp, endpoint))
        parts.rules += _endpoint_rules(sp, endpoint, names)
    return parts


def _refusals_without_endpoints(sp: ServicePort, ctx: _Context) -> list[Rule]:
    names, refuse = ctx.chains, (*comment(f"{sp.key} has no endpoints"), "-j", "REJECT")
    rules = [Rule(names.refuse, ("-d", address + _HOST, *_to_port(sp, sp.port), *refuse))
             for address in (sp.cluster_ip, *sp.external_ips, *sp.load_balancer_ips)]
    if sp.node_port:
        rules += [Rule(names.refuse, (*destination, *_to_port(sp, sp.node_port), *refuse))
                  for destination in ctx.refusal_destinations()]
    return rules


def _plan_cluster_external(sp: ServicePort, ctx: _Context) -> _Parts:
    """Every external destination leads to one chain: masquerade, then any endpoint."""
    parts, names = _Parts(), ctx.chains
    chain = names.external(sp, None)
    parts.entries += [Rule(names.services, ("-d", address + _HOST, *_to_port(sp, sp.port),
                                            *comment(f"{sp.key} {kind}"), "-j", chain))
                      for address, kind in _external_addresses(sp)]
    if sp.node_port:
        parts.nodeports += [Rule(names.nodeports, (*destination, *_to_port(sp, sp.node_port), *comment(sp.key),
                                                   "-j", chain))
                            for destination in ctx.nodeport_destinations()]
    parts.chains.append(chain)
    parts.rules += [Rule(chain, (*comment(f"masquerade traffic for {sp.key} external destinations"),
                                 "-j", names.mark_masq)),
                    Rule(chain, ("-j", names.service(sp)))]
    return parts


def _plan_local_external(sp: ServicePort, ctx: _Context) -> _Parts:
    """Each external destination leads to the chain of the local node it belongs to."""
    parts, names = _Parts(), ctx.chains
    no_local = (*comment(f"{sp.key} has no local endpoints"), "-j", "REJECT")
    used: set[str] = set()
    for address, kind in _external_addresses(sp):
        to_address = ("-d", address + _HOST, *_to_port(sp, sp.port))
        owner = ctx.owner(address)
        if owner is None or not sp.endpoints_on(owner):
            parts.refusals.append(Rule(names.refuse, (*to_address, *no_local)))
        if owner is not None:
            used.add(owner)
            parts.entries.append(Rule(names.services, (*to_address, *comment(f"{sp.key} {kind}"),
                                                       "-j", names.external(sp, owner))))
    if sp.node_port:
        to_node_port = _to_port(sp, sp.node_port)
        for node in ctx.local_nodes:
            used.add(node)
            parts.nodeports.append(Rule(names.nodeports, (*ctx.nodeport_destination(node), *to_node_port,
                                                          *comment(sp.key), "-j", names.external(sp, node))))
            if not sp.endpoints_on(node):
                parts.refusals.append(Rule(names.refuse, (*ctx.refusal_destination(node), *to_node_port, *no_local)))
    for node in (node for node in ctx.local_nodes if node in used):
        parts.chains.append(names.external(sp, node))
        parts.rules += _local_external_rules(sp, node, ctx)
        if sp.endpoints_on(node):
            parts.chains.append(names.local(sp, node))
            parts.rules += _balance(sp, names.local(sp, node), sp.endpoints_on(node), names)
    return parts


def _local_external_rules(sp: ServicePort, node: str, ctx: _Context) -> list[Rule]:
    names = ctx.chains
    chain, cluster_chain = names.external(sp, node), names.service(sp)
    pod_traffic = comment(f"pod traffic for {sp.key} external destinations")
    if ctx.several_nodes:
        # the host's own packets to a node address come from that address, inside the cluster
        # CIDR: only what does not come from a local address is a pod's
        rules = [Rule(chain, ("-m", "addrtype", "!", "--src-type", "LOCAL", "-s", ctx.cluster_cidr,
                              *pod_traffic, "-j", cluster_chain))]
    else:
        rules = [Rule(chain, ("-s", ctx.cluster_cidr, *pod_traffic, "-j", cluster_chain)),
                 Rule(chain, (*_LOCAL_SOURCE, *comment(f"masquerade LOCAL traffic for {sp.key} external destinations"),
                              "-j", names.mark_masq)),
                 Rule(chain, (*_LOCAL_SOURCE, *comment(f"route LOCAL traffic for {sp.key} external destinations"),
                              "-j", cluster_chain))]
    if sp.endpoints_on(node):
        rules.append(Rule(chain, ("-j", names.local(sp, node))))
    return rules


def _balance(sp: ServicePort, chain: str, endpoints: tuple[Endpoint, ...], names: ChainNames) -> list[Rule]:
    """Affinity first (a client seen lately goes back to its endpoint), then a random pick."""
    rules = []
    if sp.affinity_seconds is not None:
        for endpoint in endpoints:
            target = names.endpoint(sp, endpoint)
            rules.append(Rule(chain, (*comment(f"{sp.key} -> {endpoint}"), "-m", "recent", "--name", target,
                                      "--mask", "255.255.255.255", "--rsource", "--rcheck",
                                      "--seconds", str(sp.affinity_seconds), "--reap", "-j", target)))
    for index, endpoint in enumerate(endpoints):
        remaining = len(endpoints) - index
        pick = ("-m", "statistic", "--mode", "random", "--probability",
                _PROBABILITY_FORMAT.format(1 / remaining)) if remaining > 1 else ()
        rules.append(Rule(chain, (*comment(f"{sp.key} -> {endpoint}"), *pick, "-j", names.endpoint(sp, endpoint))))
    return rules


def _endpoint_rules(sp: ServicePort, endpoint: Endpoint, names: ChainNames) -> list[Rule]:
    chain, proto = names.endpoint(sp, endpoint), _proto(sp)
    remember = ("-m", "recent", "--name", chain, "--mask", "255.255.255.255", "--rsource", "--set") \
        if sp.affinity_seconds is not None else ()
    return [Rule(chain, ("-s", endpoint.ip + _HOST, *comment(sp.key), "-j", names.mark_masq)),
            Rule(chain, ("-p", proto, *comment(sp.key), *remember, "-m", proto,
                         "-j", "DNAT", "--to-destination", str(endpoint)))]


def _nodeports_jump(chains: ChainNames) -> Rule:
    # last in SERVICES: a NodePort must not shadow a ClusterIP or external IP rule on the same port;
    # 127.0.0.0/8 stays out (a DNAT from loopback to a pod is dropped: refusing is clearer)
    return Rule(chains.services, (*_LOCAL_DESTINATION, "!", "-d", "127.0.0.0/8",
                                  *comment("NodePorts: packets to a local address; keep this rule last"),
                                  "-j", chains.nodeports))


def _external_addresses(sp: ServicePort) -> list[tuple[str, str]]:
    return [(ip, "external IP") for ip in sp.external_ips] + [(ip, "loadbalancer IP") for ip in sp.load_balancer_ips]


def _to_port(sp: ServicePort, port: int) -> tuple[str, ...]:
    return ("-p", _proto(sp), "-m", _proto(sp), "--dport", str(port))


def _proto(sp: ServicePort) -> str:
    return sp.protocol.value.lower()
