"""The admin kubeconfig: the one file that lets real ``kubectl`` talk to the cluster.

A standard ``apiVersion: v1, kind: Config`` document with one cluster (the API server URL and the
CA certificate inlined as ``certificate-authority-data``, so the file works from any directory and
can be copied to another machine), one user (a bearer token) and one context
``dockyard-<cluster>`` that is current. ``KUBECONFIG=DIR/kubeconfig kubectl get pods`` needs
nothing else.

The file holds the admin token in plain text, so it is written 0600 and atomically: kubectl
running at the same moment as ``dockyard init`` reads either the old or the new file. It is also
the only place that plaintext survives (``tokens.json`` keeps hashes), which is why
:mod:`orchestrator.cluster.init` reads the token back from here when it rewrites the file.

:func:`read_kubeconfig` is for our own CLI and agents: it follows ``current-context`` the way
kubectl does and returns just what an HTTPS client needs.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, TypedDict

import yaml

from orchestrator.cluster.statedir import SECRET_MODE, atomic_write


class KubeconfigError(ValueError):
    """The kubeconfig is missing a piece we need (no current context, no token, …)."""


class Credentials(TypedDict):
    server: str
    ca_pem: str
    token: str


def context_name(cluster_name: str) -> str:
    return f"dockyard-{cluster_name}"


def render_kubeconfig(
    *, cluster_name: str, server_url: str, ca_pem: str, user: str, token: str
) -> str:
    """The kubeconfig text, without writing it (init compares it with what is on disk)."""
    context = context_name(cluster_name)
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {
                    "server": server_url,
                    "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode(),
                },
            }
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": cluster_name, "user": user, "namespace": "default"},
            }
        ],
        "current-context": context,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write_kubeconfig(
    path: Path, *, cluster_name: str, server_url: str, ca_pem: str, user: str, token: str
) -> None:
    """Write the kubeconfig to ``path`` (mode 0600, atomically)."""
    text = render_kubeconfig(
        cluster_name=cluster_name, server_url=server_url, ca_pem=ca_pem, user=user, token=token
    )
    atomic_write(Path(path), text, SECRET_MODE)


def read_kubeconfig(path: Path) -> Credentials:
    """``{server, ca_pem, token}`` of the current context of the kubeconfig at ``path``."""
    path = Path(path)
    doc = yaml.safe_load(path.read_text()) or {}
    current = doc.get("current-context")
    context = _named(doc, "contexts", current, "context")
    cluster = _named(doc, "clusters", context.get("cluster"), "cluster")
    user = _named(doc, "users", context.get("user"), "user")

    server = cluster.get("server")
    if not server:
        raise KubeconfigError(f"{path}: cluster {context.get('cluster')!r} has no server")
    if cluster.get("certificate-authority-data"):
        ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
    elif cluster.get("certificate-authority"):
        # kubectl resolves a relative CA path against the kubeconfig's own directory
        ca = (path.parent / cluster["certificate-authority"]).read_text()
    else:
        raise KubeconfigError(f"{path}: cluster {context.get('cluster')!r} has no CA")
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = (path.parent / user["tokenFile"]).read_text().strip()
    if not token:
        raise KubeconfigError(f"{path}: user {context.get('user')!r} has no bearer token")
    return Credentials(server=server, ca_pem=ca, token=token)


def _named(doc: dict, section: str, name: object, body: str) -> dict:
    for entry in doc.get(section) or ():
        if entry.get("name") == name:
            return entry.get(body) or {}
    raise KubeconfigError(f"kubeconfig has no {section[:-1]} named {name!r}")
