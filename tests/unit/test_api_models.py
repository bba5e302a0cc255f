"""The schemas, the kind registry and the decoder (wire names, unknown fields, type errors)."""

from __future__ import annotations

import copy

import pytest

from orchestrator.api import errors
from orchestrator.api.containers import Container, ContainerPort
from orchestrator.api.decode import decode
from orchestrator.api.pod import Pod, PodSpec, PodStatus
from orchestrator.api.registry import KINDS, kind_for, resource_for

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]},
}

RICH_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "rich",
        "namespace": "default",
        "annotations": {"kubernetes.io/change-cause": "x"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1",
                             "controller": True, "blockOwnerDeletion": True}],
        "finalizers": ["example.com/f"],
        "managedFields": [{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:metadata": {}}}],
    },
    "spec": {
        "initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "true"]}],
        "containers": [{
            "name": "app",
            "image": "nginx:1.25",
            "args": ["-g", "daemon off;"],
            "workingDir": "/srv",
            "ports": [{"name": "http", "containerPort": 80, "hostPort": 8080, "hostIP": "0.0.0.0", "protocol": "TCP"}],
            "env": [
                {"name": "A", "value": "1"},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
                {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k", "optional": True}}},
                {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            ],
            "envFrom": [{"prefix": "P_", "configMapRef": {"name": "cm"}}, {"secretRef": {"name": "s"}}],
            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": 0.25, "memory": 64000000}},
            "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True, "subPath": "x"}],
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP",
                                          "httpHeaders": [{"name": "X-A", "value": "b"}]},
                              "initialDelaySeconds": 3, "periodSeconds": 5, "terminationGracePeriodSeconds": 10},
            "readinessProbe": {"tcpSocket": {"port": 80}, "timeoutSeconds": 2},
            "startupProbe": {"exec": {"command": ["cat", "/tmp/ok"]}, "failureThreshold": 30},
            "lifecycle": {"postStart": {"exec": {"command": ["true"]}}, "preStop": {"sleep": {"seconds": 5}}},
            "imagePullPolicy": "IfNotPresent",
            "securityContext": {"privileged": False, "runAsUser": 1000, "runAsNonRoot": True,
                                "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "stdin": True, "stdinOnce": False, "tty": True,
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        }],
        "volumes": [
            {"name": "data", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
            {"name": "host", "hostPath": {"path": "/var/log", "type": "Directory"}},
            {"name": "cm", "configMap": {"name": "cm", "items": [{"key": "a", "path": "a.txt"}]}},
            {"name": "sec", "secret": {"secretName": "s", "defaultMode": 0o400}},
            {"name": "pvc", "persistentVolumeClaim": {"claimName": "claim"}},
            {"name": "proj", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
            {"name": "down", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        ],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "activeDeadlineSeconds": 600,
        "dnsPolicy": "ClusterFirst", "dnsConfig": {"nameservers": ["1.1.1.1"], "options": [{"name": "ndots", "value": "2"}]},
        "nodeSelector": {"disk": "ssd"}, "serviceAccountName": "default", "automountServiceAccountToken": False,
        "hostNetwork": False, "hostPID": False, "hostIPC": False, "hostname": "rich", "subdomain": "sub",
        "securityContext": {"fsGroup": 2000, "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]},
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}},
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}],
        "schedulerName": "default-scheduler", "priority": 0, "priorityClassName": "", "enableServiceLinks": True,
        "readinessGates": [{"conditionType": "example.com/ready"}],
        "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["db"]}],
        "imagePullSecrets": [{"name": "regcred"}], "preemptionPolicy": "PreemptLowerPriority",
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}],
        "overhead": {"cpu": "10m"},
    },
    "status": {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"}],
        "hostIP": "192.168.0.7", "hostIPs": [{"ip": "192.168.0.7"}],
        "podIP": "10.42.0.129", "podIPs": [{"ip": "10.42.0.129"}],
        "startTime": "2025-01-01T00:00:00Z", "qosClass": "Burstable", "nominatedNodeName": "n1",
        "containerStatuses": [{
            "name": "app", "ready": True, "restartCount": 4, "image": "nginx:1.25", "imageID": "docker://sha256:1",
            "containerID": "docker://abc", "started": True,
            "state": {"running": {"startedAt": "2025-01-01T00:00:10Z"}},
            "lastState": {"terminated": {"exitCode": 137, "signal": 9, "reason": "Error", "message": "m",
                                         "startedAt": "2025-01-01T00:00:00Z", "finishedAt": "2025-01-01T00:00:05Z",
                                         "containerID": "docker://old"}},
        }],
        "initContainerStatuses": [{"name": "init", "ready": False, "restartCount": 0,
                                   "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}}}],
    },
}

NODE = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}},
    "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"], "providerID": "dockyard://node-1",
             "unschedulable": True,
             "taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": "2025-01-01T00:00:00Z"}]},
    "status": {
        "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
        "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2025-01-01T00:00:00Z",
                        "lastTransitionTime": "2025-01-01T00:00:00Z", "reason": "KubeletReady", "message": "ok"}],
        "addresses": [{"type": "InternalIP", "address": "192.168.0.7"}, {"type": "Hostname", "address": "node-1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {"machineID": "m", "systemUUID": "s", "bootID": "b", "kernelVersion": "6.1", "osImage": "Debian",
                     "containerRuntimeVersion": "docker://20.10", "kubeletVersion": "v1.32.0-dockyard",
                     "kubeProxyVersion": "v1.32.0-dockyard", "operatingSystem": "linux", "architecture": "amd64"},
        "images": [{"names": ["nginx:1.25"], "sizeBytes": 1}],
    },
}

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "type": "LoadBalancer", "selector": {"app": "web"},
        "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http", "nodePort": 30080, "appProtocol": "http"}],
        "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "externalIPs": ["192.168.0.50"],
        "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
        "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Cluster", "loadBalancerIP": "1.2.3.4",
        "loadBalancerSourceRanges": ["0.0.0.0/0"], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
        "publishNotReadyAddresses": False, "healthCheckNodePort": 31000, "allocateLoadBalancerNodePorts": True,
    },
    "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4", "ipMode": "VIP"}]}},
}

