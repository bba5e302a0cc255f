"""The contract between the API server and a node agent's HTTPS endpoint (logs, exec, attach).

Like kube-apiserver → kubelet, the API server dials the node: the address is the Node's
``InternalIP`` and the port ``status.daemonEndpoints.kubeletEndpoint.Port``. Both ends prove who
they are before a byte of a request is exchanged:

* the agent accepts only client certificates that the cluster CA signed with EKU ``clientAuth``,
  which only the API server holds (``pki/apiserver-kubelet-client.crt``);
* the agent's serving certificate is self-signed (agents have no CA key), so the API server pins
  it: the agent publishes :func:`cert_sha256` of it in the Node annotation
  :data:`SERVING_CERT_ANNOTATION`, and the API server talks only to a peer presenting exactly that
  certificate.

Routes (paths built by :func:`logs_path` and :func:`stream_path`):

* ``GET /containerLogs/{namespace}/{pod}/{container}?<PodLogOptions>&podUID=…`` — raw text,
  streamed line by line, the kubelet's own route;
* ``GET /exec/{namespace}/{pod}/{container}?<PodExecOptions>&podUID=…`` and
  ``GET /attach/{namespace}/{pod}/{container}?<PodAttachOptions>&podUID=…`` — WebSockets speaking
  ``v5.channel.k8s.io`` (:mod:`orchestrator.api.remotecommand`).

Failures before any output are ``metav1.Status`` JSON with the kubelet's messages; the API server
hands them on to the client.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from orchestrator.api.remotecommand import StreamVerb

#: Node annotation carrying the hex SHA-256 of the agent's serving certificate (DER)
SERVING_CERT_ANNOTATION = "agent.dockyard.io/serving-cert-sha256"
#: query parameter naming the pod's uid, so a pod deleted and re-created under the same name is
#: never confused with its predecessor
POD_UID_PARAM = "podUID"


def cert_sha256(der: bytes) -> str:
    """The pin: lowercase hex SHA-256 of a certificate's DER encoding."""
    return hashlib.sha256(der).hexdigest()


def logs_path(namespace: str, pod: str, container: str) -> str:
    return f"/containerLogs/{_seg(namespace)}/{_seg(pod)}/{_seg(container)}"


def stream_path(verb: StreamVerb, namespace: str, pod: str, container: str) -> str:
    """``/exec/…`` or ``/attach/…``."""
    return f"/{verb.value}/{_seg(namespace)}/{_seg(pod)}/{_seg(container)}"


def _seg(value: str) -> str:
    return quote(value, safe="")
