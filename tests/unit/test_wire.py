"""Kubernetes' protobuf wire format: the tables, the codec, the envelope and its refusals."""

from __future__ import annotations

import base64
import copy

import pytest

from orchestrator.api import errors, wire
from orchestrator.api.meta import TypeMeta
from orchestrator.api.registry import KINDS
from orchestrator.api.wire.envelope import SCHEMA
from orchestrator.api.wire.notation import NotationError, Presence, Shape, parse_fields
from orchestrator.api.wire.schema import Package, SchemaError, build
from tests.support.protobuf_bodies import KUBECTL_CREATE_DEPLOYMENT, KUBECTL_DEPLOYMENT_JSON, enveloped

DEPLOY = wire.Into("apps/v1", "Deployment")


# ── golden bytes ────────────────────────────────────────────────────────────────────────────


def test_kubectls_create_deployment_body_decodes_to_what_its_json_says():
    assert wire.decode(KUBECTL_CREATE_DEPLOYMENT, DEPLOY) == KUBECTL_DEPLOYMENT_JSON


def test_encoding_that_object_gives_kubectls_bytes_back():
    assert wire.encode(KUBECTL_DEPLOYMENT_JSON) == KUBECTL_CREATE_DEPLOYMENT


# ── round trips, one object per kind ────────────────────────────────────────────────────────

META = {"name": "x", "namespace": "default", "uid": "9c1f", "resourceVersion": "42", "generation": 3,
        "creationTimestamp": "2026-01-02T03:04:05Z", "labels": {"app": "web"},
        "annotations": {"note": "hi"}, "finalizers": ["example.com/f"],
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1",
                             "controller": True, "blockOwnerDeletion": False}],
        "managedFields": [{"manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                           "time": "2026-01-02T03:04:05Z", "fieldsType": "FieldsV1",
                           "fieldsV1": {"f:metadata": {"f:labels": {".": {}}}}}]}

POD_SPEC = {
    "volumes": [
        {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
        {"name": "conf", "configMap": {"name": "cm", "items": [{"key": "a", "path": "a.txt", "mode": 420}],
                                        "defaultMode": 420, "optional": False}},
        {"name": "keys", "secret": {"secretName": "s", "defaultMode": 256}},
        {"name": "host", "hostPath": {"path": "/var/log", "type": ""}},
        {"name": "proj", "projected": {"sources": [
            {"serviceAccountToken": {"expirationSeconds": 3600, "path": "token"}},
            {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"apiVersion": "v1",
                                                                       "fieldPath": "metadata.labels"}}]}},
        ]}},
        {"name": "nfs", "nfs": {"server": "nas", "path": "/export"}},
    ],
    "initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "true"], "resources": {},
                        "restartPolicy": "Always"}],
    "containers": [{
        "name": "app", "image": "nginx:1.25", "args": ["-g", "daemon off;"], "workingDir": "/srv",
        "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
        "envFrom": [{"prefix": "CM_", "configMapRef": {"name": "cm", "optional": True}}],
        "env": [{"name": "A", "value": "1"},
                {"name": "POD", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "s", "key": "p"}}},
                {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}}],
        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "250m"}},
        "volumeMounts": [{"name": "cache", "mountPath": "/cache", "readOnly": True}],
        "livenessProbe": {"httpGet": {"path": "/", "port": "http", "scheme": "HTTP"}, "periodSeconds": 5,
                          "failureThreshold": 3},
        "readinessProbe": {"tcpSocket": {"port": 80}, "initialDelaySeconds": 1},
        "startupProbe": {"exec": {"command": ["true"]}, "terminationGracePeriodSeconds": 0},
        "lifecycle": {"preStop": {"sleep": {"seconds": 2}}},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {"privileged": False, "runAsUser": 1000, "capabilities": {"add": ["NET_ADMIN"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "stdin": True, "tty": True,
    }],
    "ephemeralContainers": [{"name": "dbg", "image": "busybox", "targetContainerName": "app", "resources": {}}],
    "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
    "nodeSelector": {"disk": "ssd"}, "serviceAccountName": "default", "nodeName": "node-1",
    "hostNetwork": True, "shareProcessNamespace": False,
    "securityContext": {"fsGroup": 2000, "supplementalGroups": [1, 2], "sysctls": [{"name": "a.b", "value": "1"}]},
    "imagePullSecrets": [{"name": "regcred"}], "hostname": "web", "subdomain": "svc",
    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}},
                                                "topologyKey": "kubernetes.io/hostname"}}]}},
    "schedulerName": "default-scheduler",
    "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 0}],
    "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["db"]}], "priority": 0,
    "dnsConfig": {"nameservers": ["1.1.1.1"], "options": [{"name": "ndots", "value": "2"}]},
    "readinessGates": [{"conditionType": "example.com/ready"}], "enableServiceLinks": True,
    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
                                   "labelSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}}],
    "os": {"name": "linux"},
}

