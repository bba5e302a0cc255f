"""Protobuf bodies for the tests: what the real kubectl sends, and envelopes built around it."""

from __future__ import annotations

from orchestrator.api import wire
from orchestrator.api.wire.envelope import SCHEMA

#: ``kubectl create deployment web --image=nginx`` as kubectl 1.32.4 sends it (captured from the real
#: binary; tests/e2e/test_kubectl_generators.py captures it again and compares)
KUBECTL_CREATE_DEPLOYMENT = bytes.fromhex(
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412ab010a1f0a0377656212001a0022002a00320038"
    "0042005a0a0a036170701203776562127a0801120c0a0a0a0361707012037765621a600a1c0a0012001a0022002a0032"
    "00380042005a0a0a036170701203776562124012220a056e67696e7812056e67696e782a0042006a0072008001008801"
    "00900100a201001a00320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c080010"
    "0018002000280038001a002200")
#: what ``kubectl create deployment web --image=nginx --dry-run=client -o json`` prints, less
#: ``creationTimestamp: null`` (Go's zero time, which a dict leaves out)
KUBECTL_DEPLOYMENT_JSON = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]}},
             "strategy": {}},
    "status": {},
}


def enveloped(api_version: str, kind: str, source: bytes = KUBECTL_CREATE_DEPLOYMENT) -> bytes:
    """``source`` with its envelope naming another apiVersion and kind (empty strings: none)."""
    unknown = SCHEMA.message("k8s.io.apimachinery.pkg.runtime.Unknown").new()
    unknown.ParseFromString(source[4:])
    unknown.typeMeta.apiVersion, unknown.typeMeta.kind = api_version, kind
    return wire.MAGIC + unknown.SerializeToString()
