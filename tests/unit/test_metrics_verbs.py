"""The ``verb`` label of ``apiserver_request_total``, as kube-apiserver reports it: relists are
counted as ``LIST`` and watches as ``WATCH``, which is what the watch-resumption figures read."""

from __future__ import annotations

import pytest

from orchestrator.apiserver.metrics import reported_verb
from orchestrator.apiserver.requestinfo import resolve
from orchestrator.apiserver.routing import parse_resource_path


@pytest.mark.parametrize("method, path, query, label", [
    ("GET", "namespaces/default/pods", {}, "LIST"),
    ("GET", "pods", {"fieldSelector": "spec.nodeName=worker-1"}, "LIST"),
    ("GET", "namespaces/default/pods", {"watch": "true"}, "WATCH"),
    ("GET", "namespaces/default/pods/web", {"watch": "1"}, "WATCH"),
    ("GET", "namespaces/default/pods/web", {}, "GET"),
    ("POST", "namespaces/default/pods", {}, "POST"),
    ("PUT", "namespaces/default/pods/web/status", {}, "PUT"),
    ("PATCH", "nodes/worker-1", {}, "PATCH"),
    ("DELETE", "namespaces/default/pods/web", {}, "DELETE"),
    ("DELETE", "namespaces/default/pods", {}, "DELETECOLLECTION"),
    ("GET", "namespaces/default/pods/web/exec", {"command": "ls"}, "CONNECT"),
    ("POST", "namespaces/default/pods/web/attach", {}, "CONNECT"),
])
def test_a_resource_request_is_labelled_with_kubernetes_verb(method, path, query, label):
    target = parse_resource_path("", "v1", path.split("/"))
    assert target is not None
    assert reported_verb(method, resolve(method, target, query)) == label


def test_a_request_that_names_no_resource_keeps_its_method():
    assert reported_verb("get", None) == "GET"
