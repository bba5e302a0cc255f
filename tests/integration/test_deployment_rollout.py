"""Issue 4's rollout transcript on the real Docker engine: a 3-node cluster from ``dockyard up``,
the real kubectl, the seed's Deployment.

Applies ``examples/seed/deployment-nginx.yaml`` (3 replicas), sets an image that cannot start
(no registry here: it never pulls), checks Kubernetes' exact 25%/25% arithmetic on 3 replicas
(all 3 old pods stay, exactly 1 new pod), the history with its change-causes, and
``rollout undo --to-revision=1``.
"""

from __future__ import annotations

import json
import re
import threading
import time

import httpx
import pytest
import yaml

from tests.conftest import REPO
from tests.support.waiting import wait_for

pytestmark = pytest.mark.docker

SEED = REPO / "examples" / "seed" / "deployment-nginx.yaml"
NAME = "my-nginx-deployment"
BROKEN = "nginx:does-not-exist"


def replicasets(kubectl) -> dict[str, dict]:
    """This Deployment's ReplicaSets by image: spec and status replicas."""
    items = json.loads(kubectl("get", "rs", "-l", "app=my-nginx", "-o", "json"))["items"]
    return {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs for rs in items}


def pods(kubectl) -> list[dict]:
    return json.loads(kubectl("get", "pods", "-l", "app=my-nginx", "-o", "json"))["items"]


def ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])


