"""Every manifest in the seed study notes decodes strictly, defaults as Kubernetes does, and validates.

The notes (``/work/shared/seeds/*.txt``, or ``$DOCKYARD_SEEDS``) are what users type in; their
```yaml blocks are read at test time. Blocks that are not complete objects (the sessionAffinity
``...`` snippet) are skipped, but the known complete ones must all be found.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from orchestrator.api.decode import decode
from orchestrator.api.defaults import apply_defaults
from orchestrator.api.registry import kind_for
from orchestrator.api.validation import validate

REPO = Path(__file__).resolve().parents[2]
SEEDS = Path(os.environ.get("DOCKYARD_SEEDS") or REPO.parent / "shared" / "seeds")
# The notes hold 7 complete manifests today (Pod, ReplicaSet, 2 Deployments, 3 Services) plus a fragment.
MIN_COMPLETE_MANIFESTS = 7
_YAML_BLOCK = re.compile(r"^```ya?ml[^\n]*\n(.*?)^```", re.S | re.M)


def _documents() -> tuple[list[tuple[str, dict]], list[str]]:
    if not SEEDS.is_dir():
        raise FileNotFoundError(f"seed notes not found at {SEEDS} (set DOCKYARD_SEEDS)")
    complete, fragments = [], []
    for path in sorted(SEEDS.glob("*.txt")):
        for number, block in enumerate(_YAML_BLOCK.findall(path.read_text(encoding="utf-8"))):
            try:
                docs = [d for d in yaml.safe_load_all(block) if d is not None]
            except yaml.YAMLError:
                fragments.append(f"{path.name}#{number}")  # e.g. "...\nspec: …\n..."
                continue
            for doc in docs:
                if isinstance(doc, dict) and {"apiVersion", "kind", "metadata"} <= doc.keys():
                    name = f"{path.name}#{number}:{doc['kind']}/{doc['metadata'].get('name')}"
                    complete.append((name, doc))
                else:
                    fragments.append(f"{path.name}#{number}")
    return complete, fragments


COMPLETE, FRAGMENTS = _documents()


def test_the_seed_notes_were_found() -> None:
    assert len(COMPLETE) >= MIN_COMPLETE_MANIFESTS, [name for name, _ in COMPLETE]
    kinds = {doc["kind"] for _, doc in COMPLETE}
    assert {"Pod", "ReplicaSet", "Deployment", "Service"} <= kinds
    assert FRAGMENTS, "the sessionAffinity snippet should have been recognised as a fragment"


def _admit(doc: dict) -> dict:
    """What the API server does with a manifest: decode strictly, place it, default, validate."""
    rk = kind_for(doc["apiVersion"], doc["kind"])
    obj, warnings = decode(rk, doc, strict=True)
    assert warnings == []
    if rk.namespaced:
        obj["metadata"].setdefault("namespace", "default")
    obj = apply_defaults(rk, obj)
    validate(rk, obj)
    assert apply_defaults(rk, obj) == obj
    return obj


@pytest.mark.parametrize("doc", [doc for _, doc in COMPLETE], ids=[name for name, _ in COMPLETE])
def test_seed_manifest_is_accepted_unchanged(doc: dict) -> None:
    obj = _admit(doc)
    for key in ("apiVersion", "kind"):
        assert obj[key] == doc[key]
    assert obj["metadata"]["name"] == doc["metadata"]["name"]


def _containers(obj: dict) -> list[dict]:
    spec = obj["spec"]["template"]["spec"] if obj["kind"] in ("Deployment", "ReplicaSet") else obj["spec"]
    return spec["containers"]


@pytest.mark.parametrize("doc", [doc for _, doc in COMPLETE if doc["kind"] in ("Pod", "Deployment", "ReplicaSet")],
                         ids=[name for name, doc in COMPLETE if doc["kind"] in ("Pod", "Deployment", "ReplicaSet")])
def test_seed_workload_defaults(doc: dict) -> None:
    obj = _admit(doc)
    for container in _containers(obj):
        expected = "Always" if container["image"].endswith(":latest") or ":" not in container["image"] else "IfNotPresent"
        assert container["imagePullPolicy"] == expected
        assert container["terminationMessagePath"] == "/dev/termination-log"
        assert all(port["protocol"] == "TCP" for port in container.get("ports", []))
    if obj["kind"] == "Deployment":
        assert obj["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
        assert (obj["spec"]["revisionHistoryLimit"], obj["spec"]["progressDeadlineSeconds"]) == (10, 600)
    if obj["kind"] == "Pod":
        assert (obj["spec"]["serviceAccountName"], obj["spec"]["priority"], obj["spec"]["restartPolicy"]) == ("default", 0, "Always")


def test_seed_nginx_latest_pulls_always() -> None:
    pods = [_admit(doc) for _, doc in COMPLETE if doc["kind"] == "Pod"]
    assert any(c["image"] == "nginx:latest" and c["imagePullPolicy"] == "Always" for p in pods for c in _containers(p))


def test_seed_services() -> None:
    services = {doc["metadata"]["name"]: _admit(doc) for _, doc in COMPLETE if doc["kind"] == "Service"}
    clusterip = services["hostname-svc-clusterip"]["spec"]
    assert clusterip["ports"] == [{"name": "web-port", "port": 8080, "targetPort": 80, "protocol": "TCP"}]
    assert (clusterip["sessionAffinity"], clusterip["internalTrafficPolicy"]) == ("None", "Cluster")
    assert "externalTrafficPolicy" not in clusterip
    nodeport = services["hostname-svc-nodeport"]["spec"]
    assert nodeport["externalTrafficPolicy"] == "Cluster"
    external = services["externalname-svc"]["spec"]
    assert external == {"type": "ExternalName", "externalName": "my.database.com", "sessionAffinity": "None"}