DEPLOYMENT_STATUS = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "generation": 3},
    "spec": {"replicas": 3, "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]},
             "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
             "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "10%"}},
             "minReadySeconds": 5, "revisionHistoryLimit": 2, "paused": True, "progressDeadlineSeconds": 60},
    "status": {"observedGeneration": 3, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
               "unavailableReplicas": 0, "terminatingReplicas": 0, "collisionCount": 1,
               "conditions": [{"type": "Available", "status": "True", "lastUpdateTime": "t", "lastTransitionTime": "t",
                               "reason": "MinimumReplicasAvailable", "message": "ok"}]},
}

OTHERS = [
    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs", "namespace": "default"},
     "spec": {"replicas": 2, "minReadySeconds": 0, "selector": {"matchLabels": {"a": "b"}},
              "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}},
     "status": {"replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 2, "availableReplicas": 2,
                "observedGeneration": 1, "conditions": [{"type": "ReplicaFailure", "status": "False"}]}},
    {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "default"},
     "subsets": [{"addresses": [{"ip": "10.0.0.1", "hostname": "a", "nodeName": "n1",
                                 "targetRef": {"kind": "Pod", "namespace": "default", "name": "p", "uid": "u"}}],
                  "notReadyAddresses": [{"ip": "10.0.0.2"}],
                  "ports": [{"name": "http", "port": 80, "protocol": "TCP", "appProtocol": "http"}]}]},
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
     "metadata": {"name": "web-abc", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
     "addressType": "IPv4",
     "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True, "serving": True, "terminating": False},
                    "hostname": "a", "nodeName": "n1", "zone": "z", "targetRef": {"kind": "Pod", "name": "p"}}],
     "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}, "spec": {"finalizers": ["kubernetes"]},
     "status": {"phase": "Active"}},
    {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.1", "namespace": "default"},
     "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web", "uid": "u", "apiVersion": "v1",
                        "resourceVersion": "5", "fieldPath": "spec.containers{nginx}"},
     "reason": "Pulled", "message": "ok", "source": {"component": "kubelet", "host": "n1"},
     "firstTimestamp": "t", "lastTimestamp": "t", "count": 2, "type": "Normal", "eventTime": "2025-01-01T00:00:00.000000Z",
     "series": {"count": 2, "lastObservedTime": "t"}, "action": "Pull", "related": {"kind": "Node", "name": "n1"},
     "reportingComponent": "kubelet", "reportingInstance": "n1"},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default"},
     "data": {"a": "1"}, "binaryData": {"b": "AAE="}, "immutable": False},
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"},
     "data": {"a": "MQ=="}, "stringData": {"b": "2"}, "type": "Opaque", "immutable": True},
]


@pytest.mark.parametrize("body", [POD, RICH_POD, NODE, SERVICE, DEPLOYMENT_STATUS, *OTHERS],
                         ids=lambda body: f"{body['kind']}/{body['metadata']['name']}")
def test_decode_round_trips_wire_names(body: dict) -> None:
    rk = kind_for(body["apiVersion"], body["kind"])
    obj, warnings = decode(rk, copy.deepcopy(body), strict=True)
    assert warnings == []
    for key, value in body.items():
        assert obj[key] == value, key
    again, _ = decode(rk, obj, strict=True)
    assert again == obj


