"""Every route the API server serves, asked by a node agent, by a stranger and by nobody, over
real HTTPS and WebSocket against a real ``dockyard server``.

The routes come from the kind registry (:mod:`tests.support.routes`): every kind, its
collections, its objects and every subresource, with every method. A kind added later is walked
without a change here. The expectations are written independently of the server's code:

* an unknown token gets 401 everywhere but the public health and version paths;
* no token at all gets 401 everywhere but those, and a GET of ``kube-public/cluster-info``;
* node ``worker-1`` gets exactly what :func:`node_may` below says Kubernetes' Node authorizer,
  as dockyard simplifies it, allows (``orchestrator/apiserver/auth.py`` documents the rules);
  anything else is a 403 ``metav1.Status`` naming the verb and resource, and nothing is ever a 5xx.

Writes carry ``?dryRun=All``, so the walk changes nothing and its order does not matter.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass

import httpx
import pytest

from orchestrator.api.bootstrap import CLUSTER_INFO_PATH
from orchestrator.api.registry import ResourceKind
from orchestrator.cluster import StateDir, TokenBook
from tests.support.controlplane import ControlPlaneProcess, free_port
from tests.support.routes import METHODS, VERB_METHODS, Route, discovery_paths, resource_routes

NODE = "worker-1"
OTHER_NODE = "worker-2"
LEASES = "kube-node-lease"
PUBLIC_PATHS = {"/healthz", "/readyz", "/livez", "/version"}
READS = {"get", "list", "watch"}

#: what each kind's object paths name: objects the node's rules look at, and others
SUBJECTS: dict[str, list[tuple[str | None, str]]] = {
    "Node": [(None, NODE), (None, OTHER_NODE)],
    "Pod": [("default", "mine"), ("default", "theirs")],
    "ConfigMap": [("default", "mine-cm"), ("default", "not-mine")],
    "Secret": [("default", "mine-secret"), ("default", "not-mine")],
    "Lease": [(LEASES, NODE), (LEASES, OTHER_NODE), ("default", NODE)],
    "Namespace": [(None, "default")],
}
#: the pods bound to the node, and the objects they reference
MY_PODS = {("default", "mine")}
MY_REFERENCES = {("ConfigMap", "default", "mine-cm"), ("Secret", "default", "mine-secret")}
#: list queries tried on every collection: none, and the node selectors the node's rules look at
SELECTIONS = ({}, {"fieldSelector": f"spec.nodeName={NODE}"}, {"fieldSelector": f"spec.nodeName={OTHER_NODE}"})


def subjects(rk: ResourceKind) -> list[tuple[str | None, str]]:
    return SUBJECTS.get(rk.kind, [("default" if rk.namespaced else None, "x")])


def namespaces(rk: ResourceKind) -> list[str]:
    return [LEASES, "default"] if rk.kind == "Lease" else ["default"]


def verb_of(method: str, route: Route, query: dict) -> str:
    """Kubernetes' request-info rules: the verb a method on a route means."""
    if route.subresource in ("exec", "attach", "portforward"):
        return "create"  # starting or joining a process, or connecting into a pod, whatever the method
    if method in ("GET", "HEAD"):
        if query.get("watch") == "true" and route.subresource != "proxy":  # a proxy's query is the app's
            return "watch"
        return "list" if route.name is None else "get"
    if method == "DELETE":
        return "deletecollection" if route.name is None else "delete"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}[method]


def node_may(verb: str, route: Route, query: dict) -> bool:
    """What node agent ``worker-1`` may do, rule by rule."""
    kind, sub, namespace, name = route.rk.kind, route.subresource, route.namespace, route.name
    if sub == "proxy":
        return False  # Kubernetes' node rules grant no proxy subresource, not even of its own Node
    if kind == "Node":
        return verb in READS or (verb in ("create", "update", "patch") and name == NODE) \
            or (verb == "create" and name is None)
    if kind == "Pod":
        if verb in ("list", "watch"):
            return name is None and query.get("fieldSelector") == f"spec.nodeName={NODE}"
        return verb in ("get", "update", "patch", "delete") and sub in (None, "status", "log") \
            and (namespace, name) in MY_PODS
    if kind == "Event":
        return verb in ("get", "create", "update", "patch")
    if kind == "Lease":
        return namespace == LEASES and verb in ("get", "create", "update", "patch") \
            and (name == NODE or (verb == "create" and name is None))
    if kind in ("Service", "Endpoints", "EndpointSlice", "Namespace"):
        return verb in READS
    if kind in ("ConfigMap", "Secret"):
        return verb == "get" and (kind, namespace, name) in MY_REFERENCES
    return False


