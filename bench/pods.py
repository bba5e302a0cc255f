"""Node agent benchmark: 30 pods through dockyard against 30 pause+app pairs through bare docker-py.

Method. One run stands up a real one-node cluster exactly as users do (``dockyard up`` on a
temporary state dir, a free port and a run-unique cluster name) and measures, on the same machine
and in the same minutes:

* **start**: 30 one-container pods posted over HTTPS as fast as one client can, timed until the
  API's watch shows every one Running with its container ready; beside it the same 30 sandboxes
  made with bare docker-py the way the agent makes them (:mod:`bench.docker_floor`), once
  sequentially and once with 8 threads, each timed until every container runs;
* **delete**: the 30 pods deleted through the API (grace period 1 s), timed until they are gone
  from the API *and* from Docker; beside it the 30 pairs stopped (1 s) and removed by 8 threads;
* **crash → restart**: pods whose container runs ``sleep 1; exit 1`` under restartPolicy Always.
  The back-off is taken out of the picture (see ``KNOBS``) so every restart should be immediate;
  the latency is Docker's own ``State.FinishedAt`` of attempt n to ``State.StartedAt`` of attempt
  n+1 (the ``restart-count`` label numbers the attempts; the agent keeps the newest two, so the
  bench polls ``docker inspect`` every 100 ms to catch each pair); the next attempt's
  ``Created`` splits it into the agent's own reaction and Docker's create+start. Two floors are
  measured the same way: what the agent (like the kubelet) really does, creating and starting a
  fresh container in the still-running sandbox, and ``docker start`` of the exited container
  itself, which is slower here because Docker sets its network up again (a sandbox member has
  none of its own), so the ratio is taken against the first;
* **memory**: VmRSS of the agent and the API server with 0 and 30 pods, and their peak (VmHWM).

On a noisy 2-core machine the absolute numbers wander from run to run; the ratios against the
docker-py floor measured in the same run are what to compare. Everything the bench makes is
removed at the end, on Ctrl-C too: the cluster by ``dockyard down --purge`` (then by its uid
label as a last resort), the docker-py containers and network by a run-unique label.

    .venv/bin/python bench/pods.py [--pods 30] [--crash-samples 60]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import docker
import httpx
from docker.errors import APIError, NotFound

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agent import labels  # noqa: E402
from bench.api import percentile  # noqa: E402
from bench.interrupts import shield_cleanup, sigterm_interrupts  # noqa: E402
from bench.docker_floor import (  # noqa: E402
    IMAGE, THREADS, Baseline, bench_baseline, docker_time, floor_new_container, floor_same_container,
)
from orchestrator.cli.lifecycle.processes import SERVER, agent_process, records  # noqa: E402
from tests.support.cluster import LocalCluster  # noqa: E402

CRASH_PODS = 5
CRASH_RUN = 1.0    # seconds a crashing container lives
FLOOR_SAMPLES = 30
POLL = 0.1

# The CLI refuses --backoff-initial 0, so the back-off is taken away the other way round: a
# container that ran at least --backoff-reset seconds counts as having run cleanly, and its restart
# is the "first restart, at once" of the kubelet's curve, with exactly 0 s of delay. The crashing
# containers run CRASH_RUN seconds, twice that. Other durations keep their production defaults so
# the agent does no more background work than a real node does.
KNOBS = ("--backoff-reset", str(CRASH_RUN / 2))


def pod(name: str, run: str, role: str, command: list[str] | None = None) -> dict:
    container: dict = {"name": "app", "image": IMAGE}
    if command:
        container["command"] = command
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": {"bench": run, "role": role}},
            "spec": {"containers": [container], "terminationGracePeriodSeconds": 1}}


def running_and_ready(pod: dict) -> bool:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    return status.get("phase") == "Running" and bool(statuses) and all(s.get("ready") for s in statuses)


class PodWatch:
    """The pods of one label selector as the API's watch streams them, to wait on a condition."""

    def __init__(self, cluster: LocalCluster, selector: str) -> None:
        self._http = httpx.Client(base_url=cluster.url, verify=cluster.ssl_context(),
                                  headers={"Authorization": f"Bearer {cluster.token()}"},
                                  timeout=httpx.Timeout(30, read=None))
        self._selector = selector
        self._changed = threading.Condition()
        self._closing = False
        self._error: str | None = None
        self.pods: dict[str, dict] = {}

    def __enter__(self) -> PodWatch:
        listing = self._http.get("/api/v1/namespaces/default/pods", params={"labelSelector": self._selector})
        listing.raise_for_status()
        self.pods = {p["metadata"]["name"]: p for p in listing.json()["items"]}
        threading.Thread(target=self._follow, args=(listing.json()["metadata"]["resourceVersion"],),
                         daemon=True, name="pod-watch").start()
        return self

    def __exit__(self, *exc) -> None:
        self._closing = True
        self._http.close()

    def _follow(self, revision: str) -> None:
        params = {"watch": "true", "resourceVersion": revision, "labelSelector": self._selector}
        try:
            with self._http.stream("GET", "/api/v1/namespaces/default/pods", params=params) as stream:
                for line in stream.iter_lines():
                    if line:
                        self._apply(json.loads(line))
            problem = "the API server ended the watch"
        except (httpx.HTTPError, ValueError) as error:
            problem = f"the watch broke: {error}"
        if not self._closing:
            with self._changed:
                self._error = problem
                self._changed.notify_all()

    def _apply(self, event: dict) -> None:
        if event["type"] == "ERROR":
            raise ValueError(event["object"].get("message", event))
        name = event["object"]["metadata"]["name"]
        with self._changed:
            if event["type"] == "DELETED":
                self.pods.pop(name, None)
            else:
                self.pods[name] = event["object"]
            self._changed.notify_all()

    def wait_until(self, condition, what: str, timeout: float) -> float:
        """``time.perf_counter()`` when ``condition(pods)`` first holds; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition(self.pods):
                remaining = deadline - time.monotonic()
                if self._error or remaining <= 0:
                    phases: dict[str, int] = {}
                    for p in self.pods.values():
                        phase = (p.get("status") or {}).get("phase", "no status")
                        phases[phase] = phases.get(phase, 0) + 1
                    raise TimeoutError(f"{self._error or f'{timeout:.0f} s passed'} before {what}; pods now: "
                                       f"{phases or 'none'}. The cluster's logs, printed above, say why.")
                self._changed.wait(remaining)
        return time.perf_counter()


# -- the orchestrator ------------------------------------------------------------------------------

def memory_mib(cluster: LocalCluster, process: str) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of one of the cluster's processes, in MiB."""
    record = next(r for r in records(cluster.state) if r.name == process)
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{record.pid}/status").read_text().splitlines())
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


