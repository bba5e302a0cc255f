"""Which pods back a Service, and the ``v1`` Endpoints object that says so: pure functions.

Kubernetes' endpoints controller (pkg/controller/endpoint) and the helpers it shares with the
EndpointSlice controller (pkg/controller/util/endpoint, pkg/api/v1/endpoints), reproduced:

* **Which Services.** Only those with a selector: a selectorless Service's Endpoints belong to
  whoever wrote them (``kubernetes``, ``kube-dns``, a user pointing at an outside database), and
  ``ExternalName`` is a DNS name only. An empty selector counts as none, as it does once
  Kubernetes has stored it.
* **Which pods.** Pods of the Service's namespace whose labels match, that have an IP and are
  not finished (Succeeded/Failed). A terminating pod (``deletionTimestamp``) leaves the Endpoints
  at once — unless ``publishNotReadyAddresses``, which also lists unready pods as ready.
* **Ready or not.** Pods whose Ready condition is True go to ``addresses``, the others to
  ``notReadyAddresses``; kube-proxy sends traffic only to the first.
* **Each address**: ``ip``, ``nodeName``, ``targetRef`` (kind Pod, namespace, name, uid), and
  ``hostname`` when the pod sets ``spec.hostname`` and its ``spec.subdomain`` is this Service
  (that is what makes ``pod.svc.ns.svc.cluster.local`` resolve).
* **Ports.** Each Service port becomes an endpoint port with the Service port's name and
  protocol and the *resolved* ``targetPort``: a number as is, a name looked up among the pod's
  container ports by name and protocol. A pod that has no port of that name is left out of that
  port only.
* **Repacking** (``RepackSubsets``): addresses are grouped by the exact set of ports they offer,
  one subset per group, ready winning if a pod shows up both ways.

Worked example: Service ports ``http`` → targetPort ``web`` and ``metrics`` → 9100; pod a
(ready, 10.244.1.5) names ``web`` = 8080, pod b (not ready, 10.244.2.7) names ``web`` = 80,
pod c (ready, 10.244.1.6) has no port named ``web``::

    subsets:
    - notReadyAddresses: [10.244.2.7]     ports: [http 80]
    - addresses: [10.244.1.5]             ports: [http 8080]
    - addresses: [10.244.1.5, 10.244.1.6] ports: [metrics 9100]
      notReadyAddresses: [10.244.2.7]

Everything is sorted (addresses by IP then uid, ports by name, subsets by what they hold), so
the same pods always give the same object and "nothing changed" means "no write".
"""

from __future__ import annotations

from orchestrator.api.core import CLUSTER_IP_NONE, ServiceType
from orchestrator.api.podstatus import is_finished, is_ready, is_terminating
from orchestrator.api.selectors import LabelSelector, from_match_labels

#: label of the Endpoints (and EndpointSlices) of a headless Service
HEADLESS_LABEL = "service.kubernetes.io/headless"
_DEFAULT_PROTOCOL = "TCP"


# ── services ─────────────────────────────────────────────────────────────────────────────────


def selector_of(service: dict) -> LabelSelector | None:
    """The Service's pod selector; None when it has none (its endpoints are not ours)."""
    selector = (service.get("spec") or {}).get("selector")
    return from_match_labels(selector) if selector else None


def has_pod_endpoints(service: dict) -> bool:
    """Whether the controllers compute this Service's endpoints from pods."""
    spec = service.get("spec") or {}
    return spec.get("type") != ServiceType.EXTERNAL_NAME.value and selector_of(service) is not None


def is_headless(service: dict) -> bool:
    return (service.get("spec") or {}).get("clusterIP") == CLUSTER_IP_NONE


def publishes_not_ready(service: dict) -> bool:
    return bool((service.get("spec") or {}).get("publishNotReadyAddresses"))


# ── pods ─────────────────────────────────────────────────────────────────────────────────────


def pod_ip(pod: dict) -> str | None:
    status = pod.get("status") or {}
    if status.get("podIP"):
        return status["podIP"]
    ips = status.get("podIPs") or []
    return ips[0].get("ip") if ips else None


def should_be_listed(pod: dict, include_terminating: bool) -> bool:
    """``ShouldPodBeInEndpoints``: has an IP, not finished, not terminating (unless asked)."""
    if is_finished(pod) or not pod_ip(pod):
        return False
    return include_terminating or not is_terminating(pod)