@dataclass(frozen=True)
class Call:
    method: str
    route: Route
    query: dict

    def __str__(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.query.items())
        return f"{self.method} {self.route}?{query}"


def calls() -> list[Call]:
    made = []
    for route in resource_routes(subjects, namespaces):
        for method in METHODS:
            selections = SELECTIONS if route.name is None and method in ("GET", "DELETE") else ({},)
            watches = ({}, {"watch": "true"}) if method == "GET" else ({},)
            for selection in selections:
                for watch in watches:
                    made.append(Call(method, route, {**selection, **watch, "dryRun": "All"}))
    return made


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    process = ControlPlaneProcess(tmp_path_factory.mktemp("authz") / "state", free_port())
    try:
        process.start()
        _make_fixtures(process)
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def node_token(server) -> str:
    return TokenBook.for_state(StateDir(server.state_dir)).issue_node(NODE)


def _make_fixtures(server: ControlPlaneProcess) -> None:
    def pod(name: str, node: str, **spec) -> dict:
        return {"metadata": {"name": name}, "spec": {
            "nodeName": node, "containers": [{"name": "c", "image": "nginx:latest"}], **spec}}

    with server.client() as http:
        def create(path: str, body: dict) -> dict:
            response = http.post(path, json=body)
            assert response.status_code == 201, response.text
            return response.json()

        for node in (NODE, OTHER_NODE):
            create("/api/v1/nodes", {"metadata": {"name": node}})
        create("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "mine-cm"}})
        create("/api/v1/namespaces/default/secrets", {"metadata": {"name": "mine-secret"}})
        mine = create("/api/v1/namespaces/default/pods", pod("mine", NODE, volumes=[
            {"name": "config", "configMap": {"name": "mine-cm"}},
            {"name": "secret", "secret": {"secretName": "mine-secret"}}]))
        create("/api/v1/namespaces/default/pods", pod("theirs", OTHER_NODE))
        create(f"/apis/coordination.k8s.io/v1/namespaces/{LEASES}/leases", {"metadata": {"name": NODE}})
        # A container still starting has no log yet: the node's allowed log read gets the
        # kubelet's 400, rather than a 503 for an agent that this test does not run.
        waiting = {"name": "c", "image": "nginx:latest", "imageID": "", "ready": False, "restartCount": 0,
                   "state": {"waiting": {"reason": "ContainerCreating"}}}
        response = http.put("/api/v1/namespaces/default/pods/mine/status",
                            json={**mine, "status": {**mine["status"], "containerStatuses": [waiting]}})
        assert response.status_code == 200, response.text


def _send(http: httpx.Client, call: Call) -> httpx.Response:
    body = b"{}" if call.method in ("POST", "PUT", "PATCH") else None
    headers = {"Content-Type": "application/merge-patch+json" if call.method == "PATCH" else "application/json"}
    with http.stream(call.method, call.route.path, params=call.query, content=body, headers=headers) as response:
        if call.query.get("watch") != "true" or response.status_code != 200:
            response.read()  # a watch that was let in streams on; its status is all we need
    return response


def _status(response: httpx.Response) -> dict:
    try:
        return json.loads(response.content) if response.content else {}
    except (ValueError, httpx.ResponseNotRead):  # not JSON, or a watch let in and left unread
        return {}


def _walk(http: httpx.Client, expect) -> list[str]:
    """Send every call; ``expect(call, response)`` returns what is wrong with the answer, or None."""
    wrong = []
    for call in calls():
        problem = expect(call, _send(http, call))
        if problem:
            wrong.append(f"{call}: {problem}")
    return wrong


def _unauthenticated(call: Call, response: httpx.Response) -> str | None:
    if response.status_code != 401:
        return f"{response.status_code} {response.text[:150]}"
    if call.method != "HEAD" and _status(response).get("reason") != "Unauthorized":
        return f"not an Unauthorized Status: {response.text[:150]}"
    return None


def test_an_unknown_token_is_refused_everywhere(server):
    with server.client(token="dya_" + "x" * 43) as http:
        wrong = _walk(http, _unauthenticated)
        for path in discovery_paths():
            code = http.get(path).status_code
            if code != (200 if path in PUBLIC_PATHS else 401):
                wrong.append(f"GET {path}: {code}")
    assert not wrong, f"{len(wrong)} wrong answers:\n" + "\n".join(wrong)


def test_no_token_reads_only_the_public_objects(server):
    def expect(call: Call, response: httpx.Response) -> str | None:
        public = call.route.path == CLUSTER_INFO_PATH and call.method in ("GET", "HEAD")
        if not public:
            return _unauthenticated(call, response)
        wanted = 403 if call.query.get("watch") else 200  # anonymous callers may read it, not watch it
        return None if response.status_code == wanted else f"{response.status_code} {response.text[:150]}"

    with server.client(token="") as http:
        wrong = _walk(http, expect)
        for path in discovery_paths():
            code = http.get(path).status_code
            if code != (200 if path in PUBLIC_PATHS else 401):
                wrong.append(f"GET {path}: {code}")
    assert not wrong, f"{len(wrong)} wrong answers:\n" + "\n".join(wrong)


def test_a_node_does_exactly_what_the_node_authorizer_allows(server, node_token):
    allowed = denied = 0

    def expect(call: Call, response: httpx.Response) -> str | None:
        nonlocal allowed, denied
        code, status = response.status_code, _status(response)
        if code >= 500:
            return f"{code} {response.text[:200]}"
        if call.method not in VERB_METHODS:
            return None if code == 405 and status.get("reason") == "MethodNotAllowed" else f"{code}, not 405"
        verb = verb_of(call.method, call.route, call.query)
        if node_may(verb, call.route, call.query):
            allowed += 1
            return f"refused: {code} {response.text[:150]}" if code in (401, 403) else None
        denied += 1
        if code != 403:
            return f"{verb} should be forbidden, got {code} {response.text[:150]}"
        if call.method == "HEAD":
            return None
        said = f'User "system:node:{NODE}" cannot {verb} resource "{call.route.resource}"'
        if status.get("kind") != "Status" or status.get("reason") != "Forbidden" or said not in status.get("message", ""):
            return f"not Kubernetes' Forbidden Status ({said}): {response.text[:200]}"
        return None

    with server.client(token=node_token) as http:
        wrong = _walk(http, expect)
        for path in discovery_paths():
            response = http.get(path)
            if response.status_code >= 500 or response.status_code in (401, 403):
                wrong.append(f"GET {path}: {response.status_code}")
    assert not wrong, f"{len(wrong)} wrong answers:\n" + "\n".join(wrong)
    assert allowed > 50 and denied > 300  # the walk really went both ways


@pytest.mark.parametrize("who", ["node", "unknown"])
def test_websocket_upgrades_are_authorized_like_any_request(server, node_token, who):
    """``kubectl exec`` and ``attach`` upgrade to a WebSocket; every object route is tried that way.

    The opening handshake is sent as the HTTP/1.1 upgrade request it is, so the server's answer
    (a refusal is a plain HTTP response with a ``metav1.Status``) is read with ordinary timeouts.
    """
    handshake = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                 "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
                 "Sec-WebSocket-Protocol": "v5.channel.k8s.io"}
    wrong = []
    with server.client(token=node_token if who == "node" else "dyn_unknown") as http:
        for route in resource_routes(subjects, namespaces):
            if route.name is None:
                continue
            response = http.get(route.path, params={"command": "true", "stdout": "true"}, headers=handshake)
            if who == "unknown":
                expected = 401
            elif node_may(verb_of("GET", route, {}), route, {}):
                expected = 400  # allowed, but only exec and attach are served over WebSocket
            else:
                expected = 403
            if response.status_code != expected or _status(response).get("kind") != "Status":
                wrong.append(f"{route}: {response.status_code}, not {expected}: {response.text[:150]}")
    assert not wrong, "\n".join(wrong)
