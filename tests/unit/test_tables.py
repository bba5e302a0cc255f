"""Server-side Table rendering must match kubectl 1.32 cell for cell and byte for byte."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.apiserver.tables import human_duration, print_table, render_table
from orchestrator.apiserver.tables.printer import align

NOW = datetime(2025, 10, 10, 3, 40, 37, tzinfo=timezone.utc)


def ago(seconds: float) -> str:
    """An RFC 3339 timestamp the given number of seconds before NOW."""
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, age: float | None = 60, namespace: str | None = "default", **extra: Any) -> dict:
    metadata: dict[str, Any] = {"name": name, "uid": f"uid-{name}", "resourceVersion": "42", **extra}
    if namespace is not None:
        metadata["namespace"] = namespace
    if age is not None:
        metadata["creationTimestamp"] = ago(age)
    return metadata


def row_of(kind: str, obj: dict, **kwargs: Any) -> list:
    return render_table(kind, [obj], now=NOW, **kwargs)["rows"][0]["cells"]


def headers(kind: str, *, wide: bool) -> list[str]:
    columns = render_table(kind, [], now=NOW)["columnDefinitions"]
    return [c["name"].upper() for c in columns if wide or c["priority"] == 0]


def printed(kind: str, objects: list[dict], **kwargs: Any) -> str:
    options = {"wide": False, **kwargs}
    return print_table(render_table(kind, objects, now=NOW), **options)


# ---------------------------------------------------------------------------------------------
# Realistic objects


def container_status(
    name: str = "nginx",
    *,
    state: dict | None = None,
    ready: bool = False,
    restarts: int = 0,
    last_finished: float | None = None,
    started: bool | None = None,
) -> dict:
    status: dict[str, Any] = {
        "name": name,
        "image": "nginx:1.25",
        "imageID": "",
        "ready": ready,
        "restartCount": restarts,
        "state": state if state is not None else {"waiting": {"reason": "ContainerCreating"}},
        "lastState": {},
    }
    if last_finished is not None:
        status["lastState"] = {
            "terminated": {"exitCode": 1, "reason": "Error", "startedAt": ago(last_finished + 5), "finishedAt": ago(last_finished)}
        }
    if started is not None:
        status["started"] = started
    return status


RUNNING = {"running": {"startedAt": ago(100)}}


def waiting(reason: str) -> dict:
    return {"waiting": {"reason": reason, "message": "..."}}


def terminated(exit_code: int, reason: str = "", signal: int = 0) -> dict:
    state: dict[str, Any] = {"exitCode": exit_code, "startedAt": ago(90), "finishedAt": ago(80)}
    if reason:
        state["reason"] = reason
    if signal:
        state["signal"] = signal
    return {"terminated": state}


def running(name: str = "nginx") -> dict:
    return container_status(name, state=RUNNING, ready=True)


def finished(name: str = "nginx") -> dict:
    return container_status(name, state=terminated(0, "Completed"))


def condition(type_: str, status: str = "True", reason: str | None = None) -> dict:
    cond = {"type": type_, "status": status, "lastTransitionTime": ago(50)}
    if reason:
        cond["reason"] = reason
    return cond


def pod(
    name: str = "web",
    *,
    phase: str = "Running",
    statuses: list[dict] | None = None,
    init_statuses: list[dict] | None = None,
    containers: int = 1,
    init_containers: list[dict] | None = None,
    conditions: list[dict] | None = None,
    age: float = 119,
    reason: str | None = None,
    deleted: bool = False,
    node: str = "node-1",
    pod_ip: str | None = "10.42.0.144",
) -> dict:
    spec: dict[str, Any] = {
        "containers": [{"name": f"c{i}" if containers > 1 else "nginx", "image": "nginx:1.25"} for i in range(containers)],
        "restartPolicy": "Always",
    }
    if init_containers is not None:
        spec["initContainers"] = init_containers
    if node:
        spec["nodeName"] = node
    status: dict[str, Any] = {"phase": phase, "conditions": conditions or []}
    if statuses is not None:
        status["containerStatuses"] = statuses
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    if reason:
        status["reason"] = reason
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    metadata = meta(name, age)
    if deleted:
        metadata["deletionTimestamp"] = ago(1)
        metadata["deletionGracePeriodSeconds"] = 30
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}


def deployment(name: str, *, replicas: int | None = 3, ready: int = 3, updated: int = 3, available: int = 3, age: float = 21) -> dict:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "my-nginx"}},
        "template": {
            "metadata": {"labels": {"app": "my-nginx"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}, {"name": "sidecar", "image": "busybox:1.36"}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, age, generation=1),
        "spec": spec,
        "status": {
            "observedGeneration": 1,
            "replicas": 3,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
        },
    }


def replica_set(name: str, *, desired: int = 3, current: int = 3, ready: int = 3, age: float = 26) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": meta(name, age),
        "spec": {
            "replicas": desired,
            "selector": {
                "matchLabels": {"app": "my-nginx", "pod-template-hash": "9b459b4c5"},
                "matchExpressions": [{"key": "env", "operator": "In", "values": ["staging", "prod"]}],
            },
            "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}},
        },
        "status": {"replicas": current, "readyReplicas": ready, "availableReplicas": ready},
    }


def service(
    name: str,
    *,
    type_: str = "ClusterIP",
    cluster_ip: str = "10.43.49.255",
    ports: list[dict] | None = None,
    age: float = 174,
    selector: dict | None = None,
    **spec_extra: Any,
) -> dict:
    spec: dict[str, Any] = {
        "type": type_,
        "ports": ports if ports is not None else [{"name": "http", "port": 8080, "targetPort": 8080, "protocol": "TCP"}],
        **spec_extra,
    }
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
        spec["clusterIPs"] = [cluster_ip]
    if selector is not None:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(name, age), "spec": spec, "status": {"loadBalancer": {}}}


def node(
    name: str = "k3s-server",
    *,
    ready: str | None = "True",
    unschedulable: bool = False,
    labels: dict | None = None,
    age: float = 25 * 86400,
) -> dict:
    conditions = [condition("MemoryPressure", "False"), condition("DiskPressure", "False")]
    if ready is not None:
        conditions.append(condition("Ready", ready))
    spec: dict[str, Any] = {"podCIDR": "10.42.0.0/24"}
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": meta(name, age, namespace=None, labels=labels if labels is not None else {"kubernetes.io/hostname": name}),
        "spec": spec,
        "status": {
            "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": name}],
            "nodeInfo": {
                "kubeletVersion": "v1.32.3+k3s1",
                "osImage": "K3s v1.32.3+k3s1",
                "kernelVersion": "6.8.0-45-generic",
                "containerRuntimeVersion": "containerd://2.0.4-k3s2",
            },
        },
    }


def event(**overrides: Any) -> dict:
    base: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": meta("my-nginx-pod.186d2b4f1a2e3c4d", 300),
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "my-nginx-pod", "fieldPath": "spec.containers{nginx}"},
        "reason": "Pulled",
        "message": "Successfully pulled image \"nginx:1.25\" in 1.2s\n",
        "source": {"component": "kubelet", "host": "k3s-server"},
        "firstTimestamp": ago(300),
        "lastTimestamp": ago(45),
        "count": 4,
        "type": "Normal",
    }
    base.update(overrides)
    return base


# ---------------------------------------------------------------------------------------------
# The seed transcript, reproduced from realistic objects


def test_seed_deployment() -> None:
    assert printed("Deployment", [deployment("my-nginx-deployment", age=21)]) == (
        "NAME                  READY   UP-TO-DATE   AVAILABLE   AGE\n"
        "my-nginx-deployment   3/3     3            3           21s\n"
    )


def test_seed_replica_set() -> None:
    assert printed("ReplicaSet", [replica_set("my-nginx-deployment-9b459b4c5", age=26)]) == (
        "NAME                            DESIRED   CURRENT   READY   AGE\n"
        "my-nginx-deployment-9b459b4c5   3         3         3       26s\n"
    )


def test_seed_crash_looping_pod() -> None:
    crashing = pod(
        "my-nginx-deployment-759b76bcd5-4jccd",
        statuses=[container_status(state=waiting("CrashLoopBackOff"), restarts=4, last_finished=29)],
        conditions=[condition("Ready", "False")],
        age=119,
    )
    assert printed("Pod", [crashing]) == (
        "NAME                                   READY   STATUS             RESTARTS      AGE\n"
        "my-nginx-deployment-759b76bcd5-4jccd   0/1     CrashLoopBackOff   4 (29s ago)   119s\n"
    )


def test_seed_cluster_ip_service() -> None:
    svc = service("hostname-svc-clusterip", cluster_ip="10.43.49.255", age=174)
    assert printed("Service", [svc]) == (
        "NAME                     TYPE        CLUSTER-IP     EXTERNAL-IP   PORT(S)    AGE\n"
        "hostname-svc-clusterip   ClusterIP   10.43.49.255   <none>        8080/TCP   2m54s\n"
    )


def test_seed_node_port_service() -> None:
    node_port = service(
        "hostname-svc-nodeport",
        type_="NodePort",
        cluster_ip="10.43.36.241",
        ports=[{"port": 8080, "targetPort": 8080, "nodePort": 31294, "protocol": "TCP"}],
        age=4,
    )
    https = [{"name": "https", "port": 443, "protocol": "TCP"}]
    default_api = service("kubernetes", cluster_ip="10.43.0.1", ports=https, age=5 * 86400)
    lines = printed("Service", [node_port, default_api]).splitlines()
    assert lines[1] == "hostname-svc-nodeport   NodePort    10.43.36.241   <none>        8080:31294/TCP   4s"
    assert lines[2] == "kubernetes              ClusterIP   10.43.0.1      <none>        443/TCP          5d"


# ---------------------------------------------------------------------------------------------
# HumanDuration


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (timedelta(seconds=-3), "<invalid>"),
        (timedelta(seconds=-2), "<invalid>"),
        (timedelta(seconds=-1.5), "0s"),
        (timedelta(seconds=-1), "0s"),
        (timedelta(0), "0s"),
        (timedelta(seconds=1), "1s"),
        (timedelta(seconds=21), "21s"),
        (timedelta(seconds=59), "59s"),
        (timedelta(seconds=60), "60s"),
        (timedelta(seconds=119), "119s"),
        (timedelta(seconds=119, microseconds=999_999), "119s"),
        (timedelta(seconds=120), "2m"),
        (timedelta(seconds=121), "2m1s"),
        (timedelta(seconds=158), "2m38s"),
        (timedelta(seconds=174), "2m54s"),
        (timedelta(minutes=9, seconds=59), "9m59s"),
        (timedelta(minutes=10), "10m"),
        (timedelta(minutes=10, seconds=59), "10m"),
        (timedelta(minutes=11), "11m"),
        (timedelta(minutes=179, seconds=59), "179m"),
        (timedelta(hours=3), "3h"),
        (timedelta(hours=3, minutes=5), "3h5m"),
        (timedelta(hours=7, minutes=59, seconds=59), "7h59m"),
        (timedelta(hours=8), "8h"),
        (timedelta(hours=47, minutes=59), "47h"),
        (timedelta(hours=48), "2d"),
        (timedelta(hours=50), "2d2h"),
        (timedelta(hours=191, minutes=59), "7d23h"),
        (timedelta(hours=192), "8d"),
        (timedelta(days=25), "25d"),
        (timedelta(days=729, hours=23), "729d"),
        (timedelta(days=730), "2y"),
        (timedelta(days=775), "2y45d"),
        (timedelta(days=8 * 365, hours=-1), "7y364d"),
        (timedelta(days=8 * 365), "8y"),
        (timedelta(days=3650 + 100), "10y"),
    ],
)
def test_human_duration(elapsed: timedelta, expected: str) -> None:
    assert human_duration(elapsed) == expected


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (None, "<unknown>"),
        ("0001-01-01T00:00:00Z", "<unknown>"),
        ("not a time", "<unknown>"),
        ("2025-10-10T03:38:38Z", "119s"),
        ("2025-10-10T03:38:38.999999999Z", "118s"),
        ("2025-10-10T05:38:38+02:00", "119s"),
        ("2025-10-10T03:40:38Z", "0s"),
        ("2025-10-10T03:40:38.500Z", "0s"),
        ("2025-10-10T03:40:39Z", "<invalid>"),
    ],
)
def test_age_column_parses_rfc3339(timestamp: str | None, expected: str) -> None:
    obj = {"metadata": {"name": "x", "creationTimestamp": timestamp}}
    assert row_of("ConfigMap", obj)[2] == expected


def test_naive_now_is_utc() -> None:
    table = render_table("ConfigMap", [{"metadata": {"name": "x", "creationTimestamp": ago(21)}}], now=NOW.replace(tzinfo=None))
    assert table["rows"][0]["cells"][2] == "21s"


# ---------------------------------------------------------------------------------------------
# Columns of every kind


@pytest.mark.parametrize(
    ("kind", "default", "wide_extras"),
    [
        ("Pod", ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]),
        ("ReplicaSet", ["NAME", "DESIRED", "CURRENT", "READY", "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"]),
        ("Deployment", ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"]),
        ("Service", ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], ["SELECTOR"]),
        ("Endpoints", ["NAME", "ENDPOINTS", "AGE"], []),
        ("EndpointSlice", ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], []),
        (
            "Node",
            ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
            ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"],
        ),
        ("Namespace", ["NAME", "STATUS", "AGE"], []),
        ("ConfigMap", ["NAME", "DATA", "AGE"], []),
        ("Secret", ["NAME", "TYPE", "DATA", "AGE"], []),
        ("Lease", ["NAME", "HOLDER", "AGE"], []),
        ("Widget", ["NAME", "AGE"], []),
    ],
)
def test_headers(kind: str, default: list[str], wide_extras: list[str]) -> None:
    assert headers(kind, wide=False) == default
    assert headers(kind, wide=True) == default + wide_extras


def test_event_columns_interleave_wide_ones() -> None:
    assert headers("Event", wide=False) == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert headers("Event", wide=True) == [
        "LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE", "FIRST SEEN", "COUNT", "NAME",
    ]


@pytest.mark.parametrize(
    ("kind", "column", "type_"),
    [
        ("Pod", "Restarts", "string"),
        ("ReplicaSet", "Desired", "integer"),
        ("ReplicaSet", "Ready", "integer"),
        ("Deployment", "Up-to-date", "string"),
        ("Deployment", "Available", "string"),
        ("Secret", "Data", "string"),
        ("Event", "Count", "string"),
    ],
)
def test_column_types_follow_kubectl(kind: str, column: str, type_: str) -> None:
    columns = {c["name"]: c for c in render_table(kind, [], now=NOW)["columnDefinitions"]}
    assert columns[column]["type"] == type_


def test_column_definition_shape() -> None:
    columns = render_table("Pod", [], now=NOW)["columnDefinitions"]
    assert set(columns[0]) == {"name", "type", "format", "description", "priority"}
    assert columns[0]["format"] == "name" and columns[0]["priority"] == 0
    assert all(c["description"] for c in columns)
    assert [c["priority"] for c in columns] == [0, 0, 0, 0, 0, 1, 1, 1, 1]


# ---------------------------------------------------------------------------------------------
# Pods: STATUS, READY, RESTARTS


def init_container(name: str, *, sidecar: bool = False) -> dict:
    spec = {"name": name, "image": "busybox:1.36"}
    if sidecar:
        spec["restartPolicy"] = "Always"
    return spec


def pending(state: dict) -> dict:
    """A scheduled pod whose only container has not started."""
    return pod(phase="Pending", statuses=[container_status(state=state)])


def initializing(state: dict) -> dict:
    """A pod whose single init container is in the given state."""
    return pod(
        phase="Pending",
        init_containers=[init_container("migrate")],
        init_statuses=[container_status("migrate", state=state)],
    )


@pytest.mark.parametrize(
    ("case", "obj", "ready", "status", "restarts"),
    [
        ("running", pod(statuses=[running()], conditions=[condition("Ready")]), "1/1", "Running", "0"),
        (
            "crash loop",
            pod(statuses=[container_status(state=waiting("CrashLoopBackOff"), restarts=4, last_finished=29)]),
            "0/1", "CrashLoopBackOff", "4 (29s ago)",
        ),
        ("image pull", pending(waiting("ErrImagePull")), "0/1", "ErrImagePull", "0"),
        ("image backoff", pending(waiting("ImagePullBackOff")), "0/1", "ImagePullBackOff", "0"),
        ("creating", pending(waiting("ContainerCreating")), "0/1", "ContainerCreating", "0"),
        ("pending, no statuses", pod(phase="Pending", node="", pod_ip=None), "0/1", "Pending", "0"),
        ("completed", pod(phase="Succeeded", statuses=[container_status(state=terminated(0, "Completed"))]), "0/1", "Completed", "0"),
        ("error", pod(phase="Failed", statuses=[container_status(state=terminated(1, "Error"))]), "0/1", "Error", "0"),
        ("oom", pod(statuses=[container_status(state=terminated(137, "OOMKilled"), restarts=2)]), "0/1", "OOMKilled", "2"),
        ("signal", pod(statuses=[container_status(state=terminated(137, signal=9))]), "0/1", "Signal:9", "0"),
        ("exit code", pod(statuses=[container_status(state=terminated(3))]), "0/1", "ExitCode:3", "0"),
        (
            "terminating",
            pod(statuses=[container_status(state=RUNNING, ready=True)], conditions=[condition("Ready")], deleted=True),
            "1/1", "Terminating", "0",
        ),
        (
            "finished pods are not terminating",
            pod(phase="Succeeded", statuses=[container_status(state=terminated(0, "Completed"))], deleted=True),
            "0/1", "Completed", "0",
        ),
        ("node lost", pod(reason="NodeLost", statuses=[running()], deleted=True), "1/1", "Unknown", "0"),
        ("evicted", pod(phase="Failed", reason="Evicted", statuses=[]), "0/1", "Evicted", "0"),
        (
            "scheduling gated",
            pod(phase="Pending", node="", conditions=[condition("PodScheduled", "False", reason="SchedulingGated")]),
            "0/1", "SchedulingGated", "0",
        ),
        (
            "first container names the status",
            pod(
                containers=2,
                statuses=[
                    container_status("c0", state=waiting("ErrImagePull")),
                    container_status("c1", state=waiting("CrashLoopBackOff")),
                ],
            ),
            "0/2", "ErrImagePull", "0",
        ),
        (
            "completed container beside a running one, pod ready",
            pod(containers=2, statuses=[finished("c0"), running("c1")], conditions=[condition("Ready")]),
            "1/2", "Running", "0",
        ),
        (
            "completed container beside a running one, pod not ready",
            pod(containers=2, statuses=[finished("c0"), running("c1")], conditions=[condition("Ready", "False")]),
            "1/2", "NotReady", "0",
        ),
        (
            "running but not ready",
            pod(statuses=[container_status(state=RUNNING, ready=False)], conditions=[condition("Ready", "False")]),
            "0/1", "Running", "0",
        ),
        (
            "init progress",
            pod(
                phase="Pending",
                init_containers=[init_container("migrate"), init_container("seed")],
                init_statuses=[container_status("migrate", state=terminated(0, "Completed")), container_status("seed", state=RUNNING)],
                statuses=[container_status(state=waiting("PodInitializing"))],
            ),
            "0/1", "Init:1/2", "0",
        ),
        (
            "init waiting on PodInitializing counts progress",
            initializing(waiting("PodInitializing")),
            "0/1", "Init:0/1", "0",
        ),
        (
            "init crash loop",
            pod(
                phase="Pending",
                init_containers=[init_container("migrate")],
                init_statuses=[container_status("migrate", state=waiting("CrashLoopBackOff"), restarts=3, last_finished=10)],
                statuses=[container_status(state=waiting("PodInitializing"))],
            ),
            "0/1", "Init:CrashLoopBackOff", "3 (10s ago)",
        ),
        (
            "init error",
            initializing(terminated(1, "Error")),
            "0/1", "Init:Error", "0",
        ),
        (
            "init exit code",
            initializing(terminated(2)),
            "0/1", "Init:ExitCode:2", "0",
        ),
        (
            "init signal",
            initializing(terminated(143, signal=15)),
            "0/1", "Init:Signal:15", "0",
        ),
        (
            "started sidecar counts toward ready and total",
            pod(
                init_containers=[init_container("proxy", sidecar=True)],
                init_statuses=[container_status("proxy", state=RUNNING, ready=True, started=True, restarts=1, last_finished=300)],
                statuses=[container_status(state=RUNNING, ready=True, restarts=2)],
                conditions=[condition("Initialized"), condition("Ready")],
            ),
            "2/2", "Running", "3 (5m ago)",
        ),
        (
            "finished init containers' restarts no longer count",
            pod(
                init_containers=[init_container("migrate")],
                init_statuses=[container_status("migrate", state=terminated(0, "Completed"), restarts=5, last_finished=600)],
                statuses=[container_status(state=RUNNING, ready=True)],
                conditions=[condition("Initialized"), condition("Ready")],
            ),
            "1/1", "Running", "0",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_pod_status(case: str, obj: dict, ready: str, status: str, restarts: str) -> None:
    cells = row_of("Pod", obj)
    assert cells[1:4] == [ready, status, restarts], case


def test_restarts_sum_and_take_the_latest_finish() -> None:
    obj = pod(
        containers=2,
        statuses=[
            container_status("c0", state=RUNNING, ready=True, restarts=3, last_finished=3600),
            container_status("c1", state=RUNNING, ready=True, restarts=2, last_finished=158),
        ],
    )
    assert row_of("Pod", obj)[3] == "5 (2m38s ago)"


def test_restarts_without_finish_time_are_a_bare_count() -> None:
    obj = pod(statuses=[container_status(state=RUNNING, ready=True, restarts=7)])
    assert row_of("Pod", obj)[3] == "7"


def test_pod_wide_cells() -> None:
    obj = pod("web", statuses=[container_status(state=RUNNING, ready=True)])
    obj["status"]["nominatedNodeName"] = "node-2"
    obj["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]
    obj["status"]["conditions"] = [condition("example.com/lb"), condition("example.com/dns", "False")]
    assert row_of("Pod", obj)[5:] == ["10.42.0.144", "node-1", "node-2", "1/2"]


def test_pod_wide_cells_when_unscheduled() -> None:
    assert row_of("Pod", pod(phase="Pending", node="", pod_ip=None))[5:] == ["<none>", "<none>", "<none>", "<none>"]


def test_pod_ip_falls_back_to_pod_ip_field() -> None:
    obj = pod()
    del obj["status"]["podIPs"]
    assert row_of("Pod", obj)[5] == "10.42.0.144"


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        (
            "Succeeded",
            [{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}],
        ),
        ("Failed", [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]),
        ("Running", None),
    ],
)
def test_finished_pod_rows_carry_conditions(phase: str, expected: list | None) -> None:
    row = render_table("Pod", [pod(phase=phase)], now=NOW)["rows"][0]
    assert row.get("conditions") == expected


# ---------------------------------------------------------------------------------------------
# Workloads


def test_replica_set_wide_cells() -> None:
    cells = row_of("ReplicaSet", replica_set("web-9b459b4c5", desired=3, current=2, ready=1))
    assert cells == [
        "web-9b459b4c5", 3, 2, 1, "26s", "nginx", "nginx:1.25",
        "app=my-nginx,env in (prod,staging),pod-template-hash=9b459b4c5",
    ]


def test_replica_set_without_selector_prints_none() -> None:
    rs = replica_set("bare")
    del rs["spec"]["selector"]
    assert row_of("ReplicaSet", rs)[7] == "<none>"


def test_deployment_wide_cells() -> None:
    cells = row_of("Deployment", deployment("web", replicas=5, ready=2, updated=4, available=1, age=3 * 3600 + 300))
    assert cells == ["web", "2/5", 4, 1, "3h5m", "nginx,sidecar", "nginx:1.25,busybox:1.36", "app=my-nginx"]


def test_deployment_defaults_replicas_like_the_api() -> None:
    assert row_of("Deployment", deployment("web", replicas=None, ready=0))[1] == "0/1"


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}, "tier notin (db)"),
        ({"matchExpressions": [{"key": "canary", "operator": "Exists"}]}, "canary"),
        ({"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]}, "!canary"),
        ({"matchLabels": {"z": "1", "a": "2"}, "matchExpressions": [{"key": "m", "operator": "Exists"}]}, "a=2,m,z=1"),
        ({}, ""),
    ],
)
def test_deployment_selector_text(selector: dict, expected: str) -> None:
    obj = deployment("web")
    obj["spec"]["selector"] = selector
    assert row_of("Deployment", obj)[7] == expected


# ---------------------------------------------------------------------------------------------
# Services, Endpoints, EndpointSlices


@pytest.mark.parametrize(
    ("case", "obj", "expected"),
    [
        ("cluster ip", service("web"), ["web", "ClusterIP", "10.43.49.255", "<none>", "8080/TCP", "2m54s", "<none>"]),
        (
            "node port with several ports",
            service(
                "web", type_="NodePort",
                ports=[{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "nodePort": 30053, "protocol": "UDP"}],
                selector={"tier": "front", "app": "web"},
            ),
            ["web", "NodePort", "10.43.49.255", "<none>", "80:30080/TCP,53:30053/UDP", "2m54s", "app=web,tier=front"],
        ),
        ("headless", service("db", cluster_ip="None"), ["db", "ClusterIP", "None", "<none>", "8080/TCP", "2m54s", "<none>"]),
        (
            "external name",
            service("ext", type_="ExternalName", cluster_ip="", ports=[], externalName="db.example.com"),
            ["ext", "ExternalName", "<none>", "db.example.com", "<none>", "2m54s", "<none>"],
        ),
        (
            "load balancer pending",
            service("lb", type_="LoadBalancer", ports=[{"port": 80, "nodePort": 31000, "protocol": "TCP"}]),
            ["lb", "LoadBalancer", "10.43.49.255", "<pending>", "80:31000/TCP", "2m54s", "<none>"],
        ),
        (
            "cluster ip with external ips",
            service("web", externalIPs=["192.0.2.10", "192.0.2.11"]),
            ["web", "ClusterIP", "10.43.49.255", "192.0.2.10,192.0.2.11", "8080/TCP", "2m54s", "<none>"],
        ),
        (
            "protocol defaults to TCP",
            service("web", ports=[{"port": 9000}]),
            ["web", "ClusterIP", "10.43.49.255", "<none>", "9000/TCP", "2m54s", "<none>"],
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_service_cells(case: str, obj: dict, expected: list) -> None:
    assert row_of("Service", obj) == expected, case


def test_load_balancer_shows_ingress_then_external_ips() -> None:
    obj = service("lb", type_="LoadBalancer", externalIPs=["192.0.2.10"])
    obj["status"]["loadBalancer"] = {"ingress": [{"ip": "172.18.0.2"}, {"hostname": "lb.example.com"}, {"ip": "172.18.0.2"}]}
    assert row_of("Service", obj)[3] == "172.18.0.2,lb.example.com,192.0.2.10"


def endpoints(name: str, subsets: list[dict]) -> dict:
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta(name, 600), "subsets": subsets}


def addresses(*ips: str) -> list[dict]:
    return [{"ip": ip, "nodeName": "node-1", "targetRef": {"kind": "Pod", "name": f"p{i}"}} for i, ip in enumerate(ips)]


@pytest.mark.parametrize(
    ("case", "subsets", "expected"),
    [
        ("empty", [], "<none>"),
        (
            "three",
            [{"addresses": addresses("10.42.0.144", "10.42.0.145", "10.42.0.146"), "ports": [{"port": 80, "protocol": "TCP"}]}],
            "10.42.0.144:80,10.42.0.145:80,10.42.0.146:80",
        ),
        (
            "five",
            [{"addresses": addresses(*(f"10.42.0.{i}" for i in range(1, 6))), "ports": [{"port": 80, "protocol": "TCP"}]}],
            "10.42.0.1:80,10.42.0.2:80,10.42.0.3:80 + 2 more...",
        ),
        (
            "two ports",
            [
                {
                    "addresses": addresses("10.42.0.1", "10.42.0.2"),
                    "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
                }
            ],
            "10.42.0.1:80,10.42.0.2:80,10.42.0.1:443 + 1 more...",
        ),
        ("headless without ports", [{"addresses": addresses("10.42.0.1", "10.42.0.2")}], "10.42.0.1,10.42.0.2"),
        ("ipv6", [{"addresses": addresses("fd00::1"), "ports": [{"port": 80}]}], "[fd00::1]:80"),
        ("only not-ready addresses", [{"notReadyAddresses": addresses("10.42.0.1"), "ports": [{"port": 80}]}], ""),
        (
            "several subsets",
            [
                {"addresses": addresses("10.42.0.1", "10.42.0.2"), "ports": [{"port": 80}]},
                {"addresses": addresses("10.42.1.1", "10.42.1.2"), "ports": [{"port": 8080}]},
            ],
            "10.42.0.1:80,10.42.0.2:80,10.42.1.1:8080 + 1 more...",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_endpoints_cell(case: str, subsets: list[dict], expected: str) -> None:
    assert row_of("Endpoints", endpoints("web", subsets)) == ["web", expected, "10m"], case


def endpoint_slice(ports: list[dict], addresses_per_endpoint: list[list[str]]) -> dict:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": meta("web-abcde", 600, labels={"kubernetes.io/service-name": "web"}),
        "addressType": "IPv4",
        "ports": ports,
        "endpoints": [{"addresses": a, "conditions": {"ready": True}} for a in addresses_per_endpoint],
    }


@pytest.mark.parametrize(
    ("ports", "addresses_per_endpoint", "expected_ports", "expected_endpoints"),
    [
        ([{"name": "http", "port": 80, "protocol": "TCP"}], [["10.42.0.144"], ["10.42.0.145"]], "80", "10.42.0.144,10.42.0.145"),
        ([], [], "<unset>", "<unset>"),
        (
            [{"port": 1}, {"port": 2}, {"name": "named"}, {}],
            [["10.0.0.1", "10.0.0.2"], ["10.0.0.3"], ["10.0.0.4"], ["10.0.0.5"]],
            "1,2,named + 1 more...",
            "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...",
        ),
        ([{}], [["10.0.0.1"]], "*", "10.0.0.1"),
    ],
)
def test_endpoint_slice_cells(ports: list, addresses_per_endpoint: list, expected_ports: str, expected_endpoints: str) -> None:
    assert row_of("EndpointSlice", endpoint_slice(ports, addresses_per_endpoint)) == [
        "web-abcde", "IPv4", expected_ports, expected_endpoints, "10m",
    ]


# ---------------------------------------------------------------------------------------------
# Nodes, namespaces, config


@pytest.mark.parametrize(
    ("obj", "status", "roles"),
    [
        (node(), "Ready", "<none>"),
        (node(ready="False"), "NotReady", "<none>"),
        (node(ready="Unknown"), "NotReady", "<none>"),
        (node(ready=None), "Unknown", "<none>"),
        (node(unschedulable=True), "Ready,SchedulingDisabled", "<none>"),
        (node(ready=None, unschedulable=True), "Unknown,SchedulingDisabled", "<none>"),
        (
            node(labels={"node-role.kubernetes.io/master": "true", "node-role.kubernetes.io/control-plane": "true"}),
            "Ready",
            "control-plane,master",
        ),
        (node(labels={"kubernetes.io/role": "worker", "node-role.kubernetes.io/": ""}), "Ready", "worker"),
    ],
)
def test_node_status_and_roles(obj: dict, status: str, roles: str) -> None:
    assert row_of("Node", obj)[1:3] == [status, roles]


def test_node_row_and_wide_cells() -> None:
    obj = node()
    assert row_of("Node", obj) == [
        "k3s-server", "Ready", "<none>", "25d", "v1.32.3+k3s1",
        "172.18.0.2", "<none>", "K3s v1.32.3+k3s1", "6.8.0-45-generic", "containerd://2.0.4-k3s2",
    ]
    obj["status"]["nodeInfo"] = {}
    obj["status"]["addresses"].append({"type": "ExternalIP", "address": "203.0.113.7"})
    assert row_of("Node", obj)[4:] == ["", "172.18.0.2", "203.0.113.7", "<unknown>", "<unknown>", "<unknown>"]


def test_namespace_row() -> None:
    ns = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta("kube-system", 25 * 86400, namespace=None),
        "status": {"phase": "Active"},
    }
    assert row_of("Namespace", ns) == ["kube-system", "Active", "25d"]


def test_config_map_counts_data_and_binary_data() -> None:
    cm = {"metadata": meta("settings", 11 * 60), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AAE="}}
    assert row_of("ConfigMap", cm) == ["settings", 3, "11m"]


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        (
            {"metadata": meta("tls", 60), "type": "kubernetes.io/tls", "data": {"tls.crt": "x", "tls.key": "y"}},
            ["tls", "kubernetes.io/tls", 2, "60s"],
        ),
        ({"metadata": meta("empty", 60)}, ["empty", "Opaque", 0, "60s"]),
    ],
)
def test_secret_row(secret: dict, expected: list) -> None:
    assert row_of("Secret", secret) == expected


def test_generic_fallback_row() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta("holder", 2 * 365 * 86400 + 45 * 86400)}
    assert row_of("Widget", widget) == ["holder", "2y45d"]
    assert row_of("Widget", {"metadata": {"name": "new"}}) == ["new", "<unknown>"]


def test_lease_row_names_its_holder() -> None:
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta("node-1", 90),
             "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}}
    assert row_of("Lease", lease) == ["node-1", "node-1", "90s"]


# ---------------------------------------------------------------------------------------------
# Events


def test_event_row_with_wide_cells() -> None:
    assert row_of("Event", event()) == [
        "45s", "Normal", "Pulled", "pod/my-nginx-pod", "spec.containers{nginx}", "kubelet, k3s-server",
        'Successfully pulled image "nginx:1.25" in 1.2s', "5m", 4, "my-nginx-pod.186d2b4f1a2e3c4d",
    ]


@pytest.mark.parametrize(
    ("overrides", "last_seen", "source", "first_seen", "count"),
    [
        ({"lastTimestamp": None}, "5m", "kubelet, k3s-server", "5m", 4),
        ({"count": 0, "source": {"component": "default-scheduler"}}, "45s", "default-scheduler", "5m", 1),
        (
            {
                "firstTimestamp": None, "lastTimestamp": None, "count": None, "source": {},
                "eventTime": "2025-10-10T03:30:36.500000Z", "reportingComponent": "kubelet", "reportingInstance": "node-1",
                "series": {"count": 9, "lastObservedTime": "2025-10-10T03:40:07.000001Z"},
            },
            "29s", "kubelet, node-1", "10m", 9,
        ),
        ({"firstTimestamp": None, "lastTimestamp": None}, "<unknown>", "kubelet, k3s-server", "<unknown>", 4),
    ],
)
def test_event_timestamps_source_and_count(overrides: dict, last_seen: str, source: str, first_seen: str, count: int) -> None:
    cells = row_of("Event", event(**overrides))
    assert (cells[0], cells[5], cells[7], cells[8]) == (last_seen, source, first_seen, count)


def test_event_about_an_unnamed_object() -> None:
    assert row_of("Event", event(involvedObject={"kind": "Node"}))[3] == "node"


# ---------------------------------------------------------------------------------------------
# The Table envelope


def test_table_envelope_and_metadata_rows() -> None:
    web = pod("web", statuses=[container_status(state=RUNNING, ready=True)])
    table = render_table("Pod", [web], now=NOW, resource_version="1234", continue_token="eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ")
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "1234", "continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ"}
    assert len(table["columnDefinitions"]) == 9
    row = table["rows"][0]
    assert len(row["cells"]) == 9
    assert row["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": web["metadata"]}


def test_table_without_continue_token() -> None:
    assert render_table("Pod", [], now=NOW)["metadata"] == {"resourceVersion": ""}
    assert render_table("Pod", [], now=NOW)["rows"] == []


@pytest.mark.parametrize(("policy", "has_object"), [("None", False), ("Metadata", True), ("Object", True)])
def test_include_object_policies(policy: str, has_object: bool) -> None:
    web = pod("web")
    row = render_table("Pod", [web], now=NOW, include_object=policy)["rows"][0]
    assert ("object" in row) is has_object
    if policy == "Object":
        assert row["object"] == web


def test_empty_include_object_means_metadata() -> None:
    row = render_table("Pod", [pod("web")], now=NOW, include_object="")["rows"][0]
    assert row["object"]["kind"] == "PartialObjectMetadata"


def test_unknown_include_object_policy_is_rejected() -> None:
    with pytest.raises(ValueError, match="includeObject"):
        render_table("Pod", [], now=NOW, include_object="Everything")


def test_render_does_not_mutate_objects() -> None:
    web = pod("web", statuses=[container_status(state=waiting("CrashLoopBackOff"), restarts=4, last_finished=29)])
    snapshot = repr(web)
    render_table("Pod", [web], now=NOW, include_object="Object")
    assert repr(web) == snapshot


# ---------------------------------------------------------------------------------------------
# print_table


def two_pods() -> list[dict]:
    return [
        pod("web-1", statuses=[container_status(state=RUNNING, ready=True)], conditions=[condition("Ready")], age=3 * 3600 + 300),
        {
            **pod("db-0", statuses=[container_status(state=waiting("CrashLoopBackOff"), restarts=12, last_finished=45)]),
            "metadata": meta("db-0", 25 * 86400, namespace="data"),
        },
    ]


def test_print_wide_pods() -> None:
    assert printed("Pod", two_pods(), wide=True) == (
        "NAME    READY   STATUS             RESTARTS       AGE    IP            NODE     NOMINATED NODE   READINESS GATES\n"
        "web-1   1/1     Running            0              3h5m   10.42.0.144   node-1   <none>           <none>\n"
        "db-0    0/1     CrashLoopBackOff   12 (45s ago)   25d    10.42.0.144   node-1   <none>           <none>\n"
    )


def test_print_with_namespace_and_no_headers() -> None:
    assert printed("Pod", two_pods(), show_namespace=True, no_headers=True) == (
        "default   web-1   1/1   Running            0              3h5m\n"
        "data      db-0    0/1   CrashLoopBackOff   12 (45s ago)   25d\n"
    )


def test_print_with_kind_prefix() -> None:
    assert printed("Deployment", [deployment("my-nginx-deployment")], show_kind="deployment.apps") == (
        "NAME                                  READY   UP-TO-DATE   AVAILABLE   AGE\n"
        "deployment.apps/my-nginx-deployment   3/3     3            3           21s\n"
    )


def test_kind_prefix_goes_to_the_name_column_even_when_hidden() -> None:
    # Events' NAME column is a wide one; without -o wide the prefix is simply not visible.
    assert printed("Event", [event()], show_kind="event").splitlines()[1].split()[3] == "pod/my-nginx-pod"
    assert printed("Event", [event()], show_kind="event", wide=True).splitlines()[1].endswith("event/my-nginx-pod.186d2b4f1a2e3c4d")


def test_print_without_rows_prints_nothing() -> None:
    assert printed("Pod", []) == ""
    assert printed("Pod", [], no_headers=True) == ""


def test_print_namespace_column_needs_the_row_object() -> None:
    table = render_table("ConfigMap", [{"metadata": meta("settings", 60)}], now=NOW, include_object="None")
    assert print_table(table, wide=False, show_namespace=True) == (
        "NAMESPACE   NAME       DATA   AGE\n"
        "            settings   0      60s\n"
    )


def test_print_pads_short_columns_to_the_tabwriter_minimum() -> None:
    table = {
        "columnDefinitions": [
            {"name": "A", "type": "string", "format": "", "description": "", "priority": 0},
            {"name": "On", "type": "boolean", "format": "", "description": "", "priority": 0},
            {"name": "Z", "type": "string", "format": "", "description": "", "priority": 0},
        ],
        "rows": [{"cells": ["x", True, None]}, {"cells": ["line one\nline two", False, "z"]}],
    }
    assert print_table(table, wide=False) == (
        "A             ON      Z\n"
        "x             true    \n"
        "line one...   false   z\n"
    )


def test_print_escapes_terminal_control_characters() -> None:
    table = {
        "columnDefinitions": [{"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0}],
        "rows": [{"cells": ["\x1b[31mred"]}],
    }
    assert print_table(table, wide=False) == "NAME\n^[[31mred\n"


def test_print_ignores_cells_beyond_the_columns() -> None:
    table = {
        "columnDefinitions": [{"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0}],
        "rows": [{"cells": ["web", "extra"]}],
    }
    assert print_table(table, wide=False) == "NAME\nweb\n"


@given(
    st.lists(
        st.lists(st.text(alphabet="abc-<>/0123456789", min_size=1, max_size=12), min_size=3, max_size=3),
        min_size=1,
        max_size=6,
    )
)
def test_aligned_columns_start_at_the_same_offset(lines: list[list[str]]) -> None:
    rendered = align(lines)
    starts = set()
    for original, text_line in zip(lines, rendered):
        tokens = list(re.finditer(r"\S+", text_line))
        assert [t.group() for t in tokens] == original
        # At least three spaces between cells, and no trailing padding after the last one.
        assert all(b.start() - a.end() >= 3 for a, b in zip(tokens, tokens[1:]))
        assert text_line.endswith(original[-1])
        starts.add(tuple(t.start() for t in tokens))
    assert len(starts) == 1
