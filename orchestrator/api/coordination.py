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
    holder_identity: str | None = None
    lease_duration_seconds: int | None = None
    acquire_time: str | None = None
    renew_time: str | None = None
    lease_transitions: int | None = None
    strategy: str | None = None
    preferred_holder: str | None = None


class Lease(TopLevel):
    api_version: str | None = "coordination.k8s.io/v1"
    kind: str | None = "Lease"
    spec: LeaseSpec | None = None
