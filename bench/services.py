"""Service benchmark: traffic through a ClusterIP and a NodePort beside the same pods reached
directly, and how soon a pod that turns Ready receives traffic.

Method. One run stands up a real 3-node cluster exactly as users do (``dockyard up`` on a
temporary state dir, a free port and a run-unique cluster name), runs 3 nginx pods (the real
nginx, one per node) behind a ClusterIP and a NodePort Service, and measures, in the same minutes:

* **throughput and latency**: ``--seconds`` of HTTP/1.0 requests from ``--clients`` threads on
  the host, each request a new TCP connection (so every request goes through the proxy's rules,
  as a new connection must: established ones ride on conntrack), to three targets in turn: the pod
  IPs directly (round robin: the baseline), the ClusterIP, node-1's NodePort, and the NodePort of
  a twin Service with ``externalTrafficPolicy: Local`` on a node running one of the pods. The
  client is a bare socket, the same for all, so the ratios say what the virtual IP costs: one DNAT
  chosen by ``-m statistic``, plus a masquerade for the ClusterIP (the host is outside the pod
  range) and the Cluster-policy NodePort, none for the Local one. Masquerading every connection
  to one source address is what costs most: the pods' TIME_WAIT sockets collide with reused
  source ports and now and then a SYN waits for its 1 s retransmission, which the Local row shows
  by its absence. The host's packets take the nat OUTPUT path; a pod's take PREROUTING, the same
  rules.
* **Ready → traffic**: ``--ready-samples`` times, a pod whose readiness probe passes after a
  delay is started behind a Service with no other endpoint, while a prober connects to the
  ClusterIP every 2 ms (refused at once while there is no endpoint). The latency is from the
  moment the API's watch shows the pod Ready to the first answer through the ClusterIP: the
  endpoints controller, the agent's watch of Endpoints and its ``iptables-restore``.

On a noisy 2-core machine the absolute numbers wander; the ratios against the direct path
measured in the same run are what to compare. Everything the bench makes is removed at the end,
on Ctrl-C too, by ``dockyard down --purge`` (then by the cluster's uid label as a last resort).

    .venv/bin/python bench/services.py [--seconds 10] [--clients 4] [--ready-samples 20]
"""

from __future__ import annotations

import argparse
import json
import socket
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

from bench.api import percentile  # noqa: E402
from bench.interrupts import shield_cleanup, sigterm_interrupts  # noqa: E402
from bench.pods import PodWatch  # noqa: E402
from tests.support.cluster import LocalCluster  # noqa: E402

READY_DELAY = 2  # seconds before a fresh pod's readiness probe first passes
PROBE_EVERY = 0.002
REQUEST = b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n"

WEB = [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
     "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}},
                           "spec": {"containers": [{"name": "nginx", "image": "nginx:latest",
                                                    "ports": [{"containerPort": 80}]}]}}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
     "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 8080, "targetPort": 80}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-local"},
     "spec": {"type": "NodePort", "externalTrafficPolicy": "Local", "selector": {"app": "web"},
              "ports": [{"port": 8080, "targetPort": 80}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ready"},
     "spec": {"selector": {"bench": "ready"}, "ports": [{"port": 8080, "targetPort": 80}]}},
]


def ready_pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "ready"}},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                "name": "nginx", "image": "nginx:latest", "ports": [{"containerPort": 80}],
                "readinessProbe": {"exec": {"command": ["true"]}, "initialDelaySeconds": READY_DELAY,
                                   "periodSeconds": 1}}]}}


def fetch(address: str, port: int, timeout: float = 2.0) -> bool:
    """One request on a new connection; True when an HTTP answer came back."""
    with socket.create_connection((address, port), timeout=timeout) as connection:
        connection.sendall(REQUEST)
        head = connection.recv(16)
        while connection.recv(65536):
            pass
    return head.startswith(b"HTTP/1.")


