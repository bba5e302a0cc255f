"""Ephemeral containers in the API: Kubernetes' validation rules and messages, and the
``pods/{name}/ephemeralcontainers`` subresource (what ``kubectl debug POD`` patches), on the
in-memory store."""

from __future__ import annotations

import copy

import pytest

from orchestrator.api import errors
from orchestrator.api.options import PatchType
from orchestrator.api.registry import kind_for
from orchestrator.api.validation import validation_causes
from orchestrator.apiserver.discovery import api_resource_list
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.store import MemoryStore

POD, DEPLOY, NS = kind_for("v1", "Pod"), kind_for("apps/v1", "Deployment"), kind_for("v1", "Namespace")
SUB = "ephemeralcontainers"

#: what kubectl 1.32's ``debug POD --image=busybox -c dbg -- sh`` sends (a strategic merge patch)
KUBECTL_DEBUG_PATCH = {"spec": {"ephemeralContainers": [
    {"command": ["sh"], "image": "busybox", "name": "dbg", "resources": {}, "terminationMessagePolicy": "File"}]}}


@pytest.fixture
def api() -> ObjectAPI:
    made = ObjectAPI(MemoryStore())
    made.create(NS, None, {"metadata": {"name": "default"}})
    made.create(POD, "default", {"metadata": {"name": "web"}, "spec": {
        "volumes": [{"name": "data", "emptyDir": {}}],
        "containers": [{"name": "app", "image": "nginx:1.27"}]}})
    return made


def debugger(name: str = "dbg", **fields: object) -> dict:
    return {"name": name, "image": "busybox", "terminationMessagePolicy": "File", **fields}


def add(api: ObjectAPI, *containers: dict) -> dict:
    """Add ephemeral containers the way ``kubectl debug`` does: a patch of the subresource."""
    patch = {"spec": {"ephemeralContainers": list(containers)}}
    return api.patch(POD, "default", "web", PatchType.STRATEGIC, patch, subresource=SUB).object


def refusal(call) -> errors.ApiError:
    with pytest.raises(errors.ApiError) as raised:
        call()
    return raised.value


# -- the subresource ---------------------------------------------------------------------------


def test_kubectl_debugs_patch_adds_a_defaulted_ephemeral_container(api):
    pod = api.patch(POD, "default", "web", PatchType.STRATEGIC, KUBECTL_DEBUG_PATCH, subresource=SUB).object
    assert pod["spec"]["ephemeralContainers"] == [{
        "command": ["sh"], "image": "busybox", "name": "dbg", "resources": {},
        "terminationMessagePolicy": "File", "terminationMessagePath": "/dev/termination-log",
        "imagePullPolicy": "Always"}]
    assert pod["spec"]["containers"][0]["name"] == "app"


def test_a_second_debug_container_is_appended(api):
    add(api, debugger("one"))
    # kubectl sends the order it wants beside the new container
    patch = {"spec": {"$setElementOrder/ephemeralContainers": [{"name": "one"}, {"name": "two"}],
                      "ephemeralContainers": [debugger("two")]}}
    pod = api.patch(POD, "default", "web", PatchType.STRATEGIC, patch, subresource=SUB).object
    assert [c["name"] for c in pod["spec"]["ephemeralContainers"]] == ["one", "two"]


def test_the_subresource_writes_ephemeral_containers_and_nothing_else(api):
    current = api.get(POD, "default", "web")
    sneaky = copy.deepcopy(current)
    sneaky["metadata"]["labels"] = {"sneaky": "yes"}
    sneaky["spec"]["containers"][0]["image"] = "nginx:1.28"
    sneaky["spec"]["ephemeralContainers"] = [debugger()]
    sneaky["status"] = {"phase": "Succeeded"}
    updated = api.update(POD, "default", "web", sneaky, subresource=SUB).object
    assert [c["name"] for c in updated["spec"]["ephemeralContainers"]] == ["dbg"]
    assert updated["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert "labels" not in updated["metadata"] and updated["status"]["phase"] == "Pending"


def test_existing_ephemeral_containers_may_not_be_changed_or_removed(api):
    add(api, debugger(command=["sh"]))
    changed = refusal(lambda: api.patch(POD, "default", "web", PatchType.STRATEGIC, {"spec": {"ephemeralContainers": [
        debugger(command=["top"])]}}, subresource=SUB))
    assert changed.code == 422
    assert changed.message.startswith(
        'Pod "web" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers "dbg" may not be '
        'changed\n')
    assert '  dbg.command[0]: "sh" -> "top"' in changed.message
    removed = refusal(lambda: api.patch(POD, "default", "web", PatchType.JSON,
                                        [{"op": "remove", "path": "/spec/ephemeralContainers/0"}], subresource=SUB))
    assert removed.message == ('Pod "web" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral '
                               'containers "dbg" may not be removed\n')


def test_the_pod_itself_may_not_add_ephemeral_containers(api):
    refused = refusal(lambda: api.patch(POD, "default", "web", PatchType.STRATEGIC, KUBECTL_DEBUG_PATCH))
    assert refused.message.startswith('Pod "web" is invalid: spec: Forbidden: pod updates may not change fields '
                                      "other than `spec.containers[*].image`")


def test_an_ephemeral_container_is_refused_on_create(api):
    manifest = {"metadata": {"name": "early"}, "spec": {"containers": [{"name": "app", "image": "nginx"}],
                                                         "ephemeralContainers": [debugger()]}}
    refused = refusal(lambda: api.create(POD, "default", manifest))
    assert refused.message == 'Pod "early" is invalid: spec.ephemeralContainers: Forbidden: cannot be set on create'


def test_a_pod_template_may_not_hold_ephemeral_containers(api):
    deployment = {"metadata": {"name": "d"}, "spec": {
        "selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {
            "containers": [{"name": "app", "image": "nginx"}], "ephemeralContainers": [debugger()]}}}}
    refused = refusal(lambda: api.create(DEPLOY, "default", deployment))
    assert refused.message == ('Deployment.apps "d" is invalid: spec.template.spec.ephemeralContainers: '
                               "Forbidden: ephemeral containers not allowed in pod template")


