"""The cluster's state directory and its security material.

kubectl never sends credentials over plain HTTP, so a dockyard cluster is HTTPS from the start:
``dockyard init`` (:func:`init_cluster`) makes a private CA and a server certificate
(:mod:`~orchestrator.cluster.pki`), an admin bearer token (:mod:`~orchestrator.cluster.tokens`)
and a kubeconfig that real kubectl uses unchanged (:mod:`~orchestrator.cluster.kubeconfig`), all
inside one 0700 directory laid out by :class:`StateDir`
(:mod:`~orchestrator.cluster.statedir`).

Node agents hold their own tokens (``system:node:<name>`` in ``system:nodes``), obtained by
exchanging a join token from ``dockyard token create``; the API server turns a bearer token into
an :class:`Identity` (:mod:`~orchestrator.cluster.identity`) with
:meth:`TokenBook.authenticate` and authorizes from there.
"""

from orchestrator.cluster.identity import Identity, check_node_name
from orchestrator.cluster.init import ClusterInfo, ClusterInit, init_cluster, server_url
from orchestrator.cluster.kubeconfig import (
    Credentials,
    KubeconfigError,
    read_kubeconfig,
    write_kubeconfig,
)
from orchestrator.cluster.pki import (
    PKIError,
    ca_fingerprint,
    ca_pem,
    ensure_ca,
    ensure_server_cert,
)
from orchestrator.cluster.statedir import StateDir, atomic_write, default_state_dir
from orchestrator.cluster.tokens import TokenBook, TokenKind, TokenRecord

__all__ = [
    "ClusterInfo", "ClusterInit", "Credentials", "Identity", "KubeconfigError", "PKIError",
    "StateDir", "TokenBook", "TokenKind", "TokenRecord", "atomic_write", "ca_fingerprint", "ca_pem",
    "check_node_name", "default_state_dir", "ensure_ca", "ensure_server_cert", "init_cluster",
    "read_kubeconfig", "server_url", "write_kubeconfig",
]