def test_go_value_structs_are_always_present() -> None:
    obj, _ = decode(kind_for("v1", "Service"), {"metadata": {"name": "s"}}, strict=True)
    assert obj["status"] == {"loadBalancer": {}}
    assert obj["spec"] == {}


def test_models_construct_by_python_name_and_dump_camel_case() -> None:
    pod = Pod(spec=PodSpec(containers=[Container(name="c", image="i", ports=[ContainerPort(container_port=80, host_ip="0.0.0.0")])]),
              status=PodStatus(pod_ip="10.0.0.1"))
    wire = pod.to_wire()
    assert wire["apiVersion"] == "v1" and wire["kind"] == "Pod"
    assert wire["spec"]["containers"][0]["ports"][0] == {"containerPort": 80, "hostIP": "0.0.0.0"}
    assert wire["status"] == {"podIP": "10.0.0.1"}


# ── registry ─────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("api_version", "kind", "plural", "qualified", "short"),
    [
        ("v1", "Pod", "pods", "pods", ("po",)),
        ("v1", "Service", "services", "services", ("svc",)),
        ("apps/v1", "Deployment", "deployments", "deployments.apps", ("deploy",)),
        ("apps/v1", "ReplicaSet", "replicasets", "replicasets.apps", ("rs",)),
        ("v1", "Namespace", "namespaces", "namespaces", ("ns",)),
        ("v1", "Node", "nodes", "nodes", ("no",)),
        ("v1", "Endpoints", "endpoints", "endpoints", ("ep",)),
        ("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", "endpointslices.discovery.k8s.io", ()),
        ("v1", "Event", "events", "events", ("ev",)),
        ("v1", "ConfigMap", "configmaps", "configmaps", ("cm",)),
        ("v1", "Secret", "secrets", "secrets", ()),
    ],
)
def test_registry_names(api_version: str, kind: str, plural: str, qualified: str, short: tuple[str, ...]) -> None:
    rk = kind_for(api_version, kind)
    assert (rk.api_version, rk.plural, rk.qualified_resource, rk.short_names) == (api_version, plural, qualified, short)
    assert rk.list_kind == f"{kind}List"
    assert resource_for(rk.group, rk.version, plural) is rk
    default = rk.model().model_dump(by_alias=True, exclude_none=True)
    assert (default["apiVersion"], default["kind"]) == (api_version, kind)


def test_registry_scopes_and_subresources() -> None:
    by_kind = {rk.kind: rk for rk in KINDS}
    assert len(by_kind) == 12
    assert {k for k, rk in by_kind.items() if not rk.namespaced} == {"Namespace", "Node"}
    assert {k for k, rk in by_kind.items() if "all" in rk.categories} == {"Pod", "Service", "Deployment", "ReplicaSet"}
    assert by_kind["Pod"].subresources == {"status", "log", "exec", "attach", "portforward", "binding", "eviction",
                                           "proxy", "ephemeralcontainers"}
    assert by_kind["Service"].subresources == by_kind["Node"].subresources == {"status", "proxy"}
    assert by_kind["Deployment"].subresources == by_kind["ReplicaSet"].subresources == {"status", "scale"}
    assert {k for k, rk in by_kind.items() if rk.has_spec_generation} == {"Deployment", "ReplicaSet"}


@pytest.mark.parametrize(
    ("api_version", "kind", "code", "message"),
    [
        ("v1", "Foo", 404, 'no matches for kind "Foo" in version "v1"'),
        ("apps/v1beta1", "Deployment", 404, 'no matches for kind "Deployment" in version "apps/v1beta1"'),
        ("v1", "Deployment", 404, 'no matches for kind "Deployment" in version "v1"'),
        ("a/b/c", "Pod", 400, 'unable to parse apiVersion "a/b/c"'),
    ],
)
def test_kind_for_errors(api_version: str, kind: str, code: int, message: str) -> None:
    with pytest.raises(errors.ApiError) as raised:
        kind_for(api_version, kind)
    assert (raised.value.code, raised.value.message) == (code, message)


def test_resource_for_unknown() -> None:
    assert resource_for("", "v1", "widgets") is None
    assert resource_for("apps", "v1", "pods") is None


# ── decode ───────────────────────────────────────────────────────────────────────────────────

POD_RK = kind_for("v1", "Pod")
DEPLOY_RK = kind_for("apps/v1", "Deployment")


def _with(body: dict, path: str, value: object) -> dict:
    body = copy.deepcopy(body)
    node = body
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return body


