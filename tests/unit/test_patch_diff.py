"""Tests for orchestrator.api.patch_diff: the three-way strategic merge patch of ``kubectl apply``.

Every case is checked three ways: the exact patch (what kubectl would put on the wire, modulo the
documented departures), the object the server ends up with once it applies that patch with
:func:`strategic_merge_patch`, and that applying the same manifest again is a no-op (``{}``, the
CLI's ``unchanged``). The properties then check the patch against an independent model of apply —
current, with the manifest laid over it and the fields removed from the manifest gone — on
generated (original, modified, current) triples.
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.api.patch import PatchError
from orchestrator.api.patch_diff import three_way_strategic_patch
from orchestrator.api.patch_strategic import MERGE_KEYS, SET, strategic_merge_patch

# --- builders -------------------------------------------------------------------------------------


def c(name: str, **fields) -> dict:
    return {"name": name, **fields}


def env(name: str, value: str) -> dict:
    return {"name": name, "value": value}


def pod(*containers: dict, labels: dict | None = None, **spec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"} if labels is None else labels},
        "spec": {"containers": list(containers), **spec},
    }


def deployment(*containers: dict, **spec) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": list(containers)},
            },
            **spec,
        },
    }


def service(*ports: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": list(ports)},
    }


def svc_port(number: int, target: int, **fields) -> dict:
    return {"port": number, "targetPort": target, **fields}


def live(obj: dict, **server_metadata) -> dict:
    """``obj`` as the server returns it: server metadata and a status added."""
    result = copy.deepcopy(obj)
    result["metadata"].update(
        {"uid": "9f2c", "resourceVersion": "42", "creationTimestamp": "2025-01-01T00:00:00Z"},
        **server_metadata,
    )
    result["status"] = {"phase": "Running"}
    return result


def setting(obj: dict, dotted: str, value) -> dict:
    """A deep copy of ``obj`` with the field at ``dotted`` set (``...`` deletes it)."""
    result = copy.deepcopy(obj)
    *parents, last = dotted.split(".")
    node = result
    for name in parents:
        node = node.setdefault(name, {})
    if value is ...:
        node.pop(last, None)
    else:
        node[last] = value
    return result


def names(*values: str) -> list[dict]:
    return [{"name": value} for value in values]


def spec(**fields) -> dict:
    return {"spec": fields}


NGINX = c("nginx", image="nginx:1.24", ports=[{"containerPort": 80}])
SIDECAR = c("sidecar", image="busybox", args=["sleep", "inf"])
DEFAULTED = {"imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log"}
ISTIO = c("istio-proxy", image="istio/proxyv2")
ROLLING = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}

# --- cases: (kind, original, modified, current, patch, result) ------------------------------------

CASES = [
    pytest.param(
        "Pod",
        pod(NGINX, SIDECAR),
        pod({**NGINX, "image": "nginx:1.27"}, SIDECAR),
        live(pod({**NGINX, **DEFAULTED}, {**SIDECAR, **DEFAULTED})),
        spec(**{
            "$setElementOrder/containers": names("nginx", "sidecar"),
            "containers": [c("nginx", image="nginx:1.27")],
        }),
        live(pod({**NGINX, **DEFAULTED, "image": "nginx:1.27"}, {**SIDECAR, **DEFAULTED})),
        id="change-one-image-other-container-survives",
    ),
    pytest.param(
        "Pod",
        pod(NGINX, SIDECAR),
        pod(NGINX),
        live(pod(NGINX, SIDECAR)),
        spec(**{
            "$setElementOrder/containers": names("nginx"),
            "containers": [{"name": "sidecar", "$patch": "delete"}],
        }),
        live(pod(NGINX)),
        id="container-removed-from-manifest-is-removed",
    ),
    pytest.param(
        "Pod",
        pod(NGINX, labels={"app": "web", "tier": "fe"}),
        pod(NGINX, labels={"app": "web"}),
        live(pod(NGINX, labels={"app": "web", "tier": "fe", "pod-template-hash": "abc"})),
        {"metadata": {"labels": {"tier": None}}},
        live(pod(NGINX, labels={"app": "web", "pod-template-hash": "abc"})),
        id="label-removed-others-kept",
    ),
    pytest.param(
        "Pod",
        pod(c("app", image="app", env=[env("A", "1")])),
        pod(c("app", image="app", env=[env("A", "1"), env("B", "2")])),
        live(pod(c("app", image="app", env=[env("A", "1")], **DEFAULTED))),
        spec(**{
            "$setElementOrder/containers": names("app"),
            "containers": [
                c("app", **{"$setElementOrder/env": names("A", "B"), "env": [env("B", "2")]}),
            ],
        }),
        live(pod(c("app", image="app", env=[env("A", "1"), env("B", "2")], **DEFAULTED))),
        id="env-var-added",
    ),
    pytest.param(
        "Service",
        service(svc_port(80, 8080), svc_port(443, 8443)),
        service(svc_port(80, 9090), svc_port(8000, 8000)),
        live(setting(
            service(svc_port(80, 8080, protocol="TCP"), svc_port(443, 8443, protocol="TCP")),
            "spec.clusterIP", "10.96.0.10",
        )),
        spec(**{
            "$setElementOrder/ports": [{"port": 80}, {"port": 8000}],
            "ports": [svc_port(80, 9090), svc_port(8000, 8000), {"port": 443, "$patch": "delete"}],
        }),
        live(setting(
            service(svc_port(80, 9090, protocol="TCP"), svc_port(8000, 8000)),
            "spec.clusterIP", "10.96.0.10",
        )),
        id="service-ports-changed-added-removed",
    ),
    pytest.param(
        "Deployment",
        deployment(NGINX),
        deployment(NGINX),
        live(deployment(NGINX, replicas=5)),
        {},
        live(deployment(NGINX, replicas=5)),
        id="replicas-set-by-kubectl-scale-are-kept",
    ),
    pytest.param(
        "Deployment",
        deployment(NGINX, replicas=2),
        deployment(NGINX, replicas=2),
        live(deployment(NGINX, replicas=5)),
        spec(replicas=2),
        live(deployment(NGINX, replicas=2)),
        id="replicas-in-manifest-win-over-scale",
    ),
    pytest.param(
        "Deployment",
        deployment(NGINX, replicas=3),
        deployment(NGINX),
        live(deployment(NGINX, replicas=5)),
        spec(replicas=None),
        live(deployment(NGINX)),
        id="replicas-removed-from-manifest-are-cleared",
    ),
    pytest.param(
        "Pod",
        pod(NGINX, SIDECAR, labels={"app": "web"}),
        pod(NGINX, SIDECAR, labels={"app": "web"}),
        setting(
            live(pod({**NGINX, **DEFAULTED}, ISTIO, SIDECAR, labels={"app": "web", "x": "y"}),
                 finalizers=["example.com/guard"]),
            "spec.nodeName", "node-1",
        ),
        {},
        setting(
            live(pod({**NGINX, **DEFAULTED}, ISTIO, SIDECAR, labels={"app": "web", "x": "y"}),
                 finalizers=["example.com/guard"]),
            "spec.nodeName", "node-1",
        ),
        id="unchanged-despite-server-side-additions",
    ),
    pytest.param(
        "Pod",
        pod(c("a"), c("b")),
        pod(c("a", image="new"), c("b")),
        live(pod(c("a"), ISTIO, c("b"))),
        spec(**{
            "$setElementOrder/containers": names("a", "b"),
            "containers": [c("a", image="new")],
        }),
        live(pod(c("a", image="new"), ISTIO, c("b"))),
        id="injected-container-keeps-its-place",
    ),
    pytest.param(
        "Pod",
        pod(c("a"), c("b")),
        pod(c("a"), c("x", image="x"), c("b")),
        live(pod(c("a"), c("b"))),
        spec(**{
            "$setElementOrder/containers": names("a", "x", "b"),
            "containers": [c("x", image="x")],
        }),
        live(pod(c("a"), c("x", image="x"), c("b"))),
        id="container-inserted-where-the-manifest-puts-it",
    ),
    pytest.param(
        "Pod",
        pod(c("a"), c("b")),
        pod(c("b"), c("a")),
        live(pod(c("a"), c("b"))),
        spec(**{"$setElementOrder/containers": names("b", "a")}),
        live(pod(c("b"), c("a"))),
        id="reorder-only",
    ),
    pytest.param(
        "Pod",
        pod(NGINX, labels={"app": "web", "tier": "fe"}),
        pod(NGINX, labels={"app": "web"}),
        live(pod(NGINX, labels={"app": "web"})),
        {},
        live(pod(NGINX, labels={"app": "web"})),
        id="removed-field-already-gone-from-live",
    ),
    pytest.param(
        "Pod",
        {},
        pod(NGINX, labels={"app": "web"}),
        live(pod(NGINX, labels={"app": "web", "env": "prod"})),
        {},
        live(pod(NGINX, labels={"app": "web", "env": "prod"})),
        id="first-apply-onto-created-object-deletes-nothing",
    ),
    pytest.param(
        "Pod",
        pod(c("a", env=[env("A", "1"), env("B", "2")])),
        pod(c("a", env=[env("A", "1"), env("B", "2")])),
        live(pod(c("a", env=[env("A", "1")]))),
        spec(**{
            "$setElementOrder/containers": names("a"),
            "containers": [
                c("a", **{"$setElementOrder/env": names("A", "B"), "env": [env("B", "2")]}),
            ],
        }),
        live(pod(c("a", env=[env("A", "1"), env("B", "2")]))),
        id="element-deleted-by-someone-else-is-restored",
    ),
    pytest.param(
        "Pod",
        pod(c("a", resources={"limits": {"cpu": "1"}, "requests": {"cpu": "100m"}})),
        pod(c("a", resources={"requests": {"cpu": "100m"}})),
        live(pod(c("a", resources={"limits": {"cpu": "1"}, "requests": {"cpu": "100m"}}))),
        spec(**{
            "$setElementOrder/containers": names("a"),
            "containers": [c("a", resources={"limits": None})],
        }),
        live(pod(c("a", resources={"requests": {"cpu": "100m"}}))),
        id="nested-map-removed",
    ),
    pytest.param(
        "Pod",
        pod(SIDECAR, tolerations=[{"key": "a", "operator": "Exists"}]),
        pod({**SIDECAR, "args": ["sleep", "60"]}, tolerations=[{"key": "b", "operator": "Exists"}]),
        live(pod(SIDECAR, tolerations=[{"key": "a", "operator": "Exists"}, {"key": "node"}])),
        spec(**{
            "$setElementOrder/containers": names("sidecar"),
            "containers": [c("sidecar", args=["sleep", "60"])],
            "tolerations": [{"key": "b", "operator": "Exists"}],
        }),
        live(pod({**SIDECAR, "args": ["sleep", "60"]},
                 tolerations=[{"key": "b", "operator": "Exists"}])),
        id="atomic-lists-replaced-whole",
    ),
    pytest.param(
        "Pod",
        setting(pod(NGINX), "metadata.finalizers", ["a", "b"]),
        setting(pod(NGINX), "metadata.finalizers", ["a", "c"]),
        live(pod(NGINX), finalizers=["a", "b", "server"]),
        {"metadata": {
            "$setElementOrder/finalizers": ["a", "c"],
            "finalizers": ["c"],
            "$deleteFromPrimitiveList/finalizers": ["b"],
        }},
        live(pod(NGINX), finalizers=["a", "c", "server"]),
        id="set-list-add-and-remove",
    ),
    pytest.param(
        "Deployment",
        deployment(NGINX, strategy={"type": "RollingUpdate"}),
        deployment(NGINX, strategy={"type": "Recreate"}),
        live(deployment(NGINX, strategy=ROLLING)),
        spec(strategy={"$retainKeys": ["type"], "type": "Recreate"}),
        live(deployment(NGINX, strategy={"type": "Recreate"})),
        id="retain-keys-drops-defaulted-rolling-update",
    ),
    pytest.param(
        "Deployment",
        deployment(NGINX, strategy={"type": "RollingUpdate"}),
        deployment(NGINX, strategy={"type": "RollingUpdate"}),
        live(deployment(NGINX, strategy=ROLLING)),
        {},
        live(deployment(NGINX, strategy=ROLLING)),
        id="retain-keys-not-sent-for-unchanged-map",
    ),
    pytest.param(
        "Pod",
        {},
        pod(NGINX, volumes=[{"name": "data", "configMap": {"name": "cfg"}}]),
        live(pod(NGINX, volumes=[{"name": "data", "emptyDir": {}}])),
        spec(**{
            "$setElementOrder/volumes": names("data"),
            "volumes": [{
                "name": "data",
                "configMap": {"name": "cfg"},
                "$retainKeys": ["configMap", "name"],
            }],
        }),
        live(pod(NGINX, volumes=[{"name": "data", "configMap": {"name": "cfg"}}])),
        id="retain-keys-switches-volume-source",
    ),
    pytest.param(
        "Pod",
        pod(NGINX),
        setting(live(pod(NGINX), resourceVersion="1", generation=3), "status", {"phase": "Failed"}),
        live(pod(NGINX)),
        {},
        live(pod(NGINX)),
        id="status-and-server-metadata-never-sent",
    ),
    pytest.param(
        "Pod",
        pod(NGINX),
        pod(NGINX, labels={"app": "web", "x": None}),
        live(pod(NGINX, labels={"app": "web", "x": "y"})),
        {"metadata": {"labels": {"x": None}}},
        live(pod(NGINX, labels={"app": "web"})),
        id="explicit-null-in-manifest-deletes",
    ),
    pytest.param(
        "Pod",
        pod(NGINX),
        pod(NGINX, nodeSelector={"disk": "ssd"}),
        live(pod(NGINX)),
        spec(nodeSelector={"disk": "ssd"}),
        live(pod(NGINX, nodeSelector={"disk": "ssd"})),
        id="new-field-sent-whole",
    ),
    pytest.param(
        "Pod",
        pod(c("a", ports=[{"containerPort": 80}])),
        pod(c("a", ports=[{"containerPort": 80}, {"containerPort": 81}])),
        live(pod(c("a", ports=[]))),
        spec(**{
            "$setElementOrder/containers": names("a"),
            "containers": [c("a", ports=[{"containerPort": 80}, {"containerPort": 81}])],
        }),
        live(pod(c("a", ports=[{"containerPort": 80}, {"containerPort": 81}]))),
        id="empty-live-list-gets-the-manifest-list",
    ),
]


@pytest.mark.parametrize(("kind", "original", "modified", "current", "patch", "result"), CASES)
def test_three_way_patch(kind, original, modified, current, patch, result) -> None:
    assert three_way_strategic_patch(original, modified, current, kind) == patch
    applied = strategic_merge_patch(current, patch, kind)
    assert applied == result
    assert three_way_strategic_patch(modified, modified, applied, kind) == {}


@pytest.mark.parametrize(
    ("kind", "modified", "message"),
    [
        pytest.param("CronJob", pod(NGINX), "not supported for kind 'CronJob'", id="unknown-kind"),
        pytest.param("Pod", pod({"image": "x"}), "spec.containers: element", id="no-merge-key"),
        pytest.param(
            "Pod", setting(pod(NGINX), "metadata.finalizers", [{"a": 1}]), "must hold scalars",
            id="set-of-objects",
        ),
    ],
)
def test_three_way_patch_errors(kind: str, modified: dict, message: str) -> None:
    current = live(setting(pod(c("other")), "metadata.finalizers", ["f"]))
    with pytest.raises(PatchError, match=message):
        three_way_strategic_patch({}, modified, current, kind)


def test_non_object_input_is_rejected() -> None:
    with pytest.raises(PatchError, match="current object must be a JSON object"):
        three_way_strategic_patch({}, pod(NGINX), [], "Pod")  # type: ignore[arg-type]


def test_inputs_are_never_mutated_or_aliased() -> None:
    original = pod(NGINX, SIDECAR, volumes=[{"name": "v", "emptyDir": {}}])
    modified = pod({**NGINX, "env": [env("A", "1")]}, c("new", ports=[{"containerPort": 1}]))
    current = live(pod(NGINX, SIDECAR))
    before = copy.deepcopy((original, modified, current))
    patch = three_way_strategic_patch(original, modified, current, "Pod")
    assert (original, modified, current) == before
    _scribble(patch)
    assert (original, modified, current) == before


def _scribble(value) -> None:
    if isinstance(value, dict):
        for child in list(value.values()):
            _scribble(child)
        value["scribbled"] = True
    elif isinstance(value, list):
        for child in value:
            _scribble(child)
        value.append("scribbled")


# --- an independent model of what apply must produce ----------------------------------------------


def laid_over(original: dict, modified: dict, current: dict, table: dict, path: tuple = ()) -> dict:
    """``current`` with ``modified`` laid over it and the fields dropped since ``original`` gone."""
    result = {k: v for k, v in current.items() if k in modified or k not in original}
    for key, new in modified.items():
        old, now, where = original.get(key), current.get(key), path + (key,)
        strategy = table.get(where)
        if isinstance(new, dict) and isinstance(now, dict):
            result[key] = laid_over(old if isinstance(old, dict) else {}, new, now, table, where)
        elif isinstance(new, list) and isinstance(now, list) and strategy is SET:
            gone = [v for v in (old if isinstance(old, list) else []) if v not in new]
            result[key] = [v for v in now if v not in gone] + [v for v in new if v not in now]
        elif isinstance(new, list) and isinstance(now, list) and strategy:
            old_list = old if isinstance(old, list) else []
            result[key] = _laid_over_list(old_list, new, now, table, where)
        else:
            result[key] = new
    return result


def _laid_over_list(old: list, new: list, now: list, table: dict, where: tuple) -> list:
    key = table[where]
    wanted = [e[key] for e in new]
    gone = [e[key] for e in old if e[key] not in wanted]
    server_only = [e for e in now if e[key] not in wanted and e[key] not in gone]
    merged = []
    for element in new:
        live_element = next((e for e in now if e[key] == element[key]), None)
        old_element = next((e for e in old if e[key] == element[key]), {})
        if live_element is None:
            merged.append(element)
        else:
            merged.append(laid_over(old_element, element, live_element, table, where + ("*",)))
    return server_only + merged


def canonical(value, table: dict, path: tuple = ()):
    """``value`` with every merged list sorted, for comparisons that ignore merged-list order."""
    if isinstance(value, dict):
        return {k: canonical(v, table, path + (k,)) for k, v in value.items()}
    if isinstance(value, list) and table.get(path) is SET:
        return sorted(value, key=json.dumps)
    if isinstance(value, list) and table.get(path):
        items = [canonical(v, table, path + ("*",)) for v in value]
        return sorted(items, key=lambda item: json.dumps(item[table[path]]))
    return value


def assert_manifest_order(modified, result, table: dict, path: tuple = ()) -> None:
    """Every merged list of the result holds the manifest's elements in the manifest's order."""
    if isinstance(modified, dict) and isinstance(result, dict):
        for key, value in modified.items():
            assert_manifest_order(value, result.get(key), table, path + (key,))
    elif isinstance(modified, list) and isinstance(result, list) and table.get(path):
        key = table[path]
        ident = (lambda v: v) if key is SET else (lambda v: v[key])
        wanted = [ident(v) for v in modified]
        assert [ident(v) for v in result if ident(v) in wanted] == wanted
        if key is not SET:
            for element in modified:
                match = next(v for v in result if v[key] == element[key])
                assert_manifest_order(element, match, table, path + ("*",))


def check_apply(original: dict, modified: dict, current: dict, kind: str) -> None:
    table = MERGE_KEYS[kind]
    patch = three_way_strategic_patch(original, modified, current, kind)
    assert "status" not in patch and "resourceVersion" not in (patch.get("metadata") or {})
    applied = strategic_merge_patch(current, patch, kind)
    expected = laid_over(original, modified, current, table)
    assert canonical(applied, table) == canonical(expected, table)
    assert_manifest_order(modified, applied, table)
    assert three_way_strategic_patch(modified, modified, applied, kind) == {}


# --- properties -----------------------------------------------------------------------------------

LABEL_KEYS = st.text(alphabet="abc./", min_size=1, max_size=4)
LABELS = st.dictionaries(LABEL_KEYS, st.text(max_size=3), max_size=4)


@given(LABELS, LABELS, LABELS, LABELS, LABELS, LABELS)
def test_label_and_annotation_maps(o_labels, m_labels, c_labels, o_notes, m_notes, c_notes) -> None:
    def obj(labels: dict, notes: dict) -> dict:
        return setting(pod(NGINX, labels=labels), "metadata.annotations", notes)

    original, modified = obj(o_labels, o_notes), obj(m_labels, m_notes)
    current = live(obj(c_labels, c_notes))
    patch = three_way_strategic_patch(original, modified, current, "Pod")
    applied = strategic_merge_patch(current, patch, "Pod")
    for field, old, new, now in (("labels", o_labels, m_labels, c_labels),
                                 ("annotations", o_notes, m_notes, c_notes)):
        kept = {k: v for k, v in now.items() if k in new or k not in old}
        assert applied["metadata"][field] == {**kept, **new}
    assert applied["spec"] == current["spec"] and applied["status"] == current["status"]
    assert three_way_strategic_patch(modified, modified, applied, "Pod") == {}
    if original == modified and applied == current:
        assert patch == {}


NAMES = st.sampled_from(["a", "b", "c", "d"])
SMALL_MAPS = st.dictionaries(
    st.sampled_from(["x", "y", "z"]), st.sampled_from(["1", "2"]), max_size=2
)
ENVS = st.lists(
    st.fixed_dictionaries(
        {"name": st.sampled_from(["A", "B", "C"]), "value": st.sampled_from(["1", "2"])}
    ),
    unique_by=lambda e: e["name"], max_size=3,
)
CONTAINERS = st.lists(
    st.fixed_dictionaries(
        {"name": NAMES, "image": st.sampled_from(["app:1", "app:2"])},
        optional={
            "env": ENVS,
            "args": st.lists(st.sampled_from(["-v", "-q"]), max_size=2),
            "resources": st.fixed_dictionaries(
                {}, optional={"limits": SMALL_MAPS, "requests": SMALL_MAPS}
            ),
        },
    ),
    unique_by=lambda container: container["name"],
    min_size=1,
    max_size=3,
)
POD_SPECS = st.fixed_dictionaries(
    {"containers": CONTAINERS},
    optional={
        "nodeSelector": SMALL_MAPS,
        "restartPolicy": st.sampled_from(["Always", "Never"]),
        "tolerations": st.lists(
            st.fixed_dictionaries({"key": st.sampled_from(["k", "l"])}), max_size=2
        ),
    },
)
METADATA = st.fixed_dictionaries(
    {"name": st.just("web")},
    optional={
        "labels": SMALL_MAPS,
        "annotations": SMALL_MAPS,
        "finalizers": st.lists(st.sampled_from(["f1", "f2", "f3"]), unique=True, max_size=3),
    },
)


@st.composite
def manifests(draw, kind: str) -> dict:
    obj = {"apiVersion": "v1", "kind": kind, "metadata": draw(METADATA)}
    pod_spec = draw(POD_SPECS)
    if kind == "Pod":
        obj["spec"] = pod_spec
    else:
        obj["apiVersion"] = "apps/v1"
        replicas = draw(st.none() | st.integers(1, 3))
        obj["spec"] = {"template": {"metadata": draw(METADATA), "spec": pod_spec}}
        if replicas is not None:
            obj["spec"]["replicas"] = replicas
    return obj


_IDENTITY = {"apiVersion", "kind", "metadata", "name"}


def thinned(draw, value):
    """``value`` with some map keys and list elements dropped: a manifest after the user's edits."""
    if isinstance(value, dict):
        # Map keys are dropped less often than list elements, so that lists survive to lose some.
        keep = {k for k in value if k in _IDENTITY or draw(st.integers(0, 3))}
        return {k: thinned(draw, v) for k, v in value.items() if k in keep}
    if isinstance(value, list):
        return [thinned(draw, v) for v in value if draw(st.booleans())]
    return value


