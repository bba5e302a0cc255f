"""The machines, the app and the load of one chaos run, and whether the app is healthy.

* The machines (:mod:`tests.support.machines`): a control machine and the workers, each with its
  own Docker engine, joined over a LAN. The control plane is tuned as a lab shortens Kubernetes'
  durations (:data:`SERVER_TUNING`): a node is Unknown 4 s after its last heartbeat and its pods
  are evicted 2 s later, so a lost machine costs seconds, not minutes.
* The app: a Deployment of 3 echo-hostname replicas (a readiness probe, ``maxSurge`` 1 and
  ``maxUnavailable`` 0, a 2-second preStop so that a terminating pod is out of the Service's rules
  before it stops answering, as Kubernetes' own guidance has it) behind a NodePort.
* The load (:mod:`tests.support.chaos_load`), a process on the LAN's workstation.

:meth:`ChaosCluster.health` is what "recovered" means between two faults.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestrator.cluster.kubeconfig import read_kubeconfig
from tests.support.chaos_load import WRITES_NAMESPACE, LoadConfig
from tests.support.image_archive import ECHO_HOSTNAME
from tests.support.machines import LanKubectl, SeparateMachines
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
#: the control plane's lab knobs (see the module docstring)
SERVER_TUNING = ("--node-monitor-grace-period", "4", "--default-not-ready-toleration-seconds", "2")
APP, NODE_PORT = "web", 30080
REPLICAS, MAX_SURGE = 3, 1
#: how long the app is given to recover from any one fault
RECOVERY_TIMEOUT = 120

MANIFESTS = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": WRITES_NAMESPACE}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": APP},
     "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": APP}},
              "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": MAX_SURGE, "maxUnavailable": 0}},
              "template": {"metadata": {"labels": {"app": APP}},
                           "spec": {"terminationGracePeriodSeconds": 5, "containers": [{
                               "name": APP, "image": ECHO_HOSTNAME, "ports": [{"containerPort": 80}],
                               "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 1},
                               "lifecycle": {"preStop": {"exec": {"command": ["sleep", "2"]}}}}]}}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": APP},
     "spec": {"type": "NodePort", "selector": {"app": APP},
              "ports": [{"port": 80, "targetPort": 80, "nodePort": NODE_PORT}]}},
]


@dataclass
class ChaosCluster:
    """The machines, the app and the load of one run; what the faults act on."""

    machines: SeparateMachines
    out: Path
    load: subprocess.Popen | None = None

    @property
    def kubectl(self) -> LanKubectl:
        return self.machines.kubectl()

    def deploy(self) -> None:
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(MANIFESTS))
        self.wait_until_healthy("the app to come up")

    # -- health ------------------------------------------------------------------------------

    def health(self, cordoned: str | None = None) -> str | None:
        """Why the cluster is not back to normal yet, or None: every Node Ready and schedulable
        (but ``cordoned``), the Deployment rolled out with every replica available and no other
        pod, the Service's endpoints holding every replica."""
        listed = self.kubectl.run("get", "nodes,deployments,endpoints", "-o", "json", check=False)
        if listed.returncode != 0:
            return f"kubectl get failed: {listed.stderr.strip()}"
        items = json.loads(listed.stdout)["items"]
        for item in items:
            if item["kind"] != "Node" and item["metadata"]["name"] != APP:
                continue
            if item["kind"] == "Node":
                ready = [c for c in item["status"].get("conditions") or [] if c["type"] == "Ready"]
                name = item["metadata"]["name"]
                if not ready or ready[0]["status"] != "True":
                    return f"node {name} not Ready"
                if bool(item["spec"].get("unschedulable")) != (name == cordoned):
                    return f"node {name} {'not ' if name == cordoned else ''}cordoned"
            elif item["kind"] == "Deployment":
                status = item.get("status") or {}
                if status.get("observedGeneration", 0) < item["metadata"]["generation"]:
                    return "deployment not observed"
                counts = [status.get(name, 0) for name in ("replicas", "updatedReplicas", "readyReplicas",
                                                           "availableReplicas")]
                if counts != [REPLICAS] * 4:
                    return f"deployment replicas/updated/ready/available {counts}"
            elif item["kind"] == "Endpoints":
                addresses = [a for subset in item.get("subsets") or [] for a in subset.get("addresses") or []]
                if len(addresses) != REPLICAS:
                    return f"{len(addresses)} endpoints"
        return None

    def wait_until_healthy(self, what: str, cordoned: str | None = None, timeout: float = RECOVERY_TIMEOUT) -> float:
        """Seconds until :meth:`health` is None."""
        began = time.monotonic()
        last: list[str | None] = [None]

        def healthy() -> bool:
            last[0] = self.health(cordoned)
            return last[0] is None

        wait_for(what, healthy, explain=lambda: f"{last[0]}\n{self.machines.logs()}", timeout=timeout, every=0.5)
        return time.monotonic() - began

    def pods(self) -> list[dict]:
        return json.loads(self.kubectl("get", "pods", "-l", f"app={APP}", "-o", "json"))["items"]

    def metrics(self) -> str:
        return self.kubectl("get", "--raw", "/metrics")

    # -- the load ----------------------------------------------------------------------------

    def start_load(self) -> None:
        credentials = read_kubeconfig(self.machines.kubeconfig)
        ca = self.out / "ca.crt"
        ca.write_text(credentials["ca_pem"])
        config = LoadConfig(server=self.machines.server_url, token=credentials["token"], ca_file=str(ca),
                            targets=tuple(f"http://{self.machines.address(name)}:{NODE_PORT}/"
                                          for name in self.machines.worker_names),
                            pod_selector=f"app={APP}", namespace="default", out=str(self.out))
        path = self.out / "load.json"
        path.write_text(config.to_json())
        with open(self.machines.logs_dir() / "load.log", "ab") as log:
            self.load = subprocess.Popen(self.machines.lan.command(sys.executable, "-m", "tests.support.chaos_load",
                                                                   str(path)),
                                         stdout=log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)
        wait_for("the load to start", lambda: (self.out / "started").exists(), explain=self.machines.logs,
                 timeout=30, every=0.1)

    def stop_load(self) -> None:
        if self.load is not None and self.load.poll() is None:
            os.killpg(self.load.pid, signal.SIGTERM)
            try:
                self.load.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.load.pid, signal.SIGKILL)
                self.load.wait(timeout=10)

    def records(self, name: str) -> list[dict]:
        path = self.out / name
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []

    def stored_writes(self) -> dict[str, dict]:
        """Every ConfigMap of the writes' namespace, name -> data, read back through the API."""
        listed = json.loads(self.kubectl("get", "configmaps", "-n", WRITES_NAMESPACE, "-o", "json", timeout=120))
        return {item["metadata"]["name"]: item.get("data") or {} for item in listed["items"]}
