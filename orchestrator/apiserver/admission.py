"""Admission: cluster-level rules that sit after validation and before storage.

Validation (``orchestrator.api.validation``) asks "is this a well-formed object?". Admission asks
"may this cluster accept it, and what does the cluster add to it?":

* the namespace must exist and must not be terminating;
* pod security: ``privileged`` containers, ``hostNetwork``, ``hostPID``, ``hostIPC`` and
  ``hostPath`` volumes give a pod the host, so they are refused (422) unless the cluster was
  started with ``--allow-privileged`` — for bare pods and for the pod templates of ReplicaSets and
  Deployments alike, so a bad Deployment fails at ``kubectl apply`` and not silently later;
* Services get a virtual IP from the service range (:class:`~orchestrator.api.clusternetwork.ClusterNetwork`)
  and NodePorts from 30000–32767 (collisions refused with a clear message); both survive updates
  that do not mention them. Automatic allocation never hands out the range's reserved addresses
  (the ``kubernetes`` Service's first address and ``kube-dns``'s tenth), which the control plane
  creates its own Services with; asking for an address explicitly works for any free one;
* new Pods get Kubernetes' DefaultTolerationSeconds tolerations: ``node.kubernetes.io/not-ready``
  and ``node.kubernetes.io/unreachable``, ``NoExecute`` for ``tolerationSeconds`` (300 unless the
  server was started with ``--default-not-ready-toleration-seconds``), unless the pod already
  tolerates that taint. That window is how long a pod stays on a lost node before the node
  lifecycle controller evicts it (:mod:`orchestrator.controllers.nodehealth`).

The rules read other objects (the namespace, the Services already allocated) through
:class:`~orchestrator.apiserver.reader.ObjectReader`; the object API hands itself in as that reader
when it calls admission, so admission never depends on the object API that depends on it.
"""

from __future__ import annotations

import copy
import ipaddress
import random
from dataclasses import dataclass, field

from orchestrator.api import errors
from orchestrator.api.clusternetwork import ClusterNetwork
from orchestrator.api.errors import Cause, CauseType
from orchestrator.api.node import TaintEffect
from orchestrator.api.registry import ResourceKind, kind_for
from orchestrator.api.scheduling import TolerationOperator
from orchestrator.api.taints import WellKnownTaint, is_tolerated, taint
from orchestrator.apiserver.reader import ObjectReader

#: kube-apiserver's --default-not-ready-toleration-seconds (and --default-unreachable-…)
DEFAULT_NOT_READY_TOLERATION_SECONDS = 300
NODE_PORT_RANGE = range(30000, 32768)
_PRIVILEGED_HINT = "disallowed by cluster policy (start the cluster with --allow-privileged to permit it)"


@dataclass(frozen=True)
class AdmissionPolicy:
    allow_privileged: bool = False
    network: ClusterNetwork = field(default_factory=ClusterNetwork)
    default_toleration_seconds: int = DEFAULT_NOT_READY_TOLERATION_SECONDS


def _pod_spec_path(rk: ResourceKind, obj: dict) -> tuple[dict | None, str]:
    if rk.kind == "Pod":
        return obj.get("spec"), "spec"
    if rk.kind in ("ReplicaSet", "Deployment"):
        return obj.get("spec", {}).get("template", {}).get("spec"), "spec.template.spec"
    return None, ""


def privileged_causes(spec: dict, path: str) -> list[Cause]:
    """What in a pod spec would hand the pod the host (empty when nothing does)."""
    causes = []
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag):
            causes.append(Cause(CauseType.FIELD_VALUE_FORBIDDEN, f"{path}.{flag}", f"Forbidden: {_PRIVILEGED_HINT}"))
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for index, container in enumerate(spec.get(group) or []):
            if (container.get("securityContext") or {}).get("privileged"):
                causes.append(Cause(CauseType.FIELD_VALUE_FORBIDDEN,
                                    f"{path}.{group}[{index}].securityContext.privileged",
                                    f"Forbidden: {_PRIVILEGED_HINT}"))
    for index, volume in enumerate(spec.get("volumes") or []):
        if "hostPath" in volume:
            causes.append(Cause(CauseType.FIELD_VALUE_FORBIDDEN, f"{path}.volumes[{index}].hostPath",
                                f"Forbidden: {_PRIVILEGED_HINT}"))
    return causes