POD_STATUS = {
    "phase": "Running", "hostIP": "10.0.0.2", "hostIPs": [{"ip": "10.0.0.2"}], "podIP": "10.244.1.5",
    "podIPs": [{"ip": "10.244.1.5"}], "startTime": "2026-01-02T03:04:06Z", "qosClass": "Burstable",
    "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": "2026-01-02T03:04:07Z",
                    "lastTransitionTime": "2026-01-02T03:04:07Z"}],
    "containerStatuses": [
        {"name": "app", "ready": True, "restartCount": 2, "image": "nginx:1.25", "imageID": "sha256:abc",
         "containerID": "docker://123", "started": True,
         "state": {"running": {"startedAt": "2026-01-02T03:04:08Z"}},
         "lastState": {"terminated": {"exitCode": 0, "reason": "Completed",
                                      "startedAt": "2026-01-02T03:00:00Z", "finishedAt": "2026-01-02T03:01:00Z"}}},
        {"name": "side", "ready": False, "restartCount": 0, "image": "busybox", "imageID": "",
         "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}}, "lastState": {}},
    ],
}

TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx", "resources": {}}]}}

SAMPLES = [
    {"apiVersion": "v1", "kind": "Pod", "metadata": META, "spec": POD_SPEC, "status": POD_STATUS},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}, "spec": {"finalizers": ["kubernetes"]},
     "status": {"phase": "Terminating", "conditions": [
         {"type": "NamespaceDeletionContentFailure", "status": "False",
          "lastTransitionTime": "2026-01-02T03:04:05Z", "reason": "ContentDeleted", "message": "done"}]}},
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1", "labels": {"kubernetes.io/os": "linux"}},
     "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"], "unschedulable": True,
              "taints": [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute",
                          "timeAdded": "2026-01-02T03:04:05Z"}]},
     "status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"}, "allocatable": {"cpu": "1900m"},
                "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2026-01-02T03:04:05Z",
                                "lastTransitionTime": "2026-01-02T03:00:00Z", "reason": "KubeletReady",
                                "message": "ready"}],
                "addresses": [{"type": "InternalIP", "address": "10.0.0.2"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {"machineID": "m", "systemUUID": "s", "bootID": "b", "kernelVersion": "6.1",
                             "osImage": "Debian", "containerRuntimeVersion": "docker://27", "kubeletVersion": "v1.32",
                             "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"},
                "images": [{"names": ["nginx:latest"], "sizeBytes": 190000000}]}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": META,
     "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE,
              "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}},
              "minReadySeconds": 5, "revisionHistoryLimit": 10, "paused": True, "progressDeadlineSeconds": 600},
     "status": {"observedGeneration": 3, "replicas": 2, "updatedReplicas": 1, "readyReplicas": 1,
                "availableReplicas": 1, "unavailableReplicas": 1, "collisionCount": 0,
                "conditions": [{"type": "Available", "status": "False",
                                "lastUpdateTime": "2026-01-02T03:04:05Z",
                                "lastTransitionTime": "2026-01-02T03:04:05Z", "reason": "MinimumReplicasUnavailable",
                                "message": "Deployment does not have minimum availability."}]}},
    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": META,
     "spec": {"replicas": 3, "minReadySeconds": 1, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
     "status": {"replicas": 0, "fullyLabeledReplicas": 3, "observedGeneration": 1}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"ports": [{"name": "http", "protocol": "TCP", "appProtocol": "http", "port": 80, "targetPort": "http",
                         "nodePort": 30080}],
              "selector": {"app": "web"}, "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
              "type": "LoadBalancer", "externalIPs": ["192.168.0.9"], "sessionAffinity": "ClientIP",
              "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
              "externalTrafficPolicy": "Local", "healthCheckNodePort": 31000, "ipFamilies": ["IPv4"],
              "ipFamilyPolicy": "SingleStack", "allocateLoadBalancerNodePorts": True,
              "internalTrafficPolicy": "Cluster"},
     "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.5", "ipMode": "VIP",
                                              "ports": [{"port": 80, "protocol": "TCP"}]}]}}},
    {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "default"},
     "subsets": [{"addresses": [{"ip": "10.244.1.5", "nodeName": "node-1",
                                 "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-1", "uid": "u"}}],
                  "notReadyAddresses": [{"ip": "10.244.1.6"}],
                  "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}]},
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
     "metadata": {"name": "web-abc", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
     "addressType": "IPv4",
     "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": False, "serving": True, "terminating": True},
                    "nodeName": "node-1", "targetRef": {"kind": "Pod", "name": "web-1"}}],
     "ports": [{"name": "http", "protocol": "TCP", "port": 80}]},
    {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.1", "namespace": "default"},
     "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web", "uid": "u", "apiVersion": "v1",
                        "fieldPath": "spec.containers{app}"},
     "reason": "Pulled", "message": "pulled", "source": {"component": "kubelet", "host": "node-1"},
     "firstTimestamp": "2026-01-02T03:04:05Z", "lastTimestamp": "2026-01-02T03:04:09Z", "count": 2,
     "type": "Normal", "eventTime": "2026-01-02T03:04:05.123456Z",
     "series": {"count": 2, "lastObservedTime": "2026-01-02T03:04:09.000001Z"},
     "reportingComponent": "kubelet", "reportingInstance": "node-1"},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"},
     "immutable": False, "data": {"a": "b", "f.txt": "hi\n"}, "binaryData": {"bin": base64.b64encode(b"\0\1").decode()}},
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
     "data": {"p": "cQ==", "empty": ""}, "stringData": {"plain": "text"}, "type": "Opaque"},
    {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "node-1",
                                                                          "namespace": "kube-node-lease"},
     "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40,
              "renewTime": "2026-01-02T03:04:05.654321Z", "leaseTransitions": 0}},
    {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"replicas": 4}, "status": {"replicas": 0, "selector": "app=web"}},
    {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web", "namespace": "default", "uid": "u"},
     "target": {"kind": "Node", "name": "node-1"}},
    {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web", "namespace": "default"},
     "deleteOptions": {"gracePeriodSeconds": 0, "preconditions": {"uid": "u"}, "dryRun": ["All"]}},
    {"apiVersion": "meta.k8s.io/v1", "kind": "DeleteOptions", "propagationPolicy": "Foreground",
     "orphanDependents": False},
    {"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
     "message": 'Deployment.apps "x" is invalid: spec.replicas: Invalid value: -1', "reason": "Invalid",
     "details": {"name": "x", "group": "apps", "kind": "Deployment",
                 "causes": [{"reason": "FieldValueInvalid", "message": "Invalid value: -1", "field": "spec.replicas"}]},
     "code": 422},
    {"apiVersion": "apps/v1", "kind": "DeploymentList", "metadata": {"resourceVersion": "7", "continue": "abc"},
     "items": [{"metadata": {"name": "a"}, "spec": {"template": TEMPLATE, "strategy": {}}, "status": {}}]},
]


