"""Port-forward benchmark: ``kubectl port-forward`` beside a direct connection to the same pod.

Method. One run stands up a real one-node cluster exactly as users do (``dockyard up`` on a
temporary state dir, a free port and a run-unique cluster name), runs one nginx pod (the real
nginx) with a generated file of ``--megabytes`` MB, and measures, in the same minutes and from
the same host, three paths to that one nginx:

* **direct**: the pod's IP, port 80 (the host reaches pod IPs on a ``dockyard up`` cluster);
* **websocket**: ``kubectl port-forward`` as kubectl 1.32 runs it by default, the SPDY session
  tunneled in a WebSocket: kubectl → API server → agent (mutual TLS) → a socket inside the pod;
* **spdy**: the same with ``KUBECTL_PORT_FORWARD_WEBSOCKETS=false``, the plain SPDY upgrade.

For each path: the large file downloaded ``--downloads`` times, one connection each (MB/s, the
median; every byte counted, and the length checked), then ``--seconds`` of small requests from
``--clients`` threads, each request on a new connection (so each is a new forwarded connection:
two SPDY streams, a connect inside the pod's namespace), as requests/s with p50/p99 latency.
Both forwarded paths cross three processes in Python (kubectl's own relay is Go) and two TLS
hops; the ratios against the direct path, measured in the same run, are what to compare on a
noisy 2-core machine. Everything the bench makes is removed at the end, on Ctrl-C too, by
``dockyard down --purge`` (then by the cluster's uid label as a last resort).

    .venv/bin/python bench/portforward.py [--megabytes 64] [--downloads 3] [--seconds 10] [--clients 20]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.interrupts import shield_cleanup, sigterm_interrupts  # noqa: E402
from bench.services import load  # noqa: E402
from tests.support.cluster import LocalCluster  # noqa: E402

WEB = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
       "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "nginx", "image": "nginx:latest",
                                                      "ports": [{"containerPort": 80}]}]}}}}
TRANSPORTS = {"websocket": {}, "spdy": {"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}}


def download(address: str, port: int, expected: int) -> float:
    """Seconds to read ``/big.bin`` whole on a new connection; ValueError if bytes went missing."""
    started = time.perf_counter()
    with socket.create_connection((address, port), timeout=60) as connection:
        connection.sendall(b"GET /big.bin HTTP/1.0\r\nHost: bench\r\n\r\n")
        received = bytearray()
        while chunk := connection.recv(1 << 20):
            received += chunk
    elapsed = time.perf_counter() - started
    body = received.partition(b"\r\n\r\n")[2]
    if len(body) != expected:
        raise ValueError(f"the download through {address}:{port} brought {len(body)} bytes, not {expected}")
    return elapsed


def path_figures(address: str, port: int, args) -> dict:
    size = args.megabytes * 1024 * 1024
    times = [download(address, port, size) for _ in range(args.downloads)]
    figures = load([(address, port)], args.seconds, args.clients)
    figures["mbps"] = size / 1e6 / statistics.median(times)
    return figures


class PortForward:
    """``kubectl port-forward deploy/web :80`` over one transport, stopped and reaped on exit."""

    def __init__(self, kubectl, transport: str) -> None:
        self.process = subprocess.Popen(kubectl.command("port-forward", "deploy/web", ":80"), stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True,
                                        env={**os.environ, **TRANSPORTS[transport]})

    def __enter__(self) -> int:
        stdout = self.process.stdout
        assert stdout is not None
        for line in stdout:
            found = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) ->", line)
            if found:
                # kubectl prints a line per connection: a pipe nobody reads would fill and stop it
                threading.Thread(target=stdout.read, daemon=True).start()
                return int(found[1])
        raise RuntimeError("kubectl port-forward ended before it listened")

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def measure(cluster: LocalCluster, args) -> dict:
    def step(what: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr)

    step("dockyard up --nodes 1")
    cluster.up()
    kubectl = cluster.kubectl()
    kubectl("apply", "-f", "-", input=yaml.safe_dump(WEB))
    kubectl("rollout", "status", "deployment/web", "--timeout=120s", timeout=130)
    pod = kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}")
    pod_ip = kubectl("get", "pod", pod, "-o", "jsonpath={.status.podIP}")
    kubectl("exec", pod, "--", "sh", "-c",
            f"head -c {args.megabytes * 1024 * 1024} /dev/urandom > /usr/share/nginx/html/big.bin", timeout=120)
    results = {}
    step(f"direct to {pod_ip}:80")
    results["direct"] = path_figures(pod_ip, 80, args)
    for transport in TRANSPORTS:
        step(f"kubectl port-forward over {transport}")
        with PortForward(kubectl, transport) as port:
            results[transport] = path_figures("127.0.0.1", port, args)
    return results


def report(results: dict, args) -> None:
    base = results["direct"]
    print(f"\nPort-forward to one nginx pod: {args.megabytes} MB downloaded {args.downloads}× per path (median), "
          f"then {args.seconds:g} s of small requests from {args.clients} threads, a new connection each")
    print(f"{'path':<12}{'MB/s':>8}{'vs direct':>11}{'req/s':>9}{'vs direct':>11}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'failed':>8}")
    for label in ("direct", *TRANSPORTS):
        r = results[label]
        print(f"{label:<12}{r['mbps']:>8.1f}{r['mbps'] / base['mbps']:>10.3f}x{r['rps']:>9.0f}"
              f"{r['rps'] / base['rps']:>10.3f}x{r['p50']:>9.2f}{r['p99']:>9.2f}{r['failures']:>8}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=64, help="size of the downloaded file")
    parser.add_argument("--downloads", type=int, default=3, help="downloads per path")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of small requests per path")
    parser.add_argument("--clients", type=int, default=20, help="client threads for the small requests")
    args = parser.parse_args()
    sigterm_interrupts()
    run = uuid.uuid4().hex[:8]
    try:
        with tempfile.TemporaryDirectory(prefix="dockyard-bench-portforward-") as tmp:
            cluster = LocalCluster(Path(tmp) / "state", nodes=1, name=f"bench-{run}")
            try:
                results = measure(cluster, args)
            except (TimeoutError, httpx.HTTPError, AssertionError, ValueError, RuntimeError):
                print(cluster.logs(), file=sys.stderr)
                raise
            finally:
                shield_cleanup()
                print("removing the benchmark's cluster…", file=sys.stderr)
                cluster.teardown()
    except KeyboardInterrupt:
        print("interrupted; the benchmark's cluster has been removed", file=sys.stderr)
        return 130
    except (TimeoutError, httpx.HTTPError, AssertionError, ValueError, RuntimeError) as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