def load(targets: list[tuple[str, int]], seconds: float, clients: int) -> dict:
    """Requests from ``clients`` threads for ``seconds``; each thread walks ``targets`` round robin."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(offset: int) -> None:
        mine, failed, turn = [], 0, offset
        while time.perf_counter() < deadline:
            address, port = targets[turn % len(targets)]
            turn += 1
            started = time.perf_counter()
            try:
                ok = fetch(address, port)
            except OSError:
                ok = False
            if ok:
                mine.append(time.perf_counter() - started)
            else:
                failed += 1
        with lock:
            latencies.extend(mine)
            failures[0] += failed

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"rps": len(latencies) / seconds, "p50": percentile(latencies, 50) * 1000,
            "p99": percentile(latencies, 99) * 1000, "max": max(latencies) * 1000, "requests": len(latencies),
            "failures": failures[0]}


def ready_to_traffic(cluster: LocalCluster, kubectl, cluster_ip: str, samples: int) -> list[float]:
    delays = []
    for index in range(samples):
        name = f"ready-{index}"
        first_answer: list[float] = []
        stop = threading.Event()

        def probe() -> None:
            while not stop.is_set():
                try:
                    if fetch(cluster_ip, 8080, timeout=0.5):
                        first_answer.append(time.perf_counter())
                        return
                except OSError:
                    pass  # refused: no endpoint yet
                time.sleep(PROBE_EVERY)

        with PodWatch(cluster, "bench=ready") as watch:
            kubectl("apply", "-f", "-", input=json.dumps(ready_pod(name)))
            prober = threading.Thread(target=probe, daemon=True)
            prober.start()
            ready_at = watch.wait_until(lambda pods: name in pods and _ready(pods[name]), f"{name} Ready", 90)
            prober.join(timeout=10)
            stop.set()
        if not first_answer:
            raise TimeoutError(f"{name} was Ready but no answer came through the ClusterIP in 10 s")
        delays.append(first_answer[0] - ready_at)
        kubectl("delete", "pod", name, "--wait=true", timeout=60)
    return delays


def _ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def measure(cluster: LocalCluster, args) -> dict:
    def step(what: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr)

    step("dockyard up --nodes 3")
    cluster.up()
    kubectl = cluster.kubectl()
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(WEB))
    kubectl("rollout", "status", "deployment/web", "--timeout=120s", timeout=130)
    pods = json.loads(kubectl("get", "pods", "-l", "app=web", "-o", "json"))["items"]
    direct = [(pod["status"]["podIP"], 80) for pod in pods]
    service = json.loads(kubectl("get", "svc", "web", "-o", "json"))
    cluster_ip, node_port = service["spec"]["clusterIP"], service["spec"]["ports"][0]["nodePort"]
    local_port = int(kubectl("get", "svc", "web-local", "-o", "jsonpath={.spec.ports[0].nodePort}"))
    node_ip = _node_address(kubectl, "node-1")
    local_ip = _node_address(kubectl, pods[0]["spec"]["nodeName"])  # a node with a pod of its own
    paths = {"direct": direct, "clusterip": [(cluster_ip, 8080)], "nodeport": [(node_ip, node_port)],
             "nodeport-local": [(local_ip, local_port)]}
    deadline = time.monotonic() + 30
    while not all(_answers(*targets[0]) for targets in paths.values()):
        if time.monotonic() > deadline:
            raise TimeoutError("the Services did not answer within 30 s of the rollout")
        time.sleep(0.2)
    results = {}
    for label, targets in paths.items():
        step(f"{args.seconds:g} s of requests, {label}")
        results[label] = load(targets, args.seconds, args.clients)
    step(f"ready → traffic, {args.ready_samples} pods")
    ready_ip = kubectl("get", "svc", "ready", "-o", "jsonpath={.spec.clusterIP}")
    results["ready"] = ready_to_traffic(cluster, kubectl, ready_ip, args.ready_samples)
    return results


def _node_address(kubectl, node: str) -> str:
    return kubectl("get", "node", node, "-o", "jsonpath={.status.addresses[0].address}")


def _answers(address: str, port: int) -> bool:
    try:
        return fetch(address, port, timeout=1)
    except OSError:
        return False


def report(results: dict, args) -> None:
    base = results["direct"]
    print(f"\nService traffic: {args.clients} client threads on the host, a new connection per request, "
          f"{args.seconds:g} s per path, 3 nginx pods on 3 nodes")
    print(f"{'path':<16}{'req/s':>9}{'vs direct':>11}{'p50 ms':>9}{'p99 ms':>9}{'p99 vs direct':>15}"
          f"{'max ms':>9}{'failed':>8}")
    for label in ("direct", "clusterip", "nodeport", "nodeport-local"):
        r = results[label]
        print(f"{label:<16}{r['rps']:>9.0f}{r['rps'] / base['rps']:>10.2f}x{r['p50']:>9.2f}{r['p99']:>9.2f}"
              f"{r['p99'] / base['p99']:>14.2f}x{r['max']:>9.0f}{r['failures']:>8}")
    ready = [delay * 1000 for delay in results["ready"]]
    print(f"\nReady → first answer through the ClusterIP, {len(ready)} pods: "
          f"p50 {percentile(ready, 50):.0f} ms, p99 {percentile(ready, 99):.0f} ms, max {max(ready):.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of load per path")
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    parser.add_argument("--ready-samples", type=int, default=20)
    args = parser.parse_args()
    sigterm_interrupts()
    run = uuid.uuid4().hex[:8]
    try:
        with tempfile.TemporaryDirectory(prefix="dockyard-bench-services-") as tmp:
            cluster = LocalCluster(Path(tmp) / "state", nodes=3, name=f"bench-{run}")
            try:
                results = measure(cluster, args)
            except (TimeoutError, httpx.HTTPError, AssertionError):
                print(cluster.logs(), file=sys.stderr)
                raise
            finally:
                shield_cleanup()
                print("removing the benchmark's cluster…", file=sys.stderr)
                cluster.teardown()
    except KeyboardInterrupt:
        print("interrupted; the benchmark's cluster has been removed", file=sys.stderr)
        return 130
    except (TimeoutError, httpx.HTTPError, AssertionError) as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
