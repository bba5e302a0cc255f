"""``dockyard up``: a control plane and N node agents on this machine, in the background.

Order of events, each step waiting for the one before:

1. plan (:func:`~orchestrator.cli.lifecycle.plan.plan_up`): what is missing, given the pid files;
2. the server, if it is not running; wait for ``/readyz`` (it initialises the state directory:
   CA, admin kubeconfig, ``cluster.json`` with the cluster uid and address plan). A new cluster
   first gets ranges no other network on this host uses, and its pod network is made right away,
   all under a host-wide lock, so two clusters never share an address
   (:mod:`agent.network.reservation`);
3. a node token per missing agent, issued straight into ``tokens.json`` (this machine holds the
   CA key anyway, so the join-token exchange would prove nothing) and saved in the agent's own
   state dir; a token saved by an earlier ``up`` is reused while it still authenticates;
4. the agents, each with its own ``--listen`` port and, when ``up`` runs as root, its own address
   on the pod bridge (node-1 10.244.0.11, node-2 10.244.0.12 …), so every node answers at an
   address of its own as separate machines would;
5. wait until every wanted Node reports Ready, showing progress on stderr.

Any process exiting, or the deadline passing, ends the attempt: ``up`` says which process failed,
prints the end of its log, and stops exactly the processes *this* invocation started, so a
failed ``up`` never takes down a cluster that was already running.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import time
from contextlib import nullcontext
from pathlib import Path
from typing import TextIO

from agent.join import NODE_TOKEN_FILE, read_node_token, save_node_token
from orchestrator.api.clusternetwork import ClusterNetwork, NetworkConfigError
from orchestrator.cli.agent import add_tuning_arguments, tuning_argv
from orchestrator.cli.client import ApiClient, ClientError
from orchestrator.cli.lifecycle.plan import (
    DEFAULT_API_PORT, DEFAULT_CLUSTER_NAME, ClusterSpec, agent_argv, plan_up, server_argv,
)
from orchestrator.cli.lifecycle.processes import (
    SERVER, ProcessRecord, agent_process, alive, forget, launch, log_tail, records, stop,
)
from orchestrator.cli.servertuning import add_server_tuning_arguments, server_tuning_argv
from orchestrator.cluster.init import ClusterInfo
from orchestrator.cluster.statedir import DIR_MODE, PUBLIC_MODE, StateDir, atomic_write
from orchestrator.cluster.tokens import TokenBook

POLL = 0.25


class UpFailed(Exception):
    def __init__(self, message: str, process: str | None = None) -> None:
        super().__init__(message)
        self.process = process


def add_up_parser(verbs: argparse._SubParsersAction) -> None:
    up = verbs.add_parser("up", help="start a local cluster (server + N agents) in the background")
    up.add_argument("--nodes", type=int, default=3, help="number of node agents (default 3)")
    up.add_argument("--state-dir", type=Path, help="cluster state directory (default: ~/.dockyard)")
    up.add_argument("--api-port", type=int, help=f"API server port on 127.0.0.1 (default {DEFAULT_API_PORT}, "
                                                 "or the cluster's current one)")
    up.add_argument("--cluster-name", help=f"cluster name (default {DEFAULT_CLUSTER_NAME!r}, or the current one)")
    up.add_argument("--allow-privileged", action="store_true",
                    help="accept privileged/host* pods (server) and let agents mount hostPath volumes")
    up.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for every node to be Ready")
    add_tuning_arguments(up)
    add_server_tuning_arguments(up)


def run_up(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.nodes < 0:
        err.write("error: --nodes must be 0 or more\n")
        return 2
    state = StateDir(args.state_dir) if args.state_dir else StateDir.default()
    state.ensure()
    try:
        spec, stored_network, running = _current(state, args)
    except UpFailed as error:
        err.write(f"error: {error}\n")
        return 1
    plan = plan_up(spec, set(running))
    if plan.extra_agents:
        err.write(f"note: {', '.join(plan.extra_agents)} keep running although --nodes is {spec.nodes}; "
                  "`dockyard down` stops every process of the cluster\n")
    if not spec.node_addresses:
        err.write("note: not running as root, so the nodes share this machine's address and Services carry no "
                  "traffic (node addresses and the service proxy need root)\n")
    started: list[ProcessRecord] = []
    try:
        watched = list(running.values())
        network = _start_server(state, spec, stored_network, plan.start_server, started, watched, args.timeout,
                                err)
        book = TokenBook.for_state(state)
        state.agents_dir.mkdir(mode=DIR_MODE, exist_ok=True)
        for node in plan.start_agents:
            token_file = _node_token_file(state, book, node)
            argv = agent_argv(spec, network, node, _free_port(), token_file)
            started.append(launch(state, agent_process(node), argv))
            watched.append(started[-1])
        with ApiClient(str(state.kubeconfig), timeout=5.0) as client:
            _wait_for_nodes(client, spec.node_names, watched, time.monotonic() + args.timeout, err)
    except (UpFailed, KeyboardInterrupt) as failure:
        _report(state, failure, err)
        for name, how in stop(started, grace=10.0).items():
            err.write(f"stopped {name} ({how.value})\n")
        for record in started:
            forget(state, record)
        return 130 if isinstance(failure, KeyboardInterrupt) else 1
    _summary(spec, plan.nothing_to_do, args.state_dir is not None, out)
    return 0


def _start_server(state: StateDir, spec: ClusterSpec, stored: ClusterNetwork | None, start: bool,
                  started: list[ProcessRecord], watched: list[ProcessRecord], timeout: float,
                  err: TextIO) -> ClusterNetwork:
    """The server up and ready, and the cluster's pod network made; its address plan. A new
    cluster (``stored`` is None) has its ranges chosen and taken while the host-wide address-plan
    lock is held, so two clusters started at once never pick the same ones."""
    # Imported here: the Docker SDK is slow to load, and only `up` and `down` need it.
    from agent.network.reservation import address_plan_lock, choose_network, reserve_network
    from agent.network.ip import IpCommandFailed
    from agent.runtime.errors import ContainerRuntimeError

    try:
        with address_plan_lock() if stored is None else nullcontext():
            network = stored if stored is not None else choose_network()
            if start:
                _check_port_free(spec.api_port)
                started.append(launch(state, SERVER, server_argv(spec, network)))
                watched.append(started[-1])
            _wait_for_server(state, watched, time.monotonic() + min(timeout, 60.0), err)
            reserve_network(spec.cluster_name, ClusterInfo.load(state).uid, network)
    except (NetworkConfigError, ContainerRuntimeError, IpCommandFailed) as error:
        raise UpFailed(f"the cluster's pod network: {error}") from None
    return network


def _current(state: StateDir,
             args: argparse.Namespace) -> tuple[ClusterSpec, ClusterNetwork | None, dict[str, ProcessRecord]]:
    """The wanted cluster (flags, falling back to the existing cluster's settings), the address
    plan it was made with (None for a new cluster) and what runs."""
    running: dict[str, ProcessRecord] = {}
    for record in records(state):
        if alive(record):
            running[record.name] = record
        else:
            forget(state, record)  # a stale pid file from a crash or a reboot
    previous = ClusterInfo.load(state) if state.cluster_json.exists() else None
    if SERVER in running and previous is not None:
        for flag, asked, current in (("--api-port", args.api_port, previous.api_port),
                                     ("--cluster-name", args.cluster_name, previous.name)):
            if asked is not None and asked != current:
                raise UpFailed(f"the cluster in {state.root} is running with {flag} {current}; "
                               f"`dockyard down` it first to change that (or use another --state-dir)")
    spec = ClusterSpec(
        state=state,
        nodes=args.nodes,
        api_port=args.api_port or (previous.api_port if previous else DEFAULT_API_PORT),
        cluster_name=args.cluster_name or (previous.name if previous else DEFAULT_CLUSTER_NAME),
        allow_privileged=args.allow_privileged,
        node_addresses=os.geteuid() == 0,
        **remembered_knobs(state, tuple(tuning_argv(args)), tuple(server_tuning_argv(args))),
    )
    return spec, _stored_network(previous), running


def remembered_knobs(state: StateDir, agent: tuple[str, ...], server: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The lab knobs to start processes with: those given now (and remembered), or, when none are
    given, those the cluster was last started with, so an agent brought back by a plain ``up``
    (after a crash, or ``dockyard down --node``) beats at the same pace as the others."""
    if agent or server:
        atomic_write(state.knobs, json.dumps({"agent": agent, "server": server}), PUBLIC_MODE)
    elif state.knobs.exists():
        saved = json.loads(state.knobs.read_text())
        agent, server = tuple(saved.get("agent") or ()), tuple(saved.get("server") or ())
    return {"agent_tuning": agent, "server_tuning": server}


def _stored_network(previous: ClusterInfo | None) -> ClusterNetwork | None:
    """The address plan the cluster was made with (None: a new cluster, to be given one)."""
    if previous is None or not previous.flags.get("cluster-cidr"):
        return None
    return ClusterNetwork.from_data(previous.flags)


def _node_token_file(state: StateDir, book: TokenBook, node: str) -> Path:
    """The node's token file in its agent state dir: the saved token if it still authenticates as
    this node, else a fresh one (the old ones revoked, so a node never holds two)."""
    agent_dir = state.agent_dir(node)
    saved = read_node_token(agent_dir)
    identity = book.authenticate(saved) if saved else None
    if identity is not None and identity.is_node and identity.node_name == node:
        return agent_dir / NODE_TOKEN_FILE
    book.revoke_node(node)
    return save_node_token(agent_dir, book.issue_node(node))


# -- waiting ------------------------------------------------------------------------------------


def _wait_for_server(state: StateDir, watched: list[ProcessRecord], deadline: float, err: TextIO) -> None:
    err.write("waiting for the API server …\n")
    while True:
        _check_alive(watched)
        if state.kubeconfig.exists():
            try:
                with ApiClient(str(state.kubeconfig), timeout=5.0) as client:
                    client.request("GET", "/readyz")
                return
            except (ClientError, OSError, ValueError):
                pass  # not listening yet, or the kubeconfig is being written
        if time.monotonic() > deadline:
            raise UpFailed("the API server did not become ready in time", SERVER)
        time.sleep(POLL)


def _wait_for_nodes(client: ApiClient, wanted: list[str], watched: list[ProcessRecord], deadline: float,
                    err: TextIO) -> None:
    shown = None if wanted else 0  # a control plane without nodes has nothing to wait for
    while True:
        _check_alive(watched)
        try:
            ready = _ready_nodes(client) & set(wanted)
        except ClientError:
            ready = set()  # a restart of the server in between: ask again
        if len(ready) != shown:
            shown = len(ready)
            err.write(f"waiting for nodes: {shown}/{len(wanted)} Ready\n")
        if shown == len(wanted):
            return
        if time.monotonic() > deadline:
            missing = [node for node in wanted if node not in ready]
            raise UpFailed(f"timed out: node(s) {', '.join(missing)} not Ready", agent_process(missing[0]))
        time.sleep(POLL)


def _ready_nodes(client: ApiClient) -> set[str]:
    return {
        node["metadata"]["name"]
        for node in client.request("GET", "/api/v1/nodes").get("items", [])
        if any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in node.get("status", {}).get("conditions") or [])
    }


