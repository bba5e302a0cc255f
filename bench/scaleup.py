"""Scale-up benchmark: one ReplicaSet from 0 to 1,000 pods on simulated nodes, timed and costed.

What it measures is the control plane's own work when a cluster grows: the ReplicaSet controller
creating pods in slow-start batches, the scheduler binding each, the Events both record and the
status writes, all inside one ``dockyard server`` process. Nothing runs the pods (the nodes are
Node objects with a Ready status and no agent), so Docker is not involved and the figures are
the control plane's alone.

Method, on a fresh server with 20 simulated Ready nodes (110 pods each):

* **scale-up**: a ReplicaSet created with ``replicas: 0``, then ``PATCH …/scale`` to 1,000; timed
  until its ``status.replicas`` is 1,000 and no pod of it is unbound (polled every 0.5 s with
  cheap requests). The server process's CPU seconds (user + system, from ``/proc``) over the
  same span say what it cost, whatever else the machine was doing.
* **floor**, in the same run and server: a client POSTs the same 1,000 pods itself and binds each
  round-robin (``POST pods/NAME/binding``), one request after the other — the bare API write
  path for the same objects, without controllers, scheduling decisions, Events or statuses.

The ratios scale-up/floor are what to compare between runs and versions; ``--server-python``
runs the server from another checkout's virtualenv, so two versions are measured by the same
script on the same machine (the closing notes of issue 11 compare before and after that way).

    .venv/bin/python bench/scaleup.py [--pods 1000] [--nodes 20] [--server-python PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.interrupts import sigterm_interrupts  # noqa: E402
from tests.support.controlplane import ControlPlaneProcess, free_port  # noqa: E402

POLL = 0.5
NAMESPACE = "default"
PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"
RS_PATH = f"/apis/apps/v1/namespaces/{NAMESPACE}/replicasets"
IMAGE = "alicek106/rr-test:echo-hostname"


def node(index: int) -> dict:
    name = f"sim-{index:03d}"
    resources = {"cpu": "16", "memory": "64Gi", "pods": "110"}
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"capacity": resources, "allocatable": resources,
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "lastHeartbeatTime": now, "lastTransitionTime": now}],
                       "addresses": [{"type": "Hostname", "address": name}]}}


def template(app: str) -> dict:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": "app", "image": IMAGE,
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}


class CpuClock:
    """The CPU seconds (user + system) a process has used, from /proc/PID/stat."""

    def __init__(self, pid: int) -> None:
        self.path = Path(f"/proc/{pid}/stat")
        self.tick = os.sysconf("SC_CLK_TCK")

    def seconds(self) -> float:
        fields = self.path.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime, stime (fields 14 and 15)


def unbound(http: httpx.Client, app: str) -> int:
    listed = http.get(PODS, params={"labelSelector": f"app={app}", "fieldSelector": "spec.nodeName="}).json()
    return len(listed["items"])


def scale_up(http: httpx.Client, cpu: CpuClock, pods: int) -> dict:
    http.post(RS_PATH, json={"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "scale"},
                             "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "scale"}},
                                      "template": template("scale")}}).raise_for_status()
    time.sleep(1)  # let the controller settle the empty ReplicaSet before the clock starts
    cpu_before, started = cpu.seconds(), time.perf_counter()
    http.patch(f"{RS_PATH}/scale/scale", json={"spec": {"replicas": pods}},
               headers={"Content-Type": "application/merge-patch+json"}).raise_for_status()
    deadline = started + 600
    while True:
        status = http.get(f"{RS_PATH}/scale").json().get("status") or {}
        if status.get("replicas") == pods and unbound(http, "scale") == 0:
            break
        if time.perf_counter() > deadline:
            raise TimeoutError(f"after 600 s the ReplicaSet reports {status.get('replicas')} of {pods} pods")
        time.sleep(POLL)
    return {"seconds": time.perf_counter() - started, "cpu": cpu.seconds() - cpu_before}


def floor(http: httpx.Client, cpu: CpuClock, pods: int, nodes: int) -> dict:
    cpu_before, started = cpu.seconds(), time.perf_counter()
    for index in range(pods):
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"floor-{index:04d}", "labels": {"app": "floor"}},
                # another scheduler's pods: the default scheduler leaves them to this client
                "spec": {**template("floor")["spec"], "schedulerName": "bench-floor"}}
        created = http.post(PODS, json=body).raise_for_status().json()
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": created["metadata"]["name"], "uid": created["metadata"]["uid"]},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": f"sim-{index % nodes:03d}"}}
        http.post(f"{PODS}/{created['metadata']['name']}/binding", json=binding).raise_for_status()
    return {"seconds": time.perf_counter() - started, "cpu": cpu.seconds() - cpu_before}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--server-python", default=sys.executable,
                        help="the interpreter (of a checkout's virtualenv) that runs dockyard server")
    args = parser.parse_args()
    sigterm_interrupts()
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-scaleup-") as tmp:
        server = ControlPlaneProcess(Path(tmp) / "state", free_port(), python=args.server_python,
                                     extra_args=["--node-monitor-grace-period", "3600"])
        try:
            server.start()
            assert server.process is not None
            cpu = CpuClock(server.process.pid)
            with server.client() as http:
                for index in range(args.nodes):
                    http.post("/api/v1/nodes", json=node(index)).raise_for_status()
                results = {"scale-up": scale_up(http, cpu, args.pods), "floor": floor(http, cpu, args.pods, args.nodes)}
        except KeyboardInterrupt:
            print("interrupted; the benchmark's server has been stopped", file=sys.stderr)
            return 130
        finally:
            server.stop()
    base = results["floor"]
    print(f"dockyard scale-up benchmark: one ReplicaSet 0 → {args.pods} pods on {args.nodes} simulated nodes, "
          f"{os.cpu_count()} CPUs, server {args.server_python}")
    print(f"{'':52}{'seconds':>9}{'pods/s':>9}{'server CPU s':>14}{'time vs floor':>15}{'CPU vs floor':>14}")
    for label, key in (("scale-up: PATCH scale → every pod created and bound", "scale-up"),
                       ("floor: POST each pod and its binding, one client", "floor")):
        r = results[key]
        print(f"{label:52}{r['seconds']:>9.2f}{args.pods / r['seconds']:>9.0f}{r['cpu']:>14.2f}"
              f"{r['seconds'] / base['seconds']:>14.2f}x{r['cpu'] / base['cpu']:>13.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
