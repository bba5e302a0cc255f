"""Each fault of a chaos schedule, played on the run's machines, with what it measures.

A fault is done the way it happens to real machines, or the way an operator does it: ``kill -9``
and a restart with the same state (the control plane, an agent), ``dockerd`` stopped and started
(``systemctl restart docker``), a cable pulled (:meth:`~tests.support.lan.Lan.unplug`: the switch's
port goes down inside the LAN's namespace; the host's own links and rules are never touched),
``kubectl drain`` / ``uncordon``, ``kubectl rollout restart``. :func:`play` returns once the fault
is over (the killed process is back, the machine reconnected); the run then waits for the app to
recover (:meth:`~tests.support.chaos_cluster.ChaosCluster.wait_until_healthy`) before the next one.

What the faults measure (names in :mod:`tests.support.chaos_figures`):

* an agent's restart: every container of its machine compared before and after by Docker id and
  start time. Adoption must leave them alone, so any container gone or started again counts;
* a machine's loss: from the cable pulled until every replica is Ready on the other machines (the
  node is Unknown after the grace period, its pods evicted after their toleration, replaced and
  probed); and once it is back, until the containers of its evicted pods are gone from it;
* an engine's restart: until each pod it ran runs again there (every container started anew),
  and how many were evicted instead (the node is NotReady meanwhile);
* a control plane's restart: the LIST requests it answered in its first 3 s, none of them the
  run's own (agents and the load's pod watch resume their watches; see ``agent/reflector.py``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime

from agent import labels
from tests.support.chaos_cluster import APP, REPLICAS, ChaosCluster
from tests.support.chaos_figures import (
    CONTAINER_RESTARTS, CONTAINERS_COMPARED, ENGINE_BACK, EVICTED, LISTS_AFTER_RESTART, RESCHEDULE, STALE_SECONDS,
)
from tests.support.chaos_schedule import Fault, Step
from tests.support.waiting import wait_for

#: seconds to look at a restarted control plane's LIST count
LISTS_WINDOW = 3.0
#: seconds a restarted agent is given to (not) touch its containers before they are compared
ADOPTION_WINDOW = 4.0


def play(step: Step, cluster: ChaosCluster) -> tuple[str | None, dict[str, float]]:
    """Play ``step``; the worker it hit (None for the control plane and the Deployment), and
    what it measured."""
    target = step.target({pod["spec"]["nodeName"] for pod in cluster.pods() if pod["spec"].get("nodeName")})
    return target, PLAYS[step.fault](step, target, cluster)


def kill_control_plane(step: Step, target: str | None, cluster: ChaosCluster) -> dict[str, float]:
    cluster.machines.kill_server()
    time.sleep(step.downtime)
    cluster.machines.start_server()
    time.sleep(LISTS_WINDOW)
    lists = re.findall(r'apiserver_request_total\{verb="LIST",[^}]*\} (\d+)', cluster.metrics())
    return {LISTS_AFTER_RESTART: sum(int(count) for count in lists)}


def kill_agent(step: Step, target: str | None, cluster: ChaosCluster) -> dict[str, float]:
    assert target is not None
    before = containers(cluster, target)
    cluster.machines.kill_agent(target)
    time.sleep(step.downtime)
    cluster.machines.start_agent(target)
    time.sleep(ADOPTION_WINDOW)
    after = containers(cluster, target)
    restarted = [name for cid, (name, started) in before.items() if after.get(cid, (name, None))[1] != started]
    if restarted:
        print(f"    containers restarted across the agent's restart: {restarted}")
    return {CONTAINER_RESTARTS: len(restarted), CONTAINERS_COMPARED: len(before)}


def containers(cluster: ChaosCluster, machine: str) -> dict[str, tuple[str, str]]:
    """Every running container of the cluster on ``machine``'s engine: id -> (name, start time)."""
    client = cluster.machines.engines[machine].client()
    try:
        return {container.id: (container.name, container.attrs["State"]["StartedAt"])
                for container in client.containers.list(filters={"label": labels.CLUSTER})}
    finally:
        client.close()


