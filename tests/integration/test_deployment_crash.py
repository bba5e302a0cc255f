"""``kill -9`` the control plane in the middle of a healthy rolling update, restart it with
``dockyard up``: the rollout finishes, and the surge bound held throughout.

A 3-node cluster, 6 replicas with maxSurge 1 / maxUnavailable 1 and a readiness probe, so the
rollout takes a few seconds; the template changes by ``kubectl set env``. Only the ``server``
process dies (SIGKILL, no chance to clean up); the agents keep running their containers, and
``dockyard up`` starts what is missing. A sampler thread lists and then watches the pods through
the API, before the kill and after the restart (it re-lists whenever the stream breaks), and
counts what Kubernetes counts for the surge bound: the active pods (not terminating, not
finished) of all the Deployment's ReplicaSets. While the server is dead nothing can change in
the store, so the samples on either side of the gap cover the whole rollout.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import httpx
import pytest

from orchestrator.cli.lifecycle.processes import SERVER, alive, records

pytestmark = pytest.mark.docker

NAME = "crashy"
REPLICAS = 6
MAX_SURGE = 1
PODS = "/api/v1/namespaces/default/pods"


def deployment() -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": NAME},
        "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": NAME}},
                 "strategy": {"type": "RollingUpdate",
                              "rollingUpdate": {"maxSurge": MAX_SURGE, "maxUnavailable": 1}},
                 "template": {"metadata": {"labels": {"app": NAME}}, "spec": {
                     "terminationGracePeriodSeconds": 1,
                     "containers": [{
                         "name": "web", "image": "alicek106/rr-test:echo-hostname",
                         "env": [{"name": "WAVE", "value": "1"}],
                         "readinessProbe": {"httpGet": {"path": "/", "port": 80},
                                            "initialDelaySeconds": 1, "periodSeconds": 1}}]}}}}


def active(pod: dict) -> bool:
    """What a ReplicaSet counts in ``status.replicas``: not terminating, not finished."""
    return not pod["metadata"].get("deletionTimestamp") and pod["status"].get("phase") not in ("Succeeded", "Failed")


def ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])


def wave(pod: dict) -> str:
    return next(e["value"] for e in pod["spec"]["containers"][0]["env"] if e["name"] == "WAVE")


class PodSampler:
    """Counts the active pods after every change it sees; survives the server's death by re-listing."""

    def __init__(self, cluster) -> None:
        self.cluster = cluster
        self.samples: list[int] = []
        self.reconnects = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PodSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        with self.cluster.client() as client:
            while not self.stop.is_set():
                try:
                    self._list_then_watch(client)
                except (httpx.HTTPError, ValueError):
                    self.reconnects += 1
                    time.sleep(0.1)  # the server is down or restarting: try again

    def _list_then_watch(self, client: httpx.Client) -> None:
        # short timeouts: a dead server must not hold the sampler for long
        listed = client.get(PODS, params={"labelSelector": f"app={NAME}"}, timeout=2)
        listed.raise_for_status()
        body = listed.json()
        current = {p["metadata"]["name"]: p for p in body["items"]}
        self._sample(current)
        params = {"labelSelector": f"app={NAME}", "watch": "true", "timeoutSeconds": "30",
                  "resourceVersion": body["metadata"]["resourceVersion"]}
        with client.stream("GET", PODS, params=params, timeout=httpx.Timeout(2, read=None)) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if self.stop.is_set():
                    return
                if not line:
                    continue
                event = json.loads(line)
                if event["type"] == "ERROR":
                    return  # e.g. an expired resourceVersion: list again
                pod = event["object"]
                if event["type"] == "DELETED":
                    current.pop(pod["metadata"]["name"], None)
                else:
                    current[pod["metadata"]["name"]] = pod
                self._sample(current)

    def _sample(self, current: dict[str, dict]) -> None:
        self.samples.append(sum(active(p) for p in current.values()))


def test_rollout_survives_kill_9_of_the_control_plane(cluster, kubectl):
    """…and afterwards ``rollout history --revision N`` prints each template, the same from
    kubectl and from dockyard."""
    def explain() -> str:
        return (kubectl.run("describe", "deploy", NAME, check=False).stdout
                + kubectl.run("get", "rs,pods", "-o", "wide", check=False).stdout + cluster.logs())

    def pods() -> list[dict]:
        return json.loads(kubectl("get", "pods", "-l", f"app={NAME}", "-o", "json"))["items"]

    kubectl("apply", "-f", "-", input=json.dumps(deployment()))
    status = kubectl.run("rollout", "status", f"deployment/{NAME}", "--timeout=90s", timeout=100)
    assert status.returncode == 0, status.stdout + status.stderr + explain()

    with PodSampler(cluster) as sampler:
        kubectl("set", "env", f"deployment/{NAME}", "WAVE=2")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # kill when the rollout is under way but not done
            now = pods()
            if sum(wave(p) == "2" and ready(p) for p in now) >= 1:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the rolling update never got a new pod ready\n" + explain())
        (server,) = [r for r in records(cluster.state) if r.name == SERVER]
        os.kill(server.pid, signal.SIGKILL)
        before_kill = sorted((wave(p), ready(p)) for p in now if active(p))
        deadline = time.monotonic() + 10
        while alive(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(server), "the server survived SIGKILL"
        samples_before_restart = len(sampler.samples)

        up = cluster.run_up(timeout=60)
        assert up.returncode == 0, up.stdout + up.stderr + explain()
        status = kubectl.run("rollout", "status", f"deployment/{NAME}", "--timeout=90s", timeout=100)
        assert status.returncode == 0, status.stdout + status.stderr + explain()
        time.sleep(1.0)  # a late surge past the bound would show up now

    assert before_kill.count(("2", True)) < REPLICAS, f"the rollout was over before the kill: {before_kill}"
    assert sampler.reconnects > 0 and len(sampler.samples) > samples_before_restart, (
        f"the sampler did not see both sides of the restart ({sampler.reconnects} reconnects)")
    assert max(sampler.samples) <= REPLICAS + MAX_SURGE, sampler.samples

    final = pods()
    live = [p for p in final if active(p)]
    assert len(live) == REPLICAS and all(wave(p) == "2" and ready(p) for p in live), explain()
    sizes = {rs["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"]: rs["spec"]["replicas"]
             for rs in json.loads(kubectl("get", "rs", "-l", f"app={NAME}", "-o", "json"))["items"]}
    assert sizes == {"1": 0, "2": REPLICAS}, explain()

    # each revision's template, from kubectl and from dockyard: the same bytes
    for revision, value in ((1, "1"), (2, "2")):
        theirs = kubectl("rollout", "history", f"deployment/{NAME}", f"--revision={revision}")
        ours = cluster.dockyard("rollout", "history", f"deployment/{NAME}", "--revision", str(revision))
        assert ours.returncode == 0, ours.stderr
        assert ours.stdout == theirs, f"kubectl:\n{theirs}\ndockyard:\n{ours.stdout}"
        assert theirs.startswith(f"deployment.apps/{NAME} with revision #{revision}\nPod Template:\n"), theirs
        assert f"      WAVE:\t{value}\n" in theirs and "    Readiness:\thttp-get http://:80/ delay=1s" in theirs, theirs
    missing = cluster.dockyard("rollout", "history", f"deployment/{NAME}", "--revision", "9")
    assert missing.returncode != 0 and "unable to find the specified revision" in missing.stderr, missing
    kubectl("delete", "deploy", NAME, "--wait=true", "--timeout=60s")
