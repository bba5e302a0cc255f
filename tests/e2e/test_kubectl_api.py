"""The real kubectl 1.32 against a real dockyard control plane: the seed notes' workflow."""

from __future__ import annotations

import json
import re
import time

import pytest
import yaml

from tests.conftest import REPO
from tests.support.waiting import wait_for

SEEDS = REPO / "examples" / "seed"
SEED_FILES = sorted(SEEDS.glob("*.yaml"))


def test_apply_each_seed_manifest_then_again_is_a_noop(kubectl):
    for path in SEED_FILES:
        assert re.search(r"/\S+ created$", kubectl("apply", "-f", str(path)).strip()), path
    for path in SEED_FILES:
        assert kubectl("apply", "-f", str(path)).strip().endswith("unchanged"), path


def test_get_prints_kubectls_real_columns(kubectl):
    kubectl("apply", "-f", str(SEEDS))
    headers = {
        "pods": ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "deployments": ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "replicasets": ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        "services": ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        "namespaces": ["NAME", "STATUS", "AGE"],
    }
    for resource, columns in headers.items():
        output = kubectl("get", resource)
        assert output.splitlines()[0].split() == columns, output
    services = kubectl("get", "svc")
    assert re.search(r"hostname-svc-clusterip\s+ClusterIP\s+10\.\d+\.\d+\.\d+\s+<none>\s+8080/TCP", services)
    assert re.search(r"hostname-svc-nodeport\s+NodePort\s+10\.\d+\.\d+\.\d+\s+<none>\s+8080:3\d{4}/TCP", services)
    assert re.search(r"externalname-svc\s+ExternalName\s+<none>\s+my\.database\.com", services)
    wide = kubectl("get", "deploy", "-o", "wide").splitlines()[0].split()
    assert wide[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    pod = kubectl("get", "pod", "my-nginx-pod").splitlines()
    assert pod[1].split()[:4] == ["my-nginx-pod", "0/1", "Pending", "0"]


def test_reapplying_an_edited_manifest_patches_and_keeps_the_other_container(kubectl, tmp_path):
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sidecars", "labels": {"app": "web"}},
        "spec": {"containers": [
            {"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "alicek106/ubuntu:curl", "command": ["sleep", "infinity"]},
        ]},
    }
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(yaml.safe_dump(pod))
    kubectl("apply", "-f", str(manifest))
    pod["spec"]["containers"][0]["image"] = "nginx:1.27"
    pod["metadata"]["labels"]["tier"] = "front"
    manifest.write_text(yaml.safe_dump(pod))
    assert kubectl("apply", "-f", str(manifest)).strip() == "pod/sidecars configured"
    live = json.loads(kubectl("get", "pod", "sidecars", "-o", "json"))
    assert [c["name"] for c in live["spec"]["containers"]] == ["web", "sidecar"]
    assert live["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert live["spec"]["containers"][1]["command"] == ["sleep", "infinity"]
    assert live["metadata"]["labels"] == {"app": "web", "tier": "front"}


def settled_yaml(kubectl, *target: str) -> str:
    """``get -o yaml`` once the controllers are done with the object: they write its status and
    annotations just after it is created, and a replace carrying an older resourceVersion would
    rightly conflict."""
    def unchanged() -> str | None:
        first = kubectl("get", *target, "-o", "yaml")
        time.sleep(0.5)
        return first if kubectl("get", *target, "-o", "yaml") == first else None

    return wait_for(f"{' '.join(target)} to settle", unchanged, timeout=30)


def test_get_yaml_round_trips(kubectl, tmp_path):
    # `create`, not `apply`: kubectl replace rewrites an existing last-applied annotation itself
    kubectl("create", "-f", str(SEEDS / "deployment-nginx.yaml"))
    text = settled_yaml(kubectl, "deployment", "my-nginx-deployment")
    obj = yaml.safe_load(text)
    assert obj["kind"] == "Deployment" and obj["apiVersion"] == "apps/v1"
    assert obj["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}
    assert obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    out = tmp_path / "roundtrip.yaml"
    out.write_text(text)
    assert kubectl("replace", "-f", str(out)).strip() == "deployment.apps/my-nginx-deployment replaced"
    again = yaml.safe_load(kubectl("get", "deployment", "my-nginx-deployment", "-o", "yaml"))
    assert again["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"], "a no-op replace wrote"
    assert again == obj


@pytest.mark.parametrize("kind,name", [
    ("pod", "my-nginx-pod"), ("replicaset", "replicaset-nginx"), ("deployment", "my-nginx-deployment"),
    ("deployment", "hostname-deployment"), ("service", "hostname-svc-clusterip"),
    ("service", "hostname-svc-nodeport"), ("service", "externalname-svc"), ("namespace", "default"),
])
def test_describe_prints_without_errors(kubectl, kind, name):
    kubectl("apply", "-f", str(SEEDS))
    result = kubectl.run("describe", kind, name)
    assert result.stderr == ""
    assert re.search(rf"^Name:\s+{name}$", result.stdout, re.M), result.stdout


def test_delete_f_removes_everything_and_cascades(kubectl, control_plane):
    kubectl("apply", "-f", str(SEEDS / "replicaset-nginx.yaml"))
    rs = json.loads(kubectl("get", "rs", "replicaset-nginx", "-o", "json"))
    owned = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "replicaset-nginx-abcde", "labels": {"app": "my-nginx-pods-label"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"],
                                          "uid": rs["metadata"]["uid"], "controller": True,
                                          "blockOwnerDeletion": True}]},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:latest"}]},
    }
    kubectl("create", "-f", "-", input=json.dumps(owned))
    output = kubectl("delete", "-f", str(SEEDS / "replicaset-nginx.yaml"))
    assert output.strip() == 'replicaset.apps "replicaset-nginx" deleted'
    kubectl("wait", "--for=delete", "pod/replicaset-nginx-abcde", "--timeout=20s")
    assert "NotFound" in kubectl.run("get", "pod", "replicaset-nginx-abcde", check=False).stderr
    kubectl("apply", "-f", str(SEEDS))
    kubectl("delete", "-f", str(SEEDS))
    remaining = kubectl.run("get", "deploy,rs,pods,svc", "-o", "name", check=False).stdout.split()
    assert remaining == ["service/kubernetes"]  # the cluster's own Service stays, as in Kubernetes


