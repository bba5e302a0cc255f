"""coordination.k8s.io/v1: Lease. Numbers are Kubernetes' (k8s.io/api/coordination/v1)."""

from __future__ import annotations

from orchestrator.api.coordination import Lease, LeaseSpec
from orchestrator.api.wire.schema import Package

COORDINATION = Package("k8s.io.api.coordination.v1", "coordination.k8s.io/v1", {
    "Lease": (Lease, "metadata=1 spec=2"),
    "LeaseSpec": (LeaseSpec,
        "holderIdentity=1? leaseDurationSeconds=2? acquireTime=3?:MicroTime renewTime=4?:MicroTime "
        "leaseTransitions=5? strategy=6? preferredHolder=7?"),
}, kinds=("Lease",))
