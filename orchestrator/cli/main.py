"""The ``dockyard`` command: run the control plane, and kubectl-style verbs against it.

Verbs print what kubectl prints (the tables come from the server, rendered once for both tools)
and exit non-zero with ``Error from server (Reason): message`` when the API says no.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TextIO

from orchestrator.api.clusternetwork import (
    DEFAULT_CLUSTER_CIDR, DEFAULT_CLUSTER_DOMAIN, DEFAULT_NODE_CIDR_MASK, DEFAULT_SERVICE_CIDR, ClusterNetwork,
    NetworkConfigError,
)
from orchestrator.cli.agent import add_agent_parser, run_agent
from orchestrator.cli.client import ApiClient, ClientError
from orchestrator.cli.drain import add_node_parsers
from orchestrator.cli.durations import duration_argument
from orchestrator.cli.exec import add_exec_parser, split_command
from orchestrator.cli.lifecycle.down import add_down_parser, run_down
from orchestrator.cli.lifecycle.status import add_status_parser, run_status
from orchestrator.cli.lifecycle.up import add_up_parser, run_up
from orchestrator.cli.logs import add_logs_parser
from orchestrator.cli.manifests import ManifestError
from orchestrator.cli.rollout import add_rollout_parsers
from orchestrator.cli.servertuning import add_server_tuning_arguments, server_tuning_config
from orchestrator.cli.tokens import add_token_parser, run_token
from orchestrator.cli.workloads import add_workload_parsers

#: verbs that act on this machine's state directory and processes rather than through the API
LOCAL_VERBS = {"up": run_up, "down": run_down, "status": run_status, "token": run_token, "agent": run_agent}


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig to use (default: $KUBECONFIG, then ~/.dockyard/kubeconfig)")
    parser.add_argument("-n", "--namespace", help="namespace (default: default)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dockyard", description="A small, real container orchestrator.")
    verbs = parser.add_subparsers(dest="verb", required=True)

    server = verbs.add_parser("server", help="run the control plane in the foreground")
    server.add_argument("--state-dir", type=Path, help="cluster state directory (default: ~/.dockyard)")
    server.add_argument("--listen", default="127.0.0.1:6443", help="HOST:PORT to serve HTTPS on")
    server.add_argument("--cluster-name", default="dockyard")
    server.add_argument("--allow-privileged", action="store_true",
                        help="accept pods asking for privileged, hostNetwork, hostPID, hostIPC or hostPath")
    server.add_argument("--cluster-cidr", default=DEFAULT_CLUSTER_CIDR,
                        help=f"pod addresses; each node gets a block of it (default {DEFAULT_CLUSTER_CIDR})")
    server.add_argument("--node-cidr-mask-size", type=int, default=DEFAULT_NODE_CIDR_MASK,
                        help=f"size of each node's block of --cluster-cidr (default {DEFAULT_NODE_CIDR_MASK})")
    server.add_argument("--service-cidr", default=DEFAULT_SERVICE_CIDR,
                        help=f"Service virtual IPs (default {DEFAULT_SERVICE_CIDR})")
    server.add_argument("--cluster-domain", default=DEFAULT_CLUSTER_DOMAIN,
                        help=f"DNS domain of Services and pods (default {DEFAULT_CLUSTER_DOMAIN})")
    server.add_argument("--advertise", action="append", default=[],
                        help="extra host name or IP for the server certificate (repeatable)")
    add_server_tuning_arguments(server)

    apply = verbs.add_parser("apply", help="create or update objects from manifests (kubectl apply)")
    apply.add_argument("-f", "--filename", action="append", required=True, help="file, directory or - for stdin")
    _add_common(apply)

    get = verbs.add_parser("get", help="list objects as kubectl does")
    get.add_argument("type", help="resource type(s), comma separated: pods, deploy, svc,rs …")
    get.add_argument("names", nargs="*")
    get.add_argument("-o", "--output", choices=["wide", "yaml", "json", "name"])
    get.add_argument("-l", "--selector")
    get.add_argument("--field-selector")
    get.add_argument("-A", "--all-namespaces", action="store_true")
    get.add_argument("-w", "--watch", action="store_true")
    _add_common(get)

    describe = verbs.add_parser("describe", help="show an object in detail, with its events")
    describe.add_argument("type")
    describe.add_argument("names", nargs="*")
    describe.add_argument("-l", "--selector")
    _add_common(describe)

    delete = verbs.add_parser("delete", help="delete objects by file or by name")
    delete.add_argument("type", nargs="?")
    delete.add_argument("names", nargs="*")
    delete.add_argument("-f", "--filename", action="append")
    delete.add_argument("--cascade", dest="cascade_policy", default="background",
                        choices=["background", "foreground", "orphan"])
    delete.add_argument("--grace-period", type=int)
    delete.add_argument("--ignore-not-found", action="store_true")
    delete.add_argument("--wait", default=True, type=lambda v: v.lower() != "false")
    delete.add_argument("--timeout", type=duration_argument, default=120.0, help="how long to wait, e.g. 90s")
    _add_common(delete)

    add_up_parser(verbs)
    add_down_parser(verbs)
    add_status_parser(verbs)
    add_agent_parser(verbs)
    add_token_parser(verbs)
    _add_common(add_logs_parser(verbs))
    _add_common(add_exec_parser(verbs))
    for node_parser in add_node_parsers(verbs):
        _add_common(node_parser)
    for workload_parser in [*add_workload_parsers(verbs), *add_rollout_parsers(verbs)]:
        _add_common(workload_parser)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from orchestrator.controlplane.process import ServerConfig, run
    from orchestrator.cluster.statedir import StateDir

    host, _, port = args.listen.rpartition(":")
    state = StateDir(args.state_dir) if args.state_dir else StateDir.default()
    try:
        network = ClusterNetwork(args.cluster_cidr, args.service_cidr, args.node_cidr_mask_size, args.cluster_domain)
    except NetworkConfigError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run(ServerConfig(state_dir=state, host=host.strip("[]") or "127.0.0.1", port=int(port),
                     cluster_name=args.cluster_name, allow_privileged=args.allow_privileged,
                     network=network, extra_hosts=args.advertise, **server_tuning_config(args)))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv, command = split_command(list(sys.argv[1:] if argv is None else argv))
    args = _parser().parse_args(argv)
    if command is not None:
        args.command = command
    out, err = sys.stdout, sys.stderr
    if args.verb == "server":
        return _serve(args)
    if args.verb in LOCAL_VERBS:
        return LOCAL_VERBS[args.verb](args, out, err)
    if getattr(args, "cascade_policy", None):
        args.cascade_policy = args.cascade_policy.capitalize()
    try:
        with ApiClient(args.kubeconfig) as client:
            return _dispatch(client, args, out, err)
    except (ClientError, ManifestError) as error:
        err.write(f"{error}\n")
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(client: ApiClient, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run a verb that works through the API."""
    if args.verb == "apply":
        from orchestrator.cli.apply import run_apply
        return run_apply(client, args, out, err)
    if args.verb == "get":
        from orchestrator.cli.get import run_get
        return run_get(client, args, out)
    if args.verb == "describe":
        from orchestrator.cli.describe import run_describe
        return run_describe(client, args, out)
    if args.verb == "delete":
        from orchestrator.cli.delete import run_delete
        return run_delete(client, args, out, err)
    if args.verb == "logs":
        from orchestrator.cli.logs import run_logs
        return run_logs(client, args, out.buffer, err)
    if args.verb == "exec":
        from orchestrator.cli.exec import run_exec
        return run_exec(client, args, out.buffer, err, sys.stdin.buffer)
    if args.verb in ("cordon", "uncordon"):
        from orchestrator.cli.drain import run_cordon
        return run_cordon(client, args, out, err)
    if args.verb == "drain":
        from orchestrator.cli.drain import run_drain
        return run_drain(client, args, out, err)
    if args.verb == "scale":
        from orchestrator.cli.workloads import run_scale
        return run_scale(client, args, out)
    if args.verb == "set":
        from orchestrator.cli.workloads import run_set_image
        return run_set_image(client, args, out)
    if args.verb == "rollout":
        from orchestrator.cli.rollout import run_rollout
        return run_rollout(client, args, out)
    raise AssertionError(args.verb)


if __name__ == "__main__":
    sys.exit(main())
