"""What node agents write, written directly: for control-plane tests without Docker or agents.

A Node registered as an agent registers it (``spec: {}``, Ready, its addresses), and a pod's
status as its agent reports it (Running, an IP, the Ready condition). The control plane cannot
tell these from the real thing, which is the point: its controllers are tested on exactly the
objects they will see.
"""

from __future__ import annotations

from datetime import datetime, timezone


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def register_node(control_plane, name: str, address: str = "127.0.0.1", ready: bool = True) -> dict:
    resources = {"cpu": "2", "memory": "4Gi", "pods": "110"}
    body = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}},
        "spec": {},
        "status": {"capacity": resources, "allocatable": resources,
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                   "reason": "KubeletReady" if ready else "KubeletNotReady",
                                   "lastHeartbeatTime": _now(), "lastTransitionTime": _now()}],
                   "addresses": [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}]},
    }
    with control_plane.client() as http:
        response = http.post("/api/v1/nodes", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def report_pod(control_plane, name: str, ip: str, ready: bool = True, namespace: str = "default") -> dict:
    """Replace the pod's status as its agent would, guarded by the resourceVersion read."""
    path = f"/api/v1/namespaces/{namespace}/pods/{name}"
    with control_plane.client() as http:
        pod = http.get(path).json()
        status = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "127.0.0.1",
                  "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                  "lastTransitionTime": _now()}]}
        response = http.put(f"{path}/status", json={**pod, "status": status})
    assert response.status_code == 200, response.text
    return response.json()
