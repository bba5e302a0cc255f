"""``coordination.k8s.io/v1`` Lease: each node agent's "I am alive", as the kubelet renews it.

Since Kubernetes 1.17 a kubelet renews a Lease named after its node in ``kube-node-lease`` every
few seconds; ``kubectl describe node`` shows it (``Lease: HolderIdentity, RenewTime``), and
``kubectl get leases -n kube-node-lease`` lists one per node. The times are MicroTime (RFC 3339
with microseconds).
"""

from __future__ import annotations

from orchestrator.api.meta import KubeModel, TopLevel

#: where node agents keep their Leases
NODE_LEASE_NAMESPACE = "kube-node-lease"
#: the kubelet's --node-lease-duration-seconds
NODE_LEASE_DURATION_SECONDS = 40


class LeaseSpec(KubeModel):
    """Who holds the lease, and until when."""

    holder_identity: str | None = None
    """The holder; for a node's lease, the node's name."""
    lease_duration_seconds: int | None = None
    """How long the holder's claim lasts after renewTime; others may take the lease after that."""
    acquire_time: str | None = None
    """When the current holder took the lease."""
    renew_time: str | None = None
    """When the holder last renewed it; kubectl describe node shows it as the node's heartbeat."""
    lease_transitions: int | None = None
    """How many times the lease changed holders."""
    strategy: str | None = None
    """How a coordinated leader election picks the next holder, such as OldestEmulationVersion."""
    preferred_holder: str | None = None
    """The holder a coordinated leader election would like to hand the lease to."""


class Lease(TopLevel):
    """A lock with a time limit: one holder at a time, who must renew it. Each node agent renews a
    Lease named after its node in kube-node-lease every few seconds, as the kubelet does, to show it
    is alive."""

    api_version: str | None = "coordination.k8s.io/v1"
    kind: str | None = "Lease"
    spec: LeaseSpec | None = None
    """The holder and the times."""