def bench_dockyard(cluster: LocalCluster, client: docker.DockerClient, run: str, count: int) -> dict:
    agent = agent_process(cluster.node_names[0])
    result = {"rss_idle": memory_mib(cluster, agent)["VmRSS"], "server_idle": memory_mib(cluster, SERVER)["VmRSS"]}
    names = [f"bench-{i}" for i in range(count)]
    with cluster.client() as http, PodWatch(cluster, f"bench={run},role=start") as watch:
        started = time.perf_counter()
        for name in names:
            http.post("/api/v1/namespaces/default/pods", json=pod(name, run, "start")).raise_for_status()
        result["posted"] = time.perf_counter() - started
        done = watch.wait_until(lambda pods: len(pods) == count and all(map(running_and_ready, pods.values())),
                                f"all {count} pods were Running and ready", timeout=30 + 2 * count)
        result["start"] = done - started
        result["rss_busy"] = memory_mib(cluster, agent)["VmRSS"]
        result["server_busy"] = memory_mib(cluster, SERVER)["VmRSS"]

        started = time.perf_counter()
        for name in names:
            http.delete(f"/api/v1/namespaces/default/pods/{name}").raise_for_status()
        gone = watch.wait_until(lambda pods: not pods, f"all {count} pods were gone from the API", 30 + count)
        result["delete_api"] = gone - started
        owned = labels.cluster_filter(cluster.uid)
        while client.api.containers(all=True, filters=owned):  # no per-container inspect: no 404 race
            if time.perf_counter() - gone > 30:
                raise TimeoutError("the pods left the API but their containers are still in Docker after 30 s; "
                               "the cluster's logs, printed above, say why")
            time.sleep(POLL / 2)
        result["delete"] = time.perf_counter() - started
    return result


