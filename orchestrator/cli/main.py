"""The ``dockyard`` command: run the control plane, and kubectl-style verbs against it.

Verbs print what kubectl prints (the tables come from the server, rendered once for both tools)
and exit non-zero with ``Error from server (Reason): message`` when the API says no.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from orchestrator.cli.client import ApiClient, ClientError
from orchestrator.cli.manifests import ManifestError


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
    server.add_argument("--service-cidr", default="10.96.0.0/12")
    server.add_argument("--advertise", action="append", default=[],
                        help="extra host name or IP for the server certificate (repeatable)")

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
    delete.add_argument("--timeout", type=float, default=120.0)
    _add_common(delete)
    return parser


def _serve(args) -> int:
    from orchestrator.apiserver.server import ServerConfig, run
    from orchestrator.cluster.statedir import StateDir

    host, _, port = args.listen.rpartition(":")
    state = StateDir(args.state_dir) if args.state_dir else StateDir.default()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run(ServerConfig(state_dir=state, host=host.strip("[]") or "127.0.0.1", port=int(port),
                     cluster_name=args.cluster_name, allow_privileged=args.allow_privileged,
                     service_cidr=args.service_cidr, extra_hosts=args.advertise))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out, err = sys.stdout, sys.stderr
    if args.verb == "server":
        return _serve(args)
    if getattr(args, "cascade_policy", None):
        args.cascade_policy = args.cascade_policy.capitalize()
    try:
        client = ApiClient(args.kubeconfig)
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
    except (ClientError, ManifestError) as error:
        err.write(f"{error}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    raise AssertionError(args.verb)


if __name__ == "__main__":
    sys.exit(main())
