"""Who a request comes from, once its bearer token has been checked.

This is all the API server's authorizer needs to see of authentication, so it lives apart from
:mod:`orchestrator.cluster.tokens` (how tokens are issued and stored). The names follow
Kubernetes, so RBAC-minded readers and ``kubectl auth whoami`` find what they expect:

* the admin is in ``system:masters`` and may do anything;
* a node agent is ``system:node:<name>`` in ``system:nodes``; the API server lets it touch only
  its own Node object and the pods bound to it (Kubernetes' Node authorizer model);
* a join token is ``system:bootstrap:<id>`` in ``system:bootstrappers`` and may only be exchanged
  for a node token;
* everyone authenticated is also in ``system:authenticated``;
* a request without any token is ``system:anonymous`` in ``system:unauthenticated``; the API
  server lets it through only to the few objects that are public by design (cluster-info).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ADMIN_USER = "dockyard-admin"
MASTERS_GROUP = "system:masters"
NODES_GROUP = "system:nodes"
BOOTSTRAP_GROUP = "system:bootstrappers"
AUTHENTICATED_GROUP = "system:authenticated"
ANONYMOUS_USER = "system:anonymous"
UNAUTHENTICATED_GROUP = "system:unauthenticated"
NODE_USER_PREFIX = "system:node:"

# DNS-1123 subdomain, what Kubernetes requires of a Node name (and what keeps it out of paths).
_NODE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@dataclass(frozen=True)
class Identity:
    """An authenticated caller, as the API server's authorizer sees it."""

    user: str
    groups: tuple[str, ...]
    node_name: str | None = None

    @property
    def is_admin(self) -> bool:
        return MASTERS_GROUP in self.groups

    @property
    def is_node(self) -> bool:
        return self.node_name is not None and NODES_GROUP in self.groups

    @property
    def is_bootstrap(self) -> bool:
        """A join token: may only exchange itself for a node token."""
        return BOOTSTRAP_GROUP in self.groups


def admin_identity() -> Identity:
    return Identity(ADMIN_USER, (MASTERS_GROUP, AUTHENTICATED_GROUP))


def node_identity(node_name: str) -> Identity:
    check_node_name(node_name)
    return Identity(f"{NODE_USER_PREFIX}{node_name}", (NODES_GROUP, AUTHENTICATED_GROUP), node_name)


def bootstrap_identity(token_id: str) -> Identity:
    return Identity(f"system:bootstrap:{token_id}", (BOOTSTRAP_GROUP, AUTHENTICATED_GROUP))


def anonymous_identity() -> Identity:
    return Identity(ANONYMOUS_USER, (UNAUTHENTICATED_GROUP,))


def check_node_name(name: str) -> str:
    """Return ``name`` if it is a valid Node name (DNS-1123 subdomain), else raise ValueError."""
    if not isinstance(name, str) or len(name) > 253 or not _NODE_NAME.fullmatch(name):
        raise ValueError(f"invalid node name {name!r}: must be a lowercase DNS-1123 subdomain")
    return name
