"""``apply_defaults``: what a Kubernetes 1.32 API server fills in, and what it leaves alone."""

from __future__ import annotations

import base64
import copy

import pytest

from orchestrator.api.decode import decode
from orchestrator.api.defaults import apply_defaults, default_pull_policy, image_tag, prepare_for_update
from orchestrator.api.registry import KINDS, kind_for

POD_RK = kind_for("v1", "Pod")
DEPLOY_RK = kind_for("apps/v1", "Deployment")
RS_RK = kind_for("apps/v1", "ReplicaSet")
SVC_RK = kind_for("v1", "Service")


def pod(**spec: object) -> dict:
    base = {"containers": [{"name": "c", "image": "nginx:1.25"}]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": {**base, **spec}}


def deployment(**spec: object) -> dict:
    base = {
        "selector": {"matchLabels": {"app": "x"}},
        "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
    }
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
            "spec": {**base, **spec}}


def service(**spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "default"}, "spec": spec}


@pytest.mark.parametrize(
    ("image", "tag", "policy"),
    [
        ("nginx", "latest", "Always"),
        ("nginx:latest", "latest", "Always"),
        ("nginx:1.25", "1.25", "IfNotPresent"),
        ("localhost:5000/app", "latest", "Always"),
        ("localhost:5000/app:v2", "v2", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "", "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "latest", "Always"),
        ("alicek106/rr-test:echo-hostname", "echo-hostname", "IfNotPresent"),
        ("", "latest", "IfNotPresent"),
    ],
)
def test_image_pull_policy(image: str, tag: str, policy: str) -> None:
    if image:
        assert image_tag(image) == tag
    assert default_pull_policy(image) == policy


def test_pod_defaults() -> None:
    spec = apply_defaults(POD_RK, pod())["spec"]
    assert spec == {
        "containers": [{
            "name": "c", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "resources": {},
        }],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler", "securityContext": {}, "serviceAccountName": "default",
        "serviceAccount": "default", "enableServiceLinks": True, "priority": 0,
        "preemptionPolicy": "PreemptLowerPriority",
    }


def test_user_values_win() -> None:
    obj = pod(restartPolicy="Never", terminationGracePeriodSeconds=5, dnsPolicy="Default", serviceAccountName="robot",
              enableServiceLinks=False, priority=7)
    obj["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    spec = apply_defaults(POD_RK, obj)["spec"]
    assert (spec["restartPolicy"], spec["terminationGracePeriodSeconds"], spec["dnsPolicy"]) == ("Never", 5, "Default")
    assert (spec["serviceAccountName"], spec["serviceAccount"], spec["enableServiceLinks"], spec["priority"]) == \
        ("robot", "robot", False, 7)
    assert spec["containers"][0]["imagePullPolicy"] == "Never"


def test_deprecated_service_account_field_is_honoured() -> None:
    spec = apply_defaults(POD_RK, pod(serviceAccount="legacy"))["spec"]
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "legacy"


def test_container_details() -> None:
    container = {
        "name": "c", "image": "nginx",
        "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
        "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        "livenessProbe": {"httpGet": {"port": 80}},
        "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 3, "timeoutSeconds": 0},
        "startupProbe": {"grpc": {"port": 9000}},
        "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/stop"}}},
        "resources": {"limits": {"cpu": 1, "memory": "1024Mi"}, "requests": {"cpu": "0.0001"}},
    }
    out = apply_defaults(POD_RK, pod(containers=[container]))["spec"]["containers"][0]
    assert [p["protocol"] for p in out["ports"]] == ["TCP", "UDP"]
    assert out["env"][0]["valueFrom"]["fieldRef"] == {"fieldPath": "spec.nodeName", "apiVersion": "v1"}
    probe_defaults = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert out["livenessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, **probe_defaults}
    assert out["readinessProbe"] == {"tcpSocket": {"port": 80}, **probe_defaults, "periodSeconds": 3}
    assert out["startupProbe"]["grpc"] == {"port": 9000, "service": ""}
    assert out["lifecycle"]["preStop"]["httpGet"] == {"port": 80, "path": "/stop", "scheme": "HTTP"}
    # Quantities come back canonical (and rounded up to milli); pods get requests from limits.
    assert out["resources"] == {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1m", "memory": "1Gi"}}
    assert out["imagePullPolicy"] == "Always"


def test_volume_defaults() -> None:
    volumes = [
        {"name": "bare"},
        {"name": "cm", "configMap": {"name": "cm"}},
        {"name": "sec", "secret": {"secretName": "s", "defaultMode": 0o400}},
        {"name": "host", "hostPath": {"path": "/tmp"}},
        {"name": "proj", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}},
                                                   {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}}]}},
    ]
    out = apply_defaults(POD_RK, pod(volumes=volumes))["spec"]["volumes"]
    assert out[0] == {"name": "bare", "emptyDir": {}}
    assert out[1]["configMap"]["defaultMode"] == 420
    assert out[2]["secret"]["defaultMode"] == 0o400
    assert out[3]["hostPath"] == {"path": "/tmp", "type": ""}
    assert out[4]["projected"]["defaultMode"] == 420
    assert out[4]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] == 3600
    assert out[4]["projected"]["sources"][1]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"] == "v1"


