"""``dockyard status``: the local cluster's processes and, when its API answers, its nodes.

Exit code 0 when every recorded process runs and every node is Ready, 1 otherwise, so scripts
(and ``make demo``) can ask "is my cluster healthy?" without parsing the output.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from orchestrator.apiserver.tables import print_table
from orchestrator.apiserver.tables.printer import align
from orchestrator.cli.client import TABLE_ACCEPT, ApiClient, ClientError
from orchestrator.cli.lifecycle.processes import SERVER, alive, records
from orchestrator.cluster.init import ClusterInfo
from orchestrator.cluster.statedir import StateDir


def add_status_parser(verbs: argparse._SubParsersAction) -> None:
    status = verbs.add_parser("status", help="show a local cluster's processes and nodes")
    status.add_argument("--state-dir", type=Path, help="cluster state directory (default: ~/.dockyard)")


def run_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    state = StateDir(args.state_dir) if args.state_dir else StateDir.default()
    if not state.cluster_json.exists():
        err.write(f"no cluster in {state.root}: start one with `dockyard up`\n")
        return 1
    info = ClusterInfo.load(state)
    out.write(f'cluster "{info.name}" (uid {info.uid}), API server {info.server_url}, state in {state.root}\n\n')

    recorded = records(state)
    healthy = bool(recorded)
    rows = [["PROCESS", "PID", "STATUS", "LOG"]]
    for record in recorded:
        running = alive(record)
        healthy &= running
        rows.append([record.name, str(record.pid), "running" if running else "exited",
                     str(state.log_file(record.name))])
    if recorded:
        out.write("".join(line + "\n" for line in align(rows)))
    else:
        out.write("no processes recorded: the cluster is stopped (`dockyard up` starts it)\n")

    server = next((r for r in recorded if r.name == SERVER), None)
    if server is None or not alive(server):
        return 1
    out.write("\n")
    try:
        with ApiClient(str(state.kubeconfig), timeout=5.0) as client:
            table = client.request("GET", "/api/v1/nodes", accept=TABLE_ACCEPT)
    except ClientError as error:
        err.write(f"cannot list nodes: {error}\n")
        return 1
    if table.get("rows"):
        out.write(print_table(table, wide=False))
    else:
        out.write("no nodes registered\n")
    statuses = [row["cells"][1] for row in table.get("rows", [])]
    return 0 if healthy and all(status == "Ready" for status in statuses) else 1
