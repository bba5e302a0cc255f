"""Every bad request gets a clear message and leaves the store untouched."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import REPO

SEEDS = REPO / "examples" / "seed"


def _revision(control_plane) -> str:
    with control_plane.client() as http:
        return http.get("/api/v1/namespaces").json()["metadata"]["resourceVersion"]


@pytest.fixture
def unchanged(control_plane):
    """Asserts at the end of the test that no write reached the store."""
    before = _revision(control_plane)
    yield
    assert _revision(control_plane) == before, "a rejected request changed the store"


def test_invalid_yaml(kubectl, tmp_path, unchanged):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   spec: [\n")
    result = kubectl.run("apply", "-f", str(bad), check=False)
    assert result.returncode != 0 and "yaml" in result.stderr.lower()


def test_unknown_kind(kubectl, control_plane, unchanged):
    manifest = {"apiVersion": "v1", "kind": "Potato", "metadata": {"name": "x"}}
    # kubectl's own validation looks the kind up in /openapi/v2 (protobuf, not served) and fails;
    # without it, kubectl's discovery-based mapping names the problem.
    assert kubectl.run("apply", "-f", "-", input=json.dumps(manifest), check=False).returncode != 0
    result = kubectl.run("apply", "--validate=false", "-f", "-", input=json.dumps(manifest), check=False)
    assert result.returncode != 0 and 'no matches for kind "Potato" in version "v1"' in result.stderr
    with control_plane.client() as http:
        response = http.post("/api/v1/namespaces/default/pods", json=manifest)
    assert response.status_code == 400 and "Potato" in response.json()["message"]


def test_name_with_capitals(kubectl, unchanged):
    manifest = yaml.safe_load((SEEDS / "nginx-pod.yaml").read_text())
    manifest["metadata"]["name"] = "My-Nginx"
    result = kubectl.run("apply", "-f", "-", input=json.dumps(manifest), check=False)
    assert result.returncode != 0
    assert 'Pod "My-Nginx" is invalid: metadata.name: Invalid value: "My-Nginx": a lowercase RFC 1123' in result.stderr


def test_selector_not_matching_template(kubectl, unchanged):
    manifest = yaml.safe_load((SEEDS / "deployment-nginx.yaml").read_text())
    manifest["spec"]["selector"]["matchLabels"] = {"app": "other"}
    result = kubectl.run("apply", "-f", "-", input=json.dumps(manifest), check=False)
    assert "`selector` does not match template `labels`" in result.stderr


def test_duplicate_create(kubectl, control_plane):
    kubectl("create", "-f", str(SEEDS / "nginx-pod.yaml"))
    before = _revision(control_plane)
    result = kubectl.run("create", "-f", str(SEEDS / "nginx-pod.yaml"), check=False)
    assert 'Error from server (AlreadyExists)' in result.stderr and 'pods "my-nginx-pod" already exists' in result.stderr
    assert _revision(control_plane) == before


def test_stale_update_conflicts(control_plane):
    with control_plane.client() as http:
        created = http.post("/api/v1/namespaces/default/configmaps",
                            json={"metadata": {"name": "cm"}, "data": {"a": "1"}}).json()
        stale = json.loads(json.dumps(created))
        created["data"] = {"a": "2"}
        assert http.put("/api/v1/namespaces/default/configmaps/cm", json=created).status_code == 200
        stale["data"] = {"a": "3"}
        response = http.put("/api/v1/namespaces/default/configmaps/cm", json=stale)
        assert response.status_code == 409
        assert response.json()["reason"] == "Conflict"
        assert "the object has been modified" in response.json()["message"]
        assert http.get("/api/v1/namespaces/default/configmaps/cm").json()["data"] == {"a": "2"}


def test_unknown_field_under_strict_validation(kubectl, unchanged):
    manifest = yaml.safe_load((SEEDS / "deployment-nginx.yaml").read_text())
    manifest["spec"]["template"]["spec"]["containers"][0]["imagee"] = "typo"
    result = kubectl.run("apply", "-f", "-", input=json.dumps(manifest), check=False)
    assert 'strict decoding error: unknown field "spec.template.spec.containers[0].imagee"' in result.stderr


def test_no_token_is_401(control_plane, unchanged):
    with control_plane.client(token="") as http:
        response = http.get("/api/v1/namespaces/default/pods")
    assert response.status_code == 401 and response.json()["reason"] == "Unauthorized"


def test_node_token_cannot_delete_a_deployment(control_plane, kubectl):
    kubectl("apply", "-f", str(SEEDS / "deployment-nginx.yaml"))
    from orchestrator.cluster.statedir import StateDir
    from orchestrator.cluster.tokens import TokenBook

    node_token = TokenBook.for_state(StateDir(control_plane.state_dir)).issue_node("worker-1")
    path = "/apis/apps/v1/namespaces/default/deployments/my-nginx-deployment"
    with control_plane.client() as admin:
        uid = admin.get(path).json()["metadata"]["uid"]
    with control_plane.client(token=node_token) as http:
        response = http.delete(path)
        assert response.status_code == 403
        assert 'User "system:node:worker-1" cannot delete resource "deployments"' in response.json()["message"]
        assert http.get("/api/v1/nodes").status_code == 200
    # The controllers keep writing (ReplicaSets, pods, status), so the store's revision moves;
    # what must not move is the Deployment itself: same object, not marked for deletion.
    with control_plane.client() as admin:
        after = admin.get(path).json()["metadata"]
    assert after["uid"] == uid and "deletionTimestamp" not in after


def test_privileged_pod_is_refused(kubectl, unchanged):
    manifest = yaml.safe_load((SEEDS / "nginx-pod.yaml").read_text())
    manifest["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    result = kubectl.run("apply", "-f", "-", input=json.dumps(manifest), check=False)
    assert "spec.containers[0].securityContext.privileged: Forbidden" in result.stderr
    assert "--allow-privileged" in result.stderr


def test_a_4mib_body_is_413(control_plane, unchanged):
    big = {"metadata": {"name": "big"}, "data": {"blob": "x" * (4 * 1024 * 1024)}}
    with control_plane.client() as http:
        response = http.post("/api/v1/namespaces/default/configmaps", json=big)
    assert response.status_code == 413 and response.json()["reason"] == "RequestEntityTooLarge"
