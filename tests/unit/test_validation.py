"""``validate``: Kubernetes' rules, field paths and messages, every cause at once."""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from orchestrator.api import errors
from orchestrator.api.defaults import apply_defaults
from orchestrator.api.registry import kind_for
from orchestrator.api.validation import validate, validation_causes

POD_RK = kind_for("v1", "Pod")
DEPLOY_RK = kind_for("apps/v1", "Deployment")
SVC_RK = kind_for("v1", "Service")

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def pod() -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"containers": [{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}]}]}}


def deployment() -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}}}


def service() -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}


def _edit(obj: dict, path: str, value: Any) -> dict:
    obj = copy.deepcopy(obj)
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    node = obj
    for key in keys[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return obj


_DELETE = object()


def _causes(rk, obj: dict, old: dict | None = None) -> list[tuple[str, str]]:
    obj = apply_defaults(rk, obj)
    return [(c.field, c.message) for c in validation_causes(rk, obj, old)]


@pytest.mark.parametrize("rk, make", [(POD_RK, pod), (DEPLOY_RK, deployment), (SVC_RK, service)], ids=["pod", "deploy", "svc"])
def test_valid_objects_pass(rk, make: Callable[[], dict]) -> None:
    validate(rk, apply_defaults(rk, make()))


# (kind, base, edits, expected field, expected message)
CASES: list[tuple[Any, Callable[[], dict], dict[str, Any], str, str]] = [
    # names
    (POD_RK, pod, {"metadata.name": "MyPod"}, "metadata.name", f'Invalid value: "MyPod": {SUBDOMAIN_MSG}'),
    (POD_RK, pod, {"metadata.name": "a" * 254}, "metadata.name", "must be no more than 253 characters"),
    (POD_RK, pod, {"metadata.name": _DELETE}, "metadata.name", "Required value: name or generateName is required"),
    (POD_RK, pod, {"metadata.namespace": _DELETE}, "metadata.namespace", "Required value"),
    (POD_RK, pod, {"metadata.namespace": "Bad_NS"}, "metadata.namespace", f'Invalid value: "Bad_NS": {LABEL_MSG}'),
    (SVC_RK, service, {"metadata.name": "1web"}, "metadata.name",
     "Invalid value: \"1web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
     "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
     "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"),
    (kind_for("v1", "Namespace"), lambda: {"metadata": {"name": "a.b"}}, {}, "metadata.name",
     'Invalid value: "a.b": must not contain dots'),
    (kind_for("v1", "Node"), lambda: {"metadata": {"name": "n", "namespace": "default"}}, {}, "metadata.namespace",
     "Forbidden: not allowed on this type"),
    # labels and annotations
    (POD_RK, pod, {"metadata.labels": {"app": "-bad"}}, "metadata.labels",
     "Invalid value: \"-bad\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
     "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex "
     "used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
    (POD_RK, pod, {"metadata.labels": {"a/b/c": "x"}}, "metadata.labels", "a qualified name must consist of"),
    (POD_RK, pod, {"metadata.labels": {"Example.com/x": "y"}}, "metadata.labels", "prefix part a lowercase RFC 1123 subdomain"),
    (POD_RK, pod, {"metadata.labels": {"k": "v" * 64}}, "metadata.labels", "must be no more than 63 characters"),
    (POD_RK, pod, {"metadata.annotations": {"bad key": "x"}}, "metadata.annotations", 'Invalid value: "bad key": name part must consist of'),
    # containers
    (POD_RK, pod, {"spec.containers": []}, "spec.containers", "Required value"),
    (POD_RK, pod, {"spec.containers.0.image": ""}, "spec.containers[0].image", "Required value"),
    (POD_RK, pod, {"spec.containers.0.image": " nginx"}, "spec.containers[0].image",
     'Invalid value: " nginx": must not have leading or trailing whitespace'),
    (POD_RK, pod, {"spec.containers.0.name": "Nginx"}, "spec.containers[0].name", f'Invalid value: "Nginx": {LABEL_MSG}'),
    (POD_RK, pod, {"spec.containers.0.ports.0.containerPort": 70000}, "spec.containers[0].ports[0].containerPort",
     "Invalid value: 70000: must be between 1 and 65535, inclusive"),
    (POD_RK, pod, {"spec.containers.0.ports.0.hostPort": 70000}, "spec.containers[0].ports[0].hostPort",
     "Invalid value: 70000: must be between 1 and 65535, inclusive"),
    (POD_RK, pod, {"spec.containers.0.ports.0.protocol": "HTTP"}, "spec.containers[0].ports[0].protocol",
     'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'),
    (POD_RK, pod, {"spec.containers.0.ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}]},
     "spec.containers[0].ports[1].name", 'Duplicate value: "http"'),
    (POD_RK, pod, {"spec.containers.0.ports.0.name": "http-web-server-port"}, "spec.containers[0].ports[0].name",
     'Invalid value: "http-web-server-port": must be no more than 15 characters'),
    (POD_RK, pod, {"spec.containers.0.imagePullPolicy": "Sometimes"}, "spec.containers[0].imagePullPolicy",
     'Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"'),
    (POD_RK, pod, {"spec.restartPolicy": "Sometimes"}, "spec.restartPolicy",
     'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'),
    (POD_RK, pod, {"spec.dnsPolicy": "None"}, "spec.dnsConfig", "Required value: must provide `dnsConfig` when `dnsPolicy` is None"),
    (POD_RK, pod, {"spec.containers.0.env": [{"name": "A=B", "value": "1"}]}, "spec.containers[0].env[0].name",
     "a valid environment variable name must consist only of printable ASCII characters other than '='"),
    (POD_RK, pod, {"spec.containers.0.env": [{"name": "A", "value": "1", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]},
     "spec.containers[0].env[0].valueFrom", 'Invalid value: "": may not be specified when `value` is not empty'),
    (POD_RK, pod, {"spec.containers.0.env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}}]},
     "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", 'Unsupported value: "spec.bogus"'),
    (POD_RK, pod, {"spec.containers.0.resources": {"limits": {"cpu": "500m"}, "requests": {"cpu": "1"}}},
     "spec.containers[0].resources.requests", 'Invalid value: "1": must be less than or equal to cpu limit of 500m'),
    (POD_RK, pod, {"spec.containers.0.resources": {"limits": {"gpu": "1"}}}, "spec.containers[0].resources.limits[gpu]",
     'Invalid value: "gpu": must be a standard resource for containers'),
    (POD_RK, pod, {"spec.containers.0.resources": {"requests": {"memory": "-1Mi"}}}, "spec.containers[0].resources.requests[memory]",
     "must be greater than or equal to 0"),
    (POD_RK, pod, {"spec.containers.0.livenessProbe": {"initialDelaySeconds": -1, "exec": {"command": ["true"]}}},
     "spec.containers[0].livenessProbe.initialDelaySeconds", "Invalid value: -1: must be greater than or equal to 0"),
    (POD_RK, pod, {"spec.containers.0.livenessProbe": {"periodSeconds": 5}}, "spec.containers[0].livenessProbe",
     "Required value: must specify a handler type"),
    (POD_RK, pod, {"spec.containers.0.livenessProbe": {"exec": {"command": ["x"]}, "tcpSocket": {"port": 1}}},
     "spec.containers[0].livenessProbe.tcpSocket", "Forbidden: may not specify more than 1 handler type"),
    (POD_RK, pod, {"spec.containers.0.livenessProbe": {"exec": {"command": ["x"]}, "successThreshold": 2}},
     "spec.containers[0].livenessProbe.successThreshold", "Invalid value: 2: must be 1"),
    (POD_RK, pod, {"spec.containers.0.readinessProbe": {"httpGet": {"port": 0}}},
     "spec.containers[0].readinessProbe.httpGet.port", "Invalid value: 0: must be between 1 and 65535, inclusive"),
    (POD_RK, pod, {"spec.containers.0.readinessProbe": {"httpGet": {"port": "HTTP"}}},
     "spec.containers[0].readinessProbe.httpGet.port", 'Invalid value: "HTTP": must contain only alpha-numeric characters'),
    (POD_RK, pod, {"spec.containers.0.volumeMounts": [{"name": "data", "mountPath": "/data"}]},
     "spec.containers[0].volumeMounts[0].name", 'Not found: "data"'),
    (POD_RK, pod, {"spec.initContainers": [{"name": "nginx", "image": "busybox"}]}, "spec.initContainers[0].name",
     'Duplicate value: "nginx"'),
    (POD_RK, pod, {"spec.initContainers": [{"name": "init", "image": "busybox", "readinessProbe": {"exec": {"command": ["x"]}}}]},
     "spec.initContainers[0].readinessProbe", "Forbidden: may not be set for init containers without restartPolicy=Always"),
    # volumes
    (POD_RK, pod, {"spec.volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]}, "spec.volumes[1].name",
     'Duplicate value: "v"'),
    (POD_RK, pod, {"spec.volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]}, "spec.volumes[0].hostPath",
     "Forbidden: may not specify more than 1 volume type"),
    (POD_RK, pod, {"spec.volumes": [{"name": "v", "secret": {}}]}, "spec.volumes[0].secret.secretName", "Required value"),
    (POD_RK, pod, {"spec.volumes": [{"name": "v", "configMap": {"name": "c", "defaultMode": 0o1777}}]},
     "spec.volumes[0].configMap.defaultMode", "Invalid value: 1023: must be a number between 0 and 0777 (octal), both inclusive"),
    # pod-level fields
    (POD_RK, pod, {"spec.tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]}, "spec.tolerations[0].operator",
     "value must be empty when `operator` is 'Exists'"),
    (POD_RK, pod, {"spec.tolerations": [{"operator": "Equal", "value": "v"}]}, "spec.tolerations[0].operator",
     'operator must be Exists when `key` is empty, which means "match all values and all keys"'),
    (POD_RK, pod, {"spec.tolerations": [{"key": "k", "operator": "Exists", "effect": "Sometimes"}]}, "spec.tolerations[0].effect",
     'Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"'),
    (POD_RK, pod, {"spec.activeDeadlineSeconds": 0}, "spec.activeDeadlineSeconds",
     "Invalid value: 0: must be between 1 and 4294967295, inclusive"),
    (POD_RK, pod, {"spec.nodeSelector": {"disk": "ss d"}}, "spec.nodeSelector", 'Invalid value: "ss d"'),
    # workloads
    (DEPLOY_RK, deployment, {"spec.template.metadata.labels": {"app": "x"}}, "spec.template.metadata.labels",
     'Invalid value: map[string]string{"app":"x"}: `selector` does not match template `labels`'),
    (DEPLOY_RK, deployment, {"spec.selector": _DELETE}, "spec.selector", "Required value"),
    (DEPLOY_RK, deployment, {"spec.selector": {}}, "spec.selector",
     "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: "
     "empty selector is invalid for deployment"),
    (DEPLOY_RK, deployment, {"spec.selector": {"matchExpressions": [{"key": "app", "operator": "In"}]}},
     "spec.selector.matchExpressions[0].values", "Required value: must be specified when `operator` is 'In' or 'NotIn'"),
    (DEPLOY_RK, deployment, {"spec.replicas": -1}, "spec.replicas", "Invalid value: -1: must be greater than or equal to 0"),
    (DEPLOY_RK, deployment, {"spec.template.spec.restartPolicy": "Never"}, "spec.template.spec.restartPolicy",
     'Unsupported value: "Never": supported values: "Always"'),
    (DEPLOY_RK, deployment, {"spec.strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}},
     "spec.strategy.rollingUpdate.maxUnavailable", "Invalid value: 0: may not be 0 when `maxSurge` is 0"),
    (DEPLOY_RK, deployment, {"spec.strategy": {"rollingUpdate": {"maxUnavailable": "150%"}}},
     "spec.strategy.rollingUpdate.maxUnavailable", "Invalid value: 150%: must not be greater than 100%"),
    (DEPLOY_RK, deployment, {"spec.strategy": {"rollingUpdate": {"maxSurge": "x%"}}}, "spec.strategy.rollingUpdate.maxSurge",
     "Invalid value: x%: a valid percent string must be a numeric string followed by an ending '%'"),
    (DEPLOY_RK, deployment, {"spec.strategy": {"type": "Recreate", "rollingUpdate": {}}}, "spec.strategy.rollingUpdate",
     "Forbidden: may not be specified when strategy `type` is 'Recreate'"),
    (DEPLOY_RK, deployment, {"spec.strategy": {"type": "BlueGreen"}}, "spec.strategy.type",
     'Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate"'),
    (DEPLOY_RK, deployment, {"spec.progressDeadlineSeconds": 5, "spec.minReadySeconds": 10}, "spec.progressDeadlineSeconds",
     "Invalid value: 5: must be greater than minReadySeconds"),
    (DEPLOY_RK, deployment, {"spec.template.spec.containers.0.image": ""}, "spec.template.spec.containers[0].image", "Required value"),
    # services
    (SVC_RK, service, {"spec.ports": []}, "spec.ports", "Required value"),
    (SVC_RK, service, {"spec.ports.0.port": 70000}, "spec.ports[0].port", "Invalid value: 70000: must be between 1 and 65535, inclusive"),
    (SVC_RK, service, {"spec.ports": [{"port": 80}, {"port": 81}]}, "spec.ports[0].name", "Required value"),
    (SVC_RK, service, {"spec.ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]}, "spec.ports[1].name", 'Duplicate value: "a"'),
    (SVC_RK, service, {"spec.ports": [{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]}, "spec.ports[1]",
     'Duplicate value: core.ServicePort{Name:"", Protocol:"TCP"'),
    (SVC_RK, service, {"spec.type": "Magic"}, "spec.type",
     'Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'),
    (SVC_RK, service, {"spec.type": "NodePort", "spec.ports.0.nodePort": 80}, "spec.ports[0].nodePort",
     "Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"),
    (SVC_RK, service, {"spec.ports.0.nodePort": 30080}, "spec.ports[0].nodePort", "Forbidden: may not be used when `type` is 'ClusterIP'"),
    (SVC_RK, service, {"spec.type": "ExternalName"}, "spec.externalName", "Required value"),
    (SVC_RK, service, {"spec": {"type": "ExternalName", "externalName": "My_DB"}}, "spec.externalName", 'Invalid value: "My_DB"'),
    (SVC_RK, service, {"spec.sessionAffinity": "Sticky"}, "spec.sessionAffinity",
     'Unsupported value: "Sticky": supported values: "ClientIP", "None"'),
    (SVC_RK, service, {"spec.sessionAffinity": "ClientIP", "spec.sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 86401}}},
     "spec.sessionAffinityConfig.clientIP.timeoutSeconds", "Invalid value: 86401: must be greater than 0 and less than 86400"),
    (SVC_RK, service, {"spec.externalTrafficPolicy": "Local"}, "spec.externalTrafficPolicy",
     'Invalid value: "Local": may only be set for externally-accessible services'),
    (SVC_RK, service, {"spec.type": "NodePort", "spec.externalTrafficPolicy": "Nearest"}, "spec.externalTrafficPolicy",
     'Unsupported value: "Nearest": supported values: "Cluster", "Local"'),
    (SVC_RK, service, {"spec.ports.0.targetPort": "Web"}, "spec.ports[0].targetPort", 'Invalid value: "Web"'),
    # other kinds
    (kind_for("v1", "Node"), lambda: {"metadata": {"name": "n"}, "spec": {"taints": [{"key": "k", "effect": "Never"}]}},
     {}, "spec.taints[0].effect", 'Unsupported value: "Never": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"'),
    (kind_for("v1", "Node"), lambda: {"metadata": {"name": "n"}, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}] * 2}},
     {}, "spec.taints[1]", "taints must be unique by key and effect pair"),
    (kind_for("v1", "ConfigMap"), lambda: {"metadata": {"name": "c", "namespace": "d"}, "data": {"bad/key": "x"}}, {},
     "data[bad/key]", "Invalid value: \"bad/key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'"),
    (kind_for("v1", "Secret"), lambda: {"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls", "data": {}},
     {}, "data[tls.crt]", "Required value"),
    (kind_for("v1", "Event"), lambda: {"metadata": {"name": "e", "namespace": "a"}, "involvedObject": {"namespace": "b"}}, {},
     "involvedObject.namespace", 'Invalid value: "b": does not match event.namespace'),
    (kind_for("discovery.k8s.io/v1", "EndpointSlice"), lambda: {"metadata": {"name": "e", "namespace": "d"}}, {},
     "addressType", "Required value"),
]


@pytest.mark.parametrize(("rk", "make", "edits", "field", "message"), CASES,
                         ids=[f"{i}-{case[3]}" for i, case in enumerate(CASES)])
def test_invalid_objects(rk, make: Callable[[], dict], edits: dict, field: str, message: str) -> None:
    obj = make()
    for path, value in edits.items():
        obj = _edit(obj, path, value) if path != "spec" else {**obj, "spec": value}
    found = _causes(rk, obj)
    assert any(f == field and message in m for f, m in found), found


def test_all_causes_are_reported_in_one_error() -> None:
    obj = deployment()
    obj["metadata"]["name"] = "Web"
    obj["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    obj["spec"]["template"]["spec"]["containers"] = [
        {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 70000}]},
        {"name": "nginx", "image": ""},
    ]
    with pytest.raises(errors.ApiError) as raised:
        validate(DEPLOY_RK, apply_defaults(DEPLOY_RK, obj))
    error = raised.value
    assert (error.code, error.reason, error.kind, error.group, error.name) == (422, errors.StatusReason.INVALID, "Deployment", "apps", "Web")
    assert [c.field for c in error.causes] == [
        "metadata.name",
        "spec.template.metadata.labels",
        "spec.template.spec.containers[0].ports[0].containerPort",
        "spec.template.spec.containers[1].name",
        "spec.template.spec.containers[1].image",
    ]
    assert error.message.startswith('Deployment.apps "Web" is invalid: [metadata.name: Invalid value: "Web": ')
    assert 'spec.template.spec.containers[1].name: Duplicate value: "nginx"' in error.message
    status = error.to_status()
    assert status["details"]["causes"][4] == {"reason": "FieldValueRequired", "message": "Required value",
                                              "field": "spec.template.spec.containers[1].image"}


def test_single_cause_message_has_no_brackets() -> None:
    with pytest.raises(errors.ApiError) as raised:
        validate(POD_RK, apply_defaults(POD_RK, _edit(pod(), "metadata.name", "MyPod")))
    assert raised.value.message == f'Pod "MyPod" is invalid: metadata.name: Invalid value: "MyPod": {SUBDOMAIN_MSG}'


def test_generate_name_allows_a_trailing_dash() -> None:
    obj = _edit(pod(), "metadata.name", _DELETE)
    obj["metadata"]["generateName"] = "web-"
    assert _causes(POD_RK, obj) == []
    obj["metadata"]["generateName"] = "Web-"
    assert _causes(POD_RK, obj)[0][0] == "metadata.generateName"


# ── updates ──────────────────────────────────────────────────────────────────────────────────


def _stored(rk, obj: dict) -> dict:
    obj = apply_defaults(rk, obj)
    obj["metadata"].update(uid="u-1", resourceVersion="7", creationTimestamp="2025-01-01T00:00:00Z")
    validate(rk, obj)
    return obj


def test_pod_update_may_change_images_and_bind_once() -> None:
    old = _stored(POD_RK, pod())
    new = _edit(old, "spec.containers.0.image", "nginx:1.26")
    new["spec"]["nodeName"] = "node-1"
    new["spec"]["activeDeadlineSeconds"] = 60
    new["spec"]["tolerations"] = [{"key": "k", "operator": "Exists"}]
    new["metadata"]["labels"] = {"extra": "label"}
    validate(POD_RK, new, old)
    rebound = _edit(new, "spec.nodeName", "node-2")
    with pytest.raises(errors.ApiError, match="pod updates may not change fields other than"):
        validate(POD_RK, rebound, new)


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        ("spec.containers.0.ports.0.containerPort", 8080, "spec",
         "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
         "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
         "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"
         "  spec.containers[0].ports[0].containerPort: 80 -> 8080"),
        ("spec.restartPolicy", "Never", "spec", "Forbidden: pod updates may not change fields other than"),
        ("spec.containers", [], "spec.containers", "Forbidden: pod updates may not add or remove containers"),
        ("metadata.name", "other", "metadata.name", 'Invalid value: "other": field is immutable'),
        ("metadata.uid", "u-2", "metadata.uid", 'Invalid value: "u-2": field is immutable'),
    ],
)
def test_pod_update_rules(path: str, value: Any, field: str, message: str) -> None:
    old = _stored(POD_RK, pod())
    found = [(c.field, c.message) for c in validation_causes(POD_RK, _edit(old, path, value), old)]
    assert any(f == field and m.startswith(message) for f, m in found), found


def test_pod_active_deadline_may_only_shrink() -> None:
    old = _stored(POD_RK, _edit(pod(), "spec.activeDeadlineSeconds", 60))
    found = [(c.field, c.message) for c in validation_causes(POD_RK, _edit(old, "spec.activeDeadlineSeconds", 120), old)]
    assert ("spec.activeDeadlineSeconds", "Invalid value: 120: must be less than or equal to previous value") in found


def test_existing_tolerations_may_not_change() -> None:
    old = _stored(POD_RK, _edit(pod(), "spec.tolerations", [{"key": "a", "operator": "Exists"}]))
    new = _edit(old, "spec.tolerations", [{"key": "b", "operator": "Exists"}])
    found = [(c.field, c.message) for c in validation_causes(POD_RK, new, old)]
    assert ("spec.tolerations", "Forbidden: existing toleration can not be modified except its tolerationSeconds") in found


def test_deployment_selector_is_immutable() -> None:
    old = _stored(DEPLOY_RK, deployment())
    new = _edit(old, "spec.selector", {"matchLabels": {"app": "v2"}})
    new["spec"]["template"]["metadata"]["labels"] = {"app": "v2"}
    with pytest.raises(errors.ApiError) as raised:
        validate(DEPLOY_RK, new, old)
    assert raised.value.message == (
        'Deployment.apps "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
        'map[string]string{"app":"v2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable'
    )
    validate(DEPLOY_RK, _edit(old, "spec.replicas", 5), old)


def test_configmap_and_secret_immutability() -> None:
    cm_rk, secret_rk = kind_for("v1", "ConfigMap"), kind_for("v1", "Secret")
    old = _stored(cm_rk, {"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "1"}, "immutable": True})
    found = [(c.field, c.message) for c in validation_causes(cm_rk, _edit(old, "data", {"a": "2"}), old)]
    assert found == [("data", "Forbidden: field is immutable when `immutable` is set")]
    found = [(c.field, c.message) for c in validation_causes(cm_rk, _edit(old, "immutable", False), old)]
    assert found == [("immutable", "Forbidden: field is immutable when `immutable` is set")]
    mutable = _stored(cm_rk, {"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "1"}})
    validate(cm_rk, _edit(mutable, "data", {"a": "2"}), mutable)
    secret = _stored(secret_rk, {"metadata": {"name": "s", "namespace": "d"}, "data": {"a": "MQ=="}})
    found = [(c.field, c.message) for c in validation_causes(secret_rk, _edit(secret, "type", "kubernetes.io/basic-auth"), secret)]
    assert ("type", 'Invalid value: "kubernetes.io/basic-auth": field is immutable') in found


def test_service_cluster_ip_may_not_change() -> None:
    old = _stored(SVC_RK, _edit(service(), "spec.clusterIP", "10.96.0.10"))
    found = [(c.field, c.message) for c in validation_causes(SVC_RK, _edit(old, "spec.clusterIP", "10.96.0.11"), old)]
    assert ("spec.clusterIPs[0]", 'Invalid value: "10.96.0.11": may not change once set') in found


def test_no_new_finalizers_while_deleting() -> None:
    old = _stored(POD_RK, pod())
    old["metadata"]["deletionTimestamp"] = "2025-01-01T00:01:00Z"
    new = _edit(old, "metadata.finalizers", ["example.com/hold"])
    found = [(c.field, c.message) for c in validation_causes(POD_RK, new, old)]
    assert ("metadata.finalizers", 'Forbidden: no new finalizers can be added if the object is being deleted, '
            'found new finalizers []string{"example.com/hold"}') in found


def test_node_pod_cidr_is_set_once() -> None:
    rk = kind_for("v1", "Node")
    old = _stored(rk, {"metadata": {"name": "n"}, "spec": {}})
    with_cidr = _edit(old, "spec.podCIDRs", ["10.244.1.0/24"])
    validate(rk, with_cidr, old)
    found = [c.field for c in validation_causes(rk, _edit(with_cidr, "spec.podCIDRs", ["10.244.2.0/24"]), with_cidr)]
    assert found == ["spec.podCIDRs"]
