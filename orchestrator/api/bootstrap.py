"""How a new machine joins a cluster: the wire contract both sides of ``dockyard agent`` share.

Joining follows kubeadm's two steps, kept small:

1. **Discovery.** The ConfigMap ``kube-public/cluster-info`` says which cluster this is: its
   name, its uid (the value of every Docker label ``io.dockyard.cluster`` the cluster's agents
   put on their objects), the CA certificate, the API server's URL and the address plan
   (:class:`~orchestrator.api.clusternetwork.ClusterNetwork`: pod and service ranges, DNS).
   Anyone may GET exactly that object, with or without a token, as kubeadm's bootstrap-signer
   role allows: it is public by design. A machine that does not have the CA yet fetches it over unverified TLS and checks
   it against a pin it was handed out of band (``--ca-cert-hash sha256:…``, the SHA-256 of the
   CA's SubjectPublicKeyInfo, kubeadm's ``--discovery-token-ca-cert-hash`` format), so a
   man-in-the-middle cannot slip in another CA.
2. **Credentials.** Kubernetes has the kubelet file a CertificateSigningRequest; we trade tokens
   instead: a caller authenticated with a join token (``dyj_…``) POSTs ``{"nodeName": NAME}`` to
   :data:`JOIN_PATH` and receives ``{"nodeName": NAME, "token": "dyn_…"}`` once per node name.
   It is a non-resource path (like ``/healthz``) because a node token is a credential, not an
   object anyone should list, watch or see in discovery.

Pure: the API server builds the ConfigMap with :meth:`PublicClusterInfo.to_configmap`, the agent
reads it back with :meth:`PublicClusterInfo.from_configmap`, and both compute the pin with
:func:`ca_cert_hash`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from orchestrator.api.clusternetwork import ClusterNetwork

CLUSTER_INFO_NAMESPACE = "kube-public"
CLUSTER_INFO_NAME = "cluster-info"
CLUSTER_INFO_PATH = f"/api/v1/namespaces/{CLUSTER_INFO_NAMESPACE}/configmaps/{CLUSTER_INFO_NAME}"

#: where a join token is exchanged for a node token (POST, bearer join token)
JOIN_PATH = "/dockyard/v1/join"
JOIN_NODE_NAME = "nodeName"
JOIN_TOKEN = "token"

_KEYS = {"name": "cluster-name", "uid": "cluster-uid", "ca_pem": "ca.crt", "server": "server"}


@dataclass(frozen=True)
class PublicClusterInfo:
    """What ``kube-public/cluster-info`` tells a joining machine."""

    name: str
    uid: str
    ca_pem: str
    server: str
    network: ClusterNetwork = field(default_factory=ClusterNetwork)

    def to_configmap(self) -> dict:
        """The ConfigMap, in wire form."""
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": CLUSTER_INFO_NAME, "namespace": CLUSTER_INFO_NAMESPACE},
            "data": {**{key: getattr(self, attr) for attr, key in _KEYS.items()}, **self.network.to_data()},
        }

    @classmethod
    def from_configmap(cls, obj: dict) -> PublicClusterInfo:
        """Read the ConfigMap back; ValueError naming the missing keys if it is not one of ours."""
        data = obj.get("data") or {}
        missing = [key for key in _KEYS.values() if not data.get(key)]
        if missing:
            raise ValueError(
                f"{CLUSTER_INFO_NAMESPACE}/{CLUSTER_INFO_NAME} lacks {', '.join(missing)}: "
                "is this server a dockyard control plane, and a recent one?")
        return cls(**{attr: data[key] for attr, key in _KEYS.items()}, network=ClusterNetwork.from_data(data))


def ca_cert_hash(ca_pem: str | bytes) -> str:
    """``sha256:<hex>`` of the CA certificate's SubjectPublicKeyInfo (kubeadm's pin format).

    Hashing the public key rather than the whole certificate means a CA re-issued with the same
    key (a renewal) keeps its pin. ValueError if ``ca_pem`` is not a PEM certificate.
    """
    data = ca_pem.encode() if isinstance(ca_pem, str) else ca_pem
    cert = x509.load_pem_x509_certificate(data)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()