def restart_engine(step: Step, target: str | None, cluster: ChaosCluster) -> dict[str, float]:
    """Until each pod that was bound to the machine runs there again, or was evicted (the node is
    NotReady while its engine is down, and the run's pods tolerate that for 2 s only): the API
    still calls the pods Ready until the agent has seen their containers stop."""
    assert target is not None
    machine = target
    bound = {pod["metadata"]["uid"] for pod in cluster.pods() if pod["spec"].get("nodeName") == machine}
    began = time.monotonic()
    cluster.machines.engines[machine].restart()

    def settled() -> bool:
        existing = {pod["metadata"]["uid"] for pod in cluster.pods() if not pod["metadata"].get("deletionTimestamp")}
        return bound & existing <= pod_uids(cluster, machine, since=began)

    wait_for(f"the pods on {machine} running again or evicted", settled, explain=cluster.machines.logs, timeout=60,
             every=0.5)
    existing = {pod["metadata"]["uid"] for pod in cluster.pods()}
    measured = {EVICTED: float(len(bound - existing))}
    if bound & existing:
        measured[ENGINE_BACK] = round(time.monotonic() - began, 1)
    return measured


def partition(step: Step, target: str | None, cluster: ChaosCluster) -> dict[str, float]:
    assert target is not None
    lost = target
    machine = cluster.machines.machine(lost)
    stranded = {pod["metadata"]["uid"] for pod in cluster.pods() if pod["spec"].get("nodeName") == lost}
    cut = time.monotonic()
    cluster.machines.lan.unplug(machine)
    measured: dict[str, float] = {}
    try:
        if stranded:
            wait_for(f"every replica Ready off {lost}", lambda: _ready_elsewhere(cluster, lost),
                     explain=cluster.machines.logs, timeout=120, every=0.5)
            measured[RESCHEDULE] = round(time.monotonic() - cut, 1)
        else:  # nothing of the app ran there: a node lost all the same, nothing to reschedule
            time.sleep(5)
    finally:
        cluster.machines.lan.plug(machine)
    back = time.monotonic()
    if stranded:
        wait_for(f"the evicted pods' containers gone from {lost}", lambda: not stranded & pod_uids(cluster, lost),
                 explain=cluster.machines.logs, timeout=60, every=0.5)
        measured[STALE_SECONDS] = round(time.monotonic() - back, 1)
    return measured


def _ready_elsewhere(cluster: ChaosCluster, lost: str) -> bool:
    ready = [pod for pod in cluster.pods() if not pod["metadata"].get("deletionTimestamp")
             and pod["spec"].get("nodeName") != lost
             and any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])]
    return len(ready) >= REPLICAS


def pod_uids(cluster: ChaosCluster, machine: str, since: float | None = None) -> set[str]:
    """The pods whose containers run on ``machine``'s engine; with ``since`` (time.monotonic()),
    those whose every container was started since."""
    client = cluster.machines.engines[machine].client()
    try:
        running = client.containers.list(filters={"label": labels.CLUSTER})
    finally:
        client.close()
    uids = {container.labels.get(labels.POD_UID, "") for container in running}
    if since is None:
        return uids
    cutoff = time.time() - (time.monotonic() - since)
    stale = {container.labels.get(labels.POD_UID, "") for container in running
             if _docker_time(container.attrs["State"]["StartedAt"]) < cutoff}
    return uids - stale


def _docker_time(stamp: str) -> float:
    """Docker's RFC 3339 time with nanoseconds, as seconds since the epoch."""
    return datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00").timestamp()


def drain(step: Step, target: str | None, cluster: ChaosCluster) -> dict[str, float]:
    assert target is not None
    cluster.kubectl("drain", target, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=120s",
                    timeout=150)
    cluster.wait_until_healthy(f"every replica Ready off {target}", cordoned=target)
    cluster.kubectl("uncordon", target)
    return {}


def rollout(step: Step, target: str | None, cluster: ChaosCluster) -> dict[str, float]:
    cluster.kubectl("rollout", "restart", f"deployment/{APP}")
    cluster.kubectl("rollout", "status", f"deployment/{APP}", "--timeout=120s", timeout=150)
    return {}


PLAYS: dict[Fault, Callable[[Step, str | None, ChaosCluster], dict[str, float]]] = {
    Fault.KILL_CONTROL_PLANE: kill_control_plane,
    Fault.KILL_AGENT: kill_agent,
    Fault.RESTART_ENGINE: restart_engine,
    Fault.PARTITION: partition,
    Fault.DRAIN: drain,
    Fault.ROLLOUT: rollout,
}