def test_host_network_copies_container_ports_to_host_ports() -> None:
    obj = pod(hostNetwork=True, containers=[{"name": "c", "image": "i", "ports": [{"containerPort": 8080}]}])
    assert apply_defaults(POD_RK, obj)["spec"]["containers"][0]["ports"][0]["hostPort"] == 8080


def test_deployment_defaults() -> None:
    out = apply_defaults(DEPLOY_RK, deployment())
    spec = out["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)
    template = spec["template"]["spec"]
    assert (template["restartPolicy"], template["dnsPolicy"], template["schedulerName"]) == ("Always", "ClusterFirst", "default-scheduler")
    assert template["containers"][0]["imagePullPolicy"] == "Always"
    # Admission and SetDefaults_Pod touch Pods only: templates would roll out on every upgrade.
    for pod_only in ("serviceAccountName", "enableServiceLinks", "priority", "preemptionPolicy"):
        assert pod_only not in template
    # apps/v1 copies nothing from the template into the Deployment's own labels.
    assert "labels" not in out["metadata"]


def test_template_resources_keep_requests_empty() -> None:
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}
    resources = apply_defaults(DEPLOY_RK, obj)["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == {"limits": {"cpu": "1"}}


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ({"type": "Recreate"}, {"type": "Recreate"}),
        ({"rollingUpdate": {"maxSurge": 1}}, {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}}),
        ({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
         {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}}),
    ],
)
def test_deployment_strategy(strategy: dict, expected: dict) -> None:
    assert apply_defaults(DEPLOY_RK, deployment(strategy=strategy))["spec"]["strategy"] == expected


