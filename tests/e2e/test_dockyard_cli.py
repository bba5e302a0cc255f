"""Our own `dockyard` verbs against a real control plane print what kubectl prints."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

SEEDS = REPO / "examples" / "seed"


def dockyard(control_plane, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "orchestrator.cli.main", *args,
                             "--kubeconfig", str(control_plane.kubeconfig)],
                            capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def test_apply_get_describe_delete_like_kubectl(control_plane, kubectl):
    applied = dockyard(control_plane, "apply", "-f", str(SEEDS)).stdout.splitlines()
    assert "deployment.apps/my-nginx-deployment created" in applied
    assert "service/hostname-svc-nodeport created" in applied
    again = dockyard(control_plane, "apply", "-f", str(SEEDS)).stdout.splitlines()
    assert all(line.endswith(" unchanged") for line in again), again

    for kind in ("pods", "deploy", "rs", "svc", "svc -o wide", "deploy -o wide"):
        ours = dockyard(control_plane, "get", *kind.split()).stdout.splitlines()
        theirs = kubectl("get", *kind.split()).splitlines()
        # identical tables, except AGE may tick between the two calls
        assert [line.split()[:-1] if "AGE" not in line else line.split() for line in ours][0] == \
               [line.split()[:-1] if "AGE" not in line else line.split() for line in theirs][0]
        assert [line.split()[0] for line in ours] == [line.split()[0] for line in theirs], kind

    described = dockyard(control_plane, "describe", "deployment", "my-nginx-deployment").stdout
    assert "Name:             my-nginx-deployment" in described and "Events:" in described

    yaml_out = dockyard(control_plane, "get", "svc", "hostname-svc-clusterip", "-o", "yaml").stdout
    assert "kind: Service" in yaml_out and "targetPort: 80" in yaml_out

    deleted = dockyard(control_plane, "delete", "-f", str(SEEDS)).stdout
    assert 'deployment.apps "my-nginx-deployment" deleted' in deleted
    assert dockyard(control_plane, "get", "deploy").stdout.strip() == "No resources found in default namespace."


def test_errors_read_like_kubectls(control_plane):
    result = dockyard(control_plane, "get", "pod", "nope", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'
    result = dockyard(control_plane, "get", "potatoes", check=False)
    assert 'the server doesn\'t have a resource type "potatoes"' in result.stderr


def test_health_version_and_metrics(control_plane):
    with control_plane.client(token="") as anonymous:
        assert anonymous.get("/healthz").text == "ok"
        assert anonymous.get("/readyz").status_code == 200
        assert anonymous.get("/version").json()["minor"] == "32"
        assert anonymous.get("/metrics").status_code == 401
    with control_plane.client() as http:
        http.get("/api/v1/namespaces/default/pods")
        http.get("/api/v1/namespaces/default/pods/nope")
        metrics = http.get("/metrics").text
    # the verb as kube-apiserver reports it: a collection's GET is a LIST
    assert 'apiserver_request_total{verb="LIST",resource="pods",code="200"}' in metrics
    assert 'apiserver_request_total{verb="GET",resource="pods",code="404"}' in metrics
    assert "dockyard_store_revision" in metrics
