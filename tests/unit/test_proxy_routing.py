"""The proxy subresources on the API's surface: their paths, their verbs, who may use them, and
how discovery lists them (Kubernetes 1.32's entries)."""

from __future__ import annotations

import pytest

from orchestrator.api import errors
from orchestrator.api.registry import kind_for
from orchestrator.apiserver.auth import authorize_request
from orchestrator.apiserver.discovery import api_resource_list
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.apiserver.requestinfo import Verb, resolve
from orchestrator.apiserver.routing import Target, parse_resource_path
from orchestrator.cluster.identity import admin_identity, node_identity
from orchestrator.store import MemoryStore

POD = kind_for("v1", "Pod")
NODE = kind_for("v1", "Node")
SERVICE = kind_for("v1", "Service")


def test_a_proxy_path_goes_on_after_the_subresource():
    assert parse_resource_path("", "v1", "namespaces/default/pods/web:80/proxy/a/b/c".split("/")) == \
        Target(POD, "default", "web:80", "proxy")
    assert parse_resource_path("", "v1", ["nodes", "node-1", "proxy", "healthz"]) == Target(NODE, None, "node-1", "proxy")
    # no other subresource does
    assert parse_resource_path("", "v1", "namespaces/default/pods/web/log/more".split("/")) is None
    with pytest.raises(errors.ApiError) as caught:
        parse_resource_path("", "v1", "namespaces/default/configmaps/x/proxy/y".split("/"))
    assert caught.value.code == 404 and caught.value.message.endswith("(configmaps/proxy)")


@pytest.mark.parametrize(("method", "verb"), [
    ("GET", Verb.GET), ("HEAD", Verb.GET), ("POST", Verb.CREATE), ("PUT", Verb.UPDATE), ("PATCH", Verb.PATCH),
    ("DELETE", Verb.DELETE),
])
def test_a_proxy_requests_verb_is_its_methods_whatever_its_query(method, verb):
    target = Target(SERVICE, "default", "web", "proxy")
    # the query is the app's: watch=true is not a watch, a fieldSelector is not a selector
    info = resolve(method, target, {"watch": "true", "fieldSelector": "not a selector"})
    assert info.verb is verb and info.selection is None


def test_a_node_may_not_proxy_even_to_itself_while_an_admin_may():
    api = ObjectAPI(MemoryStore())
    for target in (Target(NODE, None, "node-1", "proxy"), Target(POD, "default", "web", "proxy"),
                   Target(SERVICE, "default", "web:80", "proxy")):
        info = resolve("GET", target, {})
        with pytest.raises(errors.ApiError) as caught:
            authorize_request(node_identity("node-1"), info, api)
        assert caught.value.code == 403
        assert f'cannot get resource "{target.rk.plural}/proxy"' in caught.value.message
        assert authorize_request(admin_identity(), info, api).info is info


def test_discovery_lists_the_proxy_subresources_as_kubernetes_does():
    listed = {entry["name"]: entry for entry in api_resource_list("v1")["resources"]}
    verbs = ["create", "delete", "get", "patch", "update"]
    assert listed["pods/proxy"] == {"name": "pods/proxy", "singularName": "", "namespaced": True,
                                    "kind": "PodProxyOptions", "verbs": verbs}
    assert listed["services/proxy"] == {"name": "services/proxy", "singularName": "", "namespaced": True,
                                        "kind": "ServiceProxyOptions", "verbs": verbs}
    assert listed["nodes/proxy"] == {"name": "nodes/proxy", "singularName": "", "namespaced": False,
                                     "kind": "NodeProxyOptions", "verbs": verbs}
