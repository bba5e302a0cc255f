"""``dockyard token create|list|revoke``: join tokens for new machines, and revoking credentials.

These run on the control-plane machine and work on its state directory directly, like
``kubeadm token``: ``tokens.json`` is shared with a running server under a file lock, and the
server notices every change on its next request (see :mod:`orchestrator.cluster.tokens`).

``create`` prints the one command a new machine runs, kubeadm-style: the server URL, the join
token and the CA pin, so the new agent can check it found the right cluster before it trusts it.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TextIO

from orchestrator.apiserver.tables.printer import align
from orchestrator.cli.durations import parse_duration
from orchestrator.cluster.init import ClusterInfo, reachable_url
from orchestrator.cluster.pki import ca_fingerprint
from orchestrator.cluster.statedir import StateDir
from orchestrator.cluster.tokens import DEFAULT_JOIN_TTL, TokenBook



def add_token_parser(verbs: argparse._SubParsersAction) -> None:
    token = verbs.add_parser("token", help="join tokens for new nodes (create, list, revoke)")
    actions = token.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make a join token and print the command a new machine runs")
    create.add_argument("--ttl", default=f"{DEFAULT_JOIN_TTL // 3600}h",
                        help="how long the token may be used: 24h, 90m, 1h30m; 0 means until revoked")
    create.add_argument("--server", help="URL the new machine dials (default: this cluster's address)")
    create.add_argument("--node-name", help="put --node-name NAME in the printed command")
    listing = actions.add_parser("list", help="list tokens (ids only; the secrets are not stored)")
    revoke = actions.add_parser("revoke", help="revoke a token by id, or every token of a node")
    target = revoke.add_mutually_exclusive_group(required=True)
    target.add_argument("id", nargs="?", help="a token id from `dockyard token list`")
    target.add_argument("--node", help="revoke every token of this node")
    for parser in (create, listing, revoke):
        parser.add_argument("--state-dir", type=Path, help="cluster state directory (default: ~/.dockyard)")


def join_command(server: str, join_token: str, ca_hash: str, node_name: str | None) -> str:
    command = f"dockyard agent --server {server} --token {join_token} --ca-cert-hash {ca_hash}"
    return command + (f" --node-name {node_name}" if node_name else "")


def run_token(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    state = StateDir(args.state_dir) if args.state_dir else StateDir.default()
    if not state.cluster_json.exists():
        err.write(f"error: no cluster in {state.root}: start one with `dockyard up` or `dockyard server` "
                  f"(or pass --state-dir)\n")
        return 1
    book = TokenBook.for_state(state)
    if args.action == "create":
        try:
            ttl = parse_duration(args.ttl)
        except ValueError as error:
            err.write(f"error: --ttl {error}\n")
            return 2
        server = args.server or reachable_url(ClusterInfo.load(state))
        token = book.issue_join(ttl)
        expiry = f"expires in {args.ttl}" if ttl else "never expires; revoke it when done"
        err.write(f"Run this on the machine that should join (the token {expiry}):\n")
        out.write(join_command(server, token, ca_fingerprint(state), args.node_name) + "\n")
        return 0
    if args.action == "list":
        out.write(_token_table(book))
        return 0
    if args.node:
        count = book.revoke_node(args.node)
        err.write(f"revoked {count} token(s) of node {args.node}\n")
        return 0 if count else 1
    if book.revoke_id(args.id):
        err.write(f"revoked token {args.id}\n")
        return 0
    err.write(f"error: no token with id {args.id!r}; see `dockyard token list`\n")
    return 1


def _token_table(book: TokenBook) -> str:
    rows = [["ID", "KIND", "USER", "CREATED", "EXPIRES", "JOINED"]]
    for record in book.records():
        rows.append([record.id, record.kind.value, record.identity.user, _when(record.created),
                     _when(record.expires) if record.expires is not None else "<never>",
                     ",".join(record.joined) or "<none>"])
    return "".join(line + "\n" for line in align(rows))


def _when(unix: float) -> str:
    return dt.datetime.fromtimestamp(unix, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
