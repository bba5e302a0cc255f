"""The fixed part of the proxy's rules: masquerading, the pod network's way through FORWARD, and
the jumps from the built-in chains (pure). :mod:`agent.network.proxy_rules` adds the per-service part.

What flannel and kube-proxy add around a container runtime, for one cluster's pod network
(cluster CIDR 10.244.0.0/16 on bridge ``dy-1a2b3c4d`` in the examples):

**Masquerading** (nat ``P-POSTROUTING``, jumped to first from POSTROUTING)::

    -s 10.244.0.0/16 -d 10.244.0.0/16 -m mark ! --mark 0x4000/0x4000 -j ACCEPT
    -m mark ! --mark 0x4000/0x4000 -j RETURN
    -j MARK --xor-mark 0x4000
    -j MASQUERADE --random-fully

Pod-to-pod traffic keeps its source address even between machines: Docker's own
``-s 10.244.0.0/16 ! -o dy-1a2b3c4d -j MASQUERADE`` would rewrite a pod's packets to a pod on another
machine, so an ACCEPT here (first, before Docker's rule) ends the nat table's POSTROUTING for them.
Packets the service rules marked (``P-MARK-MASQ``: from outside the cluster to a ClusterIP,
hairpin, NodePorts with the Cluster policy) are masqueraded, and the mark is cleared so a packet
that goes round the stack again is not masqueraded twice. Pods' other traffic to the world stays
Docker's business (its MASQUERADE rule for the network).

**FORWARD** (filter ``P-FORWARD``). Docker's FORWARD policy is DROP and its own rules only accept
what leaves a bridge or reaches a published port. A NodePort client on another interface, or a
pod on another machine, must still reach pods here::

    -m mark --mark 0x4000/0x4000 -j ACCEPT                      service traffic to any endpoint
    -d 10.244.0.0/16 -o dy-1a2b3c4d -j ACCEPT                    anything routed to this host's pods
    -m conntrack --ctstate RELATED,ESTABLISHED --ctreplsrc 10.244.0.0/16 -j ACCEPT   and the replies

Every rule names this cluster's bridge or addresses (the mark is set only by service rules), so
traffic between other Docker networks still meets Docker's isolation rules unchanged.

**Refusing** (filter ``P-SERVICES``, from INPUT, FORWARD and OUTPUT for new connections): the
REJECT rules for service ports without endpoints. kube-proxy splits them over two chains by hook;
one suffices since each rule's destination already says which traffic it refuses.

**Jumps** are inserted at the top of the built-in chains (above Docker's rules for the network,
which exist before the proxy first runs), each with a comment naming the cluster.

The mark bit is kube-proxy's (0x4000). Every dockyard cluster on a host uses the same bit, which is
harmless: a marked packet is masqueraded whichever cluster's chain sees it first.
"""

from __future__ import annotations

from orchestrator.api.clusternetwork import ClusterNetwork

from agent.network.names import bridge_name
from agent.network.proxy_chains import ChainNames
from agent.network.ruleset import Jump, Rule, Table, comment

MASQUERADE_MARK = "0x4000"
_MARKED = ("-m", "mark", "--mark", f"{MASQUERADE_MARK}/{MASQUERADE_MARK}")
_NOT_MARKED = ("-m", "mark", "!", "--mark", f"{MASQUERADE_MARK}/{MASQUERADE_MARK}")
_NEW_CONNECTION = ("-m", "conntrack", "--ctstate", "NEW")


def nat_chains(chains: ChainNames) -> tuple[str, ...]:
    return chains.services, chains.nodeports, chains.mark_masq, chains.postrouting


def filter_chains(chains: ChainNames) -> tuple[str, ...]:
    return chains.refuse, chains.forward


def nat_rules(chains: ChainNames, network: ClusterNetwork) -> tuple[Rule, ...]:
    cidr, chain = network.cluster_cidr, chains.postrouting
    return (
        Rule(chains.mark_masq, ("-j", "MARK", "--or-mark", MASQUERADE_MARK)),
        Rule(chain, ("-s", cidr, "-d", cidr, *_NOT_MARKED, *comment("pod-to-pod traffic keeps its source address"),
                     "-j", "ACCEPT")),
        Rule(chain, (*_NOT_MARKED, "-j", "RETURN")),
        # cleared, so a packet that traverses the stack again is not masqueraded twice
        Rule(chain, ("-j", "MARK", "--xor-mark", MASQUERADE_MARK)),
        Rule(chain, (*comment("service traffic requiring SNAT"), "-j", "MASQUERADE", "--random-fully")),
    )


def filter_rules(chains: ChainNames, network: ClusterNetwork, cluster_uid: str) -> tuple[Rule, ...]:
    cidr, chain = network.cluster_cidr, chains.forward
    return (
        Rule(chain, (*_MARKED, *comment("service traffic marked for masquerading"), "-j", "ACCEPT")),
        Rule(chain, ("-d", cidr, "-o", bridge_name(cluster_uid), *comment("traffic to this host's pods"),
                     "-j", "ACCEPT")),
        Rule(chain, ("-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "--ctreplsrc", cidr,
                     *comment("replies of connections to pods"), "-j", "ACCEPT")),
    )


def jumps(chains: ChainNames, cluster_uid: str) -> tuple[Jump, ...]:
    def jump(table: Table, chain: str, role: str, target: str, *match: str) -> Jump:
        return Jump(table, chain, (*match, *comment(f"dockyard cluster {cluster_uid}: {role}"), "-j", target))

    return (
        jump(Table.NAT, "PREROUTING", "service portals", chains.services),
        jump(Table.NAT, "OUTPUT", "service portals", chains.services),
        jump(Table.NAT, "POSTROUTING", "masquerading", chains.postrouting),
        jump(Table.FILTER, "INPUT", "services without endpoints", chains.refuse, *_NEW_CONNECTION),
        jump(Table.FILTER, "FORWARD", "services without endpoints", chains.refuse, *_NEW_CONNECTION),
        jump(Table.FILTER, "OUTPUT", "services without endpoints", chains.refuse, *_NEW_CONNECTION),
        jump(Table.FILTER, "FORWARD", "pod network forwarding", chains.forward),
    )
