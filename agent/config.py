"""Everything one node agent is told at start-up, in one frozen value.

``dockyard agent`` (and ``dockyard up``, which starts one agent per local node) builds an
:class:`AgentConfig` from its flags; nothing else in the agent reads flags or the environment.
The durations default to the kubelet's; labs and tests shorten them (a crash-loop lab with a
2-second back-off cap shows the whole curve in a minute), and the names say which Kubernetes
knob each one stands for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path


class ClusterNetworking(str, Enum):
    """Whether this agent takes part in the host-wide networking (service proxy, cluster DNS,
    routes to other machines' pods: :mod:`agent.network.host`), which needs root."""

    AUTO = "auto"   # when the agent runs as root; otherwise off, with a warning on the Node
    ON = "on"
    OFF = "off"


@dataclass(frozen=True)
class BackoffPolicy:
    """CrashLoopBackOff and ImagePullBackOff: first retry at once, then ``initial`` doubling up to
    ``maximum``; forgotten after ``reset_after`` seconds of clean running (kubelet: 10 s, 300 s,
    10 min). A failed sandbox is retried on such a curve too, forgotten once a sandbox is made."""

    initial: float = 10.0
    maximum: float = 300.0
    reset_after: float = 600.0


#: retries of a pod sandbox that could not be made: 2 s, 4 s, 8 s, 16 s, then every 30 s
SANDBOX_BACKOFF = BackoffPolicy(initial=2.0, maximum=30.0)


@dataclass(frozen=True)
class AgentConfig:
    server: str                      # API server URL, https://HOST:PORT
    token: str                       # node token (dyn_…) or join token (dyj_…, exchanged once)
    node_name: str
    state_dir: Path                  # the agent's own files: serving cert, exchanged token
    ca_file: Path | None = None      # cluster CA; or pinned through ca_cert_hash
    ca_cert_hash: str | None = None  # "sha256:HEX" of the CA, as kubeadm join takes it
    node_ip: str | None = None       # InternalIP reported on the Node; default: the host's primary IP
    node_ip_on_bridge: bool = False  # put node_ip on the pod bridge (each node of a local cluster its own)
    docker_host: str | None = None   # e.g. unix:///var/run/docker.sock; default: the environment's
    listen: str = "0.0.0.0:10250"    # the agent's authenticated endpoint for logs and exec
    heartbeat_interval: float = 10.0
    resync_interval: float = 30.0
    status_interval: float = 10.0    # how often running pods are re-inspected besides Docker events
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    image_backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    sandbox_backoff: BackoffPolicy = SANDBOX_BACKOFF
    max_pods: int = 110
    pause_image: str = "dockyard/pause:1.0"
    allow_host_path: bool = False    # the cluster's --allow-privileged, mirrored on the node
    labels: dict[str, str] = field(default_factory=dict)  # extra Node labels (--node-labels)
    cluster_networking: ClusterNetworking = ClusterNetworking.AUTO
