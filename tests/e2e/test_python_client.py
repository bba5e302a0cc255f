"""The official Kubernetes Python client against dockyard: typed calls, selectors, patch, watch."""

from __future__ import annotations

import threading

import pytest
from kubernetes import client, config, watch


@pytest.fixture
def k8s(control_plane):
    api_client = config.new_client_from_config(config_file=str(control_plane.kubeconfig))
    yield api_client
    api_client.close()


def deployment(name: str, image: str = "nginx:latest", labels: dict | None = None) -> client.V1Deployment:
    match = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {"tier": "web"}),
        spec=client.V1DeploymentSpec(
            replicas=2,
            selector=client.V1LabelSelector(match_labels=match),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=match),
                spec=client.V1PodSpec(containers=[client.V1Container(name="web", image=image)]),
            ),
        ),
    )


def test_deployments_create_list_patch_delete(k8s):
    apps = client.AppsV1Api(k8s)
    created = apps.create_namespaced_deployment("default", deployment("front"))
    apps.create_namespaced_deployment("default", deployment("back", labels={"tier": "db"}))
    assert created.metadata.uid and created.metadata.generation == 1
    assert created.spec.strategy.type == "RollingUpdate"
    assert created.spec.revision_history_limit == 10

    web = apps.list_namespaced_deployment("default", label_selector="tier=web")
    assert [d.metadata.name for d in web.items] == ["front"]
    not_web = apps.list_namespaced_deployment("default", label_selector="tier notin (web)")
    assert [d.metadata.name for d in not_web.items] == ["back"]

    patched = apps.patch_namespaced_deployment(
        "front", "default", {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
    assert patched.spec.template.spec.containers[0].image == "nginx:1.27"
    assert patched.metadata.generation == 2

    scaled = apps.patch_namespaced_deployment_scale("front", "default", {"spec": {"replicas": 5}})
    assert scaled.spec.replicas == 5
    assert apps.read_namespaced_deployment("front", "default").spec.replicas == 5

    apps.delete_namespaced_deployment("front", "default")
    apps.delete_namespaced_deployment("back", "default")
    assert apps.list_namespaced_deployment("default").items == []


def test_pods_watch_sees_added_modified_deleted_in_order(k8s):
    core = client.CoreV1Api(k8s)
    seen: list[tuple[str, str]] = []
    started = threading.Event()
    watcher = watch.Watch()

    def follow():
        stream = watcher.stream(core.list_namespaced_pod, "default", label_selector="lab=watch",
                                timeout_seconds=20)
        started.set()
        for event in stream:
            seen.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                watcher.stop()

    thread = threading.Thread(target=follow)
    thread.start()
    started.wait(5)
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="watched", labels={"lab": "watch"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx:latest")]),
    )
    import time
    time.sleep(0.5)  # let the watch connect before the first write
    core.create_namespaced_pod("default", pod)
    core.patch_namespaced_pod("watched", "default", {"metadata": {"annotations": {"seen": "yes"}}})
    core.delete_namespaced_pod("watched", "default")
    thread.join(25)
    # the scheduler may write the pod too (PodScheduled=False: this cluster has no nodes), so
    # MODIFIED can come more than once; the order is what matters
    distinct = [event for i, event in enumerate(seen) if i == 0 or seen[i - 1] != event]
    assert distinct == [("ADDED", "watched"), ("MODIFIED", "watched"), ("DELETED", "watched")]


def test_create_without_kind_and_content_type_is_inferred(k8s):
    core = client.CoreV1Api(k8s)
    body = {"metadata": {"name": "bare"}, "data": {"k": "v"}}
    made = core.create_namespaced_config_map("default", body)
    assert made.kind == "ConfigMap" and made.data == {"k": "v"}
    with pytest.raises(client.ApiException) as error:
        core.create_namespaced_config_map("default", body)
    assert error.value.status == 409


def test_pagination_and_delete_collection(k8s):
    core = client.CoreV1Api(k8s)
    for index in range(5):
        core.create_namespaced_config_map("default", {"metadata": {"name": f"cm-{index}", "labels": {"batch": "x"}}})
    first = core.list_namespaced_config_map("default", limit=2, label_selector="batch=x")
    assert [c.metadata.name for c in first.items] == ["cm-0", "cm-1"] and first.metadata._continue
    rest = core.list_namespaced_config_map("default", limit=10, label_selector="batch=x",
                                           _continue=first.metadata._continue)
    assert [c.metadata.name for c in rest.items] == ["cm-2", "cm-3", "cm-4"] and not rest.metadata._continue
    core.delete_collection_namespaced_config_map("default", label_selector="batch=x")
    assert core.list_namespaced_config_map("default", label_selector="batch=x").items == []