def test_replica_set_defaults() -> None:
    obj = deployment()
    obj["kind"] = "ReplicaSet"
    spec = apply_defaults(RS_RK, obj)["spec"]
    assert spec["replicas"] == 1 and "strategy" not in spec and "revisionHistoryLimit" not in spec
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 30


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"ports": [{"port": 80}], "selector": {"app": "x"}},
         {"type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
          "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
          "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}], "selector": {"app": "x"}}),
        ({"type": "NodePort", "ports": [{"port": 8080, "targetPort": 80, "protocol": "UDP"}]},
         {"type": "NodePort", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster", "externalTrafficPolicy": "Cluster",
          "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
          "ports": [{"port": 8080, "protocol": "UDP", "targetPort": 80}]}),
        ({"type": "LoadBalancer", "ports": [{"port": 80, "targetPort": "http"}]},
         {"type": "LoadBalancer", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
          "externalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": True,
          "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
          "ports": [{"port": 80, "protocol": "TCP", "targetPort": "http"}]}),
        ({"type": "ExternalName", "externalName": "my.database.com"},
         {"type": "ExternalName", "externalName": "my.database.com", "sessionAffinity": "None"}),
        ({"sessionAffinity": "ClientIP", "ports": [{"port": 80}]},
         {"type": "ClusterIP", "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
          "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
          "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}),
        ({"sessionAffinity": "None", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}, "clusterIP": "None"},
         {"type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster", "clusterIP": "None",
          "clusterIPs": ["None"], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"}),
        ({"externalIPs": ["192.168.0.9"], "ports": [{"port": 80, "targetPort": 0}]},
         {"type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster", "externalTrafficPolicy": "Cluster",
          "externalIPs": ["192.168.0.9"], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
          "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}),
    ],
)
def test_service_defaults(spec: dict, expected: dict) -> None:
    out = apply_defaults(SVC_RK, service(**spec))
    assert out["spec"] == expected
    assert out["status"] == {"loadBalancer": {}}


def test_seed_session_affinity_fragment_on_a_node_port_service() -> None:
    out = apply_defaults(SVC_RK, service(type="NodePort", sessionAffinity="ClientIP", ports=[{"port": 8080, "targetPort": 80}]))
    assert out["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}


def test_namespace_defaults() -> None:
    out = apply_defaults(kind_for("v1", "Namespace"), {"metadata": {"name": "team"}})
    assert out["spec"] == {"finalizers": ["kubernetes"]}
    assert out["status"] == {"phase": "Active"}
    assert out["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}
    terminating = apply_defaults(kind_for("v1", "Namespace"), {**out, "status": {"phase": "Terminating"}})
    assert terminating["status"]["phase"] == "Terminating"
    # Once the namespace controller has removed the finalizer, an update does not bring it back.
    finalized = apply_defaults(kind_for("v1", "Namespace"), {**terminating, "spec": {}})
    assert finalized["spec"] == {}


def test_secret_defaults_merge_string_data() -> None:
    rk = kind_for("v1", "Secret")
    body = {"metadata": {"name": "s"}, "data": {"a": "MQ==", "b": "MQ=="}, "stringData": {"b": "two", "c": "한글"}}
    out = apply_defaults(rk, body)
    assert out["type"] == "Opaque" and "stringData" not in out
    assert {k: base64.b64decode(v).decode() for k, v in out["data"].items()} == {"a": "1", "b": "two", "c": "한글"}
    assert apply_defaults(rk, {"metadata": {"name": "t"}, "type": "kubernetes.io/tls"})["type"] == "kubernetes.io/tls"


def test_node_allocatable_defaults_to_capacity() -> None:
    out = apply_defaults(kind_for("v1", "Node"), {"metadata": {"name": "n"}, "status": {"capacity": {"cpu": 2, "memory": "4096Mi"}}})
    assert out["status"]["capacity"] == out["status"]["allocatable"] == {"cpu": "2", "memory": "4Gi"}


def test_endpoint_ports_default_protocol() -> None:
    eps = apply_defaults(kind_for("v1", "Endpoints"), {"metadata": {"name": "e"}, "subsets": [{"ports": [{"port": 80}]}]})
    assert eps["subsets"][0]["ports"][0]["protocol"] == "TCP"
    slice_ = apply_defaults(kind_for("discovery.k8s.io/v1", "EndpointSlice"),
                            {"metadata": {"name": "e"}, "addressType": "IPv4", "ports": [{"port": 80}]})
    assert slice_["ports"][0] == {"port": 80, "name": "", "protocol": "TCP"}


def test_apply_defaults_does_not_mutate_its_argument() -> None:
    body = pod()
    before = copy.deepcopy(body)
    apply_defaults(POD_RK, body)
    assert body == before


SAMPLES = {
    "Pod": pod(volumes=[{"name": "v"}], containers=[{"name": "c", "image": "i", "livenessProbe": {"httpGet": {"port": 1}},
                                                      "resources": {"limits": {"cpu": 0.5}}}]),
    "Deployment": deployment(),
    "ReplicaSet": {**deployment(), "kind": "ReplicaSet"},
    "Service": service(type="LoadBalancer", sessionAffinity="ClientIP", ports=[{"port": 80}]),
    "Namespace": {"metadata": {"name": "ns"}},
    "Secret": {"metadata": {"name": "s"}, "stringData": {"a": "b"}},
    "Node": {"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "2000m"}}},
}


@pytest.mark.parametrize("rk", KINDS, ids=lambda rk: rk.kind)
def test_defaults_are_idempotent_and_decodable(rk) -> None:
    body = copy.deepcopy(SAMPLES.get(rk.kind, {"metadata": {"name": "x"}}))
    body.pop("apiVersion", None)
    body.pop("kind", None)
    obj, _ = decode(rk, body, strict=True)
    once = apply_defaults(rk, obj)
    assert apply_defaults(rk, once) == once
    again, warnings = decode(rk, once, strict=True)
    assert warnings == [] and again == once


# ── updates ──────────────────────────────────────────────────────────────────────────────────


def _stored_service(**spec: object) -> dict:
    return apply_defaults(SVC_RK, service(**spec))


def test_put_without_allocated_values_keeps_them() -> None:
    old = _stored_service(type="NodePort", ports=[{"port": 80}])
    old["spec"].update(clusterIP="10.96.0.5", clusterIPs=["10.96.0.5"])
    old["spec"]["ports"][0]["nodePort"] = 30080
    new = prepare_for_update(SVC_RK, service(type="NodePort", ports=[{"port": 80}]), old)
    assert new["spec"]["clusterIP"] == "10.96.0.5" and new["spec"]["ports"][0]["nodePort"] == 30080


def test_type_change_drops_what_the_old_type_allocated() -> None:
    old = _stored_service(type="NodePort", ports=[{"port": 80}])
    old["spec"].update(clusterIP="10.96.0.5", clusterIPs=["10.96.0.5"])
    old["spec"]["ports"][0]["nodePort"] = 30080
    to_cluster_ip = copy.deepcopy(old)
    to_cluster_ip["spec"]["type"] = "ClusterIP"
    out = apply_defaults(SVC_RK, prepare_for_update(SVC_RK, to_cluster_ip, old))
    assert "externalTrafficPolicy" not in out["spec"] and "nodePort" not in out["spec"]["ports"][0]
    assert out["spec"]["clusterIP"] == "10.96.0.5"
    to_external = copy.deepcopy(old)
    to_external["spec"].update(type="ExternalName", externalName="db.example.com")
    out = apply_defaults(SVC_RK, prepare_for_update(SVC_RK, to_external, old))
    for gone in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "externalTrafficPolicy"):
        assert gone not in out["spec"], gone


def test_prepare_for_update_is_a_no_op_for_other_kinds() -> None:
    body = deployment()
    assert prepare_for_update(DEPLOY_RK, body, body) == body
