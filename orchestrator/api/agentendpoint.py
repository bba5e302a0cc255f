"""The contract between the API server and a node agent's HTTPS endpoint (logs, exec, attach,
port-forward).

Like kube-apiserver → kubelet, the API server dials the node: the address is the Node's
``InternalIP`` and the port ``status.daemonEndpoints.kubeletEndpoint.Port``. Both ends prove who
they are before a byte of a request is exchanged:

* the agent accepts only client certificates that the cluster CA signed with EKU ``clientAuth``,
  which only the API server holds (``pki/apiserver-kubelet-client.crt``);
* the agent's serving certificate is self-signed (agents have no CA key), so the API server pins
  it: the agent publishes :func:`cert_sha256` of it in the Node annotation
  :data:`SERVING_CERT_ANNOTATION`, and the API server talks only to a peer presenting exactly that
  certificate.

Routes (paths built by :func:`logs_path`, :func:`stream_path` and :func:`port_forward_path`):

* ``GET /containerLogs/{namespace}/{pod}/{container}?<PodLogOptions>&podUID=…`` — raw text,
  streamed line by line, the kubelet's own route;
* ``GET /exec/{namespace}/{pod}/{container}?<PodExecOptions>&podUID=…`` and
  ``GET /attach/{namespace}/{pod}/{container}?<PodAttachOptions>&podUID=…`` — WebSockets speaking
  ``v5.channel.k8s.io`` (:mod:`orchestrator.api.remotecommand`);
* ``GET /portForward/{namespace}/{pod}?podUID=…`` — a WebSocket with the subprotocol
  :data:`PORT_FORWARD_SUBPROTOCOL` whose binary messages carry one SPDY/3.1 session, byte for
  byte: exactly what kubectl 1.30+ sends the API server (:mod:`orchestrator.api.portforward`),
  under a subprotocol name the ``websockets`` library accepts (kubectl's
  ``SPDY/3.1+portforward.k8s.io`` is not an RFC 6455 token).
  The API server relays the bytes both ways and never reads a frame, whichever way kubectl came
  (its SPDY upgrade is the same byte stream); the agent is the session's server side, like the
  kubelet, and connects inside the pod's network namespace. The session ends when either side
  closes the WebSocket; the agent ends it (GOAWAY, then close) when the pod's sandbox exits.

Failures before any output are ``metav1.Status`` JSON with the kubelet's messages; the API server
hands them on to the client.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from orchestrator.api.remotecommand import StreamVerb

#: Node annotation carrying the hex SHA-256 of the agent's serving certificate (DER)
SERVING_CERT_ANNOTATION = "agent.dockyard.io/serving-cert-sha256"
#: the agent's port-forward WebSocket: kubectl's SPDY tunnel under a name that is a valid token
PORT_FORWARD_SUBPROTOCOL = "spdy3.portforward.dockyard.io"
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


def port_forward_path(namespace: str, pod: str) -> str:
    return f"/portForward/{_seg(namespace)}/{_seg(pod)}"


def _seg(value: str) -> str:
    return quote(value, safe="")