@pytest.mark.parametrize("obj", SAMPLES, ids=[s["kind"] for s in SAMPLES])
def test_every_kind_round_trips(obj):
    data = wire.encode(obj)
    assert data.startswith(wire.MAGIC)
    assert wire.decode(data, wire.Into(obj["apiVersion"], obj["kind"])) == obj


def test_every_served_kind_and_its_list_has_a_message():
    for rk in KINDS:
        assert SCHEMA.for_kind(rk.api_version, rk.kind) is not None, rk.kind
        assert SCHEMA.for_kind(rk.api_version, rk.list_kind) is not None, rk.list_kind
    assert {s["kind"] for s in SAMPLES} >= {rk.kind for rk in KINDS}


def test_every_model_field_has_a_wire_field():
    """A field added to a model without a number would be lost in every protobuf answer."""
    for message in SCHEMA.messages.values():
        if message.model is None:
            continue
        on_wire = _json_names(message)
        modelled = {info.alias for info in message.model.model_fields.values()}
        if issubclass(message.model, TypeMeta):
            modelled -= {"apiVersion", "kind"}
        if any(f.inline for f in message.fields) or message.model in _BORROWED:
            continue  # checked from the message that embeds it
        assert modelled <= on_wire, f"{message.full_name}: {sorted(modelled - on_wire)} have no field number"


def _json_names(message) -> set[str]:
    names = set()
    for f in message.fields:
        names |= _json_names(SCHEMA.message(f.value)) if f.inline else {f.name}
    return names


_BORROWED = {m.model for m in SCHEMA.messages.values() if any(f.inline for f in m.fields)}


