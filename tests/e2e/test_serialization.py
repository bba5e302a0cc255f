"""Every kind the server serves, through the official Python client: create, read, list, watch,
and each object subresource (``status``, ``scale``), each answer deserialized into the client's
typed models.

The client's models are strict: an object that lacks a field Kubernetes always serializes (a
ReplicaSet's ``status.replicas`` when it is 0), or carries a string where Kubernetes has a number,
fails to deserialize. So this sweep is what holds dockyard's wire form to Kubernetes'. It also
reads what the controllers made of each sample (a Deployment's ReplicaSet and Pod, a Service's
Endpoints and EndpointSlice, the scheduler's Events): every list is read across all namespaces.

Adding a kind (the template for every later one: Job, CronJob, …): its registry entry in
``orchestrator/api/registry.py`` plus ONE entry in :data:`SAMPLES` below — a manifest the server
accepts, and, when a controller writes the object after it is created, ``settled``: what the
object looks like once it has (the sweep reads it then, so the controller's writes are what get
deserialized). Everything else is derived from the registry: which client class and methods to
call (``AppsV1Api.read_namespaced_replica_set_scale``…) and which subresources to read. A served
kind without a sample fails :func:`test_every_served_kind_has_a_sample`.
"""

from __future__ import annotations

import inspect
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from kubernetes import client, config, watch

from agent.config import AgentConfig
from agent.node import node_lease, node_object
from orchestrator.api.registry import KINDS, ResourceKind

NAMESPACE = "default"
NODE = "sweep-node"


@dataclass(frozen=True)
class Sample:
    body: dict
    #: true once the controllers have written the object (read through the admin HTTP client)
    settled: Callable[[dict], bool] = lambda obj: True


def _generation_observed(obj: dict) -> bool:
    return obj.get("status", {}).get("observedGeneration") == obj["metadata"].get("generation")


