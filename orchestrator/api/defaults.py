"""What the Kubernetes API server fills in before it stores an object.

``apply_defaults(rk, obj)`` returns a new wire-form dict with the values a real API server would
add, so that ``kubectl get -o yaml`` and ``kubectl describe`` (which reads fields without nil
checks, e.g. ``spec.replicas``) show what users expect. It is idempotent and never overrides a
value the user gave. Sources, paraphrased rather than copied:

* the scheme defaulters of k8s.io/kubernetes/pkg/apis/{core,apps,discovery}/v1/defaults.go
  (``SetDefaults_PodSpec``, ``SetDefaults_Container``, ``SetDefaults_Probe``, ``SetDefaults_Service``,
  ``SetDefaults_Deployment`` …) and the ``+default`` markers on the types (port protocol TCP);
* the registry strategies (Namespace ``spec.finalizers``, Service ``ipFamilies``/``ipFamilyPolicy``
  as a single-stack IPv4 cluster sets them);
* admission plugins that run on every real cluster and whose results ``describe`` prints:
  ServiceAccount (``serviceAccountName: default``) and Priority (``priority: 0``,
  ``preemptionPolicy: PreemptLowerPriority``). They apply to Pods only, not to pod templates,
  exactly as ``SetDefaults_Pod`` does (``enableServiceLinks``, requests copied from limits).

Note what is *not* defaulted: apps/v1 does not copy template labels into a Deployment's
``selector`` or ``metadata.labels`` (only the old extensions/v1beta1 did). The not-ready and
unreachable tolerations of the DefaultTolerationSeconds plugin are added by admission
(:mod:`orchestrator.apiserver.admission`), since their window is a server flag.
"""

from __future__ import annotations

import base64
import copy
from typing import Any, Callable

from orchestrator.api import quantity
from orchestrator.api.containers import TERMINATION_MESSAGE_PATH_DEFAULT, ImagePullPolicy
from orchestrator.api.core import (
    DEFAULT_CLIENT_IP_AFFINITY_SECONDS,
    FINALIZER_KUBERNETES,
    IPFamily,
    IPFamilyPolicy,
    NamespacePhase,
    SecretType,
    ServiceType,
    SessionAffinity,
    TrafficPolicy,
)
from orchestrator.api.registry import ResourceKind

DEFAULT_SCHEDULER_NAME = "default-scheduler"
DEFAULT_SERVICE_ACCOUNT = "default"
DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30
DEFAULT_VOLUME_MODE = 0o644  # 420, what configMap/secret/projected volumes get
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def prepare_for_update(rk: ResourceKind, obj: dict, old: dict) -> dict:
    """What a kind's update strategy does before defaulting; call it before :func:`apply_defaults`.

    Only Services need it: a ``PUT`` that omits the allocated ``clusterIP``/``nodePort`` keeps
    them (``patchAllocatedValues``), and a type change drops fields the old type had allocated
    or defaulted (``dropTypeDependentFields``): ClusterIP → ExternalName forgets the cluster IP and
    IP families, NodePort → ClusterIP forgets node ports and ``externalTrafficPolicy``. A field
    the user changed in the same request is left alone, so validation can still refuse it.
    """
    out = copy.deepcopy(obj)
    if rk.kind == "Service":
        _service_update(out.setdefault("spec", {}), old.get("spec") or {})
        if out["spec"].get("type", ServiceType.CLUSTER_IP.value) != ServiceType.LOAD_BALANCER.value:
            out.setdefault("status", {})["loadBalancer"] = {}
    return out


def apply_defaults(rk: ResourceKind, obj: dict) -> dict:
    """A defaulted copy of ``obj`` (wire form); ``obj`` itself is not modified."""
    out = copy.deepcopy(obj)
    out.setdefault("apiVersion", rk.api_version)
    out.setdefault("kind", rk.kind)
    out.setdefault("metadata", {})
    defaulter = _DEFAULTERS.get(rk.kind)
    if defaulter is not None:
        defaulter(out)
    return out


