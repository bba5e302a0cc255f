"""``kubectl get --raw`` for the paths Kubernetes' documentation and kubectl's help use, on a
cluster made by ``dockyard up``: each answers as Kubernetes does, or as a Kubernetes server without
that feature would (404 NotFound, which kubectl prints as its usual error)."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.support.waiting import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.kubectl]

IMAGE = "alicek106/rr-test:echo-hostname"
NOT_FOUND = "Error from server (NotFound): the server could not find the requested resource"


@pytest.fixture(scope="module")
def lab(cluster_factory, tmp_path_factory):
    cluster = cluster_factory(nodes=1)
    kubectl = cluster.kubectl()
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "talker"},
           "spec": {"containers": [{"name": "talker", "image": IMAGE,
                                    "command": ["sh", "-c", "echo first; echo second; sleep 3600"]}]}}
    manifest = tmp_path_factory.mktemp("raw") / "pod.yaml"
    manifest.write_text(yaml.safe_dump(pod))
    kubectl("apply", "-f", str(manifest))
    kubectl("wait", "--for=condition=Ready", "pod/talker", "--timeout=90s", timeout=100)
    return kubectl


def raw(lab, path: str):
    return lab.run("get", "--raw", path, check=False)


def test_health_endpoints(lab) -> None:
    for endpoint in ("/healthz", "/livez", "/readyz"):
        assert raw(lab, endpoint).stdout == "ok"
        verbose = raw(lab, f"{endpoint}?verbose").stdout.splitlines()
        assert verbose[0] == "[+]ping ok" and verbose[-1] == f"{endpoint[1:]} check passed", verbose
        assert raw(lab, f"{endpoint}/ping").stdout == "ok"
    excluded = raw(lab, "/readyz?verbose&exclude=informer-sync").stdout
    assert "[+]informer-sync excluded: ok" in excluded
    unknown = raw(lab, "/readyz/no-such-check")
    assert unknown.returncode != 0 and NOT_FOUND in unknown.stderr


def test_version_metrics_and_discovery(lab) -> None:
    version = json.loads(raw(lab, "/version").stdout)
    assert (version["major"], version["minor"]) == ("1", "32") and version["gitVersion"].startswith("v1.32")
    metrics = raw(lab, "/metrics").stdout
    assert "# TYPE apiserver_request_total counter" in metrics
    assert json.loads(raw(lab, "/api").stdout)["versions"] == ["v1"]
    assert "apps" in {group["name"] for group in json.loads(raw(lab, "/apis").stdout)["groups"]}
    pods = json.loads(raw(lab, "/api/v1/namespaces/default/pods").stdout)
    assert pods["kind"] == "PodList" and [p["metadata"]["name"] for p in pods["items"]] == ["talker"]


def test_openapi_v3(lab) -> None:
    root = json.loads(raw(lab, "/openapi/v3").stdout)
    url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=")
    document = json.loads(raw(lab, url).stdout)
    assert document["openapi"].startswith("3.0")
    assert "io.k8s.api.apps.v1.Deployment" in document["components"]["schemas"]
    assert json.loads(raw(lab, "/openapi/v3/api/v1").stdout)["components"]["schemas"]["io.k8s.api.core.v1.Pod"]


def test_pod_log_and_node_proxy(lab) -> None:
    def both_lines() -> str | None:
        out = raw(lab, "/api/v1/namespaces/default/pods/talker/log").stdout
        return out if "second" in out else None

    log = wait_for("both lines in the log", both_lines)
    assert log == lab("logs", "talker") == "first\nsecond\n"
    assert raw(lab, "/api/v1/namespaces/default/pods/talker/log?tailLines=1").stdout == "second\n"
    assert raw(lab, "/api/v1/namespaces/default/pods/talker/log?container=talker&timestamps=true").stdout \
        .split(" ", 1)[1].startswith("first")
    node = lab("get", "nodes", "-o", "jsonpath={.items[0].metadata.name}")
    assert raw(lab, f"/api/v1/nodes/{node}/proxy/healthz").stdout == "ok"


@pytest.mark.parametrize("path", [
    "/openapi/v2",  # kubectl falls back to it only when v3 is missing; dockyard serves v3 alone
    "/apis/metrics.k8s.io/v1beta1/nodes",  # no metrics-server
    "/.well-known/openid-configuration",  # no service account issuer discovery
    "/logs/",  # no node log viewer on the API server
])
def test_what_dockyard_does_not_serve_is_not_found(lab, path: str) -> None:
    result = raw(lab, path)
    assert result.returncode == 1 and result.stderr.strip() == NOT_FOUND
