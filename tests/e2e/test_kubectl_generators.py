"""kubectl's generator commands and everyday verbs against a real control plane.

kubectl's typed clients send protobuf (``kubectl create deployment|namespace|configmap|secret|
service``, ``drain``'s evictions); the resource-builder verbs (``run``, ``expose``, ``replace``)
send JSON and the rest patch. The acceptance rule is Kubernetes' own: ``kubectl create …`` makes
the same object as ``kubectl create … --dry-run=client -o yaml | kubectl apply -f -``, apart from
what the server generates.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from pathlib import Path

import httpx
import pytest
import yaml

from orchestrator.api import wire
from tests.support.controlplane import free_port
from tests.support.protobuf_bodies import KUBECTL_CREATE_DEPLOYMENT, enveloped

pytestmark = pytest.mark.kubectl


# ── what kubectl sends ──────────────────────────────────────────────────────────────────────


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers everything 404 and keeps the writes kubectl sends."""

    writes: list[tuple[str, dict[str, str], bytes]] = []

    def _any(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.command != "GET":
            self.writes.append((self.path, dict(self.headers), body))
        status = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "recorded",
                             "reason": "NotFound", "code": 404}).encode()
        self.send_response(404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(status)))
        self.end_headers()
        self.wfile.write(status)

    do_GET = do_POST = do_PUT = _any

    def log_message(self, *args) -> None:
        pass