def test_orphan_deletion_keeps_dependents(kubectl):
    kubectl("apply", "-f", str(SEEDS / "replicaset-nginx.yaml"))
    rs = json.loads(kubectl("get", "rs", "replicaset-nginx", "-o", "json"))
    owned = {"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": "kept", "ownerReferences": [{
                 "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "replicaset-nginx",
                 "uid": rs["metadata"]["uid"], "controller": True}]},
             "spec": {"containers": [{"name": "nginx", "image": "nginx:latest"}]}}
    kubectl("create", "-f", "-", input=json.dumps(owned))
    kubectl("delete", "rs", "replicaset-nginx", "--cascade=orphan")
    pod = json.loads(kubectl("get", "pod", "kept", "-o", "json"))
    assert "ownerReferences" not in pod["metadata"]


def test_namespace_deletion_empties_it(kubectl):
    kubectl("create", "namespace", "lab")
    kubectl("apply", "-n", "lab", "-f", str(SEEDS / "deployment-nginx.yaml"))
    kubectl("delete", "namespace", "lab", "--timeout=30s")
    assert "NotFound" in kubectl.run("get", "namespace", "lab", check=False).stderr
    assert "NotFound" in kubectl.run("get", "deploy", "my-nginx-deployment", "-n", "lab", check=False).stderr


def test_discovery_and_version(kubectl):
    resources = kubectl("api-resources")
    for line in ["pods ", "deployments ", "replicasets ", "services ", "endpoints ", "nodes ", "namespaces "]:
        assert line in resources
    assert re.search(r"deployments\s+deploy\s+apps/v1\s+true\s+Deployment", resources)
    assert "Server Version: v1.32" in kubectl("version")