def _pod(name: str, labels: dict[str, str]) -> dict:
    return {"metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "web", "image": "nginx:latest", "ports": [{"containerPort": 80}]}]}}


def _workload(name: str, replicas: int) -> dict:
    labels = {"sweep": name}
    template = _pod(name, labels)
    del template["metadata"]["name"]
    return {"metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template}}


def _node() -> dict:
    """A Node as a dockyard agent registers it."""
    agent = AgentConfig(server="https://127.0.0.1:1", token="", node_name=NODE, state_dir=Path("unused"))
    machine = {"cpus": 2, "memory_bytes": 4 << 30, "os": "linux", "arch": "amd64", "machine_id": "sweep",
               "kernel": "6.1.0", "os_image": "Debian GNU/Linux 12 (bookworm)", "engine": "20.10.24"}
    return node_object(agent, machine, "192.0.2.10", 10250, "sha256:" + "0" * 64)


SAMPLES: dict[str, Sample] = {
    "Namespace": Sample({"metadata": {"name": "sweep"}}),
    "Node": Sample(_node(), settled=lambda obj: bool(obj.get("spec", {}).get("podCIDR"))),
    # no node will run it: the scheduler's PodScheduled=False is what gets written
    "Pod": Sample(_pod("sweep-pod", {"sweep": "pod"}), settled=lambda obj: bool(obj["status"].get("conditions"))),
    # 0 replicas: the status whose every count is 0, which Kubernetes still writes out
    "ReplicaSet": Sample(_workload("sweep-rs", 0), settled=_generation_observed),
    "Deployment": Sample(_workload("sweep-deploy", 1), settled=_generation_observed),
    "Service": Sample({"metadata": {"name": "sweep-svc"},
                       "spec": {"selector": {"sweep": "sweep-deploy"}, "ports": [{"port": 80}]}}),
    "Endpoints": Sample({"metadata": {"name": "sweep-ep"},
                         "subsets": [{"addresses": [{"ip": "10.244.0.9"}], "ports": [{"port": 80}]}]}),
    "EndpointSlice": Sample({"metadata": {"name": "sweep-slice"}, "addressType": "IPv4",
                             "endpoints": [{"addresses": ["10.244.0.9"], "conditions": {"ready": True}}],
                             "ports": [{"port": 80, "protocol": "TCP"}]}),
    "Event": Sample({"metadata": {"name": "sweep-event"}, "reason": "Swept", "message": "by the sweep",
                     "type": "Normal", "involvedObject": {"kind": "Pod", "namespace": NAMESPACE, "name": "sweep-pod"}}),
    "ConfigMap": Sample({"metadata": {"name": "sweep-cm"}, "data": {"key": "value"}}),
    "Secret": Sample({"metadata": {"name": "sweep-secret"}, "stringData": {"key": "value"}}),
    # the agent's heartbeat Lease, owned by its Node (the uid is filled in once the Node exists)
    "Lease": Sample(node_lease({"metadata": {"name": NODE, "uid": "filled-in"}})),
}


# -- the python client's names for a kind, derived as its generator derives them ------------------


def _snake(kind: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower()


def _api_class(rk: ResourceKind) -> type:
    """``CoreV1Api``, ``AppsV1Api``, ``DiscoveryV1Api``, ``RbacAuthorizationV1Api``…"""
    group = rk.group.removesuffix(".k8s.io") or "core"
    return getattr(client, "".join(part.capitalize() for part in group.split(".")) + rk.version.capitalize() + "Api")


@dataclass
class KindClient:
    """One kind's typed calls on the python client."""

    rk: ResourceKind
    api: Any

    def _method(self, verb: str, suffix: str = "") -> Callable[..., Any]:
        scope = "namespaced_" if self.rk.namespaced else ""
        return getattr(self.api, f"{verb}_{scope}{_snake(self.rk.kind)}{suffix}")

    def _call(self, verb: str, suffix: str = "", **kwargs: Any) -> Any:
        method = self._method(verb, suffix)
        return method(**kwargs, **({"namespace": self.namespace_of()} if self.rk.namespaced else {}))

    def model(self, verb: str = "read", suffix: str = "") -> type:
        """The typed model a call returns (``V1ReplicaSet``, ``CoreV1EventList``, ``V1Scale``)."""
        return inspect.signature(self._method(verb, suffix)).return_annotation

    def namespace_of(self) -> str:
        return SAMPLES[self.rk.kind].body["metadata"].get("namespace", NAMESPACE)

    def create(self, body: dict) -> Any:
        return self._call("create", body=body)

    def read(self, name: str, subresource: str = "") -> Any:
        return self._call("read", f"_{subresource}" if subresource else "", name=name)

    def list(self) -> Any:
        return self._call("list")

    def list_everywhere(self) -> Any:
        if not self.rk.namespaced:
            return self.list()
        return getattr(self.api, f"list_{_snake(self.rk.kind)}_for_all_namespaces")()

    def list_function(self) -> tuple[Callable[..., Any], list[str]]:
        if self.rk.namespaced:
            return getattr(self.api, f"list_namespaced_{_snake(self.rk.kind)}"), [self.namespace_of()]
        return getattr(self.api, f"list_{_snake(self.rk.kind)}"), []


# -- the sweep ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.support.controlplane import ControlPlaneProcess, free_port

    process = ControlPlaneProcess(tmp_path_factory.mktemp("sweep") / "state", free_port())
    try:
        yield process.start()
    finally:
        process.stop()


@pytest.fixture(scope="module")
def k8s(server):
    api_client = config.new_client_from_config(config_file=str(server.kubeconfig))
    yield api_client
    api_client.close()


@pytest.fixture(scope="module")
def created(server, k8s) -> dict[str, tuple[Any, Any]]:
    """Every sample created through the client (Node first: the Lease names its uid), then
    settled: kind → (what create returned, the object as the controllers left it)."""
    made: dict[str, Any] = {}
    for rk in sorted(KINDS, key=lambda rk: rk.kind != "Node"):
        body = SAMPLES[rk.kind].body
        if rk.kind == "Lease":
            body = {**body, "metadata": {**body["metadata"], "ownerReferences": [
                {**body["metadata"]["ownerReferences"][0], "uid": made["Node"].metadata.uid}]}}
        made[rk.kind] = KindClient(rk, _api_class(rk)(k8s)).create(body)
    settled: dict[str, tuple[Any, Any]] = {}
    with server.client() as http:
        for rk in KINDS:
            name, sample = SAMPLES[rk.kind].body["metadata"]["name"], SAMPLES[rk.kind]
            path = _path(rk, name, SAMPLES[rk.kind].body["metadata"].get("namespace", NAMESPACE))
            deadline = time.monotonic() + 20
            while not sample.settled(obj := http.get(path).json()):
                assert time.monotonic() < deadline, f"{rk.kind} {name} did not settle: {obj}"
                time.sleep(0.2)
            settled[rk.kind] = (made[rk.kind], obj)
    return settled


def _path(rk: ResourceKind, name: str, namespace: str) -> str:
    prefix = f"/apis/{rk.group}/{rk.version}" if rk.group else f"/api/{rk.version}"
    scope = f"/namespaces/{namespace}" if rk.namespaced else ""
    return f"{prefix}{scope}/{rk.plural}/{name}"


def test_every_served_kind_has_a_sample():
    assert set(SAMPLES) == {rk.kind for rk in KINDS}, "add the new kind's sample to SAMPLES"


@pytest.mark.parametrize("rk", KINDS, ids=lambda rk: rk.kind)
def test_create_read_list_watch_deserialize(rk, k8s, created):
    returned, _ = created[rk.kind]
    kinds = KindClient(rk, _api_class(rk)(k8s))
    name = SAMPLES[rk.kind].body["metadata"]["name"]
    model, list_model = kinds.model(), kinds.model("list")
    assert isinstance(returned, model) and returned.metadata.name == name

    read = kinds.read(name)
    assert isinstance(read, model) and read.metadata.uid == returned.metadata.uid
    for subresource in sorted(rk.subresources & {"status", "scale"}):
        view = kinds.read(name, subresource)
        assert isinstance(view, kinds.model("read", f"_{subresource}")), subresource
        assert view.metadata.name == name

    listed, everywhere = kinds.list(), kinds.list_everywhere()
    assert isinstance(listed, list_model) and name in [item.metadata.name for item in listed.items]
    assert isinstance(everywhere, list_model) and all(isinstance(item, model) for item in everywhere.items)

    function, args = kinds.list_function()
    watcher = watch.Watch()
    events = watcher.stream(function, *args, field_selector=f"metadata.name={name}", resource_version="0",
                            timeout_seconds=10)
    first = next(events)
    watcher.stop()
    assert first["type"] == "ADDED" and isinstance(first["object"], model)
    assert first["object"].metadata.name == name