def test_kubectl_sends_the_bytes_the_unit_tests_hold(tmp_path):
    """The golden body the unit tests hold (tests/support/protobuf_bodies.py) is what this kubectl sends."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "p", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "c", "context": {"cluster": "p", "user": "u", "namespace": "default"}}],
        }))
        subprocess.run(["kubectl", f"--kubeconfig={kubeconfig}", f"--cache-dir={tmp_path / 'cache'}",
                        "create", "deployment", "web", "--image=nginx"], capture_output=True, timeout=60)
    finally:
        server.shutdown()
        thread.join(timeout=10)
    [(path, headers, body)] = _Recorder.writes
    assert path.startswith("/apis/apps/v1/namespaces/default/deployments?")
    assert headers["Content-Type"] == wire.MEDIA_TYPE
    assert headers["Accept"] == "application/vnd.kubernetes.protobuf,application/json"
    assert body == KUBECTL_CREATE_DEPLOYMENT


# ── create … ≡ create … --dry-run=client -o yaml | apply -f - ──────────────────────────────

GENERATORS = {
    "deployment": ["deployment", "web", "--image=nginx:1.25"],
    "deployment-zero-replicas-port": ["deployment", "web", "--image=nginx", "--replicas=0", "--port=80"],
    "deployment-command": ["deployment", "web", "--image=busybox", "--", "sleep", "3600"],
    "configmap-literal": ["configmap", "conf", "--from-literal=mode=fast", "--from-literal=level=3"],
    "configmap-file": ["configmap", "conf", "--from-file={files}/app.properties", "--from-file=blob={files}/binary"],
    "configmap-env-file": ["configmap", "conf", "--from-env-file={files}/env"],
    "secret-generic": ["secret", "generic", "pass", "--from-literal=password=s3cr3t", "--type=Opaque"],
    "secret-generic-file": ["secret", "generic", "blob", "--from-file={files}/binary"],
    "secret-tls": ["secret", "tls", "cert", "--cert={files}/tls.crt", "--key={files}/tls.key"],
    "secret-docker-registry": ["secret", "docker-registry", "regcred", "--docker-server=registry.example.com",
                               "--docker-username=u", "--docker-password=p", "--docker-email=u@example.com"],
    "service-clusterip": ["service", "clusterip", "web", "--tcp=80:8080", "--tcp=443:8443"],
    "service-clusterip-headless": ["service", "clusterip", "db", "--clusterip=None"],
    "service-nodeport": ["service", "nodeport", "web", "--tcp=80:8080"],
    "service-loadbalancer": ["service", "loadbalancer", "web", "--tcp=80"],
    "service-externalname": ["service", "externalname", "ext", "--external-name=db.example.com"],
}

#: what the server makes up, or a controller writes later, and so differs between two creations
_GENERATED_METADATA = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "namespace")
_GENERATED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision")
_GENERATED_SPEC = ("clusterIP", "clusterIPs")


def _files(tmp_path: Path) -> Path:
    files = tmp_path / "files"
    files.mkdir()
    (files / "app.properties").write_text("color=blue\nsize=2\n")
    (files / "env").write_text("A=1\nB=two\n")
    (files / "binary").write_bytes(bytes(range(256)))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=web",
                    "-keyout", str(files / "tls.key"), "-out", str(files / "tls.crt")],
                   check=True, capture_output=True, timeout=60)
    return files


def _comparable(obj: dict) -> dict:
    obj = {key: value for key, value in obj.items() if key != "status"}
    meta = obj["metadata"]
    for key in _GENERATED_METADATA:
        meta.pop(key, None)
    for key in _GENERATED_ANNOTATIONS:
        (meta.get("annotations") or {}).pop(key, None)
    if meta.get("annotations") == {}:
        del meta["annotations"]
    spec = obj.get("spec") or {}
    for key in _GENERATED_SPEC:
        spec.pop(key, None)
    for port in spec.get("ports") or []:
        if obj["kind"] == "Service":
            port.pop("nodePort", None)  # allocated at random unless asked for
    return obj


@pytest.mark.parametrize("generator", list(GENERATORS), ids=list(GENERATORS))
def test_create_makes_what_applying_its_dry_run_makes(kubectl, tmp_path, generator):
    files = _files(tmp_path)
    args = [arg.format(files=files) for arg in GENERATORS[generator]]
    kubectl("create", "namespace", "by-create")
    kubectl("create", "namespace", "by-apply")
    kubectl("create", "-n", "by-create", *args)  # flags first: a command after `--` takes the rest
    manifest = kubectl("create", "-n", "by-apply", "--dry-run=client", "-o", "yaml", *args)
    kubectl("apply", "-f", "-", input=manifest)
    resource = f"{args[0]}/{args[2] if args[0] in ('secret', 'service') else args[1]}"
    created = json.loads(kubectl("get", resource, "-n", "by-create", "-o", "json"))
    applied = json.loads(kubectl("get", resource, "-n", "by-apply", "-o", "json"))
    assert _comparable(created) == _comparable(applied)


@pytest.mark.parametrize("generator", ["deployment", "configmap-literal", "secret-tls", "service-nodeport"])
def test_a_server_dry_run_of_a_generator_answers_the_object_and_stores_nothing(kubectl, control_plane, tmp_path,
                                                                               generator):
    files = _files(tmp_path)
    args = [arg.format(files=files) for arg in GENERATORS[generator]]
    with control_plane.client() as http:
        before = http.get("/api/v1/namespaces/default/pods").json()["metadata"]["resourceVersion"]
        answered = json.loads(kubectl("create", "--dry-run=server", "-o", "json", *args))
        after = http.get("/api/v1/namespaces/default/pods").json()["metadata"]["resourceVersion"]
    assert answered["metadata"]["uid"] and answered["metadata"]["namespace"] == "default"
    assert after == before
    resource = f"{args[0]}/{args[2] if args[0] in ('secret', 'service') else args[1]}"
    assert "NotFound" in kubectl.run("get", resource, check=False).stderr


def test_create_namespace_makes_what_applying_its_dry_run_makes(kubectl):
    kubectl("create", "namespace", "made")
    kubectl("apply", "-f", "-", input=kubectl("create", "namespace", "applied", "--dry-run=client", "-o", "yaml"))
    created = _comparable(json.loads(kubectl("get", "namespace", "made", "-o", "json")))
    applied = _comparable(json.loads(kubectl("get", "namespace", "applied", "-o", "json")))
    for obj, name in ((created, "made"), (applied, "applied")):
        assert obj["metadata"].pop("name") == name
        assert obj["metadata"]["labels"].pop("kubernetes.io/metadata.name") == name
    assert created == applied


# ── everyday verbs ──────────────────────────────────────────────────────────────────────────


def test_run_expose_scale_set_label_annotate(kubectl):
    assert kubectl("create", "deployment", "web", "--image=nginx:1.25", "--replicas=2", "--port=80").strip() == \
        "deployment.apps/web created"
    assert kubectl("run", "tool", "--image=busybox", "--labels=app=tool", "--", "sleep", "3600").strip() == \
        "pod/tool created"
    assert kubectl("expose", "deployment", "web", "--port=8080", "--target-port=80").strip() == "service/web exposed"
    assert kubectl("scale", "deployment", "web", "--replicas=3").strip() == "deployment.apps/web scaled"
    assert kubectl("set", "image", "deployment/web", "nginx=nginx:1.27").strip() == \
        "deployment.apps/web image updated"
    assert kubectl("label", "deployment", "web", "tier=front").strip() == "deployment.apps/web labeled"
    assert kubectl("annotate", "deployment", "web", "owner=team-a").strip() == "deployment.apps/web annotated"
    deployment = json.loads(kubectl("get", "deployment", "web", "-o", "json"))
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 80,
                                                                                  "protocol": "TCP"}]
    assert deployment["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert deployment["metadata"]["annotations"]["owner"] == "team-a"
    service = json.loads(kubectl("get", "service", "web", "-o", "json"))
    assert service["spec"]["selector"] == {"app": "web"}
    assert service["spec"]["ports"][0]["port"] == 8080 and service["spec"]["ports"][0]["targetPort"] == 80
    pod = json.loads(kubectl("get", "pod", "tool", "-o", "json"))
    assert pod["spec"]["containers"][0]["args"] == ["sleep", "3600"]


def test_scale_to_zero_and_back(kubectl):
    kubectl("create", "deployment", "web", "--image=nginx", "--replicas=0")
    assert json.loads(kubectl("get", "deployment", "web", "-o", "json"))["spec"]["replicas"] == 0
    kubectl("scale", "deployment", "web", "--replicas=2")
    kubectl("scale", "deployment", "web", "--replicas=0", "--current-replicas=2")
    assert json.loads(kubectl("get", "deployment", "web", "-o", "json"))["spec"]["replicas"] == 0


def test_replace_and_edit_a_generated_object(kubectl, tmp_path):
    kubectl("create", "configmap", "conf", "--from-literal=mode=slow")
    manifest = yaml.safe_load(kubectl("get", "configmap", "conf", "-o", "yaml"))
    manifest["data"]["mode"] = "fast"
    path = tmp_path / "conf.yaml"
    path.write_text(yaml.safe_dump(manifest))
    assert kubectl("replace", "-f", str(path)).strip() == "configmap/conf replaced"
    assert json.loads(kubectl("get", "configmap", "conf", "-o", "json"))["data"] == {"mode": "fast"}

    kubectl("create", "deployment", "web", "--image=nginx:1.25")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/nginx:1.25/nginx:1.27/' \"$1\"\n")
    editor.chmod(0o755)
    result = subprocess.run(kubectl.command("edit", "deployment", "web"), env={"EDITOR": str(editor), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "deployment.apps/web edited"
    image = json.loads(kubectl("get", "deployment", "web", "-o", "json"))["spec"]["template"]["spec"]["containers"][0]
    assert image["image"] == "nginx:1.27"


def test_drain_evicts_with_a_protobuf_eviction(kubectl):
    """``kubectl drain`` posts policy/v1 Evictions (protobuf, with DeleteOptions inside)."""
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-x"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray", "namespace": "default"},
         "spec": {"nodeName": "worker-x", "containers": [{"name": "c", "image": "nginx"}]}},
    ]))
    out = kubectl("drain", "worker-x", "--force", "--grace-period=0", "--timeout=30s")
    assert "pod/stray evicted" in out
    assert kubectl("get", "pods", "-o", "name").strip() == ""


# ── a protobuf client of our own ────────────────────────────────────────────────────────────


def test_a_protobuf_only_client_gets_protobuf_and_a_json_listing_client_gets_json(control_plane):
    with control_plane.client() as client:
        created = client.post("/apis/apps/v1/namespaces/default/deployments", content=KUBECTL_CREATE_DEPLOYMENT,
                              headers={"Content-Type": wire.MEDIA_TYPE, "Accept": wire.MEDIA_TYPE})
        assert created.status_code == 201, created.content
        assert created.headers["content-type"] == wire.MEDIA_TYPE
        deployment = wire.decode(created.content, wire.Into("apps/v1", "Deployment"))
        assert deployment["metadata"]["uid"] and deployment["spec"]["replicas"] == 1
        listed = client.get("/apis/apps/v1/namespaces/default/deployments", headers={"Accept": wire.MEDIA_TYPE})
        items = wire.decode(listed.content, wire.Into("apps/v1", "DeploymentList"))["items"]
        assert [item["metadata"]["name"] for item in items] == ["web"]
        missing = client.get("/api/v1/namespaces/default/pods/nope", headers={"Accept": wire.MEDIA_TYPE})
        assert missing.status_code == 404 and missing.headers["content-type"] == wire.MEDIA_TYPE
        assert wire.decode(missing.content, wire.Into("v1", "Status"))["reason"] == "NotFound"
        as_json = client.get("/apis/apps/v1/namespaces/default/deployments/web",
                             headers={"Accept": f"{wire.MEDIA_TYPE},application/json"})
        assert as_json.headers["content-type"] == "application/json"
        assert as_json.json()["metadata"]["uid"] == deployment["metadata"]["uid"]


@pytest.mark.parametrize("body, message", [
    (b"k8s\x00\x0a\x15\x0a\x07apps", "the object provided is unrecognized (must be of type Deployment): "
                                     "unexpected EOF"),
    (b"garbage", "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"),
    (enveloped("v1", "Service"), 'Service in version "v1" cannot be handled as a Deployment: '
                                 "converting (v1.Service) to (apps.Deployment): unknown conversion"),
    (enveloped("v1", "Frobnicator"), 'no kind "Frobnicator" is registered for version "v1"'),
])
def test_a_bad_protobuf_body_is_a_400_and_stores_nothing(control_plane, body, message):
    with control_plane.client() as client:
        services = client.get("/api/v1/services").json()["items"]
        refused = client.post("/apis/apps/v1/namespaces/default/deployments", content=body,
                              headers={"Content-Type": wire.MEDIA_TYPE})
        assert refused.status_code == 400, refused.text
        assert refused.json()["reason"] == "BadRequest"
        assert message in refused.json()["message"]
        assert client.get("/apis/apps/v1/deployments").json()["items"] == []
        assert client.get("/api/v1/services").json()["items"] == services


def test_protobuf_updates_subresources_and_delete_options(control_plane):
    """The writes kubectl's typed clients can send besides create: PUT of an object and of its
    scale, a Binding, and a DELETE carrying DeleteOptions — all as protobuf."""
    protobuf = {"Content-Type": wire.MEDIA_TYPE}
    with control_plane.client() as client:
        assert client.post("/apis/apps/v1/namespaces/default/deployments", content=KUBECTL_CREATE_DEPLOYMENT,
                           headers=protobuf).status_code == 201
        def put(path: str, change) -> httpx.Response:
            """Read, change, write back as protobuf; again on a conflict with the controllers' writes."""
            for _ in range(10):
                obj = client.get(path).json()
                change(obj)
                answer = client.put(path, content=wire.encode(obj), headers=protobuf)
                if answer.status_code != 409:
                    return answer
            return answer

        updated = put("/apis/apps/v1/namespaces/default/deployments/web",
                      lambda obj: obj["metadata"]["labels"].update(tier="front"))
        assert updated.status_code == 200, updated.text
        assert updated.json()["metadata"]["labels"] == {"app": "web", "tier": "front"}
        # omitempty: a Scale to zero travels without spec.replicas
        scaled = put("/apis/apps/v1/namespaces/default/deployments/web/scale",
                     lambda obj: obj["spec"].update(replicas=0))
        assert scaled.status_code == 200, scaled.text
        assert client.get("/apis/apps/v1/namespaces/default/deployments/web").json()["spec"]["replicas"] == 0

        client.post("/api/v1/nodes", json={"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-y"}})
        client.post("/api/v1/namespaces/default/pods", json={
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "manual"},
            "spec": {"schedulerName": "by-hand", "containers": [{"name": "c", "image": "nginx"}]}})
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "manual"},
                   "target": {"kind": "Node", "name": "worker-y"}}
        bound = client.post("/api/v1/namespaces/default/pods/manual/binding", content=wire.encode(binding),
                            headers=protobuf)
        assert bound.status_code == 201, bound.text
        assert client.get("/api/v1/namespaces/default/pods/manual").json()["spec"]["nodeName"] == "worker-y"

        options = {"apiVersion": "meta.k8s.io/v1", "kind": "DeleteOptions", "propagationPolicy": "Orphan"}
        deleted = client.request("DELETE", "/apis/apps/v1/namespaces/default/deployments/web",
                                 content=wire.encode(options), headers=protobuf)
        assert deleted.status_code in (200, 202), deleted.text
        assert "orphan" in (deleted.json()["metadata"].get("finalizers") or [])