def crash_latencies(cluster: LocalCluster, client: docker.DockerClient, run: str,
                    wanted: int) -> tuple[list[float], list[float]]:
    """Seconds from a crash to the next attempt's start, and to its creation (the agent's own share
    of the latency; the rest is Docker's create and start), from Docker's timestamps."""
    with cluster.client() as http:
        for i in range(CRASH_PODS):
            manifest = pod(f"crash-{i}", run, "crash", ["sh", "-c", f"sleep {CRASH_RUN:g}; exit 1"])
            http.post("/api/v1/namespaces/default/pods", json=manifest).raise_for_status()
    filters = {"label": [f"{labels.CLUSTER}={cluster.uid}", f"{labels.ROLE}=app"]}
    created: dict[tuple[str, int], datetime] = {}   # (pod uid, attempt) -> Created
    started: dict[tuple[str, int], datetime] = {}   # (pod uid, attempt) -> StartedAt
    finished: dict[tuple[str, int], datetime] = {}  # (pod uid, attempt) -> FinishedAt
    seen: dict[str, str] = {}                       # container id -> state we last inspected it in
    deadline = time.monotonic() + 60 + wanted * (CRASH_RUN + 1) / CRASH_PODS * 3
    samples: list[float] = []
    while len(samples) < wanted:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(samples)} of {wanted} restarts seen; is the agent restarting "
                               "crashed containers? The cluster's logs, printed above, say why.")
        for summary in client.api.containers(all=True, filters=filters):
            if seen.get(summary["Id"]) == summary["State"]:
                continue  # inspect a container only when it is new or its state moved on
            try:
                attrs = client.api.inspect_container(summary["Id"])
            except NotFound:
                continue
            seen[summary["Id"]] = summary["State"]
            key = (attrs["Config"]["Labels"][labels.POD_UID], int(attrs["Config"]["Labels"][labels.RESTART_COUNT]))
            created[key] = docker_time(attrs["Created"])
            state = attrs["State"]
            if not state["StartedAt"].startswith("0001-"):
                started[key] = docker_time(state["StartedAt"])
            if state["Status"] == "exited":
                finished[key] = docker_time(state["FinishedAt"])
        samples = [(started[(uid, n + 1)] - at).total_seconds()
                   for (uid, n), at in finished.items() if (uid, n + 1) in started]
        time.sleep(POLL)
    reactions = [(created[(uid, n + 1)] - at).total_seconds()
                 for (uid, n), at in finished.items() if (uid, n + 1) in started]
    return samples, reactions


# -- the run -----------------------------------------------------------------------------------------

def measure(cluster: LocalCluster, client: docker.DockerClient, base: Baseline, run: str, args) -> dict:
    began = time.monotonic()

    def step(what: str) -> None:  # a run takes minutes: say where it is
        print(f"[{time.monotonic() - began:5.1f} s] {what}", file=sys.stderr, flush=True)

    step(f"dockyard up --nodes 1 (cluster {cluster.name})")
    cluster.up()
    step(f"{args.pods} pods through dockyard")
    results = {"dockyard": bench_dockyard(cluster, client, run, args.pods)}
    step(f"{args.pods} pause+app pairs through docker-py")
    results["docker"] = bench_baseline(base, args.pods)
    step("restart floors with docker-py")
    results["floor_start"] = floor_same_container(base, FLOOR_SAMPLES)
    results["floor_new"] = floor_new_container(base, FLOOR_SAMPLES)
    step(f"crash-looping pods until {args.crash_samples} restarts")
    results["crash"] = crash_latencies(cluster, client, run, args.crash_samples)
    step("done")
    results["agent_peak"] = memory_mib(cluster, agent_process(cluster.node_names[0]))["VmHWM"]
    results["server_peak"] = memory_mib(cluster, SERVER)["VmHWM"]
    return results


