"""``kubectl explain`` and ``kubectl apply`` against the OpenAPI v3 documents, with the real kubectl.

explain prints the descriptions the models carry, with Kubernetes' type names; apply computes its
strategic merge patches from the same schemas (kubectl logs, at -v=5, when a kind's schema cannot
be used for that, and falls back to its compiled-in types: these tests make sure it never has to).
"""

from __future__ import annotations

import re

import pytest
import yaml

from orchestrator.api.apps import DeploymentSpec, RollingUpdateDeployment
from orchestrator.api.containers import ContainerPort
from orchestrator.api.openapi_schemas import field_description, type_description
from orchestrator.api.podspec import PodSpec
from orchestrator.api.registry import KINDS, ResourceKind
from tests.support.controlplane import ControlPlaneProcess, free_port
from tests.support.kubectl import Kubectl

pytestmark = pytest.mark.kubectl

#: what kubectl logs when it cannot build a patch from a kind's OpenAPI v3 schema
FALLBACK = ("does not support strategic merge patch", "error calculating patch")


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory) -> Kubectl:
    root = tmp_path_factory.mktemp("explain")
    server = ControlPlaneProcess(root / "state", free_port())
    try:
        server.start()
        yield Kubectl(server.kubeconfig, root / "kube-cache")
    finally:
        server.stop()


def flat(text: str) -> str:
    """Whitespace collapsed: kubectl wraps descriptions at 76 columns."""
    return " ".join(text.split())


def field_line(output: str, name: str) -> str:
    found = re.search(rf"^\s*{re.escape(name)}\t<[^>]*>.*$", output, re.M)
    assert found, f"no line for {name} in:\n{output}"
    return found.group(0).strip()


@pytest.mark.parametrize("rk", KINDS, ids=lambda rk: rk.kind)
def test_every_kind_explains_itself(kubectl, rk: ResourceKind) -> None:
    output = kubectl("explain", rk.plural)
    assert f"KIND:       {rk.kind}\nVERSION:    {rk.version}\n" in output
    if rk.group:
        assert f"GROUP:      {rk.group}\n" in output
    description = type_description(rk.model)
    assert description and flat(description) in flat(output)
    assert field_line(output, "metadata") == "metadata\t<ObjectMeta>"
    assert field_line(output, "apiVersion") == "apiVersion\t<string>"
    spec = rk.model.model_fields.get("spec")
    if spec is not None:
        assert field_line(output, "spec") == f"spec\t<{rk.kind}Spec>"
        assert flat(field_description(rk.model, "spec") or "") in flat(output)


def test_nested_fields_show_their_description_and_type(kubectl) -> None:
    rolling = kubectl("explain", "deployment.spec.strategy.rollingUpdate")
    assert "FIELD: rollingUpdate <RollingUpdateDeployment>" in rolling
    assert field_line(rolling, "maxSurge") == "maxSurge\t<IntOrString>"
    assert flat(field_description(RollingUpdateDeployment, "maxSurge") or "") in flat(rolling)
    assert flat(type_description(RollingUpdateDeployment) or "") in flat(rolling)

    replicas = kubectl("explain", "deploy.spec.replicas")
    assert "FIELD: replicas <integer>" in replicas
    assert flat(field_description(DeploymentSpec, "replicas") or "") in flat(replicas)

    restart = kubectl("explain", "pod.spec.restartPolicy")
    assert "FIELD: restartPolicy <string>" in restart
    assert flat(field_description(PodSpec, "restartPolicy") or "") in flat(restart)

    assert "FIELD: targetPort <IntOrString>" in kubectl("explain", "svc.spec.ports.targetPort")
    assert "FIELD: creationTimestamp <string>" in kubectl("explain", "deploy.metadata.creationTimestamp")
    assert "FIELD: capacity <map[string]Quantity>" in kubectl("explain", "node.status.capacity")
    affinity = kubectl("explain", "pod.spec.affinity.nodeAffinity")
    assert "requiredDuringSchedulingIgnoredDuringExecution\t<NodeSelector>" in affinity
    assert "FIELD: data <map[string]string>" in kubectl("explain", "configmap.data")
    assert "FIELD: renewTime <string>" in kubectl("explain", "lease.spec.renewTime")


def test_recursive_lists_the_fields_below(kubectl) -> None:
    ports = kubectl("explain", "pods.spec.containers.ports", "--recursive")
    assert "FIELD: ports <[]ContainerPort>" in ports
    assert flat(type_description(ContainerPort) or "") in flat(ports)
    fields = [line.strip() for line in ports.split("FIELDS:", 1)[1].splitlines() if line.strip()]
    assert fields == ["containerPort\t<integer> -required-", "hostIP\t<string>", "hostPort\t<integer>",
                      "name\t<string>", "protocol\t<string>"]

    spec = kubectl("explain", "pods.spec", "--recursive")
    assert re.search(r"^  containers\t<\[\]Container> -required-$", spec, re.M)
    assert re.search(r"^    name\t<string> -required-$", spec, re.M)  # a container's, one level down
    assert re.search(r"^      httpGet\t<HTTPGetAction>$", spec, re.M)  # a probe's, two levels down


def test_an_unknown_field_is_named(kubectl) -> None:
    result = kubectl.run("explain", "pod.spec.nosuchfield", check=False)
    assert result.returncode != 0 and 'field "nosuchfield" does not exist' in result.stderr


def test_apply_patches_lists_by_key_from_the_schemas(kubectl, tmp_path) -> None:
    manifest = tmp_path / "deployment.yaml"
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "disktype", "operator": "In", "values": ["ssd"]}]}]}}},
                "containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]},
                               {"name": "sidecar", "image": "alicek106/ubuntu:curl", "command": ["sleep", "1d"]}],
            }},
        },
    }
    manifest.write_text(yaml.safe_dump(deployment))
    kubectl("apply", "-f", str(manifest))
    # someone else adds a container; the manifest's next apply must patch around it
    kubectl("patch", "deployment", "web", "--type=strategic", "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"extra","image":"nginx:1.25"}]}}}}')
    template = deployment["spec"]["template"]["spec"]
    template["containers"][0]["image"] = "nginx:1.27"
    template["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"][0]["matchExpressions"][0]["values"] = ["ssd", "nvme"]
    manifest.write_text(yaml.safe_dump(deployment))
    result = kubectl.run("apply", "-f", str(manifest), "-v=5")
    assert result.stdout.strip() == "deployment.apps/web configured"
    assert not [line for line in result.stderr.splitlines() if any(f in line for f in FALLBACK)], result.stderr
    live = yaml.safe_load(kubectl("get", "deployment", "web", "-o", "yaml"))["spec"]["template"]["spec"]
    assert {c["name"]: c["image"] for c in live["containers"]} == {
        "web": "nginx:1.27", "sidecar": "alicek106/ubuntu:curl", "extra": "nginx:1.25"}
    terms = live["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == ["ssd", "nvme"]
    # switching to Recreate drops the defaulted rollingUpdate: the schema says strategy retains keys
    deployment["spec"]["strategy"] = {"type": "Recreate"}
    manifest.write_text(yaml.safe_dump(deployment))
    kubectl("apply", "-f", str(manifest))
    assert kubectl("get", "deployment", "web", "-o", "jsonpath={.spec.strategy}") == '{"type":"Recreate"}'
