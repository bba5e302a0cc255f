"""What ``dockyard logs`` and ``dockyard exec`` share: finding the pod and its container as
kubectl does on the client side.

kubectl never leaves the container to the server when a pod has several: it takes the one named
by the ``kubectl.kubernetes.io/default-container`` annotation, else the first, and says so on
stderr (``Defaulted container "app" out of: app, sidecar``). Doing the same keeps our output
identical to kubectl's.
"""

from __future__ import annotations

from typing import TextIO

from orchestrator.cli.client import ApiClient, ClientError

DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"


def pod_name(typed: str) -> str:
    """``web``, ``pod/web`` or ``pods/web`` → ``web``."""
    kind, slash, name = typed.partition("/")
    return name if slash and kind in ("pod", "pods", "po") else typed


def get_pod(client: ApiClient, namespace: str, name: str) -> dict:
    return client.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}")


def choose_container(pod: dict, requested: str | None, err: TextIO) -> str | None:
    """The container to use; None leaves the choice to the server (a pod without containers)."""
    if requested:
        return requested
    containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    if not containers:
        return None
    annotated = ((pod.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CONTAINER_ANNOTATION)
    if annotated in containers:
        return annotated
    if len(containers) > 1:
        err.write(f'Defaulted container "{containers[0]}" out of: {", ".join(containers)}\n')
    return containers[0]


def check_container(pod: dict, requested: str | None) -> None:
    """``kubectl logs -c`` checks the name itself before asking the server (``exec`` does not)."""
    spec = pod.get("spec") or {}
    known = {c["name"] for key in ("containers", "initContainers", "ephemeralContainers")
             for c in spec.get(key) or []}
    if requested and requested not in known:
        raise ClientError(f"error: container {requested} is not valid for pod {pod['metadata']['name']}")
