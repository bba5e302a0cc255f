"""Tests for orchestrator.api.patch: RFC 7386, RFC 6902 and Kubernetes strategic merge patch.

The strategic cases are the patches kubectl 1.32 really sends (apply, set image, rollout …) plus
vectors from k8s.io/apimachinery/pkg/util/strategicpatch/patch_test.go ("upstream-…"), translated
onto real fields: their ``mergingList`` becomes ``spec.containers`` and their ``mergingIntList``
becomes ``metadata.finalizers``.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.api.patch import PatchError, json_merge_patch, json_patch
from orchestrator.api.patch_strategic import MERGE_KEYS, SET, SUPPORTED_KINDS, strategic_merge_patch
from orchestrator.api.registry import KINDS

# --- builders -------------------------------------------------------------------------------------


def c(name: str, **fields) -> dict:
    """A container, or any list element whose merge key is ``name``."""
    return {"name": name, **fields}


def pod(*containers: dict, **spec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "fe"}},
        "spec": {"containers": list(containers), **spec},
    }


def deployment(*containers: dict, **spec) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "annotations": {"deployment.kubernetes.io/revision": "1"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": list(containers)},
            },
            **spec,
        },
    }


def spec_patch(**spec) -> dict:
    return {"spec": spec}


def template_patch(**spec) -> dict:
    return {"spec": {"template": {"spec": spec}}}


def setting(obj: dict, dotted: str, value) -> dict:
    """A deep copy of ``obj`` with the field at ``dotted`` (e.g. ``spec.template.spec``) set."""
    result = copy.deepcopy(obj)
    *parents, last = dotted.split(".")
    node = result
    for name in parents:
        node = node.setdefault(name, {})
    node[last] = value
    return result


def names(*values: str) -> list[dict]:
    """A ``$setElementOrder`` list for elements keyed by ``name``."""
    return [{"name": value} for value in values]


def delete(**key) -> dict:
    return {"$patch": "delete", **key}


def port(number: int, **fields) -> dict:
    return {"containerPort": number, **fields}


def svc_port(number: int, target: int) -> dict:
    return {"port": number, "targetPort": target}


def cond(kind: str, status: str) -> dict:
    return {"type": kind, "status": status}


def env(name: str, value: str) -> dict:
    return {"name": name, "value": value}


def mount(path: str, volume: str) -> dict:
    return {"mountPath": path, "name": volume}


NGINX = c("nginx", image="nginx:1.24", ports=[port(80)])
SIDECAR = c("sidecar", image="busybox", args=["sleep", "inf"])
RESTARTED = {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}
DISK_TOLERATION = {"effect": "NoSchedule", "key": "disktype", "value": "ssd"}

# --- strategic merge patch ------------------------------------------------------------------------

STRATEGIC_CASES = [
    pytest.param(
        "Pod",
        pod(NGINX, SIDECAR),
        spec_patch(**{
            "$setElementOrder/containers": names("nginx", "sidecar"),
            "containers": [c("nginx", image="nginx:1.25")],
        }),
        pod({**NGINX, "image": "nginx:1.25"}, SIDECAR),
        id="apply-changes-only-nginx-image",
    ),
    pytest.param(
        "Deployment",
        deployment(c("nginx", image="nginx:1.10", ports=[port(80)]), c("log", image="fluentd")),
        template_patch(containers=[c("nginx", image="nginx:1.11")]),
        deployment(c("nginx", image="nginx:1.11", ports=[port(80)]), c("log", image="fluentd")),
        id="kubectl-set-image-deployment",
    ),
    pytest.param(
        "Pod",
        pod(NGINX, SIDECAR),
        spec_patch(containers=[delete(name="sidecar")]),
        pod(NGINX),
        id="delete-container-by-directive",
    ),
    pytest.param(
        "Pod",
        pod(NGINX, SIDECAR),
        spec_patch(**{
            "$setElementOrder/containers": names("nginx"),
            "containers": [delete(name="sidecar")],
        }),
        pod(NGINX),
        id="apply-removes-container",
    ),
    pytest.param(
        "Pod",
        pod(NGINX, SIDECAR),
        spec_patch(**{"$setElementOrder/containers": names("sidecar", "nginx")}),
        pod(SIDECAR, NGINX),
        id="apply-reorders-containers-without-content-change",
    ),
    pytest.param(
        "Pod",
        pod(c("a"), c("istio-proxy"), c("b")),
        spec_patch(**{
            "$setElementOrder/containers": names("a", "b", "c"),
            "containers": [c("c", image="new")],
        }),
        pod(c("a"), c("istio-proxy"), c("b"), c("c", image="new")),
        id="apply-keeps-server-only-container-in-place",
    ),
    pytest.param(
        "Pod",
        pod(c("a"), c("b")),
        spec_patch(**{
            "$setElementOrder/containers": names("a", "x", "b"),
            "containers": [c("x", image="x")],
        }),
        pod(c("a"), c("x", image="x"), c("b")),
        id="apply-inserts-container-where-ordered",
    ),
    pytest.param(
        "Pod",
        pod(c("a"), c("c")),
        spec_patch(**{
            "$setElementOrder/containers": names("c", "b", "a"),
            "containers": [c("c", value="3"), c("a", value="1")],
        }),
        pod(c("c", value="3"), c("a", value="1")),
        id="upstream-set-element-order-names-absent-element",
    ),
    pytest.param(
        "Pod",
        pod(c("1"), c("2", value="b"), c("3")),
        spec_patch(containers=[c("3", value="c"), c("1", value="a")]),
        pod(c("2", value="b"), c("3", value="c"), c("1", value="a")),
        id="upstream-patch-order-beats-live-order",
    ),
    pytest.param(
        "Pod",
        pod(c("1"), c("1"), c("2", value="a"), c("3"), c("3")),
        spec_patch(containers=[delete(name="1"), delete(name="3")]),
        pod(c("2", value="a")),
        id="upstream-delete-removes-all-duplicates",
    ),
    pytest.param(
        "Pod",
        pod(c("app", env=[env("A", "1"), env("B", "2")])),
        spec_patch(containers=[c("app", env=[env("B", "20"), env("C", "3"), delete(name="A")])]),
        pod(c("app", env=[env("B", "20"), env("C", "3")])),
        id="env-add-change-delete-by-name",
    ),
    pytest.param(
        "Pod",
        pod(c("app", env=[env("A", "1"), env("B", "2")])),
        spec_patch(**{
            "$setElementOrder/containers": names("app"),
            "containers": [{
                "name": "app",
                "$setElementOrder/env": names("A"),
                "env": [delete(name="B")],
            }],
        }),
        pod(c("app", env=[env("A", "1")])),
        id="apply-removes-env-var",
    ),
    pytest.param(
        "Pod",
        pod(c("web", ports=[port(80, name="http"), port(443)])),
        spec_patch(containers=[c("web", ports=[port(443, name="https"), port(9090)])]),
        pod(c("web", ports=[port(80, name="http"), port(443, name="https"), port(9090)])),
        id="container-ports-merge-by-containerPort",
    ),
    pytest.param(
        "Service",
        {"kind": "Service", "spec": {"ports": [svc_port(80, 8080), svc_port(443, 8443)]}},
        {"spec": {"ports": [svc_port(80, 9000), svc_port(8081, 8081)]}},
        # Kubernetes' order: a patch element comes first unless a live-only one preceded it live.
        {"kind": "Service", "spec": {"ports": [
            svc_port(80, 9000), svc_port(8081, 8081), svc_port(443, 8443),
        ]}},
        id="service-ports-merge-by-port",
    ),
    pytest.param(
        "Pod",
        pod(NGINX),
        {"metadata": {"labels": {"tier": None, "track": "stable"}, "annotations": {"owner": "a"}}},
        setting(pod(NGINX), "metadata", {
            "name": "web",
            "labels": {"app": "web", "track": "stable"},
            "annotations": {"owner": "a"},
        }),
        id="label-delete-by-null-and-annotation-add",
    ),
    pytest.param(
        "Pod",
        pod(NGINX, SIDECAR),
        spec_patch(containers=[{"$patch": "replace"}, c("only", image="alpine")]),
        pod(c("only", image="alpine")),
        id="replace-directive-on-list",
    ),
    pytest.param(
        "Pod",
        pod(NGINX, SIDECAR),
        spec_patch(containers=[{"$patch": "replace"}]),
        pod(),
        id="upstream-replace-directive-empties-list",
    ),
    pytest.param(
        "Pod",
        pod(NGINX, nodeSelector={"disk": "hdd", "zone": "a"}),
        spec_patch(nodeSelector={"$patch": "replace", "disk": "ssd"}),
        pod(NGINX, nodeSelector={"disk": "ssd"}),
        id="replace-directive-on-map",
    ),
    pytest.param(
        "Pod",
        pod(NGINX, nodeSelector={"disk": "hdd"}),
        spec_patch(nodeSelector={"$patch": "delete"}),
        pod(NGINX, nodeSelector={}),
        id="upstream-delete-directive-on-map-leaves-empty-map",
    ),
    pytest.param(
        "ConfigMap",
        {"kind": "ConfigMap", "data": {"a": "1"}},
        {"$patch": "replace", "kind": "ConfigMap", "data": {"b": "2"}},
        {"kind": "ConfigMap", "data": {"b": "2"}},
        id="replace-directive-on-whole-object",
    ),
    pytest.param(
        "Pod",
        pod(NGINX, nodeSelector={"disk": "ssd"}),
        spec_patch(nodeSelector={"$patch": "merge", "zone": "a"}),
        pod(NGINX, nodeSelector={"disk": "ssd", "zone": "a"}),
        id="merge-directive-is-the-default",
    ),
    pytest.param(
        "Deployment",
        deployment(NGINX, strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}),
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
        deployment(NGINX, strategy={"type": "Recreate"}),
        id="retain-keys-switches-strategy-to-recreate",
    ),
    pytest.param(
        "Pod",
        {"metadata": {"finalizers": ["a", "b", "c"]}},
        {"metadata": {
            "$setElementOrder/finalizers": ["a", "b"],
            "$deleteFromPrimitiveList/finalizers": ["c"],
        }},
        {"metadata": {"finalizers": ["a", "b"]}},
        id="delete-from-primitive-list-finalizers",
    ),
    pytest.param(
        "Pod",
        {"metadata": {"finalizers": ["1", "2", "3", "3", "4"]}},
        {"metadata": {
            "$setElementOrder/finalizers": ["1", "2"],
            "$deleteFromPrimitiveList/finalizers": ["3"],
        }},
        {"metadata": {"finalizers": ["1", "2", "4"]}},
        id="upstream-delete-all-duplicates-from-primitive-list",
    ),
    pytest.param(
        "Pod",
        {"metadata": {"finalizers": ["1", "2", "3", "4"]}},
        {"metadata": {
            "$setElementOrder/finalizers": ["1", "2", "4"],
            "$deleteFromPrimitiveList/finalizers": ["3"],
            "finalizers": ["4"],
        }},
        {"metadata": {"finalizers": ["1", "2", "4"]}},
        id="upstream-add-and-delete-in-primitive-list",
    ),
    pytest.param(
        "Namespace",
        {"metadata": {"finalizers": ["kubernetes", "x"]}},
        {"metadata": {"finalizers": ["x", "y"]}},
        {"metadata": {"finalizers": ["kubernetes", "x", "y"]}},
        id="finalizers-merge-as-set",
    ),
    pytest.param(
        "Deployment",
        deployment(NGINX),
        {"spec": {"template": {"metadata": {"annotations": RESTARTED}}}},
        setting(deployment(NGINX), "spec.template.metadata.annotations", RESTARTED),
        id="kubectl-rollout-restart",
    ),
    pytest.param(
        "Deployment",
        deployment(NGINX),
        {"spec": {"paused": True}},
        deployment(NGINX, paused=True),
        id="kubectl-rollout-pause",
    ),
    pytest.param(
        "Deployment",
        deployment(c("patch-demo-ctr", image="nginx")),
        template_patch(
            containers=[c("patch-demo-ctr-2", image="redis")], tolerations=[DISK_TOLERATION]
        ),
        # As in the kubectl patch docs: the new container lands first, tolerations are replaced.
        setting(
            deployment(c("patch-demo-ctr-2", image="redis"), c("patch-demo-ctr", image="nginx")),
            "spec.template.spec.tolerations",
            [DISK_TOLERATION],
        ),
        id="docs-containers-merge-tolerations-replace",
    ),
    pytest.param(
        "Pod",
        pod(NGINX, tolerations=[{"key": "a", "operator": "Exists"}]),
        spec_patch(tolerations=[{"key": "b", "operator": "Exists"}]),
        pod(NGINX, tolerations=[{"key": "b", "operator": "Exists"}]),
        id="tolerations-are-atomic",
    ),
    pytest.param(
        "Pod",
        pod(c("app", args=["a", "b"], command=["run"], envFrom=[{"configMapRef": {"name": "x"}}])),
        spec_patch(containers=[c("app", args=["c"], envFrom=[{"secretRef": {"name": "y"}}])]),
        pod(c("app", args=["c"], command=["run"], envFrom=[{"secretRef": {"name": "y"}}])),
        id="args-and-envFrom-are-atomic",
    ),
    pytest.param(
        "ReplicaSet",
        {"metadata": {"ownerReferences": [{"uid": "u1", "name": "a"}, {"uid": "u2", "name": "b"}]}},
        {"metadata": {"ownerReferences": [{"uid": "u2", "controller": True}, delete(uid="u1")]}},
        {"metadata": {"ownerReferences": [{"uid": "u2", "name": "b", "controller": True}]}},
        id="owner-references-merge-by-uid",
    ),
    pytest.param(
        "Pod",
        pod(
            c("app", volumeMounts=[mount("/a", "va")]),
            volumes=[{"name": "va", "emptyDir": {}}],
        ),
        spec_patch(
            containers=[c("app", volumeMounts=[mount("/b", "vb")])],
            volumes=[{"name": "vb", "configMap": {"name": "cm"}}],
        ),
        pod(
            c("app", volumeMounts=[mount("/b", "vb"), mount("/a", "va")]),
            volumes=[{"name": "vb", "configMap": {"name": "cm"}}, {"name": "va", "emptyDir": {}}],
        ),
        id="volumes-by-name-volume-mounts-by-mountPath",
    ),
    pytest.param(
        "Pod",
        {"status": {"phase": "Pending", "conditions": [cond("PodScheduled", "True")]}},
        {"status": {"phase": "Running", "conditions": [cond("Ready", "True")]}},
        {"status": {
            "phase": "Running",
            "conditions": [cond("Ready", "True"), cond("PodScheduled", "True")],
        }},
        id="pod-status-conditions-by-type",
    ),
    pytest.param(
        "Node",
        {"spec": {}, "status": {
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
            "conditions": [cond("Ready", "True")],
        }},
        {"spec": {"unschedulable": True}, "status": {
            "addresses": [{"type": "Hostname", "address": "n1"}],
            "conditions": [cond("Ready", "False")],
        }},
        {"spec": {"unschedulable": True}, "status": {
            "addresses": [
                {"type": "Hostname", "address": "n1"},
                {"type": "InternalIP", "address": "10.0.0.1"},
            ],
            "conditions": [cond("Ready", "False")],
        }},
        id="node-cordon-addresses-and-conditions-by-type",
    ),
    pytest.param(
        "Deployment",
        {"status": {"conditions": [cond("Available", "False"), cond("Progressing", "True")]}},
        {"status": {"conditions": [cond("Available", "True")]}},
        {"status": {"conditions": [cond("Available", "True"), cond("Progressing", "True")]}},
        id="deployment-status-conditions-by-type",
    ),
    pytest.param(
        "Pod",
        pod(NGINX),
        spec_patch(**{
            "$setElementOrder/initContainers": names("init"),
            "initContainers": [c("init", image="busybox")],
        }),
        pod(NGINX, initContainers=[c("init", image="busybox")]),
        id="apply-adds-new-list-field",
    ),
    pytest.param(
        "Pod",
        pod(NGINX),
        spec_patch(initContainers=[c("init", env=[delete(name="X"), env("Y", "1")])]),
        pod(NGINX, initContainers=[c("init", env=[env("Y", "1")])]),
        id="directives-in-new-values-are-stripped",
    ),
    pytest.param(
        "Pod",
        pod(NGINX, hostname="web-0"),
        spec_patch(hostname={"name": "x"}, restartPolicy="Never"),
        pod(NGINX, hostname={"name": "x"}, restartPolicy="Never"),
        id="type-change-replaces",
    ),
    pytest.param(
        "Endpoints",
        {"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]},
        {"subsets": [{"addresses": [{"ip": "10.0.0.2"}]}]},
        {"subsets": [{"addresses": [{"ip": "10.0.0.2"}]}]},
        id="endpoints-subsets-are-atomic",
    ),
    pytest.param(
        "Secret",
        {"data": {"user": "YQ==", "pass": "Yg=="}, "type": "Opaque"},
        {"data": {"pass": None, "token": "dA=="}},
        {"data": {"user": "YQ==", "token": "dA=="}, "type": "Opaque"},
        id="secret-data-is-a-plain-map",
    ),
    pytest.param(
        "Event",
        {"count": 1, "reason": "Pulled", "involvedObject": {"kind": "Pod", "name": "web"}},
        {"count": 2, "lastTimestamp": "2025-01-01T00:00:00Z"},
        {
            "count": 2,
            "reason": "Pulled",
            "involvedObject": {"kind": "Pod", "name": "web"},
            "lastTimestamp": "2025-01-01T00:00:00Z",
        },
        id="event-count-bump",
    ),
    pytest.param("Pod", pod(NGINX, SIDECAR), {}, pod(NGINX, SIDECAR), id="empty-patch-is-identity"),
]


@pytest.mark.parametrize(("kind", "original", "patch", "expected"), STRATEGIC_CASES)
def test_strategic_merge_patch(kind: str, original: dict, patch: dict, expected: dict) -> None:
    assert strategic_merge_patch(original, patch, kind) == expected


STRATEGIC_ERRORS = [
    pytest.param(
        "Pod",
        spec_patch(containers=[{"image": "nginx"}]),
        "does not contain declared merge key: name",
        id="element-without-merge-key",
    ),
    pytest.param(
        "Pod", spec_patch(containers=[{"$patch": "delete"}]), "merge key: name",
        id="delete-without-merge-key",
    ),
    pytest.param(
        "Pod", spec_patch(nodeSelector={"$patch": "shred"}), r"unknown \$patch directive",
        id="unknown-map-directive",
    ),
    pytest.param(
        "Pod", spec_patch(containers=[{"$patch": "shred", "name": "x"}]), r"unknown \$patch",
        id="unknown-list-directive",
    ),
    pytest.param(
        "Pod",
        spec_patch(**{
            "$setElementOrder/containers": names("sidecar", "nginx"),
            "containers": [c("nginx"), c("sidecar")],
        }),
        r"does not match \$setElementOrder",
        id="upstream-order-mismatch",
    ),
    pytest.param(
        "Pod", spec_patch(**{"$setElementOrder/containers": [{"image": "x"}]}), "merge key",
        id="order-entry-without-key",
    ),
    pytest.param(
        "Pod", spec_patch(**{"$setElementOrder/containers": {"name": "x"}}), "hold a list",
        id="order-not-a-list",
    ),
    pytest.param(
        "Pod",
        spec_patch(**{"$setElementOrder/containers": names("nginx"), "containers": None}),
        "must be a list",
        id="order-next-to-null-list",
    ),
    pytest.param(
        "Pod",
        spec_patch(**{"$retainKeys": ["hostname"], "restartPolicy": "Never"}),
        r"missing from \$retainKeys",
        id="retain-keys-contradiction",
    ),
    pytest.param(
        "Pod", spec_patch(**{"$frobnicate": 1}), "unknown directive", id="unknown-directive-key"
    ),
    pytest.param(
        "Pod", spec_patch(containers=["nginx"]), "not all of the same type",
        id="scalar-in-keyed-list",
    ),
    pytest.param(
        "Pod", spec_patch(initContainers=["nginx"]), "objects with the merge key 'name'",
        id="scalars-in-keyed-list",
    ),
    pytest.param(
        "Pod", {"metadata": {"finalizers": [{"a": 1}]}}, "no merge key", id="object-in-set-list"
    ),
    pytest.param(
        "Pod", {"metadata": {"finalizers": [["a"]]}}, "lists of lists", id="list-of-lists"
    ),
    pytest.param("Widget", {"spec": {}}, "not supported for kind 'Widget'", id="unsupported-kind"),
]


@pytest.mark.parametrize(("kind", "patch", "message"), STRATEGIC_ERRORS)
def test_strategic_merge_patch_errors(kind: str, patch: dict, message: str) -> None:
    with pytest.raises(PatchError, match=message):
        strategic_merge_patch(pod(NGINX, SIDECAR, nodeSelector={"a": "b"}), patch, kind)


def test_strategic_error_names_the_field() -> None:
    patch = template_patch(containers=[c("nginx", env=[{"value": "1"}])])
    with pytest.raises(PatchError, match=r"spec\.template\.spec\.containers\[\*\]\.env"):
        strategic_merge_patch(deployment(NGINX), patch, "Deployment")


def test_merge_key_table_shape() -> None:
    # Every built-in kind takes strategic merge patches in Kubernetes, so every served kind must.
    assert SUPPORTED_KINDS == {rk.kind for rk in KINDS}
    container_env = ("spec", "template", "spec", "containers", "*", "env")
    assert MERGE_KEYS["Deployment"][container_env] == "name"
    assert MERGE_KEYS["Pod"][("metadata", "finalizers")] is SET
    assert ("spec", "tolerations") not in MERGE_KEYS["Pod"]


# --- RFC 7386 appendix A, then the example of section 3 -------------------------------------------

MERGE_PATCH_CASES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    (
        {
            "title": "Goodbye!",
            "author": {"givenName": "John", "familyName": "Doe"},
            "tags": ["example", "sample"],
            "content": "This will be unchanged",
        },
        {
            "title": "Hello!",
            "phoneNumber": "+01-123-456-7890",
            "author": {"familyName": None},
            "tags": ["example"],
        },
        {
            "title": "Hello!",
            "author": {"givenName": "John"},
            "tags": ["example"],
            "content": "This will be unchanged",
            "phoneNumber": "+01-123-456-7890",
        },
    ),
]


@pytest.mark.parametrize(("original", "patch", "expected"), MERGE_PATCH_CASES)
def test_json_merge_patch_rfc7386(original, patch, expected) -> None:
    assert json_merge_patch(original, patch) == expected


# --- RFC 6902 appendix A (A.13 needs duplicate JSON keys, which a dict cannot hold) ---------------


def add(path: str, value) -> dict:
    return {"op": "add", "path": path, "value": value}


def remove(path: str) -> dict:
    return {"op": "remove", "path": path}


def replace(path: str, value) -> dict:
    return {"op": "replace", "path": path, "value": value}


def move(source: str, path: str) -> dict:
    return {"op": "move", "from": source, "path": path}


def copy_op(source: str, path: str) -> dict:
    return {"op": "copy", "from": source, "path": path}


def expect(path: str, value) -> dict:
    return {"op": "test", "path": path, "value": value}



TEMPLATE_V1 = {"spec": {"containers": [{"name": "n", "image": "v1"}]}}
TEMPLATE_V3 = {"spec": {"containers": [{"name": "n", "image": "v3"}]}}

JSON_PATCH_CASES = [
    pytest.param({"foo": "bar"}, [add("/baz", "qux")], {"baz": "qux", "foo": "bar"}, id="A.1"),
    pytest.param(
        {"foo": ["bar", "baz"]}, [add("/foo/1", "qux")], {"foo": ["bar", "qux", "baz"]}, id="A.2"
    ),
    pytest.param({"baz": "qux", "foo": "bar"}, [remove("/baz")], {"foo": "bar"}, id="A.3"),
    pytest.param(
        {"foo": ["bar", "qux", "baz"]}, [remove("/foo/1")], {"foo": ["bar", "baz"]}, id="A.4"
    ),
    pytest.param(
        {"baz": "qux", "foo": "bar"}, [replace("/baz", "boo")], {"baz": "boo", "foo": "bar"},
        id="A.5",
    ),
    pytest.param(
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [move("/foo/waldo", "/qux/thud")],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
        id="A.6",
    ),
    pytest.param(
        {"foo": ["all", "grass", "cows", "eat"]},
        [move("/foo/1", "/foo/3")],
        {"foo": ["all", "cows", "eat", "grass"]},
        id="A.7",
    ),
    pytest.param(
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [expect("/baz", "qux"), expect("/foo/1", 2)],
        {"baz": "qux", "foo": ["a", 2, "c"]},
        id="A.8",
    ),
    pytest.param(
        {"foo": "bar"},
        [add("/child", {"grandchild": {}})],
        {"foo": "bar", "child": {"grandchild": {}}},
        id="A.10",
    ),
    pytest.param(
        {"foo": "bar"}, [{**add("/baz", "qux"), "xyz": 123}], {"foo": "bar", "baz": "qux"},
        id="A.11",
    ),
    pytest.param({"/": 9, "~1": 10}, [expect("/~01", 10)], {"/": 9, "~1": 10}, id="A.14"),
    pytest.param(
        {"foo": ["bar"]}, [add("/foo/-", ["abc", "def"])], {"foo": ["bar", ["abc", "def"]]},
        id="A.16",
    ),
    pytest.param(
        {"a/b": 1, "m~n": 2}, [replace("/a~1b", 3), remove("/m~0n")], {"a/b": 3}, id="escapes"
    ),
    pytest.param(
        {"a": [1]}, [copy_op("/a", "/b"), add("/b/0", 0)], {"a": [1], "b": [0, 1]},
        id="copy-is-deep",
    ),
    pytest.param({"a": 1}, [replace("", [1])], [1], id="replace-root"),
    pytest.param({"a": [1, 2]}, [add("/a/2", 3)], {"a": [1, 2, 3]}, id="add-at-end-index"),
    pytest.param({"a": 1}, [move("/a", "/a")], {"a": 1}, id="move-onto-itself"),
    pytest.param({}, [add("/a", None)], {"a": None}, id="null-is-a-value"),
    pytest.param(
        {
            "metadata": {"annotations": {"deployment.kubernetes.io/revision": "3"}},
            "spec": {"template": TEMPLATE_V3},
        },
        [
            replace("/spec/template", TEMPLATE_V1),
            replace("/metadata/annotations", {"deployment.kubernetes.io/revision": "1"}),
        ],
        {
            "metadata": {"annotations": {"deployment.kubernetes.io/revision": "1"}},
            "spec": {"template": TEMPLATE_V1},
        },
        id="kubectl-rollout-undo",
    ),
]


@pytest.mark.parametrize(("original", "operations", "expected"), JSON_PATCH_CASES)
def test_json_patch_rfc6902(original, operations, expected) -> None:
    assert json_patch(original, operations) == expected


JSON_PATCH_ERRORS = [
    pytest.param({"baz": "qux"}, [expect("/baz", "bar")], "test failed", id="A.9"),
    pytest.param(
        {"foo": "bar"}, [add("/baz/bat", "qux")], 'path "/baz/bat" not found', id="A.12"
    ),
    pytest.param({"/": 9, "~1": 10}, [expect("/~01", "10")], "test failed", id="A.15"),
    pytest.param({"a": True}, [expect("/a", 1)], "test failed", id="bool-is-not-number"),
    pytest.param(
        {"spec": {}}, [remove("/spec/foo")], 'path "/spec/foo" not found', id="remove-missing"
    ),
    pytest.param(
        {"spec": {}}, [replace("/spec/foo", 1)], 'path "/spec/foo" not found',
        id="replace-missing",
    ),
    pytest.param({"a": [1]}, [add("/a/2", 1)], "not found", id="index-past-end"),
    pytest.param({"a": [1]}, [remove("/a/01")], "not found", id="leading-zero-index"),
    pytest.param({"a": [1]}, [remove("/a/-")], "not found", id="dash-only-for-add"),
    pytest.param({"a": 1}, [add("a", 1)], 'must start with "/"', id="relative-pointer"),
    pytest.param({"a": 1}, [expect("/~2", 1)], "invalid", id="bad-escape"),
    pytest.param({"a": {"b": 1}}, [move("/a", "/a/b/c")], "own child", id="move-into-child"),
    pytest.param(
        {"a": 1}, [{"op": "frob", "path": "/a"}], "unsupported operation 'frob'", id="unknown-op"
    ),
    pytest.param({"a": 1}, [{"op": "add", "path": "/b"}], 'missing "value"', id="missing-value"),
    pytest.param({"a": 1}, [{"op": "copy", "path": "/b"}], 'missing "from"', id="missing-from"),
    pytest.param({"a": 1}, {"op": "add"}, "array of operations", id="not-a-list"),
]


@pytest.mark.parametrize(("original", "operations", "message"), JSON_PATCH_ERRORS)
def test_json_patch_errors(original, operations, message: str) -> None:
    with pytest.raises(PatchError, match=message):
        json_patch(original, operations)


def test_failed_json_patch_leaves_original_untouched() -> None:
    original = {"a": [1, 2]}
    with pytest.raises(PatchError):
        json_patch(original, [remove("/a/0"), expect("/a", [])])
    assert original == {"a": [1, 2]}


# --- purity ---------------------------------------------------------------------------------------

PURITY_CALLS = [
    pytest.param(
        json_merge_patch, pod(NGINX), {"metadata": {"labels": {"app": None}}}, id="merge"
    ),
    pytest.param(
        json_patch,
        pod(NGINX),
        [add("/spec/x", {"y": [1]}), remove("/metadata/labels/app")],
        id="json",
    ),
    pytest.param(
        lambda original, patch: strategic_merge_patch(original, patch, "Pod"),
        pod(NGINX, SIDECAR),
        spec_patch(**{
            "$setElementOrder/containers": names("nginx", "sidecar"),
            "containers": [c("nginx", env=[env("A", "1")])],
        }),
        id="strategic",
    ),
    pytest.param(
        lambda original, patch: strategic_merge_patch(original, patch, "Pod"),
        pod(NGINX, SIDECAR),
        spec_patch(containers=[{"$patch": "replace"}, c("x", ports=[port(1)])]),
        id="strategic-replace",
    ),
]


@pytest.mark.parametrize(("apply", "original", "patch"), PURITY_CALLS)
def test_inputs_are_never_mutated_or_aliased(apply, original, patch) -> None:
    original_before, patch_before = copy.deepcopy(original), copy.deepcopy(patch)
    result = apply(original, patch)
    assert (original, patch) == (original_before, patch_before)
    _scribble(result)
    assert (original, patch) == (original_before, patch_before)


def _scribble(value) -> None:
    """Mutate every container in ``value``; inputs sharing structure with it would change too."""
    if isinstance(value, dict):
        for child in list(value.values()):
            _scribble(child)
        value["scribbled"] = True
    elif isinstance(value, list):
        for child in value:
            _scribble(child)
        value.append("scribbled")


# --- properties -----------------------------------------------------------------------------------

KEYS = st.text(alphabet="abcxyz", min_size=1, max_size=3)  # never "$…", never "metadata"


def json_values(scalars: st.SearchStrategy) -> st.SearchStrategy:
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
        max_leaves=12,
    )


NON_NULL = st.booleans() | st.integers(-5, 5) | st.text(alphabet="ab", max_size=2)
OBJECTS = st.dictionaries(KEYS, json_values(st.none() | NON_NULL), max_size=4)
# A merge patch cannot set a member to null, so the diff property uses null-free documents.
NULL_FREE_OBJECTS = st.dictionaries(KEYS, json_values(NON_NULL), max_size=4)


def merge_diff(source: dict, target: dict) -> dict:
    """The RFC 7386 patch that turns ``source`` into ``target``."""
    patch: dict = {key: None for key in source if key not in target}
    for key, value in target.items():
        old = source.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            if nested := merge_diff(old, value):
                patch[key] = nested
        elif key not in source or old != value or type(old) is not type(value):
            patch[key] = value
    return patch


@given(OBJECTS)
def test_empty_patches_are_identities(document: dict) -> None:
    assert json_merge_patch(document, {}) == document
    assert json_patch(document, []) == document
    assert strategic_merge_patch(document, {}, "Pod") == document


@given(NULL_FREE_OBJECTS, NULL_FREE_OBJECTS)
def test_merge_patch_from_diff_reaches_target(source: dict, target: dict) -> None:
    assert json_merge_patch(source, merge_diff(source, target)) == target


@given(OBJECTS, OBJECTS)
def test_strategic_patch_off_schema_is_a_merge_patch(original: dict, patch: dict) -> None:
    # Away from the merge-key table (KEYS never spell "spec" or "metadata") lists are atomic and
    # maps merge, which is exactly RFC 7386.
    assert strategic_merge_patch(original, patch, "Pod") == json_merge_patch(original, patch)


@given(OBJECTS, KEYS, json_values(st.none() | NON_NULL))
def test_json_patch_add_then_test_then_remove(document: dict, key: str, value) -> None:
    pointer = "/" + key
    patched = json_patch(document, [add(pointer, value), expect(pointer, value)])
    assert patched[key] == value
    if key not in document:
        assert json_patch(patched, [remove(pointer)]) == document
