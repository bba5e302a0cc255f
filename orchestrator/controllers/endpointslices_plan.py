"""The EndpointSlices of a Service: what to create, update and delete (pure).

Kubernetes' EndpointSlice controller (pkg/controller/endpointslice, its ``reconciler``), for the
same Services and pods as the Endpoints (:mod:`orchestrator.controllers.endpoints_plan`), with
the differences the newer API brings:

* **Terminating pods stay**, with conditions saying so: ``ready`` (serving and not
  terminating, or always with ``publishNotReadyAddresses``), ``serving`` (the pod's readiness),
  ``terminating``. Consumers choose: kube-proxy routes to ready endpoints and falls back to
  serving-terminating ones.
* **One slice, one port set.** Pods offering the same resolved ports share slices; a pod whose
  named port resolves differently lands in another slice. At most
  :data:`MAX_ENDPOINTS_PER_SLICE` endpoints per slice.
* **Ownership.** Slices are named ``<service>-<5 random characters>`` (generateName), carry the
  Service's labels plus ``kubernetes.io/service-name`` and
  ``endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`` (slices managed by
  anyone else are never touched) and a controller ownerReference to the Service, so the garbage
  collector removes them with it. A slice owned by an older Service of the same name is deleted.
* **Few writes.** An endpoint stays in the slice it is in; endpoints that left are dropped from
  theirs; new ones fill slices that change anyway, then slices with room, then new slices. A
  slice left empty is deleted — unless a new slice would be created at the same time, which then
  reuses it. A slice whose content would not change is not written.
* **A placeholder.** A Service with no endpoints at all keeps one empty slice (no ports, no
  endpoints), as Kubernetes does, so "no endpoints" is visible as an object.

Worked example, three ready pods on port 80, one of them (b) starts terminating::

    before:  web-x7k2p  endpoints a, b, c   (all ready)
    after:   web-x7k2p  endpoints a, b(ready=false, serving=true, terminating=true), c
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from orchestrator.api.discovery import MANAGED_BY_LABEL, SERVICE_NAME_LABEL, AddressType
from orchestrator.api.podstatus import is_ready, is_terminating
from orchestrator.controllers.endpoints_plan import (
    HEADLESS_LABEL, is_headless, pod_ip, pod_reference, publishes_not_ready, resolved_ports, should_be_listed,
)
from orchestrator.controllers.owners import is_controlled_by, owner_reference

MAX_ENDPOINTS_PER_SLICE = 100
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
_RESERVED_LABELS = (SERVICE_NAME_LABEL, MANAGED_BY_LABEL)


@dataclass
class SlicePlan:
    create: list[dict] = field(default_factory=list)
    update: list[dict] = field(default_factory=list)
    delete: list[dict] = field(default_factory=list)


def slice_labels(service: dict) -> dict[str, str]:
    labels = {k: v for k, v in (service["metadata"].get("labels") or {}).items() if k not in _RESERVED_LABELS}
    labels[SERVICE_NAME_LABEL] = service["metadata"]["name"]
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    if is_headless(service):
        labels[HEADLESS_LABEL] = ""
    else:
        labels.pop(HEADLESS_LABEL, None)
    return labels


def slice_endpoint(pod: dict, service: dict) -> dict:
    serving, terminating = is_ready(pod), is_terminating(pod)
    return {"addresses": [pod_ip(pod)],
            "conditions": {"ready": publishes_not_ready(service) or (serving and not terminating),
                           "serving": serving, "terminating": terminating},
            **pod_reference(pod, service)}


def _endpoint_key(endpoint: dict) -> tuple[str, str]:
    return (endpoint.get("targetRef") or {}).get("uid") or "", (endpoint.get("addresses") or [""])[0]


def _endpoint_order(endpoint: dict) -> tuple[str, str]:
    uid, address = _endpoint_key(endpoint)
    return address, uid


def _ports_key(ports: list[dict]) -> str:
    return json.dumps(sorted(ports, key=lambda p: json.dumps(p, sort_keys=True)), sort_keys=True)


def desired_endpoints(service: dict, pods: list[dict]) -> dict[str, tuple[list[dict], dict[tuple, dict]]]:
    """Port set (as a key) → (its ports, endpoint key → endpoint), for every listed pod."""
    desired: dict[str, tuple[list[dict], dict[tuple, dict]]] = {}
    for pod in pods:
        if not should_be_listed(pod, include_terminating=True):
            continue
        ports = resolved_ports(service, pod)
        endpoint = slice_endpoint(pod, service)
        desired.setdefault(_ports_key(ports), (ports, {}))[1][_endpoint_key(endpoint)] = endpoint
    return desired


def _new_slice(service: dict, ports: list[dict], endpoints: list[dict]) -> dict:
    meta = service["metadata"]
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": f"{meta['name']}-", "namespace": meta["namespace"],
                         "labels": slice_labels(service), "ownerReferences": [owner_reference(service)]},
            "addressType": AddressType.IPV4.value, "endpoints": endpoints, "ports": ports}


def _rewritten(slice_: dict, service: dict, ports: list[dict], endpoints: list[dict]) -> dict:
    return {**slice_, "metadata": {**slice_["metadata"], "labels": slice_labels(service)},
            "endpoints": sorted(endpoints, key=_endpoint_order), "ports": ports}


def _same(a: dict, b: dict) -> bool:
    return all((a.get(k) or []) == (b.get(k) or []) for k in ("endpoints", "ports")) \
        and (a["metadata"].get("labels") or {}) == (b["metadata"].get("labels") or {})


def plan_slices(service: dict, pods: list[dict], existing: list[dict]) -> SlicePlan:
    """What to write so that ``existing`` (this controller's slices of the Service) match ``pods``
    (the ones its :func:`~orchestrator.controllers.endpoints_plan.selector_of` matches)."""
    plan = SlicePlan()
    by_ports: dict[str, list[dict]] = {}
    for slice_ in sorted(existing, key=lambda s: s["metadata"]["name"]):
        if is_controlled_by(slice_, service) and slice_.get("addressType") == AddressType.IPV4.value:
            by_ports.setdefault(_ports_key(slice_.get("ports") or []), []).append(slice_)
        else:
            plan.delete.append(slice_)
    kept = 0
    for key, (ports, wanted) in sorted(desired_endpoints(service, pods).items()):
        kept += _plan_port_set(service, ports, wanted, by_ports.pop(key, []), plan)
    for stale in by_ports.values():
        plan.delete.extend(stale)
    if kept == 0 and not plan.create:
        plan.create.append(_new_slice(service, [], []))  # the placeholder
    _reuse_deleted(service, plan)
    if service["metadata"].get("deletionTimestamp"):
        plan.create.clear()  # the garbage collector is removing its slices: do not race it
    return plan


def _plan_port_set(service: dict, ports: list[dict], wanted: dict[tuple, dict], slices: list[dict],
                   plan: SlicePlan) -> int:
    """Plan the slices of one port set; returns how many existing slices it keeps."""
    remaining = dict(wanted)
    kept: list[tuple[dict, list[dict]]] = []
    for slice_ in slices:
        endpoints = [remaining.pop(k) for k in map(_endpoint_key, slice_.get("endpoints") or []) if k in remaining]
        if endpoints:
            kept.append((slice_, endpoints))
        else:
            plan.delete.append(slice_)
    leftover = sorted(remaining.values(), key=_endpoint_order)
    # fill slices that are written anyway first, then the others with room
    kept.sort(key=lambda pair: (_same(pair[0], _rewritten(pair[0], service, ports, pair[1])),
                                pair[0]["metadata"]["name"]))
    for slice_, endpoints in kept:
        room = MAX_ENDPOINTS_PER_SLICE - len(endpoints)
        if room > 0 and leftover:
            endpoints.extend(leftover[:room])
            leftover = leftover[room:]
        rewritten = _rewritten(slice_, service, ports, endpoints)
        if not _same(slice_, rewritten):
            plan.update.append(rewritten)
    for start in range(0, len(leftover), MAX_ENDPOINTS_PER_SLICE):
        plan.create.append(_new_slice(service, ports, leftover[start:start + MAX_ENDPOINTS_PER_SLICE]))
    return len(kept)


def _reuse_deleted(service: dict, plan: SlicePlan) -> None:
    """Turn creations into updates of slices that would be deleted anyway (fewer objects churn)."""
    reusable = [s for s in plan.delete if is_controlled_by(s, service) and s.get("addressType") == AddressType.IPV4.value]
    while plan.create and reusable:
        old, new = reusable.pop(0), plan.create.pop()
        plan.delete.remove(old)
        rewritten = _rewritten(old, service, new["ports"], new["endpoints"])
        if not _same(old, rewritten):
            plan.update.append(rewritten)
