"""LoadBalancer Services without a cloud: the nodes themselves are the load balancer.

On a cloud, the service controller of cloud-controller-manager asks the provider for a load
balancer and writes its address into ``status.loadBalancer.ingress``; without one a
``type: LoadBalancer`` Service stays ``<pending>`` forever. k3s's ServiceLB answers instead on
every node, and so does dockyard: the service proxy already accepts a LoadBalancer Service's
traffic on every node, so this controller publishes the InternalIPs of the Ready nodes as the
Service's ingress, ``{"ip": …, "ipMode": "VIP"}`` each, sorted, and follows the nodes as they
come, go, fail and recover. ``kubectl get svc`` shows them under EXTERNAL-IP.

Kubernetes' service controller is followed for everything users see:

* the ``service.kubernetes.io/load-balancer-cleanup`` finalizer marks a Service whose load
  balancer exists, so its clean-up happens even when the type changes or the Service is deleted
  while the control plane is down;
* events ``EnsuringLoadBalancer`` (first seen) and ``EnsuredLoadBalancer`` (first addresses),
  ``UpdatedLoadBalancer`` (the set of nodes changed), ``DeletingLoadBalancer`` and
  ``DeletedLoadBalancer`` (the type changed away, or the Service is being deleted);
* a Service naming a ``loadBalancerClass`` belongs to another implementation and is left alone;
  nodes labelled ``node.kubernetes.io/exclude-from-external-load-balancers`` are not used.

Worked example: node-1 (10.244.0.11) and node-2 (10.244.0.12) Ready, node-3 NotReady::

    status: {loadBalancer: {ingress: [{ip: 10.244.0.11, ipMode: VIP}, {ip: 10.244.0.12, ipMode: VIP}]}}

One work key per Service; a Service's own changes wake it, and a node change that alters the
ingress (readiness, address, the exclusion label, added, deleted) wakes every LoadBalancer Service.
"""

from __future__ import annotations

import ipaddress
from enum import Enum
from typing import Iterable

from orchestrator.api.core import EventType, ServiceType
from orchestrator.api.meta import ConditionStatus
from orchestrator.api.nodestatus import internal_ip, ready_condition
from orchestrator.api.registry import kind_for
from orchestrator.client.informer import Change, Informers
from orchestrator.client.protocol import Client, WatchEventType
from orchestrator.controllers.base import Controller, ObjectKey
from orchestrator.controllers.events import EventRecorder
from orchestrator.controllers.status import write_status

NODE, SERVICE = kind_for("v1", "Node"), kind_for("v1", "Service")
COMPONENT = "service-controller"
FINALIZER = "service.kubernetes.io/load-balancer-cleanup"
EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
IP_MODE_VIP = "VIP"


class LoadBalancerReason(str, Enum):
    ENSURING = "EnsuringLoadBalancer"
    ENSURED = "EnsuredLoadBalancer"
    UPDATED = "UpdatedLoadBalancer"
    DELETING = "DeletingLoadBalancer"
    DELETED = "DeletedLoadBalancer"


# ── decisions (pure) ─────────────────────────────────────────────────────────────────────────


def wants_load_balancer(service: dict) -> bool:
    spec = service.get("spec") or {}
    return spec.get("type") == ServiceType.LOAD_BALANCER.value and not spec.get("loadBalancerClass") \
        and not service["metadata"].get("deletionTimestamp")


def has_load_balancer(service: dict) -> bool:
    return FINALIZER in (service["metadata"].get("finalizers") or [])


def _serving_ip(node: dict) -> str | None:
    """The node's InternalIP if it may carry load-balancer traffic: Ready and not excluded."""
    if EXCLUDE_LABEL in (node["metadata"].get("labels") or {}):
        return None
    if (ready_condition(node) or {}).get("status") != ConditionStatus.TRUE.value:
        return None
    return internal_ip(node)


