"""API benchmark: creates/s, GET p50/p99 and watch-delivery p99 for 1,000 pods.

Every figure is printed beside the same operation against the bare SQLite store, measured in the
same run on the same machine, so the ratio (the API's overhead: HTTPS, JSON, decoding, defaulting,
validation, admission) means something on a noisy 2-core box where absolute numbers do not.

    .venv/bin/python bench/api.py [--pods 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orchestrator.store import Key, SQLiteStore, Watcher  # noqa: E402
from tests.support.controlplane import ControlPlaneProcess, free_port  # noqa: E402


def pod(index: int) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"bench-{index}", "namespace": "default", "labels": {"app": "bench"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}}


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))]


def bench_store(count: int, workdir: Path) -> dict:
    store = SQLiteStore(workdir / "bare.db")
    watcher = Watcher(store, store.revision())
    started = time.perf_counter()
    sent: dict[str, float] = {}
    delays: list[float] = []
    for i in range(count):
        sent[f"bench-{i}"] = time.perf_counter()
        store.create(Key("pods", "default", f"bench-{i}"), pod(i))
        event = watcher.next(timeout=5)
        delays.append(time.perf_counter() - sent[event.key.name])
    creates = count / (time.perf_counter() - started)
    gets = []
    for i in range(count):
        t0 = time.perf_counter()
        store.get(Key("pods", "default", f"bench-{i}"))
        gets.append(time.perf_counter() - t0)
    watcher.close()
    store.close()
    return {"creates_per_s": creates, "get_p50": percentile(gets, 50), "get_p99": percentile(gets, 99),
            "watch_p99": percentile(delays, 99)}


def bench_api(count: int, workdir: Path) -> dict:
    server = ControlPlaneProcess(workdir / "state", free_port()).start()
    try:
        sent: dict[str, float] = {}
        delays: list[float] = []
        ready = threading.Event()

        def watch() -> None:
            with server.client() as http, http.stream(
                    "GET", "/api/v1/namespaces/default/pods",
                    params={"watch": "true", "resourceVersion": revision, "labelSelector": "app=bench"}) as stream:
                ready.set()
                for line in stream.iter_lines():
                    if not line:
                        continue
                    name = json.loads(line)["object"]["metadata"]["name"]
                    delays.append(time.perf_counter() - sent[name])
                    if len(delays) == count:
                        return

        with server.client() as http:
            revision = http.get("/api/v1/namespaces/default/pods").json()["metadata"]["resourceVersion"]
            thread = threading.Thread(target=watch, daemon=True)
            thread.start()
            ready.wait(10)
            started = time.perf_counter()
            for i in range(count):
                sent[f"bench-{i}"] = time.perf_counter()
                response = http.post("/api/v1/namespaces/default/pods", json=pod(i))
                response.raise_for_status()
            creates = count / (time.perf_counter() - started)
            thread.join(60)
            gets = []
            for i in range(count):
                t0 = time.perf_counter()
                http.get(f"/api/v1/namespaces/default/pods/bench-{i}").raise_for_status()
                gets.append(time.perf_counter() - t0)
        return {"creates_per_s": creates, "get_p50": percentile(gets, 50), "get_p99": percentile(gets, 99),
                "watch_p99": percentile(delays, 99) if len(delays) == count else float("nan")}
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        bare = bench_store(args.pods, Path(tmp))
        api = bench_api(args.pods, Path(tmp))
    print(f"dockyard API benchmark, {args.pods} pods (sequential client, HTTPS, SQLite synchronous=FULL)")
    print(f"{'':24}{'API':>12}{'bare SQLite':>14}{'ratio':>9}")
    rows = [("creates/s", "creates_per_s", 1, "{:.0f}"), ("GET p50 (ms)", "get_p50", 1000, "{:.2f}"),
            ("GET p99 (ms)", "get_p99", 1000, "{:.2f}"), ("watch delivery p99 (ms)", "watch_p99", 1000, "{:.2f}")]
    for label, key, scale, fmt in rows:
        a, b = api[key] * scale, bare[key] * scale
        ratio = (b / a) if key == "creates_per_s" else (a / b)
        print(f"{label:24}{fmt.format(a):>12}{fmt.format(b):>14}{ratio:>8.1f}x")
    print("(ratio: how many times slower the API is than the bare store for the same operation)")


if __name__ == "__main__":
    main()
