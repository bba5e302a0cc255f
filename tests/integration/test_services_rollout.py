"""Zero-downtime rolling update behind a NodePort: the whole chain of issue 5 working together.

A client on the host sends requests one after another, each on a new connection, to a node's
address while the echo-hostname Deployment rolls out a new template. New pods receive traffic only
once their readiness probe passes; an old pod leaves the Endpoints (and so the proxy's rules) as
soon as it starts terminating, and its short ``preStop`` sleep keeps it serving the requests
already routed to it. Not one request may fail.
"""

from __future__ import annotations

import threading

import httpx
import pytest
import yaml

from tests.support.waiting import wait_for

pytestmark = pytest.mark.docker

NAME = "rolling"
MANIFESTS = [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": NAME},
     "spec": {"replicas": 3, "selector": {"matchLabels": {"app": NAME}},
              "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
              "template": {"metadata": {"labels": {"app": NAME}}, "spec": {
                  "terminationGracePeriodSeconds": 10,
                  "containers": [{
                      "name": "web", "image": "alicek106/rr-test:echo-hostname",
                      "ports": [{"containerPort": 80}],
                      "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 1},
                      "lifecycle": {"preStop": {"exec": {"command": ["sleep", "3"]}}},
                  }]}}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": NAME},
     "spec": {"type": "NodePort", "selector": {"app": NAME}, "ports": [{"port": 8080, "targetPort": 80}]}},
]


def test_rolling_update_behind_a_node_port_loses_no_request(cluster_factory):
    cluster = cluster_factory(nodes=3)
    kubectl = cluster.kubectl()
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(MANIFESTS))
    status = kubectl.run("rollout", "status", f"deployment/{NAME}", "--timeout=90s", timeout=100, check=False)
    assert status.returncode == 0, status.stdout + status.stderr + cluster.logs()
    port = kubectl("get", "svc", NAME, "-o", "jsonpath={.spec.ports[0].nodePort}")
    address = kubectl("get", "node", "node-1", "-o", "jsonpath={.status.addresses[0].address}")
    url = f"http://{address}:{port}/"
    wait_for("the service to answer", lambda: httpx.get(url, timeout=2).status_code == 200)
    old_pods = set(kubectl("get", "pods", "-l", f"app={NAME}", "-o", "name").split())

    failures: list[str] = []
    answered: list[str] = []
    stop = threading.Event()

    def client() -> None:
        # no keep-alive: every request is a new connection through the service's rules
        with httpx.Client(timeout=3, limits=httpx.Limits(max_keepalive_connections=0)) as http:
            while not stop.is_set():
                try:
                    response = http.get(url)
                    if response.status_code != 200:
                        failures.append(f"HTTP {response.status_code}")
                    else:
                        answered.append(response.text)
                except httpx.HTTPError as error:
                    failures.append(repr(error))

    sender = threading.Thread(target=client, daemon=True)
    sender.start()
    try:
        kubectl("rollout", "restart", f"deployment/{NAME}")
        status = kubectl.run("rollout", "status", f"deployment/{NAME}", "--timeout=120s", timeout=130, check=False)
        assert status.returncode == 0, status.stdout + status.stderr
        wait_for("the old pods gone",
                 lambda: not old_pods & set(kubectl("get", "pods", "-l", f"app={NAME}", "-o", "name").split()),
                 timeout=60)
    finally:
        stop.set()
        sender.join(timeout=10)
    new_pods = {name.removeprefix("pod/") for name in kubectl("get", "pods", "-l", f"app={NAME}", "-o", "name").split()}
    assert not failures, f"{len(failures)} of {len(failures) + len(answered)} requests failed: {failures[:5]}"
    assert len(answered) > 50, len(answered)
    assert any(name in text for text in answered[-20:] for name in new_pods), answered[-3:]