def test_a_privileged_debug_container_needs_a_cluster_that_allows_it(api):
    refused = refusal(lambda: add(api, debugger(securityContext={"privileged": True})))
    assert refused.causes[0].field == "spec.ephemeralContainers[0].securityContext.privileged"
    assert "--allow-privileged" in refused.message


def test_the_subresource_of_a_missing_pod_is_not_found(api):
    refused = refusal(lambda: api.patch(POD, "default", "nope", PatchType.STRATEGIC, KUBECTL_DEBUG_PATCH,
                                        subresource=SUB))
    assert (refused.code, refused.message) == (404, 'pods "nope" not found')


def test_discovery_lists_the_subresource_as_kubernetes_does():
    resources = {r["name"]: r for r in api_resource_list("v1")["resources"]}
    assert resources["pods/ephemeralcontainers"] == {
        "name": "pods/ephemeralcontainers", "singularName": "", "namespaced": True, "kind": "Pod",
        "verbs": ["get", "patch", "update"]}


# -- the container rules -----------------------------------------------------------------------


def _pod_with(*ephemeral: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                     "volumes": [{"name": "data", "emptyDir": {}}],
                     "containers": [{"name": "app", "image": "nginx", "imagePullPolicy": "Always",
                                     "terminationMessagePolicy": "File"}],
                     "initContainers": [{"name": "setup", "image": "nginx", "imagePullPolicy": "Always",
                                         "terminationMessagePolicy": "File"}],
                     "ephemeralContainers": [{"imagePullPolicy": "IfNotPresent", **c} for c in ephemeral]}}


def _causes(*ephemeral: dict) -> list[tuple[str, str]]:
    pod = _pod_with(*ephemeral)
    old = copy.deepcopy(pod)
    old["spec"]["ephemeralContainers"] = []
    return [(c.field, c.message) for c in validation_causes(POD, pod, old, SUB)]


def test_a_well_formed_debug_container_passes():
    assert _causes(debugger(targetContainerName="app", stdin=True, tty=True,
                            volumeMounts=[{"name": "data", "mountPath": "/data"}],
                            securityContext={"capabilities": {"add": ["SYS_PTRACE"]}})) == []


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"ports": [{"containerPort": 80, "protocol": "TCP"}]}, "spec.ephemeralContainers[0].ports",
     "Forbidden: cannot be set for an Ephemeral Container"),
    ({"resources": {"limits": {"cpu": "1"}}}, "spec.ephemeralContainers[0].resources",
     "Forbidden: cannot be set for an Ephemeral Container"),
    ({"readinessProbe": {"exec": {"command": ["true"]}}}, "spec.ephemeralContainers[0].readinessProbe",
     "Forbidden: cannot be set for an Ephemeral Container"),
    ({"lifecycle": {"preStop": {"exec": {"command": ["true"]}}}}, "spec.ephemeralContainers[0].lifecycle",
     "Forbidden: cannot be set for an Ephemeral Container"),
    ({"restartPolicy": "Always"}, "spec.ephemeralContainers[0].restartPolicy",
     "Forbidden: cannot be set for an Ephemeral Container"),
    ({"volumeMounts": [{"name": "data", "mountPath": "/d", "subPath": "x"}]},
     "spec.ephemeralContainers[0].volumeMounts[0].subPath", "Forbidden: cannot be set for an Ephemeral Container"),
    ({"volumeMounts": [{"name": "gone", "mountPath": "/d"}]}, "spec.ephemeralContainers[0].volumeMounts[0].name",
     'Not found: "gone"'),
    ({"targetContainerName": "nosuch"}, "spec.ephemeralContainers[0].targetContainerName", 'Not found: "nosuch"'),
    ({"image": ""}, "spec.ephemeralContainers[0].image", "Required value"),
    ({"name": "Dbg"}, "spec.ephemeralContainers[0].name",
     'Invalid value: "Dbg": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '
     "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
     "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
])
def test_what_an_ephemeral_container_may_not_be(fields, field, message):
    assert _causes(debugger(**fields)) == [(field, message)]


@pytest.mark.parametrize("taken", ["app", "setup"])
def test_its_name_is_unique_among_all_the_pods_containers(taken):
    assert _causes(debugger(taken)) == [("spec.ephemeralContainers[0].name", f'Duplicate value: "{taken}"')]


def test_two_new_ephemeral_containers_may_not_share_a_name():
    assert _causes(debugger(), debugger()) == [("spec.ephemeralContainers[1].name", 'Duplicate value: "dbg"')]


def test_the_empty_resources_kubectl_sends_are_no_resources():
    assert _causes(debugger(resources={})) == []


# -- the panic kubectl debug used to meet ------------------------------------------------------


def test_a_not_found_status_always_carries_details():
    """kubectl 1.32's ``debug`` reads ``details.name`` of a 404 without a nil check; Kubernetes'
    NotFound Status always has ``details`` (empty for a path it does not serve)."""
    unserved = errors.ApiError("the server could not find the requested resource", errors.StatusReason.NOT_FOUND,
                               404)
    assert unserved.to_status()["details"] == {}
    assert errors.not_found("pods", "", "web").to_status()["details"] == {"name": "web", "kind": "pods"}
    assert "details" not in errors.bad_request("no").to_status()
