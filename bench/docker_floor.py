"""The floor dockyard's node agent is measured against: pods made with bare docker-py.

A pod here is what the agent makes of one, minus the orchestration: a pause container on a
user-defined bridge network with ``ipc_mode="shareable"``, and the app container joining its
network and IPC namespaces (``network_mode``/``ipc_mode`` ``container:<pause id>``), both with
Docker restart policy ``no``. :mod:`bench.pods` times 30 such sandboxes made sequentially and with
8 threads, their graceful deletion, and two crash-to-restart floors, beside the same work done
through the orchestrator in the same run.

Every object carries the label ``dockyard.bench.run=<run id>``; :meth:`Baseline.remove_everything`
removes exactly those and nothing else.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import docker
from docker.errors import NotFound

IMAGE = "alicek106/rr-test:echo-hostname"
PAUSE_IMAGE = "dockyard/pause:1.0"
THREADS = 8
FLOOR_RUN = 0.2    # the floors' container needs no long life: only exit-to-start is measured
BENCH_LABEL = "dockyard.bench.run"  # marks the baseline's objects with the run id
CLEANUP_SETTLE = 1.0  # seconds for an interrupted create to land before cleanup looks (again)
CLEANUP_LOOKS = 10


def docker_time(value: str) -> datetime:
    return datetime.fromisoformat(value)  # 3.11 reads Docker's RFC 3339 nanoseconds (to the µs)


class Baseline:
    """Sandboxes made with bare docker-py, the agent's way, every object labelled with the run id."""

    def __init__(self, client: docker.DockerClient, run: str) -> None:
        self.client, self.run = client, run
        self.labels = {BENCH_LABEL: run}
        self.network = f"dybench-{run}"

    def create_network(self) -> None:
        self.client.networks.create(self.network, driver="bridge", labels=self.labels)

    def sandbox(self, name: str):
        pause = self.client.containers.create(
            PAUSE_IMAGE, name=f"dybench-{self.run}-{name}-pause", hostname=name, labels=self.labels,
            detach=True, network=self.network, ipc_mode="shareable", restart_policy={"Name": "no"})
        pause.start()
        return pause

    def member(self, pause, name: str, command: list[str] | None = None):
        member = self.client.containers.create(
            IMAGE, command, name=f"dybench-{self.run}-{name}", labels=self.labels, detach=True,
            network_mode=f"container:{pause.id}", ipc_mode=f"container:{pause.id}",
            restart_policy={"Name": "no"}, log_config={"Type": "json-file"})
        member.start()
        return member

    def pair(self, name: str) -> tuple:
        pause = self.sandbox(name)
        return pause, self.member(pause, f"{name}-app")

    @staticmethod
    def discard(pair: tuple) -> None:
        for container in reversed(pair):
            container.remove(force=True)

    @staticmethod
    def delete(pair: tuple) -> None:
        pause, app = pair
        app.stop(timeout=1)
        app.remove(v=True)
        pause.remove(force=True)

    def remove_everything(self) -> None:
        """Every container and network carrying this run's label; nothing else.

        A create request cut short by Ctrl-C is still carried out by Docker, possibly after a
        first look found nothing: so look again, a moment later, until a look finds nothing.
        """
        selector = {"label": [f"{BENCH_LABEL}={self.run}"]}
        for _ in range(CLEANUP_LOOKS):
            time.sleep(CLEANUP_SETTLE)
            found = self.client.containers.list(all=True, filters=selector)
            if not found:
                break
            for container in found:
                try:
                    container.remove(force=True, v=True)
                except NotFound:
                    pass
        for network in self.client.networks.list(filters=selector):
            network.remove()


def in_parallel(work, items, workers: int) -> list:
    pool = ThreadPoolExecutor(workers)
    try:
        return list(pool.map(work, items))
    finally:  # on Ctrl-C: nothing new starts, and cleanup waits for what is in flight
        pool.shutdown(wait=True, cancel_futures=True)


def bench_baseline(base: Baseline, count: int) -> dict:
    base.create_network()
    started = time.perf_counter()
    pairs = [base.pair(f"seq-{i}") for i in range(count)]
    result = {"sequential": time.perf_counter() - started}
    in_parallel(Baseline.discard, pairs, THREADS)
    started = time.perf_counter()
    pairs = in_parallel(base.pair, [f"par-{i}" for i in range(count)], THREADS)
    result["threads"] = time.perf_counter() - started
    started = time.perf_counter()
    in_parallel(Baseline.delete, pairs, THREADS)
    result["delete"] = time.perf_counter() - started
    return result


def floor_same_container(base: Baseline, samples: int) -> list[float]:
    """``docker start`` of the exited container itself, from its exit (FinishedAt survives a start)."""
    container = base.client.containers.run(
        IMAGE, ["sh", "-c", f"sleep {FLOOR_RUN:g}; exit 1"], name=f"dybench-{base.run}-floor-start",
        labels=base.labels, detach=True, network=base.network, restart_policy={"Name": "no"})
    latencies = []
    for _ in range(samples):
        container.wait()
        base.client.api.start(container.id)
        state = base.client.api.inspect_container(container.id)["State"]
        latencies.append((docker_time(state["StartedAt"]) - docker_time(state["FinishedAt"])).total_seconds())
    return latencies


def floor_new_container(base: Baseline, samples: int) -> list[float]:
    """A fresh container in the same sandbox after each exit: what the agent and the kubelet do."""
    pause = base.sandbox("floor-new")
    command = ["sh", "-c", f"sleep {FLOOR_RUN:g}; exit 1"]
    current = base.member(pause, "floor-new-0", command)
    latencies = []
    for attempt in range(1, samples + 1):
        current.wait()
        following = base.member(pause, f"floor-new-{attempt}", command)
        exited = base.client.api.inspect_container(current.id)["State"]["FinishedAt"]
        began = base.client.api.inspect_container(following.id)["State"]["StartedAt"]
        latencies.append((docker_time(began) - docker_time(exited)).total_seconds())
        current.remove(force=True)
        current = following
    return latencies
