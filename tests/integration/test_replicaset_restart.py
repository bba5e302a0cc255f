"""kill -9 the control plane while its ReplicaSet controller is creating pods: after the restart
the ReplicaSet ends with exactly ``replicas`` pods, never more (real server process, real SQLite).

No agents are needed: the pods only have to exist in the store, where they wait for a node.
"""

from __future__ import annotations

import time

from tests.support.controlplane import ControlPlaneProcess, free_port

REPLICAS = 60
PODS = "/api/v1/namespaces/default/pods"


def replicaset() -> dict:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "many"},
            "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": "many"}},
                     "template": {"metadata": {"labels": {"app": "many"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx:latest"}]}}}}


def count(http) -> int:
    return len(http.get(PODS, params={"labelSelector": "app=many"}).json()["items"])


def test_no_duplicate_pods_when_the_control_plane_dies_mid_scale(tmp_path):
    (tmp_path / "state").mkdir()
    server = ControlPlaneProcess(tmp_path / "state", free_port()).start()
    try:
        with server.client() as http:
            response = http.post("/apis/apps/v1/namespaces/default/replicasets", json=replicaset())
            assert response.status_code == 201, response.text
            deadline = time.monotonic() + 20
            while count(http) == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
        server.kill()  # somewhere in the middle of creating them (how far it got is reported below)
        server.start()
        with server.client() as http:
            at_restart = count(http)
            deadline = time.monotonic() + 30
            while count(http) < REPLICAS and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.0)  # a duplicate would show up now
            assert count(http) == REPLICAS, f"{at_restart} pods existed at the restart"
            assert 0 < at_restart, "the kill came before any pod: the test proves nothing"
            status = http.get("/apis/apps/v1/namespaces/default/replicasets/many").json()["status"]
            deadline = time.monotonic() + 10
            while status.get("replicas") != REPLICAS and time.monotonic() < deadline:
                time.sleep(0.2)
                status = http.get("/apis/apps/v1/namespaces/default/replicasets/many").json()["status"]
            assert status["replicas"] == REPLICAS
    finally:
        server.stop()
