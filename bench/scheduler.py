"""Scheduler benchmark: placements/s on 100 simulated nodes, and a 30-replica rollout on 3 agents.

Method. Two parts, each beside a baseline measured in the same run, because on a noisy 2-core
machine the ratios are what to compare, not the absolute numbers.

* **in-process** (no Docker, no HTTP): 100 Ready nodes of 4 CPU / 16Gi / 110 pods (a third per
  zone, a fifth labelled ``disktype=ssd``, five tainted ``dedicated=batch:NoSchedule``) and 5,000
  pending pods (half owned by five real ReplicaSets, the rest in 50 identically labelled groups,
  so spreading has work to do; four in ten without requests, the rest 50m–200m / 64–256Mi; some
  with a node selector, a toleration or a host port) are created through :class:`ObjectAPI` on
  the in-memory store. Then, timed:

  - *decisions*: the pure path alone — one snapshot of the listed nodes and pods, then for each
    pending pod in queue order :func:`~orchestrator.scheduler.plan.decide`, the explanation and
    annotation it would write, and the pod added to its node — no writes;
  - *scheduler pass*: the real :meth:`Scheduler.schedule_pending`, which the control plane runs
    for a backlog: reads its informer caches (listed before the clock starts, as a running
    control plane keeps them current), decides, binds through ``pods/NAME/binding`` on the
    in-process client and records its ``Scheduled`` and ``NodeScores`` Events (three writes per
    pod). Its placements must equal the pure path's (same rng seed), which checks both did the
    same work;
  - *round-robin binder*, the baseline: the same list, the same queue order and the same
    ``bind`` through the same ObjectAPI, to node ``i mod 100`` with no filtering, scoring,
    annotation or Events — the bare write path, so the pass's ratio is what deciding, explaining
    and recording Events cost on top of it.

  The scheduler pass and the round-robin binder run again on the SQLite store (a temp file,
  ``synchronous=FULL`` as the server runs it), where every write waits for the disk.
* **real**: ``dockyard up --nodes 3`` (production durations) and a 30-replica Deployment of the
  echo-hostname image POSTed over HTTPS, timed until ``status.availableReplicas`` is 30 (polled
  every 100 ms): Deployment → ReplicaSet → 30 pods → scheduler → 3 agents → 60 containers →
  readiness → ReplicaSet and Deployment status. Beside it the floor: 30 pause+app pairs made with
  bare docker-py by 8 threads (:mod:`bench.docker_floor`), timed until every container runs, after
  the Deployment's containers are gone, so both run beside an otherwise idle cluster.

Everything is removed at the end, on Ctrl-C too: the temp stores with their directory, the cluster
by ``dockyard down --purge`` (then by its uid label as a last resort), the docker-py containers
and network by a run-unique label.

    .venv/bin/python bench/scheduler.py [--nodes 100] [--pods 5000] [--replicas 30] [--part both|in-process|real]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import docker
import httpx
from docker.errors import APIError

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agent import labels  # noqa: E402
from bench.docker_floor import IMAGE, THREADS, Baseline, in_parallel  # noqa: E402
from bench.interrupts import shield_cleanup, sigterm_interrupts  # noqa: E402
from orchestrator.api.registry import kind_for  # noqa: E402
from orchestrator.apiserver.binding import bind  # noqa: E402
from orchestrator.apiserver.objects import ObjectAPI  # noqa: E402
from orchestrator.client.informer import Informers  # noqa: E402
from orchestrator.controlplane.localclient import LocalClient  # noqa: E402
from orchestrator.scheduler.plan import Placement, binding_for, decide, explain, scores_annotation  # noqa: E402
from orchestrator.scheduler.scheduler import Scheduler, is_pending, queue_order  # noqa: E402
from orchestrator.scheduler.snapshot import PodInfo, build_snapshot  # noqa: E402
from orchestrator.store import MemoryStore, SQLiteStore  # noqa: E402
from tests.support.cluster import LocalCluster  # noqa: E402

NS, NODE, POD, RS = (kind_for("v1", "Namespace"), kind_for("v1", "Node"), kind_for("v1", "Pod"),
                     kind_for("apps/v1", "ReplicaSet"))
SEED = 4            # the scheduler's tie-break rng: the pure path and the pass must draw alike
REPLICASETS = 5
LABEL_GROUPS = 50
TAINT = {"key": "dedicated", "value": "batch", "effect": "NoSchedule"}
#: requests by pod index mod 10: four in ten best-effort, then small, medium, large
REQUESTS = [None] * 4 + [("50m", "64Mi")] * 3 + [("100m", "128Mi")] * 2 + [("200m", "256Mi")]
POLL = 0.1


# -- the simulated cluster ------------------------------------------------------------------------

def node(index: int) -> dict:
    name = f"node-{index:03d}"
    resources = {"cpu": "4", "memory": "16Gi", "pods": "110"}
    node_labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                   "topology.kubernetes.io/zone": f"zone-{index % 3}"}
    if index % 5 == 0:
        node_labels["disktype"] = "ssd"
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": node_labels},
            "spec": {"taints": [TAINT] if index % 20 == 19 else []},
            "status": {"capacity": resources, "allocatable": resources,
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "Hostname", "address": name}]}}


def replicaset(index: int) -> dict:
    name = f"web-{index}"
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": IMAGE}]}}}}


def pod(index: int, owners: list[dict]) -> dict:
    container: dict = {"name": "app", "image": IMAGE}
    if REQUESTS[index % 10]:
        cpu, memory = REQUESTS[index % 10]
        container["resources"] = {"requests": {"cpu": cpu, "memory": memory}}
    if index % 100 == 3:
        container["ports"] = [{"containerPort": 80, "hostPort": 9100}]
    spec: dict = {"containers": [container]}
    if index % 25 == 0:
        spec["nodeSelector"] = {"disktype": "ssd"}
    if index % 100 == 1:
        spec["tolerations"] = [{"key": TAINT["key"], "operator": "Exists", "effect": TAINT["effect"]}]
    meta: dict = {"name": f"pod-{index:05d}", "namespace": "default"}
    if index % 2 == 0:
        owner = owners[index // 2 % len(owners)]["metadata"]
        meta["labels"] = {"app": owner["name"]}
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner["name"],
                                    "uid": owner["uid"], "controller": True, "blockOwnerDeletion": True}]
    else:
        meta["labels"] = {"app": f"group-{index % LABEL_GROUPS}"}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def seeded(store, nodes: int, pods: int) -> ObjectAPI:
    """An ObjectAPI on ``store`` holding the simulated nodes and pending pods."""
    api = ObjectAPI(store)
    api.create(NS, None, {"metadata": {"name": "default"}})
    for index in range(nodes):
        api.create(NODE, None, node(index))
    owners = [api.create(RS, "default", replicaset(i)).object for i in range(REPLICASETS)]
    for index in range(pods):
        api.create(POD, "default", pod(index, owners))
    return api


# -- the three ways of placing the backlog -----------------------------------------------------------

def pure_decisions(api: ObjectAPI) -> tuple[float, dict[str, str]]:
    """Seconds for snapshot → decide → explain of every pending pod, and where each went."""
    nodes, pods = api.list(NODE, None)[0], api.list(POD, None)[0]
    rng = random.Random(SEED)
    started = time.perf_counter()
    snapshot = build_snapshot(nodes, pods)
    placed = {}
    for pending in sorted(filter(is_pending, pods), key=queue_order):
        info = PodInfo.of(pending)
        decision = decide(info, snapshot, rng)
        if isinstance(decision, Placement):
            scores_annotation(decision)  # the pass writes both: their cost belongs to deciding
            explain(decision)
            snapshot[decision.node].add(info)
            placed[info.name] = decision.node
    return time.perf_counter() - started, placed


def scheduler_pass(api: ObjectAPI) -> float:
    client = LocalClient(api)
    informers = Informers(client)
    scheduler = Scheduler(client, informers, rng=random.Random(SEED))
    informers.pump()
    started = time.perf_counter()
    scheduler.schedule_pending()
    return time.perf_counter() - started


def round_robin(api: ObjectAPI) -> float:
    started = time.perf_counter()
    names = [n["metadata"]["name"] for n in api.list(NODE, None)[0]]
    for index, pending in enumerate(sorted(filter(is_pending, api.list(POD, None)[0]), key=queue_order)):
        bind(api, "default", pending["metadata"]["name"], binding_for(pending, names[index % len(names)]))
    return time.perf_counter() - started


def placements(api: ObjectAPI) -> dict[str, str]:
    return {p["metadata"]["name"]: p["spec"]["nodeName"] for p in api.list(POD, None)[0]
            if p["spec"].get("nodeName")}


def bench_in_process(args, workdir: Path, step) -> dict:
    results: dict = {}
    step(f"seeding {args.nodes} nodes and {args.pods} pods in memory")
    api = seeded(MemoryStore(), args.nodes, args.pods)
    step("pure decisions")
    results["pure"], planned = pure_decisions(api)
    step("scheduler pass, memory store")
    results["memory"] = scheduler_pass(api)
    bound = placements(api)
    results["agree"] = bound == planned
    results["placed"] = len(bound)
    per_node = Counter(bound.values())
    results["spread"] = (min(per_node.values()), max(per_node.values()))
    step("round-robin binder, memory store")
    results["memory_rr"] = round_robin(seeded(MemoryStore(), args.nodes, args.pods))
    for key, what, place in (("sqlite", "scheduler pass", scheduler_pass),
                             ("sqlite_rr", "round-robin binder", round_robin)):
        step(f"seeding and {what}, SQLite store")
        store = SQLiteStore(workdir / f"{key}.db")
        try:
            api = seeded(store, args.nodes, args.pods)
            results[key] = place(api)
            placed = len(placements(api))
        finally:
            store.close()
        if placed != args.pods:
            raise AssertionError(f"the {what} on SQLite placed {placed} of {args.pods} pods")
    return results


# -- the real cluster -------------------------------------------------------------------------------

def deployment(name: str, run: str, replicas: int) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"bench": run}},
                     "template": {"metadata": {"labels": {"bench": run}},
                                  "spec": {"containers": [{"name": "app", "image": IMAGE}],
                                           "terminationGracePeriodSeconds": 1}}}}


def bench_rollout(cluster: LocalCluster, client: docker.DockerClient, run: str, replicas: int) -> dict:
    path = "/apis/apps/v1/namespaces/default/deployments"
    name = f"bench-{run}"
    with cluster.client() as http:
        started = time.perf_counter()
        http.post(path, json=deployment(name, run, replicas)).raise_for_status()
        deadline = started + 60 + 3 * replicas
        while True:
            status = http.get(f"{path}/{name}").raise_for_status().json().get("status") or {}
            if status.get("availableReplicas") == replicas:
                break
            if time.perf_counter() > deadline:
                raise TimeoutError(f"the Deployment had {status.get('availableReplicas', 0)} of {replicas} "
                                   "replicas available when the time ran out; the cluster's logs, printed "
                                   "above, say why")
            time.sleep(POLL)
        available = time.perf_counter() - started
        # the floor runs on an idle cluster, as the rollout ran on one
        http.delete(f"{path}/{name}").raise_for_status()
    owned = labels.cluster_filter(cluster.uid)
    gone_by = time.monotonic() + 60
    while client.api.containers(all=True, filters=owned):  # a bare listing: no inspect of the vanishing
        if time.monotonic() > gone_by:
            raise TimeoutError("the Deployment was deleted but its containers are still in Docker after 60 s; "
                               "the cluster's logs, printed above, say why")
        time.sleep(POLL)
    return {"available": available}


def floor(base: Baseline, count: int) -> float:
    base.create_network()
    started = time.perf_counter()
    pairs = in_parallel(base.pair, [f"par-{i}" for i in range(count)], THREADS)
    elapsed = time.perf_counter() - started
    in_parallel(Baseline.discard, pairs, THREADS)
    return elapsed


def bench_real(args, workdir: Path, run: str, step) -> dict:
    client = docker.from_env()
    cluster = LocalCluster(workdir / "state", nodes=3, name=f"bench-{run}", extra_args=())
    base = Baseline(client, run)
    try:
        step(f"dockyard up --nodes 3 (cluster {cluster.name})")
        cluster.up()
        step(f"{args.replicas}-replica Deployment until available")
        results = bench_rollout(cluster, client, run, args.replicas)
        step(f"{args.replicas} pause+app pairs through docker-py, {THREADS} threads")
        results["floor"] = floor(base, args.replicas)
        return results
    except (TimeoutError, APIError, httpx.HTTPError):
        print(cluster.logs(), file=sys.stderr)  # the state dir goes with the teardown
        raise
    finally:
        shield_cleanup()
        step("removing the benchmark's cluster and containers")
        try:
            base.remove_everything()
        finally:
            cluster.teardown()


# -- the run ------------------------------------------------------------------------------------------

def report_in_process(args, r: dict) -> None:
    print(f"dockyard scheduler benchmark: {args.pods} pods on {args.nodes} simulated nodes, in-process, "
          f"{os.cpu_count()} CPUs")
    print(f"{'':46}{'seconds':>9}{'pods/s':>9}{'vs round-robin':>16}")
    rows = [("decisions only (snapshot → plan, no writes)", r["pure"], r["memory_rr"]),
            ("scheduler pass, memory store", r["memory"], r["memory_rr"]),
            ("round-robin binder, memory store", r["memory_rr"], r["memory_rr"]),
            ("scheduler pass, SQLite store", r["sqlite"], r["sqlite_rr"]),
            ("round-robin binder, SQLite store", r["sqlite_rr"], r["sqlite_rr"])]
    for label, seconds, baseline in rows:
        print(f"{label:46}{seconds:>9.2f}{args.pods / seconds:>9.0f}{seconds / baseline:>15.2f}x")
    low, high = r["spread"]
    print(f"(placed {r['placed']}/{args.pods}, {low}–{high} pods per node; the pass made the pure path's "
          f"placements: {'yes' if r['agree'] else 'NO'}; vs: how many times the round-robin binder's time "
          "on the same store)")


def report_real(args, r: dict) -> None:
    print(f"dockyard rollout benchmark: a {args.replicas}-replica Deployment of {IMAGE} on 3 agents, "
          f"{os.cpu_count()} CPUs")
    print(f"{'':46}{'seconds':>9}{'pods/s':>9}{'vs floor':>16}")
    for label, seconds in (("dockyard: POST → availableReplicas", r["available"]),
                           (f"floor: docker-py pause+app, {THREADS} threads", r["floor"])):
        print(f"{label:46}{seconds:>9.2f}{args.replicas / seconds:>9.1f}{seconds / r['floor']:>15.2f}x")
    print("(vs floor: how many times the docker-py time it took)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--replicas", type=int, default=30)
    parser.add_argument("--part", choices=("both", "in-process", "real"), default="both",
                        help="in-process needs no Docker; real is the Deployment beside its floor")
    args = parser.parse_args()
    sigterm_interrupts()
    run = uuid.uuid4().hex[:8]
    began = time.monotonic()

    def step(what: str) -> None:  # a run takes minutes: say where it is
        print(f"[{time.monotonic() - began:5.1f} s] {what}", file=sys.stderr, flush=True)

    try:
        with tempfile.TemporaryDirectory(prefix="dockyard-bench-scheduler-") as tmp:
            results = bench_in_process(args, Path(tmp), step) if args.part != "real" else {}
            if args.part != "in-process":
                results |= bench_real(args, Path(tmp), run, step)
    except KeyboardInterrupt:
        print("interrupted; the benchmark's stores, cluster and containers have been removed", file=sys.stderr)
        return 130
    except (TimeoutError, APIError, httpx.HTTPError, AssertionError) as error:  # Assertion: `up` failed
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    if args.part != "real":
        report_in_process(args, results)
    if args.part == "both":
        print()
    if args.part != "in-process":
        report_real(args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