def test_unknown_fields_strict_uses_kubernetes_wording() -> None:
    body = _with(_with(POD, "spec.containers.0.foo", 1), "spec.bar", 2)
    with pytest.raises(errors.ApiError) as raised:
        decode(POD_RK, body, strict=True)
    assert raised.value.code == 400
    assert raised.value.message == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
        'unknown field "spec.containers[0].foo", unknown field "spec.bar"'
    )


def test_unknown_fields_lenient_are_dropped_with_warnings() -> None:
    body = _with(_with(POD, "spec.containers.0.foo", 1), "metadata.bogus", "x")
    obj, warnings = decode(POD_RK, body, strict=False)
    assert sorted(warnings) == ['unknown field "metadata.bogus"', 'unknown field "spec.containers[0].foo"']
    assert "foo" not in obj["spec"]["containers"][0] and "bogus" not in obj["metadata"]
    assert obj["spec"]["containers"][0]["image"] == "nginx:1.25"


def test_snake_case_names_are_unknown_on_the_wire() -> None:
    with pytest.raises(errors.ApiError, match='unknown field "spec.restart_policy"'):
        decode(POD_RK, _with(POD, "spec.restart_policy", "Never"), strict=True)


@pytest.mark.parametrize(
    ("rk", "body", "message"),
    [
        (DEPLOY_RK, {"metadata": {"name": "d"}, "spec": {"replicas": "3"}},
         'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into '
         "Go struct field DeploymentSpec.spec.replicas of type int32"),
        (POD_RK, _with(POD, "spec.containers.0.ports.0.containerPort", "80"),
         "cannot unmarshal string into Go struct field ContainerPort.spec.containers[0].ports[0].containerPort of type int32"),
        (POD_RK, _with(POD, "spec.containers.0.env", [{"name": "A", "value": 8080}]),
         "cannot unmarshal number into Go struct field EnvVar.spec.containers[0].env[0].value of type string"),
        (POD_RK, _with(POD, "metadata.labels", {"version": 1.0}),
         "cannot unmarshal number into Go struct field ObjectMeta.metadata.labels[version] of type string"),
        (POD_RK, _with(POD, "spec.containers", {"name": "x"}),
         "cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container"),
        (POD_RK, _with(POD, "spec.terminationGracePeriodSeconds", True),
         "cannot unmarshal bool into Go struct field PodSpec.spec.terminationGracePeriodSeconds of type int64"),
        (POD_RK, _with(POD, "spec.containers.0.resources", {"limits": {"memory": "12x"}}),
         "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
        (kind_for("v1", "Secret"), {"metadata": {"name": "s"}, "data": {"a": "not base64!"}},
         'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3'),
        (POD_RK, [POD], "cannot unmarshal array into Go value of type struct"),
    ],
)
def test_type_errors_name_the_field(rk, body, message: str) -> None:
    with pytest.raises(errors.ApiError) as raised:
        decode(rk, body, strict=True)
    assert raised.value.code == 400
    assert message in raised.value.message


def test_kind_and_api_version_are_filled_and_checked() -> None:
    body = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    obj, _ = decode(POD_RK, body, strict=True)
    assert (obj["apiVersion"], obj["kind"]) == ("v1", "Pod")
    with pytest.raises(errors.ApiError, match=r"the API version in the data \(apps/v1\) does not match the expected API version \(v1\)"):
        decode(POD_RK, {**body, "apiVersion": "apps/v1"}, strict=True)
    with pytest.raises(errors.ApiError, match=r"the kind in the data \(Deployment\) does not match the expected kind \(Pod\)"):
        decode(POD_RK, {**body, "kind": "Deployment"}, strict=True)


def test_nulls_mean_absent() -> None:
    body = _with(POD, "spec.template", None)
    body["spec"]["nodeName"] = None
    body["metadata"]["creationTimestamp"] = None
    body["status"] = None
    obj, warnings = decode(POD_RK, body, strict=True)
    assert warnings == [] and "nodeName" not in obj["spec"] and "creationTimestamp" not in obj["metadata"]


def test_decode_does_not_mutate_the_body() -> None:
    body = _with(POD, "spec.containers.0.foo", 1)
    before = copy.deepcopy(body)
    decode(POD_RK, body, strict=False)
    assert body == before


def test_quantities_keep_their_spelling_in_decode() -> None:
    body = _with(POD, "spec.containers.0.resources", {"limits": {"cpu": 1, "memory": "128Mi"}, "requests": {"cpu": 0.5}})
    obj, _ = decode(POD_RK, body, strict=True)
    assert obj["spec"]["containers"][0]["resources"] == {"limits": {"cpu": 1, "memory": "128Mi"}, "requests": {"cpu": 0.5}}