def _check_alive(watched: list[ProcessRecord]) -> None:
    for record in watched:
        if not alive(record):
            raise UpFailed(f"the {record.name} process (pid {record.pid}) exited", record.name)


# -- reporting ----------------------------------------------------------------------------------


def _report(state: StateDir, failure: BaseException, err: TextIO) -> None:
    if isinstance(failure, KeyboardInterrupt):
        err.write("interrupted; stopping what this `dockyard up` started\n")
        return
    err.write(f"error: {failure}\n")
    if isinstance(failure, UpFailed) and failure.process:
        err.write(f"--- last lines of {state.log_file(failure.process)}:\n{log_tail(state, failure.process)}\n---\n")


def _summary(spec: ClusterSpec, already: bool, explicit_state_dir: bool, out: TextIO) -> None:
    state_flag = f" --state-dir {spec.state.root}" if explicit_state_dir else ""
    what = "is already running" if already else "is up"
    out.write(
        f'dockyard cluster "{spec.cluster_name}" {what}: {spec.nodes} node(s) Ready, '
        f"API server {spec.server_url}\n"
        f"State and logs: {spec.state.root}\n\n"
        f"Use it with kubectl:\n"
        f"  export KUBECONFIG={spec.state.kubeconfig}\n"
        f"  kubectl get nodes -o wide\n"
        f"  kubectl apply -f examples/seed/hostname-deployment.yaml\n\n"
        f"See it: dockyard status{state_flag}\n"
        f"Stop it: dockyard down{state_flag}   (add --purge to delete its state too)\n"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _check_port_free(port: int) -> None:
    with socket.socket() as sock:
        # as uvicorn binds: a port whose old connections linger in TIME_WAIT is free to reuse
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise UpFailed(f"port {port} on 127.0.0.1 is already in use (another cluster?); "
                           f"pick another with --api-port") from None