def find_port(pod: dict, service_port: dict) -> int | None:
    """``FindPort``: the container port a Service port's targetPort means in this pod."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    protocol = service_port.get("protocol") or _DEFAULT_PROTOCOL
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or _DEFAULT_PROTOCOL) == protocol:
                return port.get("containerPort")
    return None


def resolved_ports(service: dict, pod: dict) -> list[dict]:
    """The Service's ports this pod offers, in the Service's order: ``{name, port, protocol}``
    (and ``appProtocol`` when the Service port has one); unnamed ports have name ``""``."""
    ports = []
    for service_port in (service.get("spec") or {}).get("ports") or []:
        number = find_port(pod, service_port)
        if number is None:
            continue
        port = {"name": service_port.get("name") or "", "port": number,
                "protocol": service_port.get("protocol") or _DEFAULT_PROTOCOL}
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def sets_hostname(pod: dict, service: dict) -> bool:
    """``ShouldSetHostname``: the pod names a hostname and this Service as its subdomain."""
    spec, meta = pod.get("spec") or {}, service["metadata"]
    return bool(spec.get("hostname")) and spec.get("subdomain") == meta["name"] \
        and pod["metadata"].get("namespace") == meta.get("namespace")


def target_ref(pod: dict) -> dict:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]}


def endpoint_facts(pod: dict) -> tuple:
    """Everything about a pod that can change its endpoints; a pod update that leaves this alone
    (a restart count, an annotation) concerns no Service."""
    spec = pod.get("spec") or {}
    ports = tuple((c.get("name"), tuple(sorted((p.get("name") or "", p.get("containerPort") or 0,
                                                p.get("protocol") or _DEFAULT_PROTOCOL)
                                               for p in c.get("ports") or [])))
                  for c in spec.get("containers") or [])
    return (pod_ip(pod), is_ready(pod), is_finished(pod), is_terminating(pod),
            spec.get("nodeName"), spec.get("hostname"), spec.get("subdomain"), ports)


# ── the Endpoints object ─────────────────────────────────────────────────────────────────────


def _address(pod: dict, service: dict) -> dict:
    return {"ip": pod_ip(pod), **pod_reference(pod, service)}


def pod_reference(pod: dict, service: dict) -> dict:
    """What an Endpoints address and an EndpointSlice endpoint both say of their pod: its
    hostname (when it names itself under the Service), its node and a reference to it."""
    reference = {}
    if sets_hostname(pod, service):
        reference["hostname"] = pod["spec"]["hostname"]
    if (pod.get("spec") or {}).get("nodeName"):
        reference["nodeName"] = pod["spec"]["nodeName"]
    reference["targetRef"] = target_ref(pod)
    return reference


def _address_key(address: dict) -> tuple[str, str]:
    return address["ip"], (address.get("targetRef") or {}).get("uid") or ""


def _endpoint_port(port: dict) -> dict:
    """Endpoints omit an empty port name (``omitempty``), unlike EndpointSlices."""
    return {k: v for k, v in port.items() if k != "name" or v}


def _port_key(port: dict) -> tuple:
    return port.get("name") or "", port["port"], port["protocol"], port.get("appProtocol") or ""


def desired_subsets(service: dict, pods: list[dict]) -> list[dict]:
    """The Service's ``subsets``: every listed pod under each port it offers, repacked.
    ``pods`` are the ones its selector (:func:`selector_of`) matches."""
    tolerate_unready = publishes_not_ready(service)
    headless_without_ports = is_headless(service) and not (service.get("spec") or {}).get("ports")
    addresses: dict[tuple[str, str], dict] = {}
    readiness: dict[tuple | None, dict[tuple[str, str], bool]] = {}  # port key (None: no ports) → address → ready
    ports: dict[tuple, dict] = {}
    for pod in pods:
        if not should_be_listed(pod, include_terminating=tolerate_unready):
            continue
        address = _address(pod, service)
        key = _address_key(address)
        addresses[key] = address
        ready = tolerate_unready or is_ready(pod)
        resolved = [] if headless_without_ports else resolved_ports(service, pod)
        for port in resolved:
            ports[_port_key(port)] = _endpoint_port(port)
        offered = [None] if headless_without_ports else [_port_key(p) for p in resolved]
        for port_key in offered:
            seen = readiness.setdefault(port_key, {})
            seen[key] = seen.get(key, False) or ready
    # ports offered by exactly the same addresses (with the same readiness) share a subset
    groups: dict[frozenset, list[tuple | None]] = {}
    for port_key, members in readiness.items():
        groups.setdefault(frozenset(members.items()), []).append(port_key)
    subsets = []
    for group, port_keys in groups.items():
        ready_keys = sorted(k for k, r in group if r)
        unready_keys = sorted(k for k, r in group if not r)
        subset: dict = {}
        if ready_keys:
            subset["addresses"] = [addresses[k] for k in ready_keys]
        if unready_keys:
            subset["notReadyAddresses"] = [addresses[k] for k in unready_keys]
        listed = sorted(k for k in port_keys if k is not None)
        if listed:
            subset["ports"] = [ports[k] for k in listed]
        subsets.append(subset)
    return sorted(subsets, key=_subset_order)


def _subset_order(subset: dict) -> tuple:
    return ([_address_key(a) for a in subset.get("addresses", [])],
            [_address_key(a) for a in subset.get("notReadyAddresses", [])],
            [_port_key(p) for p in subset.get("ports", [])])


def desired_labels(service: dict) -> dict[str, str]:
    """The Service's own labels, plus the headless marker for a headless Service."""
    labels = dict(service["metadata"].get("labels") or {})
    if is_headless(service):
        labels[HEADLESS_LABEL] = ""
    else:
        labels.pop(HEADLESS_LABEL, None)
    return labels


def plan_endpoints(service: dict, pods: list[dict], current: dict | None) -> dict | None:
    """The Endpoints object to write (new, or ``current`` changed), or None when it is right."""
    subsets = desired_subsets(service, pods)
    labels = desired_labels(service)
    if current is not None and (current.get("subsets") or []) == subsets \
            and (current["metadata"].get("labels") or {}) == labels:
        return None
    meta = service["metadata"]
    base = current or {"apiVersion": "v1", "kind": "Endpoints",
                       "metadata": {"name": meta["name"], "namespace": meta["namespace"]}}
    written = {k: v for k, v in base.items() if k != "subsets"}
    written["metadata"] = {k: v for k, v in base["metadata"].items() if k != "labels"}
    if labels:
        written["metadata"]["labels"] = labels
    if subsets:
        written["subsets"] = subsets
    return written