def test_seed_deployment_rollout_history_and_undo(cluster, kubectl):
    def explain() -> str:
        return (kubectl.run("describe", "deploy", NAME, check=False).stdout
                + kubectl.run("get", "deploy,rs,pods", "-o", "wide", check=False).stdout + cluster.logs())

    manifest = yaml.safe_load(SEED.read_text())
    manifest["metadata"]["annotations"] = {"kubernetes.io/change-cause": "kubectl apply --filename=deployment-nginx.yaml"}
    kubectl("apply", "-f", "-", input=json.dumps(manifest))
    status = kubectl.run("rollout", "status", f"deployment/{NAME}", "--timeout=90s", timeout=100)
    assert status.returncode == 0 and f'deployment "{NAME}" successfully rolled out' in status.stdout, explain()

    # 3 pods on 3 different nodes, and kubectl's columns
    running = pods(kubectl)
    assert len(running) == 3 and all(ready(p) for p in running)
    assert len({p["spec"]["nodeName"] for p in running}) == 3, explain()
    (first,) = replicasets(kubectl).values()
    rs_name = first["metadata"]["name"]
    assert re.fullmatch(rf"{NAME}-[bcdfghjklmnpqrstvwxz2456789]+", rs_name)
    table = kubectl("get", "deploy,rs,pods")
    assert re.search(r"NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE", table), table
    assert re.search(rf"deployment.apps/{NAME}\s+3/3\s+3\s+3\s", table), table
    assert re.search(r"NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE", table), table
    assert re.search(rf"replicaset.apps/{rs_name}\s+3\s+3\s+3\s", table), table
    assert len(re.findall(rf"pod/{rs_name}-\w{{5}}\s+1/1\s+Running\s+0\s", table)) == 3, table

    # an image that can never start: 25%/25% on 3 replicas → surge 1, unavailable 0
    kubectl("set", "image", f"deployment/{NAME}", f"nginx={BROKEN}")
    kubectl("annotate", "deployment", NAME, "--overwrite", f"kubernetes.io/change-cause=kubectl set image nginx={BROKEN}")
    wait_for("1 new pod next to the 3 old ones",
             lambda: len(pods(kubectl)) == 4 and BROKEN in replicasets(kubectl), explain)
    time.sleep(3)  # it stays so: the new pod never becomes available, so no old pod may go
    now = pods(kubectl)
    old = [p for p in now if p["spec"]["containers"][0]["image"] == "nginx:latest"]
    new = [p for p in now if p["spec"]["containers"][0]["image"] == BROKEN]
    assert len(old) == 3 and all(ready(p) for p in old), explain()
    assert len(new) == 1 and not ready(new[0]), explain()
    sizes = {image: rs["spec"]["replicas"] for image, rs in replicasets(kubectl).items()}
    assert sizes == {"nginx:latest": 3, BROKEN: 1}

    history = kubectl("rollout", "history", f"deployment/{NAME}")
    assert re.search(r"REVISION\s+CHANGE-CAUSE", history), history
    assert re.search(r"^1\s+kubectl apply --filename=deployment-nginx.yaml$", history, re.M), history
    assert re.search(rf"^2\s+kubectl set image nginx={re.escape(BROKEN)}$", history, re.M), history

    kubectl("rollout", "undo", f"deployment/{NAME}", "--to-revision=1")
    wait_for("the old ReplicaSet back at 3 and the new one at 0",
             lambda: {i: rs["spec"]["replicas"] for i, rs in replicasets(kubectl).items()} == {
                 "nginx:latest": 3, BROKEN: 0}, explain)
    status = kubectl.run("rollout", "status", f"deployment/{NAME}", "--timeout=60s", timeout=70)
    assert status.returncode == 0 and "successfully rolled out" in status.stdout, explain()
    restored = replicasets(kubectl)["nginx:latest"]
    assert restored["metadata"]["name"] == rs_name
    assert restored["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    history = kubectl("rollout", "history", f"deployment/{NAME}")
    assert re.search(r"^3\s+kubectl apply --filename=deployment-nginx.yaml$", history, re.M), history
    assert not re.search(r"^1\s", history, re.M), history
    wait_for("the broken pod to go", lambda: len(pods(kubectl)) == 3, explain)


def test_dockyard_verbs_scale_set_image_history_pause_undo_restart(cluster, kubectl):
    def verb(*args: str, ok: bool = True):
        result = cluster.dockyard(*args, timeout=90)
        detail = (f"dockyard {' '.join(args)} → {result.returncode}\n{result.stdout}\n{result.stderr}\n"
                  + kubectl.run("describe", "deploy", "web", check=False).stdout
                  + kubectl.run("get", "rs,pods", "-o", "wide", check=False).stdout)
        assert (result.returncode == 0) == ok, detail
        return result.stdout + result.stderr

    def rolled_out():
        assert 'deployment "web" successfully rolled out' in verb("rollout", "status", "deployment/web",
                                                                   "--timeout", "60")

    kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "annotations": {"kubernetes.io/change-cause": "first"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                     "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "web", "image": "alicek106/rr-test:echo-hostname"}]}}}}))
    rolled_out()
    assert verb("scale", "deploy/web", "--replicas=3") == "deployment.apps/web scaled\n"
    rolled_out()
    assert json.loads(kubectl("get", "deploy", "web", "-o", "json"))["status"]["availableReplicas"] == 3

    assert verb("set", "image", "deploy/web", "web=nginx:latest") == "deployment.apps/web image updated\n"
    assert 'unable to find container named "nope"' in verb("set", "image", "deploy/web", "nope=x", ok=False)
    rolled_out()
    history = verb("rollout", "history", "deployment/web")
    assert history.startswith("deployment.apps/web \nREVISION  CHANGE-CAUSE\n"), history
    assert re.search(r"^1\s+first$", history, re.M) and re.search(r"^2\s+first$", history, re.M), history

    assert verb("rollout", "pause", "deployment/web") == "deployment.apps/web paused\n"
    assert "cannot rollback a paused deployment" in verb("rollout", "undo", "deployment/web", ok=False)
    assert verb("rollout", "resume", "deployment/web") == "deployment.apps/web resumed\n"
    assert verb("rollout", "undo", "deployment/web") == "deployment.apps/web rolled back\n"
    rolled_out()
    images = {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]:
              rs["spec"]["template"]["spec"]["containers"][0]["image"]
              for rs in json.loads(kubectl("get", "rs", "-l", "app=web", "-o", "json"))["items"]}
    assert images == {"2": "nginx:latest", "3": "alicek106/rr-test:echo-hostname"}

    assert verb("rollout", "restart", "deployment/web") == "deployment.apps/web restarted\n"
    rolled_out()
    template = json.loads(kubectl("get", "deploy", "web", "-o", "json"))["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
    kubectl("delete", "deploy", "web", "--wait=true", "--timeout=60s")


def test_auto_rollback_when_the_progress_deadline_is_exceeded(cluster, kubectl):
    """dockyard's opt-in: the controller itself goes back to the previous revision and says so."""
    def explain() -> str:
        return kubectl.run("describe", "deploy", "auto", check=False).stdout + cluster.logs()

    kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "auto", "annotations": {"deployment.dockyard.io/auto-rollback": "true"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "auto"}},
                 "template": {"metadata": {"labels": {"app": "auto"}}, "spec": {
                     "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "web", "image": "alicek106/rr-test:echo-hostname"}]}}}}))
    kubectl.run("rollout", "status", "deployment/auto", "--timeout=60s", timeout=70)
    # a short deadline only for the broken rollout: a loaded machine may take longer to start a pod
    kubectl("patch", "deployment", "auto", "-p", json.dumps({"spec": {
        "progressDeadlineSeconds": 4, "template": {"spec": {"containers": [{"name": "web", "image": BROKEN}]}}}}))

    def image() -> str:
        return json.loads(kubectl("get", "deploy", "auto", "-o", "json"))["spec"]["template"]["spec"][
            "containers"][0]["image"]

    wait_for("the controller to roll back", lambda: image() == "alicek106/rr-test:echo-hostname", explain)
    described = kubectl("describe", "deploy", "auto")
    assert re.search(r"DeploymentRollback\s+.*rolled back deployment \"auto\" to revision 1", described), described

    def progressing() -> str:
        conditions = json.loads(kubectl("get", "deploy", "auto", "-o", "json"))["status"].get("conditions") or []
        return next((c["reason"] for c in conditions if c["type"] == "Progressing"), "")

    # the condition stays ProgressDeadlineExceeded (it is true) until the restored revision is available
    wait_for("the restored revision to be available", lambda: progressing() == "NewReplicaSetAvailable", explain)
    status = kubectl.run("rollout", "status", "deployment/auto", "--timeout=60s", timeout=70)
    assert status.returncode == 0, status.stdout + status.stderr + explain()
    kubectl("delete", "deploy", "auto", "--wait=true", "--timeout=60s")


def test_healthy_rolling_update_of_6_replicas_stays_within_the_bounds(cluster, kubectl):
    """A watcher sees every pod change: never more than 6 + 2 pods (maxSurge ⌈25 %⌉), never fewer
    than 6 - 1 ready ones (maxUnavailable ⌊25 %⌋). Terminating pods no longer count, as in Kubernetes."""
    def explain() -> str:
        return kubectl.run("describe", "deploy", "six", check=False).stdout + cluster.logs()

    kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "six"},
        "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "six"}},
                 "template": {"metadata": {"labels": {"app": "six"}}, "spec": {
                     "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "web", "image": "alicek106/rr-test:echo-hostname"}]}}}}))
    status = kubectl.run("rollout", "status", "deployment/six", "--timeout=90s", timeout=100)
    assert status.returncode == 0, status.stdout + status.stderr + explain()

    samples: list[tuple[int, int]] = []
    broken: list[Exception] = []
    stop = threading.Event()
    with cluster.client() as client:
        listed = client.get("/api/v1/namespaces/default/pods", params={"labelSelector": "app=six"}).json()
        current = {p["metadata"]["name"]: p for p in listed["items"]}

        def watch() -> None:
            params = {"labelSelector": "app=six", "watch": "true",
                      "resourceVersion": listed["metadata"]["resourceVersion"]}
            try:
                with client.stream("GET", "/api/v1/namespaces/default/pods", params=params) as response:
                    follow(response)
            except httpx.HTTPError as error:
                if not stop.is_set():  # closing the client at the end ends the stream; earlier is a failure
                    broken.append(error)

        def follow(response: httpx.Response) -> None:
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if not line:
                    continue
                event = json.loads(line)
                pod = event["object"]
                if event["type"] == "DELETED":
                    current.pop(pod["metadata"]["name"], None)
                else:
                    current[pod["metadata"]["name"]] = pod
                live = [p for p in current.values() if not p["metadata"].get("deletionTimestamp")]
                samples.append((len(live), sum(ready(p) for p in live)))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        kubectl("set", "image", "deployment/six", "web=nginx:latest")
        status = kubectl.run("rollout", "status", "deployment/six", "--timeout=120s", timeout=130)
        assert status.returncode == 0, status.stdout + status.stderr + explain()
        stop.set()
    assert not broken and samples, f"the watcher failed ({broken}) or saw no pod change"
    assert max(total for total, _ in samples) <= 8, samples
    assert min(ready_count for _, ready_count in samples) >= 5, samples
    assert max(total for total, _ in samples) > 6, "the rollout never surged"
    kubectl("delete", "deploy", "six", "--wait=true", "--timeout=60s")


def test_new_pods_that_start_then_crash_count_as_available_for_a_moment(cluster, kubectl):
    """The seed's 2 old + 2 new: a new pod that runs for a few seconds is Ready (no probe), so the
    rollout takes a step before it crashes, unlike an image that never starts (1 new, 3 old)."""
    def explain() -> str:
        return kubectl.run("describe", "deploy", "crash", check=False).stdout + cluster.logs()

    def body(command: list[str]) -> str:
        return json.dumps({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "crash"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "crash"}},
                     "template": {"metadata": {"labels": {"app": "crash"}}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "web", "image": "alicek106/rr-test:echo-hostname",
                                         "command": command}]}}}})

    kubectl("apply", "-f", "-", input=body(["sh", "-c", "exec sleep 3600"]))
    kubectl.run("rollout", "status", "deployment/crash", "--timeout=60s", timeout=70)
    kubectl("apply", "-f", "-", input=body(["sh", "-c", "sleep 6; exit 1"]))

    def sizes() -> dict[str, int]:
        items = json.loads(kubectl("get", "rs", "-l", "app=crash", "-o", "json"))["items"]
        return {rs["spec"]["template"]["spec"]["containers"][0]["command"][-1]: rs["spec"]["replicas"]
                for rs in items}

    seen = wait_for("the rollout to take a step on a pod that was briefly available",
                    lambda: (s := sizes()).get("sleep 6; exit 1", 0) >= 2 and s, explain)
    assert sum(seen.values()) <= 4, seen  # never beyond replicas + maxSurge
    kubectl("delete", "deploy", "crash", "--wait=true", "--timeout=60s")