def report(r: dict, pods: int) -> None:
    d, b = r["dockyard"], r["docker"]
    print(f"dockyard node agent benchmark: {pods} pods, 1 node, {IMAGE}, {os.cpu_count()} CPUs")
    print(f"{'':44}{'seconds':>9}{'pods/s':>9}{'vs seq':>9}{'vs 8 thr':>10}")
    rows = [("start: dockyard (POST → Running+ready)", d["start"]),
            ("start: docker-py, sequential", b["sequential"]),
            (f"start: docker-py, {THREADS} threads", b["threads"])]
    for label, seconds in rows:
        print(f"{label:44}{seconds:>9.2f}{pods / seconds:>9.1f}{seconds / b['sequential']:>8.2f}x"
              f"{seconds / b['threads']:>9.2f}x")
    print(f"{'  (of which posting the pods)':44}{d['posted']:>9.2f}")
    print(f"{'delete: dockyard (gone from API and Docker)':44}{d['delete']:>9.2f}{pods / d['delete']:>9.1f}"
          f"{'':>9}{d['delete'] / b['delete']:>9.2f}x")
    print(f"{'  (of which until gone from the API)':44}{d['delete_api']:>9.2f}")
    print(f"{f'delete: docker-py stop 1 s + rm, {THREADS} threads':44}{b['delete']:>9.2f}"
          f"{pods / b['delete']:>9.1f}{'':>9}{1:>9.2f}x")
    print()
    print(f"{'crash → restart (ms, Docker timestamps)':44}{'p50':>9}{'p99':>9}{'max':>9}{'samples':>10}")
    floor = percentile(r["floor_new"], 50)
    crash, reaction = r["crash"]
    for label, samples in (("dockyard agent (new container, no back-off)", crash),
                           ("  of which exit → next container created", reaction),
                           ("floor: docker create+start in the sandbox", r["floor_new"]),
                           ("floor: docker start of the same container", r["floor_start"])):
        print(f"{label:44}{percentile(samples, 50) * 1000:>9.0f}{percentile(samples, 99) * 1000:>9.0f}"
              f"{max(samples) * 1000:>9.0f}{len(samples):>10}")
    print(f"{'  agent p50 / create+start floor p50':44}{percentile(crash, 50) / floor:>8.1f}x")
    print()
    print(f"{'memory (RSS, MiB)':44}{'0 pods':>9}{f'{pods} pods':>9}{'peak':>9}")
    print(f"{'node agent':44}{d['rss_idle']:>9.1f}{d['rss_busy']:>9.1f}{r['agent_peak']:>9.1f}")
    print(f"{'API server':44}{d['server_idle']:>9.1f}{d['server_busy']:>9.1f}{r['server_peak']:>9.1f}")
    print("(vs: how many times the docker-py time it took; peak is VmHWM over the whole run)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=30)
    parser.add_argument("--crash-samples", type=int, default=60)
    args = parser.parse_args()
    sigterm_interrupts()
    run = uuid.uuid4().hex[:8]
    client = docker.from_env()
    try:
        with tempfile.TemporaryDirectory(prefix="dockyard-bench-pods-") as tmp:
            cluster = LocalCluster(Path(tmp) / "state", nodes=1, name=f"bench-{run}", extra_args=KNOBS)
            base = Baseline(client, run)
            try:
                results = measure(cluster, client, base, run, args)
            except (TimeoutError, APIError, httpx.HTTPError):
                print(cluster.logs(), file=sys.stderr)  # the state dir goes with the teardown
                raise
            finally:
                shield_cleanup()
                print("removing the benchmark's cluster and containers…", file=sys.stderr)
                try:
                    base.remove_everything()
                finally:
                    cluster.teardown()
    except KeyboardInterrupt:
        print("interrupted; the benchmark's cluster and containers have been removed", file=sys.stderr)
        return 130
    except (TimeoutError, APIError, httpx.HTTPError, AssertionError) as error:  # Assertion: `up` failed
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    report(results, args.pods)
    return 0


if __name__ == "__main__":
    sys.exit(main())
