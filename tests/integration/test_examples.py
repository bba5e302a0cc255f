"""Every example under ``examples/`` on one real cluster: issue 6's whole lifecycle.

``dockyard up --nodes 3`` in a temporary state dir; the real kubectl, with that cluster's
kubeconfig, applies every Kubernetes manifest of every lab, each lab in a namespace of its own
(``lab-<directory>``, so names never clash), and waits until each object has settled the way its
lab says it should: Deployments and ReplicaSets available, pods Ready (or Completed, for the ones
that run once), Services with their addresses and, where their pods run in the namespace, their
endpoints. The few objects a lab makes to fail on purpose are
listed in :data:`DESIGNED_TO_FAIL` with the state they must reach instead. Then ``dockyard down
--purge`` must leave no process, container, network, volume, iptables rule or bridge of the
cluster. Compose files are not Kubernetes manifests and are left to their lab.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from orchestrator.cli.lifecycle.processes import alive, records
from tests.conftest import REPO
from tests.support.cluster import LocalCluster
from tests.support.leftovers import docker_objects, host_objects
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.kubectl]

EXAMPLES = REPO / "examples"
#: objects a lab makes to show a failure: (lab, kind, name) → the state they must reach
DESIGNED_TO_FAIL = {
    ("crashloop", "Pod", "crasher"): "CrashLoopBackOff",
    ("crashloop", "Pod", "fail-once"): "Error",
}


def kubernetes_manifests() -> dict[str, list[Path]]:
    """Lab directory → its YAML files that hold Kubernetes objects (not Compose files)."""
    found: dict[str, list[Path]] = {}
    for path in sorted(EXAMPLES.glob("*/*.yaml")) + sorted(EXAMPLES.glob("*/*.yml")):
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
        if documents and all(isinstance(d, dict) and "apiVersion" in d and "kind" in d for d in documents):
            found.setdefault(path.parent.name, []).append(path)
    return found


def objects(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def settled(kubectl, namespace: str, obj: dict, lab: str) -> str | bool:
    """True once the object is as its lab means it to be; otherwise what it is now."""
    kind, name = obj["kind"], obj["metadata"]["name"]
    live = json.loads(kubectl("get", kind.lower(), name, "-n", namespace, "-o", "json"))
    status = live.get("status") or {}
    wanted = DESIGNED_TO_FAIL.get((lab, kind, name))
    if kind == "Pod":
        shown = kubectl("get", "pod", name, "-n", namespace, "--no-headers").split()[2]
        if wanted:
            return shown == wanted or shown
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])
        return ready or status.get("phase") == "Succeeded" or shown
    if kind in ("Deployment", "ReplicaSet"):
        replicas = live["spec"].get("replicas", 1)
        return status.get("availableReplicas", 0) == replicas or f"{status.get('availableReplicas', 0)}/{replicas}"
    if kind == "Service":
        spec = live["spec"]
        if spec.get("type") == "LoadBalancer" and not (status.get("loadBalancer") or {}).get("ingress"):
            return "no load balancer ingress"
        if spec.get("type") == "ExternalName" or not spec.get("selector"):
            return True
        selector = ",".join(f"{key}={value}" for key, value in spec["selector"].items())
        if not kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "name").split():
            return True  # its lab runs its pods from another lab's manifests: nothing to serve here
        endpoints = json.loads(kubectl("get", "endpoints", name, "-n", namespace, "-o", "json"))
        return any(subset.get("addresses") for subset in endpoints.get("subsets") or []) or "no endpoints"
    return True  # ConfigMaps and the like exist once applied


def test_every_example_settles_on_one_cluster_and_down_leaves_nothing(tmp_path):
    labs = kubernetes_manifests()
    assert {"seed", "services"} <= set(labs), sorted(labs)
    cluster = LocalCluster(tmp_path / "state", nodes=3)
    try:
        cluster.up()
        kubectl = cluster.kubectl()
        for lab, paths in labs.items():
            namespace = f"lab-{lab}"
            kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Namespace",
                                                          "metadata": {"name": namespace}}))
            for path in paths:
                kubectl("apply", "-n", namespace, "-f", str(path))
        for lab, paths in labs.items():
            for path in paths:
                for obj in objects(path):
                    wait_for(f"{lab}/{path.name}: {obj['kind']} {obj['metadata']['name']} settled",
                             lambda: settled(kubectl, f"lab-{lab}", obj, lab) is True, cluster.logs, timeout=180)
        processes = records(cluster.state)
        down = cluster.down("--purge")
        assert down.returncode == 0, down.stdout + down.stderr
        assert not any(alive(p) for p in processes)
        assert docker_objects(cluster.uid) == {"containers": [], "networks": [], "volumes": []}
        assert host_objects(cluster.uid) == {"rules": [], "bridge": [], "routes": []}
        leftovers = subprocess.run(["pgrep", "-f", str(cluster.state_dir)], capture_output=True, text=True).stdout
        assert not leftovers.split(), leftovers
    finally:
        cluster.teardown()
