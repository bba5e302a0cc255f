"""Issue 3's acceptance, on the real Docker engine: a cluster from ``dockyard up``, the real
kubectl, and Docker inspected directly to check that what the API reports is what happened.

One two-node cluster serves the module (lab-short back-offs from tests/support/cluster.py:
initial 1 s, cap 4 s); each test makes its own pods and deletes them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
import urllib.request

import docker
import pytest

from agent import labels
from agent.config import BackoffPolicy
from agent.backoff import delay_for
from orchestrator.cli.lifecycle.processes import records
from tests.conftest import REPO
from tests.support.controlplane import free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.docker

SEED = REPO / "examples" / "seed"
ECHO = "alicek106/rr-test:echo-hostname"
LAB_BACKOFF = BackoffPolicy(initial=1, maximum=4, reset_after=30)


@pytest.fixture(scope="module")
def cluster(cluster_factory):
    return cluster_factory(nodes=2)


def wait_pod(kubectl, name: str, what: str, check, timeout: float = 60, every: float = 0.3):
    """``wait_for`` about one pod; a time-out shows ``kubectl describe`` and the process logs."""
    return wait_for(f"{name}: {what}", check, timeout=timeout, every=every,
                    explain=lambda: kubectl.run("describe", "pod", name, check=False).stdout + kubectl.cluster_logs())


def apply(kubectl, manifest: dict | str) -> None:
    kubectl("apply", "-f", "-", input=manifest if isinstance(manifest, str) else json.dumps(manifest))


def pod_json(kubectl, name: str) -> dict:
    return json.loads(kubectl("get", "pod", name, "-o", "json"))


def pod_row(kubectl, name: str) -> list[str]:
    """NAME READY STATUS RESTARTS AGE, as kubectl prints them."""
    return kubectl("get", "pod", name, "--no-headers").split()


def pod(name: str, *containers: dict, restart_policy: str | None = None, grace: int = 1, **spec) -> dict:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": grace, "containers": list(containers), **spec}}
    if restart_policy:
        body["spec"]["restartPolicy"] = restart_policy
    return body


def sh(name: str, script: str, **extra) -> dict:
    return {"name": name, "image": ECHO, "command": ["sh", "-c", script], **extra}


def docker_containers(engine, uid: str, container: str | None = None) -> list:
    """The pod's Docker containers, inspected. The agent removes old instances while we look,
    so one that vanishes between the listing and its inspection is skipped, not an error."""
    wanted = [f"{labels.POD_UID}={uid}"] + ([f"{labels.CONTAINER}={container}"] if container else [])
    found = []
    for summary in engine.api.containers(all=True, filters={"label": wanted}):
        try:
            found.append(engine.containers.get(summary["Id"]))
        except docker.errors.NotFound:
            continue
    return found


def delete(kubectl, *names: str) -> None:
    kubectl("delete", "pod", *names, "--wait=true", "--timeout=60s")


# ── running a pod ────────────────────────────────────────────────────────────────────────────


def test_seed_nginx_pod_runs_as_a_real_container(cluster, kubectl, engine):
    kubectl("apply", "-f", str(SEED / "nginx-pod.yaml"))
    row = wait_pod(kubectl, "my-nginx-pod", "Running", lambda: (r := pod_row(kubectl, "my-nginx-pod"))[2] == "Running" and r)
    assert row[1:4] == ["1/1", "Running", "0"]
    status = pod_json(kubectl, "my-nginx-pod")
    uid, ip, node = status["metadata"]["uid"], status["status"]["podIP"], status["spec"]["nodeName"]
    running = [c for c in engine.containers.list(filters={"label": [f"{labels.POD_UID}={uid}"]})]
    assert {c.labels[labels.CONTAINER] for c in running} == {labels.SANDBOX, "my-nginx-container"}
    assert all(c.labels[labels.CLUSTER] == cluster.uid and c.labels[labels.NODE] == node for c in running)
    page = urllib.request.urlopen(f"http://{ip}:80/", timeout=5).read().decode()
    assert "Welcome to nginx!" in page
    described = kubectl("describe", "pod", "my-nginx-pod")
    assert re.search(rf"Node:\s+{node}/", described)
    assert re.search(rf"IP:\s+{re.escape(ip)}", described)
    assert re.search(r"State:\s+Running", described)
    for event in ("Scheduled", "Created", "Started"):
        assert re.search(rf"Normal\s+{event}\s", described), described
    delete(kubectl, "my-nginx-pod")
    assert docker_containers(engine, uid) == []


def test_sidecar_reaches_nginx_on_localhost_and_shares_the_hostname(kubectl, engine):
    apply(kubectl, pod("sidecar-pod",
                       {"name": "web", "image": "nginx:latest"},
                       sh("fetcher", "while true; do wget -q -O - http://127.0.0.1:80/ | grep -o 'Welcome to nginx'; "
                                     "sleep 1; done")))
    wait_pod(kubectl, "sidecar-pod", "2/2", lambda: pod_row(kubectl, "sidecar-pod")[1] == "2/2")
    wait_for("the sidecar to fetch the page", lambda: "Welcome to nginx" in kubectl("logs", "sidecar-pod", "-c",
                                                                                    "fetcher"))
    for container in ("web", "fetcher"):
        assert kubectl("exec", "sidecar-pod", "-c", container, "--", "hostname").strip() == "sidecar-pod"
    assert "nginx: master" not in kubectl("exec", "sidecar-pod", "-c", "fetcher", "--", "ps")  # own PID namespace
    delete(kubectl, "sidecar-pod")


def test_share_process_namespace_shows_the_pods_processes_to_each_container(kubectl):
    apply(kubectl, pod("shared-pid", {"name": "web", "image": "nginx:latest"}, sh("peer", "sleep 3600"),
                       shareProcessNamespace=True))
    wait_pod(kubectl, "shared-pid", "2/2", lambda: pod_row(kubectl, "shared-pid")[1] == "2/2")
    processes = kubectl("exec", "shared-pid", "-c", "peer", "--", "ps")
    assert "nginx: master process" in processes and "/pause" in processes, processes
    delete(kubectl, "shared-pid")


def test_env_volumes_and_limits_reach_docker(kubectl, engine):
    apply(kubectl, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
                    "data": {"MODE": "lab"}})
    apply(kubectl, pod(
        "config-pod",
        sh("writer", "echo shared > /data/note; sleep 3600", volumeMounts=[{"name": "data", "mountPath": "/data"}],
           env=[{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "MODE"}}},
                {"name": "GREETING", "value": "mode=$(MODE)"},
                {"name": "MY_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
           resources={"limits": {"memory": "64Mi", "cpu": "500m"}}),
        sh("reader", "sleep 3600", volumeMounts=[{"name": "data", "mountPath": "/shared"}]),
        volumes=[{"name": "data", "emptyDir": {}}]))
    wait_pod(kubectl, "config-pod", "2/2", lambda: pod_row(kubectl, "config-pod")[1] == "2/2")
    env = kubectl("exec", "config-pod", "-c", "writer", "--", "env")
    assert "MODE=lab" in env and "GREETING=mode=lab" in env and "MY_POD=config-pod" in env
    assert wait_for("the note", lambda: kubectl("exec", "config-pod", "-c", "reader", "--", "cat",
                                                "/shared/note").strip()) == "shared"
    uid = pod_json(kubectl, "config-pod")["metadata"]["uid"]
    (writer,) = docker_containers(engine, uid, "writer")
    assert writer.attrs["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert writer.attrs["HostConfig"]["NanoCpus"] == 500_000_000
    assert writer.attrs["HostConfig"]["RestartPolicy"]["Name"] == "no"
    delete(kubectl, "config-pod")
    kubectl("delete", "configmap", "settings")
    assert engine.volumes.list(filters={"label": [f"{labels.POD_UID}={uid}"]}) == []


# ── restarts ─────────────────────────────────────────────────────────────────────────────────


def test_crash_loop_follows_the_backoff_curve_and_keeps_the_previous_logs(kubectl, engine):
    apply(kubectl, pod("crasher", sh("c", "echo attempt at $(date +%s); exit 1")))
    uid = wait_pod(kubectl, "crasher", "the pod's uid", lambda: pod_json(kubectl, "crasher")["metadata"]["uid"])
    starts: dict[int, tuple[float, float]] = {}  # attempt -> (started, finished) from Docker, ns precision
    statuses = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(starts) < 5:
        for container in docker_containers(engine, uid, "c"):
            state = container.attrs["State"]
            if state["Status"] == "exited":
                starts[int(container.labels[labels.RESTART_COUNT])] = (_ts(state["StartedAt"]), _ts(state["FinishedAt"]))
        statuses.add(pod_row(kubectl, "crasher")[2])
        time.sleep(0.1)
    assert len(starts) >= 5, starts
    assert "CrashLoopBackOff" in statuses
    # the gap between attempt n's exit and attempt n+1's start is the back-off of streak n
    for attempt in range(4):
        gap = starts[attempt + 1][0] - starts[attempt][1]
        expected = delay_for(attempt, LAB_BACKOFF)
        assert expected - 0.1 <= gap <= expected + 1.5, (attempt, gap, expected)
    restarts = int(pod_row(kubectl, "crasher")[3])
    assert restarts >= 4
    previous = kubectl("logs", "crasher", "--previous")
    assert re.fullmatch(r"attempt at \d+\n", previous)
    kubectl.wait_described("pod", "crasher", text="Back-off restarting failed container c in pod crasher")
    delete(kubectl, "crasher")


def _ts(docker_time: str) -> float:
    from datetime import datetime
    main, _, fraction = docker_time.rstrip("Z").partition(".")
    return datetime.fromisoformat(main + "+00:00").timestamp() + float("0." + (fraction or "0"))


def test_restart_policy_never_and_on_failure(kubectl):
    apply(kubectl, pod("never-fails", sh("c", "exit 1"), restart_policy="Never"))
    apply(kubectl, pod("onfailure-ok", sh("c", "echo done; exit 0"), restart_policy="OnFailure"))
    wait_pod(kubectl, "never-fails", "Failed", lambda: pod_json(kubectl, "never-fails")["status"].get("phase") == "Failed")
    wait_pod(kubectl, "onfailure-ok", "Succeeded", lambda: pod_json(kubectl, "onfailure-ok")["status"].get("phase") == "Succeeded")
    assert pod_row(kubectl, "never-fails")[1:4] == ["0/1", "Error", "0"]
    assert pod_row(kubectl, "onfailure-ok")[1:4] == ["0/1", "Completed", "0"]
    time.sleep(2)  # long enough for a wrong restart (back-off starts at once) to show
    assert pod_row(kubectl, "onfailure-ok")[3] == "0"
    assert pod_row(kubectl, "never-fails")[3] == "0"
    assert kubectl("logs", "onfailure-ok") == "done\n"
    delete(kubectl, "never-fails", "onfailure-ok")


# ── probes ───────────────────────────────────────────────────────────────────────────────────


def test_failing_liveness_restarts_and_failing_readiness_keeps_the_pod_unready(kubectl):
    probe = {"periodSeconds": 1, "failureThreshold": 2, "timeoutSeconds": 1}
    apply(kubectl, pod("unlive", {"name": "web", "image": "nginx:latest",
                                  "livenessProbe": {"httpGet": {"path": "/missing", "port": 80}, **probe}}))
    apply(kubectl, pod("unready", {"name": "web", "image": "nginx:latest",
                                   "readinessProbe": {"exec": {"command": ["false"]}, **probe}}))
    wait_pod(kubectl, "unlive", "to restart", lambda: int(pod_row(kubectl, "unlive")[3]) >= 1, timeout=40)
    kubectl.wait_described("pod", "unlive", text="Liveness probe failed: HTTP probe failed with statuscode: 404")
    kubectl.wait_described("pod", "unlive", text="Container web failed liveness probe, will be restarted")
    time.sleep(3)
    row = pod_row(kubectl, "unready")
    assert row[1:4] == ["0/1", "Running", "0"], row
    ready = {c["type"]: c["status"] for c in pod_json(kubectl, "unready")["status"]["conditions"]}
    assert ready["Ready"] == "False" and ready["ContainersReady"] == "False"
    assert "Readiness probe failed" in kubectl("describe", "pod", "unready")
    delete(kubectl, "unlive", "unready")


# ── failures people meet ─────────────────────────────────────────────────────────────────────


def test_missing_image(kubectl):
    apply(kubectl, pod("no-image", {"name": "c", "image": "dockyard-test/no-such-image:1.0"}))
    seen = set()
    wait_pod(kubectl, "no-image", "ErrImagePull then ImagePullBackOff",
             lambda: seen.add(pod_row(kubectl, "no-image")[2]) or {"ErrImagePull", "ImagePullBackOff"} <= seen,
             timeout=40, every=0.2)
    kubectl.wait_described("pod", "no-image", text='Back-off pulling image "dockyard-test/no-such-image:1.0"')
    assert 'Failed to pull image "dockyard-test/no-such-image:1.0"' in kubectl("describe", "pod", "no-image")
    delete(kubectl, "no-image")


def test_out_of_memory_is_reported_as_oomkilled(kubectl, engine):
    """The agent reports what Docker saw. Docker 20.10 now and then misses the OOM event of a
    container that dies within milliseconds (then ``State.OOMKilled`` stays false and the reason
    is ``Error``, exit code 137), so each try checks that the status agrees with Docker, and one
    of three tries must be a recognised OOM kill."""
    reasons = []
    for attempt in range(3):
        name = f"hungry-{attempt}"
        apply(kubectl, pod(name, sh("c", "a=0123456789abcdef; while true; do a=\"$a$a\"; done",
                                    resources={"limits": {"memory": "16Mi"}}), restart_policy="Never"))
        wait_pod(kubectl, name, "Failed", lambda: pod_json(kubectl, name)["status"].get("phase") == "Failed")
        uid = pod_json(kubectl, name)["metadata"]["uid"]
        (container,) = docker_containers(engine, uid, "c")
        docker_says = "OOMKilled" if container.attrs["State"]["OOMKilled"] else "Error"
        terminated = wait_pod(kubectl, name, f"the reason Docker gives ({docker_says})", lambda: (
            t := pod_json(kubectl, name)["status"]["containerStatuses"][0]["state"]["terminated"])["reason"]
            == docker_says and t)
        assert terminated["exitCode"] == 137
        assert pod_row(kubectl, name)[2] == docker_says  # kubectl's STATUS column
        delete(kubectl, name)
        reasons.append(docker_says)
        if docker_says == "OOMKilled":
            break
    assert "OOMKilled" in reasons, reasons


# ── stopping ─────────────────────────────────────────────────────────────────────────────────


def test_deleting_a_pod_that_ignores_sigterm_takes_its_grace_period(kubectl, engine):
    apply(kubectl, pod("stubborn", sh("c", "trap '' TERM; while true; do sleep 0.2; done"), grace=3,
                       volumes=[{"name": "scratch", "emptyDir": {}}]))
    wait_pod(kubectl, "stubborn", "Running", lambda: pod_row(kubectl, "stubborn")[2] == "Running")
    uid = pod_json(kubectl, "stubborn")["metadata"]["uid"]
    started = time.monotonic()
    delete(kubectl, "stubborn")
    took = time.monotonic() - started
    assert 2.5 <= took <= 8, took
    assert docker_containers(engine, uid) == []
    assert engine.volumes.list(filters={"label": [f"{labels.POD_UID}={uid}"]}) == []


# ── adoption ─────────────────────────────────────────────────────────────────────────────────


def test_an_agent_killed_with_sigkill_adopts_its_running_containers(cluster, kubectl, engine):
    apply(kubectl, pod("survivor", {"name": "web", "image": "nginx:latest"}, nodeName="node-1"))
    wait_pod(kubectl, "survivor", "Running", lambda: pod_row(kubectl, "survivor")[2] == "Running")
    uid = pod_json(kubectl, "survivor")["metadata"]["uid"]
    before = {c.id: c.attrs["State"]["StartedAt"] for c in docker_containers(engine, uid)}
    (agent,) = [r for r in records(cluster.state) if r.name == "agent-node-1"]
    os.kill(agent.pid, signal.SIGKILL)
    wait_for("the agent to die", lambda: not os.path.exists(f"/proc/{agent.pid}") or
             open(f"/proc/{agent.pid}/stat").read().split()[2] == "Z")
    assert cluster.run_up().returncode == 0  # `dockyard up` again restarts what is missing
    apply(kubectl, pod("newcomer", sh("c", "sleep 3600"), nodeName="node-1"))
    wait_pod(kubectl, "newcomer", "Running (status reporting resumed)", lambda: pod_row(kubectl, "newcomer")[2] == "Running")
    after = {c.id: c.attrs["State"]["StartedAt"] for c in docker_containers(engine, uid)}
    assert after == before
    assert pod_row(kubectl, "survivor")[1:4] == ["1/1", "Running", "0"]
    delete(kubectl, "survivor", "newcomer")


# ── the sandbox ──────────────────────────────────────────────────────────────────────────────


def test_a_dead_sandbox_is_rebuilt_and_its_containers_restarted(kubectl, engine):
    apply(kubectl, pod("fragile", sh("c", "sleep 3600")))
    wait_pod(kubectl, "fragile", "Running", lambda: pod_row(kubectl, "fragile")[2] == "Running")
    uid = pod_json(kubectl, "fragile")["metadata"]["uid"]
    (pause,) = [c for c in docker_containers(engine, uid, labels.SANDBOX) if c.status == "running"]
    pause.kill()
    wait_pod(kubectl, "fragile", "a new sandbox and a restarted container",
             lambda: pod_row(kubectl, "fragile")[1:4] == ["1/1", "Running", "1"])
    (new_pause,) = [c for c in docker_containers(engine, uid, labels.SANDBOX) if c.status == "running"]
    assert new_pause.id != pause.id
    kubectl.wait_described("pod", "fragile", text="Pod sandbox changed, it will be killed and re-created.")
    assert pod_json(kubectl, "fragile")["status"]["podIP"]
    delete(kubectl, "fragile")


def test_host_ports_are_published_by_the_sandbox_and_a_clash_is_explained(kubectl):
    port = free_port()
    web = {"name": "web", "image": "nginx:latest", "ports": [{"containerPort": 80, "hostPort": port}]}
    apply(kubectl, pod("holder", web, nodeName="node-1"))
    wait_pod(kubectl, "holder", "Running", lambda: pod_row(kubectl, "holder")[2] == "Running")
    assert "Welcome to nginx!" in urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read().decode()
    # node-2 shares this Docker engine in the local cluster, so the same hostPort clashes there
    apply(kubectl, pod("clasher", web, nodeName="node-2"))
    wait_pod(kubectl, "clasher", "the clash to be reported",
             lambda: "port is already allocated" in kubectl("describe", "pod", "clasher"))
    described = kubectl("describe", "pod", "clasher")
    assert "FailedCreatePodSandBox" in described and "pick another hostPort" in described
    assert pod_row(kubectl, "clasher")[2] == "ContainerCreating"
    delete(kubectl, "holder", "clasher")


def test_pull_policy_never_with_a_missing_image(kubectl):
    apply(kubectl, pod("never-pull", {"name": "c", "image": "dockyard-test/absent:1", "imagePullPolicy": "Never"}))
    wait_pod(kubectl, "never-pull", "ErrImageNeverPull", lambda: pod_row(kubectl, "never-pull")[2] == "ErrImageNeverPull")
    assert 'Container image "dockyard-test/absent:1" is not present with pull policy of Never' in \
        kubectl("describe", "pod", "never-pull")
    delete(kubectl, "never-pull")