# ── images ───────────────────────────────────────────────────────────────────────────────────


def image_tag(image: str) -> str:
    """The tag of an image reference, ``"latest"`` when none is given and ``""`` for a bare digest.

    ``localhost:5000/app`` has no tag (the colon belongs to the registry host);
    ``nginx@sha256:…`` has none either and is not treated as ``latest``.
    """
    name, at, _digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.rsplit(":", 1)[1]
    return "" if at else "latest"


def default_pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` (or no tag), ``IfNotPresent`` otherwise, as ``SetDefaults_Container``."""
    if not image:
        return ImagePullPolicy.IF_NOT_PRESENT.value
    return (ImagePullPolicy.ALWAYS if image_tag(image) == "latest" else ImagePullPolicy.IF_NOT_PRESENT).value


# ── pods and templates ───────────────────────────────────────────────────────────────────────


def _http_get(action: dict | None) -> None:
    if action is not None:
        action.setdefault("path", "/")
        action.setdefault("scheme", "HTTP")


def _probe(probe: dict | None) -> None:
    if probe is None:
        return
    # Zero means "unset" for these int32 fields in Kubernetes, so 0 is defaulted as well.
    for name, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)):
        if not probe.get(name):
            probe[name] = value
    _http_get(probe.get("httpGet"))
    if probe.get("grpc") is not None:
        probe["grpc"].setdefault("service", "")


def _resource_list(resources: dict, name: str) -> None:
    values = resources.get(name)
    if values:
        resources[name] = {key: _canonical(value) for key, value in values.items()}


def _canonical(value: Any) -> Any:
    try:
        return quantity.round_up_to_milli(value)
    except ValueError:
        return value  # validation reports it with the field path


def _container(container: dict) -> None:
    if not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = default_pull_policy(container.get("image") or "")
    container.setdefault("terminationMessagePath", TERMINATION_MESSAGE_PATH_DEFAULT)
    container.setdefault("terminationMessagePolicy", "File")
    resources = container.setdefault("resources", {})
    _resource_list(resources, "limits")
    _resource_list(resources, "requests")
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for env in container.get("env") or []:
        field_ref = (env.get("valueFrom") or {}).get("fieldRef")
        if field_ref is not None:
            field_ref.setdefault("apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(container.get(probe))
    for hook in ((container.get("lifecycle") or {}).get(h) for h in ("postStart", "preStop")):
        if hook:
            _http_get(hook.get("httpGet"))


def _downward_items(items: list[dict] | None) -> None:
    for item in items or []:
        if item.get("fieldRef") is not None:
            item["fieldRef"].setdefault("apiVersion", "v1")


def _volume(volume: dict) -> None:
    sources = [key for key in volume if key != "name"]
    if not sources:
        volume["emptyDir"] = {}
    if "hostPath" in volume:
        volume["hostPath"].setdefault("type", "")
    for key in ("configMap", "secret", "projected", "downwardAPI"):
        if key in volume:
            volume[key].setdefault("defaultMode", DEFAULT_VOLUME_MODE)
    _downward_items((volume.get("downwardAPI") or {}).get("items"))
    for source in (volume.get("projected") or {}).get("sources") or []:
        _downward_items((source.get("downwardAPI") or {}).get("items"))
        token = source.get("serviceAccountToken")
        if token is not None:
            token.setdefault("expirationSeconds", 3600)


def _pod_spec(spec: dict) -> None:
    """``SetDefaults_PodSpec`` and what it reaches: shared by Pods and pod templates."""
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS)
    spec.setdefault("schedulerName", DEFAULT_SCHEDULER_NAME)
    for volume in spec.get("volumes") or []:
        _volume(volume)
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(group) or []:
            _container(container)
    if spec.get("overhead"):
        _resource_list(spec, "overhead")


def _pod(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    _pod_spec(spec)
    # SetDefaults_Pod: only real pods, never templates (that would trigger spurious rollouts).
    for group in ("initContainers", "containers"):
        for container in spec.get(group) or []:
            resources = container["resources"]
            if resources.get("limits"):
                requests = resources.setdefault("requests", {})
                for name, value in resources["limits"].items():
                    requests.setdefault(name, value)
    spec.setdefault("enableServiceLinks", True)
    if spec.get("hostNetwork"):
        for group in ("initContainers", "containers"):
            for container in spec.get(group) or []:
                for port in container.get("ports") or []:
                    if not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")
    # ServiceAccount admission; `serviceAccount` is the deprecated spelling v1 still mirrors.
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT
    spec["serviceAccountName"] = account
    spec["serviceAccount"] = account
    # Priority admission with no PriorityClass marked globalDefault.
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    obj.setdefault("status", {})


def _template(obj: dict) -> None:
    template = obj.setdefault("spec", {}).setdefault("template", {})
    _pod_spec(template.setdefault("spec", {}))


# ── workloads ────────────────────────────────────────────────────────────────────────────────


def _deployment(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(obj)
    obj.setdefault("status", {})


def _replica_set(obj: dict) -> None:
    obj.setdefault("spec", {}).setdefault("replicas", 1)
    _template(obj)
    obj.setdefault("status", {})


# ── networking ───────────────────────────────────────────────────────────────────────────────


def _service(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", ServiceType.CLUSTER_IP.value)
    service_type = spec["type"]
    spec.setdefault("sessionAffinity", SessionAffinity.NONE.value)
    if spec["sessionAffinity"] == SessionAffinity.NONE.value:
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == SessionAffinity.CLIENT_IP.value:
        client_ip = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
        if client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_AFFINITY_SECONDS}}
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        if port.get("targetPort") in (None, 0, "") and port.get("port") is not None:
            port["targetPort"] = port["port"]
    externally_accessible = service_type in (ServiceType.NODE_PORT.value, ServiceType.LOAD_BALANCER.value) or (
        service_type == ServiceType.CLUSTER_IP.value and bool(spec.get("externalIPs")))
    if externally_accessible:
        spec.setdefault("externalTrafficPolicy", TrafficPolicy.CLUSTER.value)
    if service_type in (ServiceType.CLUSTER_IP.value, ServiceType.NODE_PORT.value, ServiceType.LOAD_BALANCER.value):
        spec.setdefault("internalTrafficPolicy", TrafficPolicy.CLUSTER.value)
    if service_type == ServiceType.LOAD_BALANCER.value:
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    if service_type != ServiceType.EXTERNAL_NAME.value:
        # The registry does this in a single-stack IPv4 cluster (headless services too).
        spec.setdefault("ipFamilies", [IPFamily.IPV4.value])
        spec.setdefault("ipFamilyPolicy", IPFamilyPolicy.SINGLE_STACK.value)
        if spec.get("clusterIP") and not spec.get("clusterIPs"):
            spec["clusterIPs"] = [spec["clusterIP"]]
    status = obj.setdefault("status", {})
    status.setdefault("loadBalancer", {})


def _needs_cluster_ip(spec: dict) -> bool:
    return spec.get("type", ServiceType.CLUSTER_IP.value) != ServiceType.EXTERNAL_NAME.value


def _needs_node_ports(spec: dict) -> bool:
    return spec.get("type") in (ServiceType.NODE_PORT.value, ServiceType.LOAD_BALANCER.value)


def _externally_accessible(spec: dict) -> bool:
    service_type = spec.get("type", ServiceType.CLUSTER_IP.value)
    return service_type in (ServiceType.NODE_PORT.value, ServiceType.LOAD_BALANCER.value) or (
        service_type == ServiceType.CLUSTER_IP.value and bool(spec.get("externalIPs")))


def _service_update(spec: dict, old: dict) -> None:
    if _needs_cluster_ip(old) and _needs_cluster_ip(spec) and not spec.get("clusterIP"):
        for key in ("clusterIP", "clusterIPs"):
            if key in old:
                spec[key] = copy.deepcopy(old[key])
    if _needs_node_ports(old) and _needs_node_ports(spec):
        old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in old.get("ports") or []}
        for port in spec.get("ports") or []:
            allocated = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
            if not port.get("nodePort") and allocated:
                port["nodePort"] = allocated
    if _needs_cluster_ip(old) and not _needs_cluster_ip(spec):
        for keys in (("clusterIP", "clusterIPs"), ("ipFamilies",), ("ipFamilyPolicy",)):
            if all(spec.get(key) == old.get(key) for key in keys):
                for key in keys:
                    spec.pop(key, None)
    if _needs_node_ports(old) and not _needs_node_ports(spec):
        if [p.get("nodePort") for p in spec.get("ports") or []] == [p.get("nodePort") for p in old.get("ports") or []]:
            for port in spec.get("ports") or []:
                port.pop("nodePort", None)
    if old.get("type") == ServiceType.LOAD_BALANCER.value and spec.get("type") != ServiceType.LOAD_BALANCER.value:
        for key in ("allocateLoadBalancerNodePorts", "healthCheckNodePort", "loadBalancerClass"):
            if key in spec and spec.get(key) == old.get(key):
                spec.pop(key)
    if _externally_accessible(old) and not _externally_accessible(spec) \
            and spec.get("externalTrafficPolicy") == old.get("externalTrafficPolicy"):
        spec.pop("externalTrafficPolicy", None)


def _endpoints(obj: dict) -> None:
    for subset in obj.get("subsets") or []:
        for port in subset.get("ports") or []:
            port.setdefault("protocol", "TCP")


def _endpoint_slice(obj: dict) -> None:
    for port in obj.get("ports") or []:
        port.setdefault("name", "")
        port.setdefault("protocol", "TCP")


# ── cluster objects ──────────────────────────────────────────────────────────────────────────


def _namespace(obj: dict) -> None:
    name = obj["metadata"].get("name")
    if name:
        obj["metadata"].setdefault("labels", {})[NAMESPACE_NAME_LABEL] = name
    spec, status = obj.setdefault("spec", {}), obj.setdefault("status", {})
    if "phase" not in status:
        # A namespace without a phase has never been stored: this is its create, where the
        # namespace strategy adds the finalizer. Later the namespace controller removes it, and
        # defaulting must not bring it back.
        spec.setdefault("finalizers", [FINALIZER_KUBERNETES])
        status["phase"] = NamespacePhase.ACTIVE.value


def _node(obj: dict) -> None:
    status = obj.setdefault("status", {})
    for name in ("capacity", "allocatable"):
        if status.get(name):
            status[name] = {key: _canonical(value) for key, value in status[name].items()}
    if status.get("capacity") and not status.get("allocatable"):
        status["allocatable"] = dict(status["capacity"])
    spec = obj.setdefault("spec", {})
    # The v1 conversion keeps the two in step: podCIDRs[0] is podCIDR.
    if spec.get("podCIDR") and not spec.get("podCIDRs"):
        spec["podCIDRs"] = [spec["podCIDR"]]
    elif spec.get("podCIDRs") and not spec.get("podCIDR"):
        spec["podCIDR"] = spec["podCIDRs"][0]


def _secret(obj: dict) -> None:
    if not obj.get("type"):
        obj["type"] = SecretType.OPAQUE.value
    string_data = obj.pop("stringData", None)
    if string_data:
        # The v1→internal conversion merges stringData over data; it is never stored or returned.
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(value.encode("utf-8")).decode("ascii")


_DEFAULTERS: dict[str, Callable[[dict], None]] = {
    "Pod": _pod,
    "Deployment": _deployment,
    "ReplicaSet": _replica_set,
    "Service": _service,
    "Endpoints": _endpoints,
    "EndpointSlice": _endpoint_slice,
    "Namespace": _namespace,
    "Node": _node,
    "Secret": _secret,
}