def test_messages_with_inline_parts_cover_their_model_together():
    for name in ("k8s.io.api.core.v1.Probe", "k8s.io.api.core.v1.Volume", "k8s.io.api.core.v1.EphemeralContainer",
                 "k8s.io.api.core.v1.ConfigMapKeySelector", "k8s.io.api.core.v1.ConfigMapEnvSource"):
        message = SCHEMA.message(name)
        assert {info.alias for info in message.model.model_fields.values()} <= _json_names(message), name


# ── the JSON mapping of special and optional values ────────────────────────────────────────


def _round(obj: dict) -> dict:
    return wire.decode(wire.encode(obj), wire.Into(obj["apiVersion"], obj["kind"]))


def test_a_pointer_keeps_zero_and_a_value_field_drops_it():
    deployment = copy.deepcopy(KUBECTL_DEPLOYMENT_JSON)
    deployment["spec"]["replicas"] = 0  # *int32: zero survives
    deployment["spec"]["minReadySeconds"] = 0  # int32, omitempty: zero is "not set"
    assert _round(deployment)["spec"]["replicas"] == 0
    assert "minReadySeconds" not in _round(deployment)["spec"]


def test_a_value_field_without_omitempty_is_always_there():
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{}]}}
    assert _round(service)["spec"]["ports"] == [{"port": 0, "targetPort": 0}]


def test_an_absent_value_struct_is_an_empty_object_and_an_absent_pointer_is_absent():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}
    decoded = _round(pod)
    assert decoded["spec"]["containers"][0] == {"name": "c", "resources": {}}  # ResourceRequirements is a value
    assert decoded["status"] == {}
    assert "securityContext" not in decoded["spec"]  # *PodSecurityContext


def test_times_are_rfc3339_in_whole_seconds_and_micro_times_keep_microseconds():
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "creationTimestamp": "2026-01-02T03:04:05.9Z"},
             "eventTime": "2026-01-02T03:04:05.000007Z", "involvedObject": {},
             "reportingComponent": "", "reportingInstance": ""}
    decoded = _round(event)
    assert decoded["metadata"]["creationTimestamp"] == "2026-01-02T03:04:05Z"
    assert decoded["eventTime"] == "2026-01-02T03:04:05.000007Z"


def test_the_zero_time_is_left_out_as_go_marshals_it_to_null():
    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n", "creationTimestamp": "0001-01-01T00:00:00Z"}}
    assert "creationTimestamp" not in _round(obj)["metadata"]


def test_int_or_string_keeps_its_kind():
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "50%"}}
    deployment = {**KUBECTL_DEPLOYMENT_JSON, "spec": {**KUBECTL_DEPLOYMENT_JSON["spec"], "strategy": strategy}}
    assert _round(deployment)["spec"]["strategy"] == strategy


def test_quantities_are_strings_and_numbers_become_their_canonical_spelling():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "resources": {"limits": {"cpu": 0.5, "memory": "1Gi"}, "requests": {"cpu": 1}}}]}}
    resources = _round(pod)["spec"]["containers"][0]["resources"]
    assert resources == {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "1"}}


def test_secret_bytes_travel_raw_and_come_back_as_base64():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "AAEC/w=="}}
    data = wire.encode(secret)
    assert b"\x00\x01\x02\xff" in data
    assert _round(secret)["data"] == {"k": "AAEC/w=="}


def test_a_watch_frame_is_a_length_then_a_watch_event_carrying_the_enveloped_object():
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "b"}}
    frame = wire.encode_watch_event("ADDED", obj)
    length = int.from_bytes(frame[:4], "big")
    assert length == len(frame) - 4
    event = SCHEMA.message("k8s.io.apimachinery.pkg.apis.meta.v1.WatchEvent").new()
    event.ParseFromString(frame[4:])
    assert event.type == "ADDED"
    assert wire.decode(event.object.raw, wire.Into("v1", "ConfigMap")) == obj


def test_a_value_that_does_not_fit_its_field_is_named():
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {"replicas": "3"}}
    with pytest.raises(wire.WireValueError, match=r"spec.replicas: expected int, not str '3'"):
        wire.encode(bad)


def test_kinds_without_a_schema_are_not_encodable():
    with pytest.raises(wire.NotEncodable):
        wire.encode({"apiVersion": "meta.k8s.io/v1", "kind": "Table", "rows": []})


# ── refusals in Kubernetes' words ───────────────────────────────────────────────────────────


def _refusal(data: bytes, into: wire.Into = DEPLOY) -> str:
    with pytest.raises(errors.ApiError) as caught:
        wire.decode(data, into)
    assert caught.value.code == 400 and caught.value.reason is errors.StatusReason.BAD_REQUEST
    return caught.value.message


