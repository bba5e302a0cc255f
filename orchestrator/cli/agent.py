"""``dockyard agent``: run one node agent in the foreground, from flags to an :class:`AgentConfig`.

The lab knobs (heartbeat, resync, back-off curves, pod limit) are declared once, in
:data:`TUNING`, because two commands take them: ``dockyard agent`` turns them into the config, and
``dockyard up`` passes the ones a user set through to every agent it starts
(:func:`tuning_argv`). Knobs left unset keep the kubelet's defaults from :mod:`agent.config`.

Parsing (:func:`config_from_args`) is pure and unit-tested; running imports :mod:`agent.main`
only when the verb runs, so the rest of the CLI never loads the Docker SDK.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from agent.config import AgentConfig, BackoffPolicy, ClusterNetworking
from orchestrator.cli.knobs import Knob, add_knobs, knobs_argv
from orchestrator.cluster.identity import check_node_name
from orchestrator.cluster.statedir import StateDir


TUNING = (
    Knob("--heartbeat-interval", float, "seconds between Node status updates (default 10)"),
    Knob("--resync-interval", float, "seconds between full resyncs of the node's pods (default 30)"),
    Knob("--status-interval", float, "seconds between re-inspections of running pods (default 10)"),
    Knob("--backoff-initial", float, "CrashLoopBackOff: first delay after the immediate restart (default 10)"),
    Knob("--backoff-max", float, "CrashLoopBackOff: the cap of the doubling delay (default 300)"),
    Knob("--backoff-reset", float, "seconds of clean running that forget the back-off (default 600)"),
    Knob("--image-backoff-initial", float, "ImagePullBackOff: first delay (default 10)"),
    Knob("--image-backoff-max", float, "ImagePullBackOff: the cap (default 300)"),
    Knob("--max-pods", int, "pods this node accepts (default 110)"),
)


def add_tuning_arguments(parser: argparse.ArgumentParser) -> None:
    add_knobs(parser, "node tuning (lab knobs; unset ones keep the kubelet's defaults)", TUNING)


def tuning_argv(args: argparse.Namespace) -> list[str]:
    """The tuning flags that were set in ``args``, as an agent's command line takes them."""
    return knobs_argv(args, TUNING)


def add_agent_parser(verbs: argparse._SubParsersAction) -> None:
    agent = verbs.add_parser("agent", help="run a node agent in the foreground (one per node)")
    agent.add_argument("--server", required=True, help="API server URL, https://HOST:PORT")
    token = agent.add_mutually_exclusive_group(required=True)
    token.add_argument("--token", help="node token (dyn_…) or join token (dyj_…, from `dockyard token create`)")
    token.add_argument("--token-file", type=Path, help="read the token from this file instead")
    agent.add_argument("--node-name", help="this node's name (default: the host name)")
    agent.add_argument("--node-ip", help="InternalIP to report (default: this host's primary address)")
    agent.add_argument("--node-ip-on-bridge", action="store_true",
                       help="add --node-ip as a /32 to the cluster's pod bridge (local clusters: every node "
                            "its own address on one host)")
    agent.add_argument("--docker-host", help="Docker engine URL (default: $DOCKER_HOST, then the local socket)")
    agent.add_argument("--ca-file", type=Path, help="the cluster CA certificate (the server's pki/ca.crt)")
    agent.add_argument("--ca-cert-hash", help="sha256:… pin of the cluster CA, as `dockyard token create` prints")
    agent.add_argument("--state-dir", type=Path,
                       help="the agent's own files (default: ~/.dockyard/agents/NODE)")
    agent.add_argument("--listen", default="0.0.0.0:10250", help="HOST:PORT of the agent's logs/exec endpoint")
    agent.add_argument("--node-labels", default="", help="extra Node labels, k=v,k2=v2")
    agent.add_argument("--pause-image", help="the pod sandbox image (default: dockyard/pause:1.0)")
    agent.add_argument("--allow-host-path", action="store_true",
                       help="let pods mount hostPath volumes (mirror the server's --allow-privileged)")
    agent.add_argument("--cluster-networking", choices=[mode.value for mode in ClusterNetworking],
                       default=ClusterNetworking.AUTO.value,
                       help="run this host's service proxy (iptables), cluster DNS and routes to other machines' "
                            "pods, one agent per host; needs root (default auto: on when root)")
    add_tuning_arguments(agent)