class Admission:
    def __init__(self, policy: AdmissionPolicy | None = None) -> None:
        self.policy = policy or AdmissionPolicy()
        self._service_net = self.policy.network.services

    def admit_create(self, api: ObjectReader, rk: ResourceKind, obj: dict) -> dict:
        if rk.namespaced:
            self._check_namespace(api, rk, obj)
        self._check_pod_security(rk, obj)
        if rk.kind == "Service":
            obj = self._allocate_service(api, obj, None)
        if rk.kind == "Pod":
            obj = self._default_tolerations(obj)
        return obj

    def admit_update(self, api: ObjectReader, rk: ResourceKind, obj: dict, old: dict) -> dict:
        if obj.get("spec") != old.get("spec"):
            self._check_pod_security(rk, obj)
        if rk.kind == "Service":
            obj = self._allocate_service(api, obj, old)
        return obj

    def admit_delete(self, api: ObjectReader, rk: ResourceKind, obj: dict) -> None:
        if rk.kind == "Namespace" and obj["metadata"]["name"] in ("default", "kube-system"):
            raise errors.forbidden("", "delete", "namespaces", "", "",
                                   f'this namespace may not be deleted: {obj["metadata"]["name"]}')

    # -- rules -----------------------------------------------------------------------------

    def _check_namespace(self, api: ObjectReader, rk: ResourceKind, obj: dict) -> None:
        namespace = obj["metadata"]["namespace"]
        ns = api.get(kind_for("v1", "Namespace"), None, namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(
                f'{rk.plural} "{obj["metadata"]["name"]}" is forbidden: unable to create new content in '
                f"namespace {namespace} because it is being terminated",
                errors.StatusReason.FORBIDDEN, 403, name=obj["metadata"]["name"], kind=rk.plural)

    def _check_pod_security(self, rk: ResourceKind, obj: dict) -> None:
        if self.policy.allow_privileged:
            return
        spec, path = _pod_spec_path(rk, obj)
        if spec and (causes := privileged_causes(spec, path)):
            raise errors.invalid(rk.kind, rk.group, obj["metadata"].get("name", ""), causes)

    def _default_tolerations(self, pod: dict) -> dict:
        """DefaultTolerationSeconds: tolerate a lost node for a while, unless the pod says otherwise."""
        tolerations = list(pod.get("spec", {}).get("tolerations") or [])
        added = [{"key": key.value, "operator": TolerationOperator.EXISTS.value,
                  "effect": TaintEffect.NO_EXECUTE.value,
                  "tolerationSeconds": self.policy.default_toleration_seconds}
                 for key in (WellKnownTaint.NOT_READY, WellKnownTaint.UNREACHABLE)
                 if not is_tolerated(taint(key, TaintEffect.NO_EXECUTE), tolerations)]
        if not added:
            return pod
        pod = copy.deepcopy(pod)
        pod["spec"]["tolerations"] = tolerations + added
        return pod

    # -- services --------------------------------------------------------------------------

    def _allocate_service(self, api: ObjectReader, obj: dict, old: dict | None) -> dict:
        obj = copy.deepcopy(obj)
        spec = obj.setdefault("spec", {})
        old_spec = (old or {}).get("spec", {})
        service_type = spec.get("type", "ClusterIP")
        others = [
            svc for svc in api.list(kind_for("v1", "Service"), None).items
            if svc["metadata"]["uid"] != obj["metadata"]["uid"]
        ]
        if service_type == "ExternalName":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        elif spec.get("clusterIP") != "None":
            spec["clusterIP"] = self._cluster_ip(spec.get("clusterIP") or old_spec.get("clusterIP"), others, obj)
            spec["clusterIPs"] = [spec["clusterIP"]]
        if service_type in ("NodePort", "LoadBalancer"):
            self._node_ports(spec, old_spec, others, obj)
        else:
            for port in spec.get("ports") or []:
                port.pop("nodePort", None)
        return obj

    def _cluster_ip(self, wanted: str | None, others: list[dict], obj: dict) -> str:
        taken = {svc.get("spec", {}).get("clusterIP") for svc in others}
        if wanted:
            try:
                address = ipaddress.ip_address(wanted)
            except ValueError:
                address = None
            if address is None or address not in self._service_net:
                raise self._invalid(obj, "spec.clusterIP", wanted,
                                    f"provided IP is not in the valid range. The range of valid IPs is {self._service_net}")
            if wanted in taken:
                raise self._invalid(obj, "spec.clusterIP", wanted,
                                    "provided IP is already allocated")
            return wanted
        return self._free_cluster_ip(taken | self.policy.network.reserved_service_ips)

    def _free_cluster_ip(self, taken: set[str]) -> str:
        """A random free address of the range, never its network or broadcast address.

        Random probes find one at once in a roomy range; a nearly full one is walked once, so
        "full" is only ever said of a range that really is."""
        first, last = 1, self._service_net.num_addresses - 2
        base = self._service_net.network_address
        for _ in range(64):
            candidate = str(base + random.randint(first, last))
            if candidate not in taken:
                return candidate
        for offset in range(first, last + 1):
            if str(base + offset) not in taken:
                return str(base + offset)
        raise errors.internal(f"failed to allocate a serviceIP: the service IP range {self._service_net} is full; "
                              "delete unused services")

    def _node_ports(self, spec: dict, old_spec: dict, others: list[dict], obj: dict) -> None:
        taken = {
            port.get("nodePort")
            for svc in others for port in svc.get("spec", {}).get("ports") or [] if port.get("nodePort")
        }
        previous = {port.get("port"): port.get("nodePort") for port in old_spec.get("ports") or []}
        for index, port in enumerate(spec.get("ports") or []):
            wanted = port.get("nodePort") or previous.get(port.get("port"))
            if wanted:
                if wanted in taken:
                    raise self._invalid(obj, f"spec.ports[{index}].nodePort", wanted,
                                        "provided port is already allocated")
                port["nodePort"] = wanted
            else:
                free = [p for p in NODE_PORT_RANGE if p not in taken]
                if not free:
                    raise errors.internal("no free NodePort left in 30000-32767; delete unused services")
                port["nodePort"] = random.choice(free)
            taken.add(port["nodePort"])

    @staticmethod
    def _invalid(obj: dict, field: str, value: str | int, message: str) -> errors.ApiError:
        shown = f'"{value}"' if isinstance(value, str) else value
        cause = Cause(CauseType.FIELD_VALUE_INVALID, field, f"Invalid value: {shown}: {message}")
        return errors.invalid("Service", "", obj["metadata"].get("name", ""), [cause])