def node_ingress(nodes: Iterable[dict]) -> list[dict]:
    """The ingress entries for these nodes: one per distinct serving IP, in address order."""
    ips = {ip for node in nodes if (ip := _serving_ip(node))}
    return [{"ip": ip, "ipMode": IP_MODE_VIP} for ip in sorted(ips, key=ipaddress.ip_address)]


def current_ingress(service: dict) -> list[dict]:
    return ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []


# ── the controller ───────────────────────────────────────────────────────────────────────────


class ServiceLoadBalancerController(Controller[ObjectKey]):
    name = "service-lb"
    resync_seconds = 30.0
    watches = (SERVICE, NODE)

    def __init__(self, client: Client, informers: Informers) -> None:
        super().__init__(client, informers)
        self.services = informers.cache(SERVICE)
        self.nodes = informers.cache(NODE)
        self.events = EventRecorder(self.client, COMPONENT)

    def keys_for(self, change: Change) -> Iterable[ObjectKey]:
        if change.kind == SERVICE:
            if any(wants_load_balancer(o) or has_load_balancer(o) for o in (change.previous, change.object) if o):
                yield (change.namespace, change.name)
        elif change.type is not WatchEventType.MODIFIED or change.previous is None \
                or node_ingress([change.previous]) != node_ingress([change.object]):
            yield from self._load_balancer_keys()

    def resync_keys(self) -> Iterable[ObjectKey]:
        return self._load_balancer_keys()

    def _load_balancer_keys(self) -> list[ObjectKey]:
        return [(s["metadata"]["namespace"], s["metadata"]["name"]) for s in self.services.list()
                if wants_load_balancer(s) or has_load_balancer(s)]

    def reconcile(self, key: ObjectKey) -> None:
        service = self.services.get(*key)
        if service is None:
            return
        if wants_load_balancer(service):
            self._ensure(service)
        elif has_load_balancer(service):
            self._remove(service)

    def _ensure(self, service: dict) -> None:
        if not has_load_balancer(service):
            self.events.record(service, EventType.NORMAL, LoadBalancerReason.ENSURING, "Ensuring load balancer")
            service = self._set_finalizer(service, present=True)
        ingress = node_ingress(self.nodes.list())
        before = current_ingress(service)
        if ingress == before:
            return
        if write_status(self.client, SERVICE, service, lambda fresh: _with_ingress(fresh, ingress)) is None:
            return  # deleted meanwhile
        if not before:
            self.events.record(service, EventType.NORMAL, LoadBalancerReason.ENSURED, "Ensured load balancer")
        else:
            self.events.record(service, EventType.NORMAL, LoadBalancerReason.UPDATED,
                               "Updated load balancer with new hosts")

    def _remove(self, service: dict) -> None:
        self.events.record(service, EventType.NORMAL, LoadBalancerReason.DELETING, "Deleting load balancer")
        if current_ingress(service) and not service["metadata"].get("deletionTimestamp"):
            cleared = write_status(self.client, SERVICE, service, lambda fresh: _with_ingress(fresh, []))
            if cleared is None:
                return
            service = cleared
        self._set_finalizer(service, present=False)
        self.events.record(service, EventType.NORMAL, LoadBalancerReason.DELETED, "Deleted load balancer")

    def _set_finalizer(self, service: dict, present: bool) -> dict:
        """Add or remove our finalizer, guarded by the resourceVersion read (a conflict fails
        the pass, which is retried on fresh data)."""
        meta = service["metadata"]
        others = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
        finalizers = others + [FINALIZER] if present else others
        return self.client.update(SERVICE, meta["namespace"], meta["name"],
                                  {**service, "metadata": {**meta, "finalizers": finalizers or None}})


def _with_ingress(service: dict, ingress: list[dict]) -> dict:
    status = dict(service.get("status") or {})
    status["loadBalancer"] = {"ingress": ingress} if ingress else {}
    return status
