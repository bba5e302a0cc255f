"""The cluster's own Services (``kubernetes``, ``kube-dns``) and the service IPs admission hands out."""

from __future__ import annotations

import ipaddress
import logging

import pytest

from orchestrator.api import errors
from orchestrator.api.clusternetwork import ClusterNetwork
from orchestrator.api.registry import kind_for
from orchestrator.apiserver.admission import Admission, AdmissionPolicy
from orchestrator.api.options import PatchType
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.apiserver.systemservices import api_server_address, ensure_system_objects, system_services
from orchestrator.cluster.init import ClusterInfo
from orchestrator.store import MemoryStore

NS, SERVICE, ENDPOINTS = kind_for("v1", "Namespace"), kind_for("v1", "Service"), kind_for("v1", "Endpoints")
SLICE = kind_for("discovery.k8s.io/v1", "EndpointSlice")
NETWORK = ClusterNetwork()
#: 16 addresses: 14 usable, 2 of them reserved (.1 kubernetes, .10 kube-dns)
SMALL = ClusterNetwork(service_cidr="10.96.0.0/28")


def new_api(network: ClusterNetwork = NETWORK) -> ObjectAPI:
    api = ObjectAPI(MemoryStore(), Admission(AdmissionPolicy(network=network)))
    for name in ("default", "kube-system"):
        api.create(NS, None, {"metadata": {"name": name}})
    return api


@pytest.fixture
def api() -> ObjectAPI:
    return new_api()


def ensure(api: ObjectAPI, address: str = "192.168.0.7", port: int = 6443, network: ClusterNetwork = NETWORK) -> None:
    ensure_system_objects(api, system_services(network, address, port))


def test_kubernetes_and_kube_dns_services_with_their_endpoints_and_slices(api):
    ensure(api)
    kubernetes = api.get(SERVICE, "default", "kubernetes")
    assert kubernetes["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}
    assert (kubernetes["spec"]["clusterIP"], kubernetes["spec"]["type"], kubernetes["spec"].get("selector")) == \
        ("10.96.0.1", "ClusterIP", None)
    assert kubernetes["spec"]["ports"] == [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": 6443}]
    assert api.get(ENDPOINTS, "default", "kubernetes")["subsets"] == [
        {"addresses": [{"ip": "192.168.0.7"}], "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]
    dns = api.get(SERVICE, "kube-system", "kube-dns")
    assert dns["metadata"]["labels"] == {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}
    assert dns["spec"]["clusterIP"] == "10.96.0.10"
    assert [(p["name"], p["protocol"], p["port"]) for p in dns["spec"]["ports"]] == \
        [("dns", "UDP", 53), ("dns-tcp", "TCP", 53)]
    assert api.get(ENDPOINTS, "kube-system", "kube-dns")["subsets"][0]["addresses"] == [{"ip": "10.244.0.1"}]
    dns_slice = api.get(SLICE, "kube-system", "kube-dns")
    assert dns_slice["metadata"]["labels"] == {"kubernetes.io/service-name": "kube-dns"}
    assert dns_slice["endpoints"] == [{"addresses": ["10.244.0.1"], "conditions": {"ready": True}}]


def test_a_second_start_writes_nothing(api):
    ensure(api)
    revision = api.store.revision()
    ensure(api)
    assert api.store.revision() == revision


def test_drift_is_put_back_and_a_new_api_port_reaches_service_endpoints_and_slice(api):
    ensure(api)
    api.patch(SERVICE, "default", "kubernetes", PatchType.MERGE,
              {"metadata": {"labels": {"provider": None}, "annotations": {"note": "kept"}}})
    api.update(ENDPOINTS, "kube-system", "kube-dns", {**api.get(ENDPOINTS, "kube-system", "kube-dns"), "subsets": []})
    ensure(api, port=7443)
    kubernetes = api.get(SERVICE, "default", "kubernetes")
    assert kubernetes["metadata"]["labels"]["provider"] == "kubernetes"
    assert kubernetes["metadata"]["annotations"] == {"note": "kept"}  # not ours: left alone
    assert kubernetes["spec"]["ports"][0]["targetPort"] == 7443
    assert api.get(ENDPOINTS, "default", "kubernetes")["subsets"][0]["ports"][0]["port"] == 7443
    assert api.get(SLICE, "default", "kubernetes")["ports"][0]["port"] == 7443
    assert api.get(ENDPOINTS, "kube-system", "kube-dns")["subsets"][0]["addresses"] == [{"ip": "10.244.0.1"}]


def test_a_changed_service_range_re_creates_the_services_at_their_new_addresses(api):
    ensure(api)
    moved = ClusterNetwork(service_cidr="10.100.0.0/16")
    api.admission = Admission(AdmissionPolicy(network=moved))
    ensure(api, network=moved)
    assert api.get(SERVICE, "default", "kubernetes")["spec"]["clusterIP"] == "10.100.0.1"
    assert api.get(SERVICE, "kube-system", "kube-dns")["spec"]["clusterIP"] == "10.100.0.10"


def test_a_user_service_on_a_reserved_address_is_named_in_the_error_and_the_rest_goes_on(caplog):
    api = new_api()
    api.create(SERVICE, "default", {"metadata": {"name": "squatter"},
                                    "spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 80}]}})
    with caplog.at_level(logging.ERROR, logger="dockyard.systemservices"):
        ensure(api)
    assert "the Service default/squatter holds 10.96.0.10" in caplog.text
    assert api.get(SERVICE, "default", "kubernetes")["spec"]["clusterIP"] == "10.96.0.1"
    assert api.get(ENDPOINTS, "kube-system", "kube-dns")  # the endpoints still made it


@pytest.mark.parametrize("api_host, expected", [("10.0.0.10", "10.0.0.10"), ("localhost", "127.0.0.1")])
def test_the_api_server_address_is_the_listen_address_or_what_its_name_resolves_to(api_host, expected):
    info = ClusterInfo("c", api_host, 6443, f"https://{api_host}:6443", "2026-01-01T00:00:00+00:00", "uid")
    assert api_server_address(info) == expected


def test_a_wildcard_listener_is_reached_at_a_real_address_of_this_machine():
    info = ClusterInfo("c", "0.0.0.0", 6443, "https://127.0.0.1:6443", "2026-01-01T00:00:00+00:00", "uid")
    assert not ipaddress.ip_address(api_server_address(info)).is_unspecified


# ── cluster IP allocation ────────────────────────────────────────────────────────────────────


def test_automatic_cluster_ips_never_take_the_reserved_addresses_and_fill_a_small_range_exactly():
    api = new_api(SMALL)
    given = [api.create(SERVICE, "default", {"metadata": {"name": f"s{i}"}, "spec": {"ports": [{"port": 80}]}}
                        ).object["spec"]["clusterIP"] for i in range(12)]
    assert len(set(given)) == 12
    assert not set(given) & {"10.96.0.0", "10.96.0.1", "10.96.0.10", "10.96.0.15"}
    with pytest.raises(errors.ApiError) as full:
        api.create(SERVICE, "default", {"metadata": {"name": "one-too-many"}, "spec": {"ports": [{"port": 80}]}})
    assert full.value.code == 500 and "10.96.0.0/28 is full" in full.value.message


def test_a_reserved_address_can_still_be_asked_for_explicitly():
    api = new_api()
    made = api.create(SERVICE, "default", {"metadata": {"name": "dns"},
                                           "spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 53}]}}).object
    assert made["spec"]["clusterIP"] == "10.96.0.10"
