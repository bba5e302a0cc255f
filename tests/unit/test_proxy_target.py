"""Where a proxy request goes: ``[scheme:]name[:port]``, the proxied path, and the upstream of a
pod, a Service (endpoint choice) and a node, with Kubernetes' messages."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.api import errors
from orchestrator.api.agentendpoint import SERVING_CERT_ANNOTATION
from orchestrator.api.registry import kind_for
from orchestrator.apiserver.proxytarget import (
    ProxiedKind, ProxyId, ProxyScheme, Upstream, endpoint_search, node_upstream, parse_proxy_id, pod_upstream,
    proxyable, service_port_name, service_upstream, split_proxy_path,
)
from orchestrator.apiserver.routing import Target


@pytest.mark.parametrize(("raw", "expected"), [
    ("web", ProxyId(None, "web", "")),
    ("web:8080", ProxyId(None, "web", "8080")),
    ("web:http", ProxyId(None, "web", "http")),
    ("https:web:443", ProxyId(ProxyScheme.HTTPS, "web", "443")),
    ("http:web:", ProxyId(ProxyScheme.HTTP, "web", "")),
    (":web:80", ProxyId(None, "web", "80")),
])
def test_proxy_ids_as_kubernetes_splits_them(raw, expected):
    assert parse_proxy_id(ProxiedKind.SERVICE, raw) == expected


@pytest.mark.parametrize(("kind", "raw"), [
    (ProxiedKind.SERVICE, "ftp:web:21"), (ProxiedKind.POD, "a:b:c:d"), (ProxiedKind.NODE, ":8080"),
    (ProxiedKind.POD, "https::443"),
])
def test_a_bad_proxy_id_is_kubernetes_400(kind, raw):
    with pytest.raises(errors.ApiError) as caught:
        parse_proxy_id(kind, raw)
    assert (caught.value.code, caught.value.message) == (400, f'invalid {kind.value} request "{raw}"')


PODS = Target(kind_for("v1", "Pod"), "default", "web:80", "proxy")
NODES = Target(kind_for("v1", "Node"), None, "node-1", "proxy")


@pytest.mark.parametrize(("target", "raw_path", "expected"), [
    (PODS, "/api/v1/namespaces/default/pods/web:80/proxy", ("/api/v1/namespaces/default/pods/web:80/proxy", "")),
    (PODS, "/api/v1/namespaces/default/pods/web:80/proxy/", ("/api/v1/namespaces/default/pods/web:80/proxy", "/")),
    (PODS, "/api/v1/namespaces/default/pods/web:80/proxy/a%2Fb/c/",
     ("/api/v1/namespaces/default/pods/web:80/proxy", "/a%2Fb/c/")),
    (PODS, "/api/v1/namespaces/default/pods/web:80/proxy/a//b", ("/api/v1/namespaces/default/pods/web:80/proxy",
                                                                 "/a//b")),
    # a namespace or a proxied path may itself be called "proxy": positions decide, not names
    (Target(kind_for("v1", "Service"), "proxy", "proxy", "proxy"), "/api/v1/namespaces/proxy/services/proxy/proxy/proxy",
     ("/api/v1/namespaces/proxy/services/proxy/proxy", "/proxy")),
    (NODES, "/api/v1/nodes/node-1/proxy/healthz", ("/api/v1/nodes/node-1/proxy", "/healthz")),
    (NODES, "//api/v1//nodes/node-1/proxy/pods", ("/api/v1/nodes/node-1/proxy", "/pods")),
])
def test_the_proxied_path_is_what_follows_proxy_byte_for_byte(target, raw_path, expected):
    assert split_proxy_path(raw_path, target) == expected


# -- pods -----------------------------------------------------------------------------------


def pod(ip: str | None = "10.244.1.5", containers: list | None = None, ips: list[str] | None = None) -> dict:
    status: dict = {"podIP": ip} if ip else {}
    if ips:
        status["podIPs"] = [{"ip": i} for i in ips]
    return {"metadata": {"name": "web"}, "status": status,
            "spec": {"containers": containers if containers is not None else [{"name": "c"}]}}


def test_a_pod_is_reached_on_the_port_asked_for_or_its_first_declared_one():
    declared = [{"name": "sidecar"}, {"name": "app", "ports": [{"containerPort": 8080}, {"containerPort": 9090}]},
                {"name": "other", "ports": [{"containerPort": 7070}]}]
    assert pod_upstream(ProxyId(None, "web", ""), pod(containers=declared)) == \
        Upstream(ProxyScheme.HTTP, "10.244.1.5", 8080)
    assert pod_upstream(ProxyId(ProxyScheme.HTTPS, "web", "8443"), pod(containers=declared)) == \
        Upstream(ProxyScheme.HTTPS, "10.244.1.5", 8443)
    assert pod_upstream(ProxyId(None, "web", ""), pod()) == Upstream(ProxyScheme.HTTP, "10.244.1.5", None)
    assert pod_upstream(ProxyId(None, "web", "80"), pod(ips=["10.244.1.9", "fd00::9"])).host == "10.244.1.9"
    assert Upstream(ProxyScheme.HTTP, "fd00::9", 80).netloc == "[fd00::9]:80"


@pytest.mark.parametrize("ip", [None, "127.0.0.1", "169.254.1.1", "0.0.0.0", "224.0.0.1", "::1", "fe80::1",
                                "255.255.255.255", "not-an-ip"])
def test_a_pod_without_a_dialable_address_is_kubernetes_400(ip):
    with pytest.raises(errors.ApiError) as caught:
        pod_upstream(ProxyId(None, "web", "80"), pod(ip))
    assert (caught.value.code, caught.value.message) == (400, "address not allowed")


def test_private_addresses_are_dialable():
    assert all(proxyable(ip) for ip in ("10.244.0.5", "192.168.1.1", "172.17.0.2", "fd00::1", "8.8.8.8"))


@pytest.mark.parametrize("port", ["http", "0", "65536"])
def test_a_pod_port_is_a_number(port):
    with pytest.raises(errors.ApiError) as caught:
        pod_upstream(ProxyId(None, "web", port), pod())
    assert caught.value.code == 400 and "only services/NAME:PORT/proxy takes a port name" in caught.value.message


# -- services -------------------------------------------------------------------------------

SERVICE = {"metadata": {"name": "web"},
           "spec": {"ports": [{"name": "http", "port": 80}, {"name": "admin", "port": 9000}]}}


def test_a_service_port_number_means_that_ports_name():
    assert service_port_name(ProxyId(None, "web", "9000"), lambda: SERVICE) == "admin"
    unnamed = {"spec": {"ports": [{"port": 80}]}}
    assert service_port_name(ProxyId(None, "web", "80"), lambda: unnamed) == ""


def test_a_service_port_name_is_taken_as_it_is_without_reading_the_service():
    def unread() -> dict:
        raise AssertionError("the Service was read")

    assert service_port_name(ProxyId(None, "web", "http"), unread) == "http"
    assert service_port_name(ProxyId(None, "web", ""), unread) == ""


def test_an_unknown_service_port_number_is_kubernetes_503():
    with pytest.raises(errors.ApiError) as caught:
        service_port_name(ProxyId(None, "web", "8080"), lambda: SERVICE)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        503, errors.StatusReason.SERVICE_UNAVAILABLE, 'no service port 8080 found for service "web"')


def address(ip: str, name: str, namespace: str = "default", kind: str = "Pod") -> dict:
    return {"ip": ip, "targetRef": {"kind": kind, "namespace": namespace, "name": name}}


ENDPOINTS = {"subsets": [
    {"addresses": [address("10.0.0.1", "a"), address("10.0.0.2", "b")],
     "notReadyAddresses": [address("10.0.0.9", "z")],
     "ports": [{"name": "http", "port": 8080}, {"name": "admin", "port": 9000}]},
    {"addresses": [address("10.0.1.1", "c")], "ports": [{"name": "http", "port": 8081}]},
    {"notReadyAddresses": [address("10.0.2.1", "y")], "ports": [{"name": "http", "port": 8082}]},
]}
IPS = {"a": frozenset({"10.0.0.1"}), "b": frozenset({"10.0.0.2"}), "c": frozenset({"10.0.1.1"})}


def test_the_endpoint_search_offers_every_ready_address_under_the_port_name():
    found = endpoint_search(ENDPOINTS, "http", random.Random(1))
    assert sorted((c.ip, c.port) for c in found) == [("10.0.0.1", 8080), ("10.0.0.2", 8080), ("10.0.1.1", 8081)]
    assert sorted((c.ip, c.port) for c in endpoint_search(ENDPOINTS, "admin", random.Random(1))) == \
        [("10.0.0.1", 9000), ("10.0.0.2", 9000)]
    assert endpoint_search(ENDPOINTS, "", random.Random(1)) == []


@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=6),
       st.integers(min_value=1, max_value=6))
def test_wherever_the_search_starts_it_offers_each_address_once(seed, subsets, per_subset):
    endpoints = {"subsets": [{"addresses": [address(f"10.0.{s}.{a}", f"p{s}-{a}") for a in range(per_subset)],
                              "ports": [{"port": 80}]} for s in range(subsets)]}
    found = endpoint_search(endpoints, "", random.Random(seed))
    assert sorted(c.ip for c in found) == sorted(f"10.0.{s}.{a}" for s in range(subsets) for a in range(per_subset))


def test_the_search_starts_at_random_so_requests_spread_over_the_endpoints():
    firsts = {endpoint_search(ENDPOINTS, "http", random.Random(seed))[0].ip for seed in range(50)}
    assert firsts == {"10.0.0.1", "10.0.0.2", "10.0.1.1"}


def upstream_of(endpoints: dict, ips=IPS, port_name: str = "http", raw_id: str = "web:http") -> Upstream:
    return service_upstream(ProxyId(None, "web", port_name), raw_id, "default", endpoints, port_name,
                            lambda name: ips.get(name, frozenset()), random.Random(0))


def test_a_service_is_reached_at_an_endpoint_that_is_really_its_pod():
    assert upstream_of(ENDPOINTS).host in {"10.0.0.1", "10.0.0.2", "10.0.1.1"}
    # only c is still at its address: a and b moved (or were replaced) since the Endpoints were written
    assert upstream_of(ENDPOINTS, {"a": frozenset({"10.0.0.7"}), "c": frozenset({"10.0.1.1"})}) == \
        Upstream(ProxyScheme.HTTP, "10.0.1.1", 8081)


@pytest.mark.parametrize("written", [
    {"ip": "10.0.0.1"},  # no targetRef: somebody wrote an address by hand
    address("10.0.0.1", "a", namespace="other"),
    address("10.0.0.1", "a", kind="Node"),
])
def test_an_address_that_is_not_a_pod_of_this_namespace_is_never_dialled(written):
    endpoints = {"subsets": [{"addresses": [written], "ports": [{"name": "http", "port": 80}]}]}
    with pytest.raises(errors.ApiError) as caught:
        upstream_of(endpoints)
    assert (caught.value.code, caught.value.message) == (503, 'no endpoints available for service "web:http"')


def test_no_endpoints_at_all_is_kubernetes_503_naming_the_service():
    for endpoints in ({"metadata": {"name": "web"}}, {"subsets": []}):
        with pytest.raises(errors.ApiError) as caught:
            upstream_of(endpoints)
        assert (caught.value.code, caught.value.message) == (503, 'no endpoints available for service "web"')


def test_a_port_name_none_of_the_endpoints_has_is_503_naming_the_request():
    with pytest.raises(errors.ApiError) as caught:
        upstream_of(ENDPOINTS, port_name="metrics", raw_id="https:web:metrics")
    assert caught.value.message == 'no endpoints available for service "https:web:metrics"'


# -- nodes ----------------------------------------------------------------------------------


def node(annotated: bool = True, ip: str = "192.168.5.10") -> dict:
    return {"metadata": {"name": "node-1", "annotations": {SERVING_CERT_ANNOTATION: "ab" * 32} if annotated else {}},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}}


def test_a_node_is_its_agent_unless_another_port_is_named():
    for port in ("", "10250"):
        upstream = node_upstream(ProxyId(None, "node-1", port), node())
        assert (upstream.scheme, upstream.netloc) == (ProxyScheme.HTTPS, "192.168.5.10:10250")
        assert upstream.agent is not None and upstream.agent.fingerprint == "ab" * 32
    assert node_upstream(ProxyId(None, "node-1", "9100"), node()) == Upstream(ProxyScheme.HTTP, "192.168.5.10", 9100)


def test_a_node_whose_agent_is_not_published_cannot_be_proxied_to():
    with pytest.raises(errors.ApiError) as caught:
        node_upstream(ProxyId(None, "node-1", ""), node(annotated=False))
    assert caught.value.code == 503 and SERVING_CERT_ANNOTATION in caught.value.message
    with pytest.raises(errors.ApiError) as caught:
        node_upstream(ProxyId(None, "node-1", "9100"), node(ip="127.0.0.1"))
    assert caught.value.message == "address not allowed"