@st.composite
def triples(draw) -> tuple[dict, dict, dict, str]:
    kind = draw(st.sampled_from(["Pod", "Deployment"]))
    original = draw(st.just({}) | manifests(kind))
    modified = draw(manifests(kind))
    edit = draw(st.sampled_from(["rewrite", "drop", "drop-and-change"]))
    if edit != "rewrite" and original:
        # Most applies edit the previous manifest: drop parts of it, then maybe change some.
        edited = thinned(draw, original)
        modified = laid_over({}, modified, edited, MERGE_KEYS[kind]) if edit != "drop" else edited
    base = draw(manifests(kind))
    # Half the time the live object is the last apply plus drift, otherwise an unrelated one.
    current = laid_over({}, original, base, MERGE_KEYS[kind]) if draw(st.booleans()) else base
    current = live(current)
    pod_spec = current["spec"] if kind == "Pod" else current["spec"]["template"]["spec"]
    if draw(st.booleans()) and "containers" in pod_spec:
        # A sidecar injected by an admission webhook: never in any manifest.
        position = draw(st.integers(0, len(pod_spec["containers"])))
        pod_spec["containers"].insert(position, ISTIO)
    return original, modified, current, kind


@settings(max_examples=300)
@given(triples())
def test_apply_lays_manifest_over_live_and_removes_dropped_fields(triple) -> None:
    check_apply(*triple)


@given(triples())
def test_applying_the_last_applied_manifest_again_is_unchanged(triple) -> None:
    _, modified, current, kind = triple
    patch = three_way_strategic_patch({}, modified, current, kind)
    applied = strategic_merge_patch(current, patch, kind)
    assert three_way_strategic_patch(modified, modified, applied, kind) == {}
    assert three_way_strategic_patch({}, modified, applied, kind) == {}