def test_a_body_without_the_magic_is_unrecognized():
    assert _refusal(b'{"kind": "Deployment", "apiVersion": "apps/v1"}') == (
        "the object provided is unrecognized (must be of type Deployment): provided data does not appear to be "
        'a protobuf message, expected prefix [107 56 115 0] ({"kind": "Deployment", "apiVer ...)')


def test_empty_bodies_are_unrecognized():
    assert _refusal(b"").endswith("(must be of type Deployment): empty data (<empty>)")
    assert _refusal(wire.MAGIC).endswith("(must be of type Deployment): empty body (6b387300)")


def test_a_truncated_body_is_an_unexpected_eof():
    message = _refusal(KUBECTL_CREATE_DEPLOYMENT[:60])
    assert message.startswith("the object provided is unrecognized (must be of type Deployment): unexpected EOF (")


def test_a_truncated_object_inside_a_whole_envelope_is_an_unexpected_eof():
    unknown = SCHEMA.message("k8s.io.apimachinery.pkg.runtime.Unknown").new()
    unknown.ParseFromString(KUBECTL_CREATE_DEPLOYMENT[4:])
    unknown.raw = unknown.raw[:50]
    message = _refusal(wire.MAGIC + unknown.SerializeToString())
    assert message == 'Deployment in version "v1" cannot be handled as a Deployment: unexpected EOF'


def test_garbage_after_the_magic_is_described_like_gogo_protobuf_does():
    assert _refusal(wire.MAGIC + b"\x00\x01").endswith("proto: Unknown: illegal tag 0 (wire type 0) (6b3873000001)")
    assert "proto: wrong wireType = 0 for field TypeMeta" in _refusal(wire.MAGIC + b"\x08\x01")


def test_an_unknown_kind_is_not_registered():
    assert _refusal(enveloped("v1", "Frobnicator")) == (
        'Frobnicator in version "v1" cannot be handled as a Deployment: no kind "Frobnicator" is registered for '
        'version "v1" in scheme "pkg/api/legacyscheme/scheme.go:30"')


def test_another_kind_cannot_be_converted():
    assert _refusal(enveloped("v1", "Service")) == (
        'Service in version "v1" cannot be handled as a Deployment: converting (v1.Service) to (apps.Deployment): '
        "unknown conversion")
    assert _refusal(enveloped("apps/v1", "Deployment"), wire.Into("autoscaling/v1", "Scale")).endswith(
        "converting (v1.Deployment) to (autoscaling.Scale): unknown conversion")


def test_a_missing_kind_and_version_come_from_the_route():
    assert wire.decode(enveloped("", "", KUBECTL_CREATE_DEPLOYMENT), DEPLOY) == KUBECTL_DEPLOYMENT_JSON


def test_delete_options_come_under_any_served_group_version():
    options = {"apiVersion": "apps/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
    assert wire.decode(wire.encode(options), wire.DELETE_OPTIONS) == options


# ── the notation and the tables' own checks ─────────────────────────────────────────────────


def test_the_notation_reads_flags_types_and_inline_fields():
    fields = parse_fields("replicas=1? port=3! *handler=5:ProbeHandler data=2:{}bytes items=4:[]Pod")
    assert [(f.name, f.number, f.presence, f.inline, f.shape, f.type_name) for f in fields] == [
        ("replicas", 1, Presence.POINTER, False, None, None),
        ("port", 3, Presence.ALWAYS, False, None, None),
        ("handler", 5, Presence.OMIT_EMPTY, True, Shape.SINGLE, "ProbeHandler"),
        ("data", 2, Presence.OMIT_EMPTY, False, Shape.MAP, "bytes"),
        ("items", 4, Presence.OMIT_EMPTY, False, Shape.LIST, "Pod"),
    ]


@pytest.mark.parametrize("line, problem", [
    ("replicas", "expected \\[\\*\\]name=NUMBER"),
    ("a=1 b=1", "field numbers repeat"),
    ("*handler=1", "must name its message type"),
])
def test_the_notation_refuses_what_it_cannot_read(line, problem):
    with pytest.raises(NotationError, match=problem):
        parse_fields(line)


def test_a_table_that_disagrees_with_its_model_does_not_build():
    from orchestrator.api.apps import ScaleSpec
    with pytest.raises(SchemaError, match="the model ScaleSpec has no field 'replica'"):
        build([Package("test.v1", "test/v1", {"ScaleSpec": (ScaleSpec, "replica=1")})], [])
    with pytest.raises(SchemaError, match="a message without a model must write every field's type"):
        build([Package("test.v1", "test/v1", {"Loose": (None, "name=1")})], [])
