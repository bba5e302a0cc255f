"""Literal Services and pods as the endpoints controllers read them, for their unit tests.

The pods carry what the store would hold once an agent reported them: a uid, a node, a phase, a
Ready condition and (unless told otherwise) an IP.
"""

from __future__ import annotations


def service(ports=None, selector=None, **spec) -> dict:
    """``default/web``: ClusterIP, selecting ``app=web``, port 80 → 8080 unless told otherwise."""
    spec = {"type": "ClusterIP", "clusterIP": "10.96.0.20",
            "selector": {"app": "web"} if selector is None else selector,
            "ports": ports if ports is not None else [{"port": 80, "targetPort": 8080, "protocol": "TCP"}], **spec}
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default", "uid": "svc-uid", "labels": {"tier": "front"}},
            "spec": spec}


def pod(name: str, ip: str | None = "10.244.1.5", ready: bool = True, node: str = "node-1", phase: str = "Running",
        ports: list | None = None, deleting: bool = False, **spec) -> dict:
    """A pod labelled ``app=web`` on ``node``: Running and Ready unless told otherwise."""
    meta = {"name": name, "namespace": "default", "uid": f"uid-{name}", "labels": {"app": "web"}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T10:00:00Z"
    status = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if ip:
        status["podIP"] = ip
    return {"metadata": meta, "status": status,
            "spec": {"nodeName": node, "containers": [{"name": "c", "ports": ports or []}], **spec}}


def address(name: str, ip: str, node: str = "node-1", **extra) -> dict:
    """The Endpoints address the pod ``name`` of :func:`pod` becomes."""
    return {"ip": ip, **extra, "nodeName": node,
            "targetRef": {"kind": "Pod", "namespace": "default", "name": name, "uid": f"uid-{name}"}}