def config_from_args(args: argparse.Namespace) -> AgentConfig:
    """The agent's configuration; ValueError saying which flag is wrong."""
    node_name = args.node_name or socket.gethostname().lower()
    try:
        check_node_name(node_name)
    except ValueError as error:
        raise ValueError(f"--node-name: {error}") from None
    token = args.token
    if token is None:
        try:
            token = Path(args.token_file).read_text().strip()
        except OSError as error:
            raise ValueError(f"--token-file: cannot read {args.token_file}: {error.strerror}") from None
    if not token:
        raise ValueError("--token: empty token")
    if args.node_ip_on_bridge and not args.node_ip:
        raise ValueError("--node-ip-on-bridge needs --node-ip: the address to put on the bridge")
    if args.node_ip is not None:
        try:
            ipaddress.IPv4Address(args.node_ip)
        except ValueError:
            raise ValueError(f"--node-ip {args.node_ip!r}: not an IPv4 address") from None
    if not args.server.startswith("https://"):
        raise ValueError(f"--server {args.server!r}: must be an https:// URL (the API only speaks HTTPS)")
    config = AgentConfig(
        server=args.server.rstrip("/"),
        token=token,
        node_name=node_name,
        state_dir=args.state_dir or StateDir.default().agent_dir(node_name),
        ca_file=args.ca_file,
        ca_cert_hash=args.ca_cert_hash,
        node_ip=args.node_ip,
        node_ip_on_bridge=args.node_ip_on_bridge,
        docker_host=args.docker_host,
        listen=args.listen,
        labels=parse_labels(args.node_labels),
        allow_host_path=args.allow_host_path,
        cluster_networking=ClusterNetworking(args.cluster_networking),
    )
    scalars = {field: getattr(args, field) for field in
               ("heartbeat_interval", "resync_interval", "status_interval", "max_pods", "pause_image")
               if getattr(args, field) is not None}
    # A crash back-off of 0 (every restart at once) is a fair lab knob; an image back-off of 0
    # would hammer the registry, so that one must stay positive.
    backoff = _policy(config.backoff, args.backoff_initial, args.backoff_max, args.backoff_reset, allow_zero=True)
    image_backoff = _policy(config.image_backoff, args.image_backoff_initial, args.image_backoff_max, None)
    return replace(config, backoff=backoff, image_backoff=image_backoff, **scalars)


def parse_labels(text: str) -> dict[str, str]:
    labels = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise ValueError(f"--node-labels: {item!r} is not of the form key=value")
        labels[key] = value
    return labels


def _policy(default: BackoffPolicy, initial: float | None, maximum: float | None,
            reset_after: float | None, allow_zero: bool = False) -> BackoffPolicy:
    changes = {name: value for name, value in
               (("initial", initial), ("maximum", maximum), ("reset_after", reset_after)) if value is not None}
    policy = replace(default, **changes)
    lowest = 0 <= policy.initial if allow_zero else 0 < policy.initial
    if not (lowest and policy.initial <= policy.maximum):
        bound = "0 <=" if allow_zero else "0 <"
        raise ValueError(f"back-off: need {bound} initial ({policy.initial}) <= max ({policy.maximum})")
    return policy


def run_agent(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        config = config_from_args(args)
    except ValueError as error:
        err.write(f"error: {error}\n")
        return 2
    from agent.main import run  # loads the Docker SDK: only when an agent really runs

    return run(config)
