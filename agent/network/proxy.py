"""The service proxy: keeps this host's iptables in step with the cluster's Services (thin applier).

kube-proxy's iptables mode in two steps: :func:`agent.network.proxy_rules.plan_rules` computes the
whole rule set from a :class:`~agent.network.clusterview.NetworkSnapshot` (pure); :class:`ServiceProxy`
puts it in place when it differs from what it last put there. One sync writes each table with a
single ``iptables-restore --noflush`` (declaring a chain empties it, so what a chain held before is
replaced, never appended to), deletes in the same restore the cluster's chains no longer wanted
(found by the cluster's chain prefix in ``iptables-save``), then checks the jumps from the built-in
chains and inserts those missing. Nothing without the cluster's prefix is ever written.

One agent per host and cluster runs this (the holder of the host lock), from one thread.
:func:`cleanup` is what ``dockyard down`` runs: it removes every chain and jump of a cluster and does
nothing when there is none.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from orchestrator.api.clusternetwork import ClusterNetwork

from agent.network.clusterview import NetworkSnapshot
from agent.network.iptables import Iptables
from agent.network.names import chain_prefix
from agent.network.proxy_rules import plan_rules
from agent.network.ruleset import Jump, RuleSet, Table, removal_text, restore_text, stale_chains

log = logging.getLogger("dockyard.agent.proxy")


class ServiceProxy:
    """The proxy of one cluster on this host.

    ``local_nodes`` (node name → address of the nodes whose agents run on this host) may be
    replaced between syncs; the next sync applies what changes.
    """

    def __init__(self, cluster_uid: str, network: ClusterNetwork, local_nodes: Mapping[str, str],
                 iptables: Iptables | None = None):
        self.cluster_uid = cluster_uid
        self.network = network
        self.local_nodes = dict(local_nodes)
        self.iptables = iptables or Iptables()
        self._prefix = chain_prefix(cluster_uid)
        self._applied: RuleSet | None = None

    def sync(self, snapshot: NetworkSnapshot, force: bool = False) -> bool:
        """Make iptables match ``snapshot``; True when something was written. Unchanged rules are
        not written again unless ``force`` (a periodic resync repairing rules someone removed)."""
        wanted = plan_rules(self.cluster_uid, self.network, self.local_nodes, snapshot)
        if wanted == self._applied and not force:
            return False
        removed = []
        for table in Table:
            rules = wanted.table(table)
            stale = stale_chains(self.iptables.save(table), self._prefix, rules.chains)
            self.iptables.restore(restore_text(table, rules, stale))
            removed += sorted(stale)
        inserted = _ensure_jumps(self.iptables, wanted.jumps)
        self._applied = wanted
        log.info("service proxy: wrote %d nat and %d filter rules; removed %d chain(s), added %d jump(s)",
                 len(wanted.nat.rules), len(wanted.filter.rules), len(removed), inserted)
        return True


def cleanup(cluster_uid: str, iptables: Iptables | None = None) -> bool:
    """Remove every iptables chain and jump of the cluster from this host; False when there was none."""
    iptables = iptables or Iptables()
    prefix, removed = chain_prefix(cluster_uid), False
    for table in Table:
        text = removal_text(table, prefix, iptables.save(table))
        if text is not None:
            iptables.restore(text)
            removed = True
    return removed


def _ensure_jumps(iptables: Iptables, jumps: tuple[Jump, ...]) -> int:
    """Check each jump and insert the missing ones at the top, last first, so that jumps all
    missing end up in the listed order. The number inserted."""
    missing = [jump for jump in jumps if not iptables.rule_exists(jump.table, jump.chain, jump.args)]
    for jump in reversed(missing):
        iptables.insert_rule(jump.table, jump.chain, jump.args)
    return len(missing)
