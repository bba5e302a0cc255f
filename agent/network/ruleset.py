"""Rule sets as data, and the ``iptables-restore`` text that puts them in place (pure).

The planner (:mod:`agent.network.proxy_rules`) describes what one cluster wants in iptables as a
:class:`RuleSet`; the applier (:mod:`agent.network.proxy`) turns it into restore text, one
``*table … COMMIT`` block per table, applied with ``iptables-restore --noflush`` — kube-proxy's
way of changing hundreds of rules at once, atomically per table::

    *nat
    :DY-1A2B3C4D-SERVICES - [0:0]          declaring a chain creates it, or empties it if it exists
    :DY-1A2B3C4D-SVC-QWERTYUIOPAS - [0:0]  a chain no longer wanted: declared (emptied) here …
    -A DY-1A2B3C4D-SERVICES -d 10.96.0.1/32 -p tcp … -j DY-1A2B3C4D-SVC-…
    -X DY-1A2B3C4D-SVC-QWERTYUIOPAS         … and deleted once nothing refers to it any more
    COMMIT

``--noflush`` leaves every chain the text does not declare alone: Docker's, the host's, other
clusters'. The built-in chains (PREROUTING, FORWARD …) are never declared, since that would empty
them; the cluster reaches them through :class:`Jump` rules that are checked and inserted one by
one. Reading ``iptables-save`` output back (which chains exist, which rules jump into the
cluster's chains) is here too, so cleanup is planned as text before anything is run.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum


class Table(str, Enum):
    NAT = "nat"
    FILTER = "filter"


@dataclass(frozen=True)
class Rule:
    """``-A chain args…`` — one rule appended to one of the cluster's own chains."""

    chain: str
    args: tuple[str, ...]

    def line(self) -> str:
        return " ".join(("-A", self.chain, *map(_quote, self.args)))


@dataclass(frozen=True)
class Jump:
    """A rule in a built-in chain (or any chain not the cluster's) that leads into the cluster's."""

    table: Table
    chain: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class TableRules:
    chains: tuple[str, ...]   # every chain of the cluster in this table, in declaration order
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class RuleSet:
    nat: TableRules
    filter: TableRules
    jumps: tuple[Jump, ...]   # in the order they should appear at the top of their chains

    def table(self, table: Table) -> TableRules:
        return self.nat if table is Table.NAT else self.filter


def comment(text: str) -> tuple[str, ...]:
    """The match that labels a rule; ``iptables-save`` and ``iptables -L`` show it (``/* … */``)."""
    return ("-m", "comment", "--comment", text)


def restore_text(table: Table, rules: TableRules, stale_chains: Iterable[str] = ()) -> str:
    """The restore block writing ``rules`` and deleting ``stale_chains``."""
    stale = sorted(set(stale_chains) - set(rules.chains))
    lines = [f"*{table.value}"]
    lines += [f":{chain} - [0:0]" for chain in (*rules.chains, *stale)]
    lines += [rule.line() for rule in rules.rules]
    lines += [f"-X {chain}" for chain in stale]
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def saved_chains(saved: str) -> frozenset[str]:
    """The chains an ``iptables-save`` dump of one table declares."""
    return frozenset(line[1:].split(" ", 1)[0] for line in saved.splitlines() if line.startswith(":"))


def stale_chains(saved: str, prefix: str, wanted: Iterable[str]) -> frozenset[str]:
    """Chains of the cluster (by their ``prefix``) that exist but are no longer wanted."""
    return frozenset(chain for chain in saved_chains(saved) if chain.startswith(prefix)) - set(wanted)


def removal_text(table: Table, prefix: str, saved: str) -> str | None:
    """The restore block removing every trace of the cluster from one table, or None if there is
    none: the jumps into its chains from anywhere else go first (``-D`` with the rule exactly as
    saved), then its chains are emptied and deleted."""
    ours = sorted(chain for chain in saved_chains(saved) if chain.startswith(prefix))
    jumps = [line for line in saved.splitlines()
             if line.startswith("-A ") and not line.split()[1].startswith(prefix) and _target(line).startswith(prefix)]
    if not ours and not jumps:
        return None
    lines = [f"*{table.value}"]
    lines += ["-D " + line[len("-A "):] for line in jumps]
    lines += [f":{chain} - [0:0]" for chain in ours]
    lines += [f"-X {chain}" for chain in ours]
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def _target(saved_rule: str) -> str:
    words = shlex.split(saved_rule)
    for flag in ("-j", "-g"):
        if flag in words[:-1]:
            return words[words.index(flag) + 1]
    return ""


def _quote(arg: str) -> str:
    if '"' in arg:
        raise ValueError(f"an iptables argument may not contain a double quote: {arg!r}")
    return f'"{arg}"' if not arg or any(c.isspace() for c in arg) else arg
