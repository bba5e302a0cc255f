"""``dockyard logs POD [-c C] [-f] [--tail N] [-p] [--timestamps]``: kubectl logs.

The API server relays the log from the pod's node agent; this prints the bytes exactly as they
arrive (a followed log line by line, until the container stops or Ctrl-C).
"""

from __future__ import annotations

import argparse
from typing import BinaryIO, TextIO

from orchestrator.cli.client import ApiClient
from orchestrator.cli.pods import check_container, choose_container, get_pod, pod_name


def add_logs_parser(verbs: argparse._SubParsersAction) -> argparse.ArgumentParser:
    logs = verbs.add_parser("logs", help="print the logs of a container in a pod (kubectl logs)")
    logs.add_argument("pod", help="pod name (or pod/NAME)")
    logs.add_argument("-c", "--container", help="container name (default: the pod's default or only one)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep streaming new lines")
    logs.add_argument("--tail", type=int, default=-1, help="lines of recent log to show (default -1: all)")
    logs.add_argument("-p", "--previous", action="store_true",
                      help="the logs of the previous terminated instance of the container")
    logs.add_argument("--timestamps", action="store_true", help="prefix each line with its RFC 3339 time")
    return logs


def run_logs(client: ApiClient, args: argparse.Namespace, out: BinaryIO, err: TextIO) -> int:
    namespace = args.namespace or "default"
    name = pod_name(args.pod)
    pod = get_pod(client, namespace, name)
    check_container(pod, args.container)
    container = choose_container(pod, args.container, err)
    params = {key: "true" for key, on in
              (("follow", args.follow), ("previous", args.previous), ("timestamps", args.timestamps)) if on}
    if container:
        params["container"] = container
    if args.tail >= 0:
        params["tailLines"] = str(args.tail)
    for chunk in client.stream_bytes(f"/api/v1/namespaces/{namespace}/pods/{name}/log", params):
        out.write(chunk)
        out.flush()
    return 0
