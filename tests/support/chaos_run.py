"""A chaos run: separate machines, an app under load, a schedule of faults, then the figures.

:func:`run_chaos` does it all and always tears down:

1. the machines, the app and the load (:mod:`tests.support.chaos_cluster`);
2. the schedule (:mod:`tests.support.chaos_schedule`), each step played by
   :mod:`tests.support.chaos_faults`, the next one only once the app has recovered;
3. the load stopped, every acknowledged write read back;
4. teardown, then the leftovers check: nothing of the run's namespaces, links, cgroups, mounts,
   processes and directories (:func:`~tests.support.leftovers.machine_objects`), nor of the
   cluster's rules, bridge or routes in the host's own namespace, nor of its containers in the
   host's engine (all of which must be untouched: everything lives inside the machines).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from orchestrator.cluster.statedir import StateDir
from tests.support.chaos_cluster import MAX_SURGE, REPLICAS, SERVER_TUNING, ChaosCluster
from tests.support.chaos_faults import play
from tests.support.chaos_figures import RECOVERY, Run, StepOutcome, pod_figures, request_figures, write_figures
from tests.support.chaos_load import PODS, REQUESTS, WRITES
from tests.support.chaos_schedule import Step, describe
from tests.support.image_archive import ECHO_HOSTNAME, PAUSE, ImageArchive
from tests.support.leftovers import docker_objects, host_objects, machine_objects
from tests.support.machines import SeparateMachines


def run_chaos(archive: ImageArchive, *, seed: int, steps: list[Step], rounds: int, workers: int, out: Path,
              command: str) -> tuple[Run, list[dict]]:
    """Play ``steps`` under load on fresh machines; the run's figures and the request records.
    The machines are torn down whatever happens; leftovers are counted after that."""
    print(f"\n{describe(seed, steps)}", flush=True)
    machines = SeparateMachines(archive, workers=workers, images=(PAUSE, ECHO_HOSTNAME), server_args=SERVER_TUNING)
    cluster = ChaosCluster(machines, out)
    try:
        played = _play(cluster, steps)
    except BaseException:
        error = _tear_down(cluster)
        if error is not None:
            print(f"tearing the machines down failed too: {error!r}", file=sys.stderr)
        raise
    teardown_error = _tear_down(cluster)
    leftovers = {**machine_objects(machines.tag),
                 **{f"host {kind}": found for kind, found in host_objects(played.uid).items()},
                 **{f"host engine {kind}": found for kind, found in docker_objects(played.uid).items()}}
    if teardown_error is not None and not any(leftovers.values()):
        raise teardown_error  # it failed for another reason than what it left
    requests = cluster.records(REQUESTS)
    run = Run(seed=seed, rounds=rounds, workers=workers, command=command, began=played.began, ended=played.ended,
              steps=played.outcomes, leftovers=leftovers,
              writes=write_figures(cluster.records(WRITES), played.stored),
              requests=request_figures(requests, played.began, played.ended),
              pods=pod_figures(cluster.records(PODS), REPLICAS + MAX_SURGE))
    return run, requests


@dataclass(frozen=True)
class Played:
    uid: str                     # the cluster's, which names its host objects
    began: float
    ended: float
    outcomes: list[StepOutcome]
    stored: dict[str, dict]      # the writes' namespace read back at the end


def _play(cluster: ChaosCluster, steps: list[Step]) -> Played:
    machines = cluster.machines
    machines.start()
    uid = json.loads(StateDir(machines.state_dir).cluster_json.read_text())["uid"]
    cluster.deploy()
    cluster.start_load()
    began = time.time()
    time.sleep(3)  # the load's baseline
    outcomes = []
    for step in steps:
        started = time.time()
        target, measured = play(step, cluster)
        cluster.wait_until_healthy(f"recovery from: {step}")
        measured[RECOVERY] = round(time.time() - started, 1)
        outcome = StepOutcome(step, target, started, time.time(), measured)
        outcomes.append(outcome)
        print(f"  played {outcome}: {measured}", flush=True)
        time.sleep(2)  # quiet: the load sees the recovered cluster before the next fault
    ended = time.time()
    cluster.stop_load()
    return Played(uid, began, ended, outcomes, cluster.stored_writes())


def _tear_down(cluster: ChaosCluster) -> Exception | None:
    try:
        cluster.stop_load()
        # the processes' and engines' logs, kept beside the records for whoever reads a failure
        if cluster.machines.logs_dir().is_dir():
            shutil.copytree(cluster.machines.logs_dir(), cluster.out / "logs", dirs_exist_ok=True)
    finally:
        try:
            cluster.machines.teardown()
        except Exception as error:  # noqa: BLE001 - the caller decides, after counting leftovers
            return error
    return None
