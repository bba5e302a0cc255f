"""The cluster zone's answers (:mod:`agent.network.dns.records`), from a literal snapshot.

The expectations are CoreDNS's ``kubernetes`` plugin with ``pods insecure`` and
``fallthrough in-addr.arpa`` (the kubeadm Corefile): the name forms of the Kubernetes DNS
specification, NXDOMAIN only for names that do not exist, NODATA for existing names asked for a
type they lack, and search-path expansions that miss answered NXDOMAIN from the zone.
"""

from __future__ import annotations

import pytest

from agent.network.clusterview import NetworkSnapshot
from agent.network.dns.index import ClusterIndex
from agent.network.dns.query import NameKind, dashed_ipv4, parse
from agent.network.dns.records import TTL, Outcome, Record, RType, Soa, Srv, answer
from orchestrator.api.clusternetwork import ClusterNetwork

NETWORK = ClusterNetwork()


def service(name: str, namespace: str = "default", *, rv: str = "1", **spec) -> dict:
    return {"kind": "Service", "metadata": {"name": name, "namespace": namespace, "resourceVersion": rv},
            "spec": spec}


def endpoints(name: str, subsets: list[dict], namespace: str = "default", rv: str = "1") -> dict:
    return {"kind": "Endpoints", "metadata": {"name": name, "namespace": namespace, "resourceVersion": rv},
            "subsets": subsets}


SNAPSHOT = NetworkSnapshot(
    services=(
        service("kubernetes", clusterIP="10.96.0.1", clusterIPs=["10.96.0.1"],
                ports=[{"name": "https", "port": 443, "protocol": "TCP"}]),
        service("kube-dns", "kube-system", clusterIP="10.96.0.10",
                ports=[{"name": "dns", "port": 53, "protocol": "UDP"},
                       {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]),
        service("web", rv="41", type="NodePort", clusterIP="10.96.0.20", clusterIPs=["10.96.0.20"],
                ports=[{"name": "http", "port": 80, "protocol": "TCP"}, {"port": 8080, "protocol": "TCP"}]),
        service("db", "data", clusterIP="None", ports=[{"name": "pg", "port": 5432, "protocol": "TCP"}]),
        service("empty-headless", clusterIP="None", ports=[{"name": "x", "port": 1}]),
        service("ext", type="ExternalName", externalName="www.Example.com."),
        service("ext-ip", type="ExternalName", externalName="192.0.2.7"),
        service("alias", type="ExternalName", externalName="web.default.svc.cluster.local"),
        service("pending", ports=[{"port": 80}]),  # no ClusterIP allocated yet
    ),
    endpoints=(
        endpoints("web", [{"addresses": [{"ip": "10.244.1.4"}, {"ip": "10.244.2.4"}],
                           "notReadyAddresses": [{"ip": "10.244.3.4"}],
                           "ports": [{"name": "http", "port": 8000, "protocol": "TCP"}]}]),
        endpoints("db", [{"addresses": [{"ip": "10.244.1.5", "hostname": "db-0"},
                                        {"ip": "10.244.2.7"}],
                          "notReadyAddresses": [{"ip": "10.244.3.9", "hostname": "db-2"}],
                          "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}],
                  "data", rv="57"),
        endpoints("empty-headless", [{"notReadyAddresses": [{"ip": "10.244.1.8"}],
                                      "ports": [{"name": "x", "port": 1}]}]),
    ),
)
INDEX = ClusterIndex.of(SNAPSHOT)
SOA = Record("cluster.local.", RType.SOA, Soa("ns.dns.cluster.local.", "hostmaster.cluster.local.", 57,
                                                 7200, 1800, 86400, TTL))


def ask(name: str, qtype: str = "A"):
    return answer(name, qtype, INDEX, NETWORK)


def data(name: str, qtype: str = "A") -> list:
    result = ask(name, qtype)
    assert result.outcome is Outcome.ANSWER, result
    return [record.data for record in result.answers]


# -- Services --------------------------------------------------------------------------------------


def test_a_service_name_answers_its_cluster_ip() -> None:
    result = ask("web.default.svc.cluster.local")
    assert result.outcome is Outcome.ANSWER and result.authoritative
    assert result.answers == (Record("web.default.svc.cluster.local.", RType.A, "10.96.0.20", 5),)


@pytest.mark.parametrize("name", ["WEB.Default.Svc.Cluster.Local", "web.default.svc.cluster.local.",
                                  "Web.DEFAULT.svc.cluster.local."])
def test_names_match_whatever_the_case_and_trailing_dot(name: str) -> None:
    result = ask(name)
    assert [record.data for record in result.answers] == ["10.96.0.20"]
    assert result.answers[0].name == (name if name.endswith(".") else name + "."), "echoes the name as asked"


def test_headless_service_answers_its_ready_endpoints_only() -> None:
    assert data("db.data.svc.cluster.local") == ["10.244.1.5", "10.244.2.7"]


def test_headless_service_without_ready_endpoints_does_not_exist() -> None:
    result = ask("empty-headless.default.svc.cluster.local")
    assert result.outcome is Outcome.NXDOMAIN


def test_endpoint_hostname_and_dashed_address_names() -> None:
    assert data("db-0.db.data.svc.cluster.local") == ["10.244.1.5"]
    assert data("10-244-2-7.db.data.svc.cluster.local") == ["10.244.2.7"]
    # endpoint names of a ClusterIP Service resolve as well (CoreDNS does the same)
    assert data("10-244-1-4.web.default.svc.cluster.local") == ["10.244.1.4"]


@pytest.mark.parametrize("name", ["db-2.db.data.svc.cluster.local",          # not ready
                                  "10-244-3-4.web.default.svc.cluster.local",  # not ready
                                  "db-9.db.data.svc.cluster.local"])
def test_unknown_or_unready_endpoint_names_do_not_exist(name: str) -> None:
    assert ask(name).outcome is Outcome.NXDOMAIN


def test_a_service_without_cluster_ip_yet_exists_without_records() -> None:
    assert ask("pending.default.svc.cluster.local").outcome is Outcome.NODATA


# -- SRV -------------------------------------------------------------------------------------------


def test_srv_of_a_named_port_points_at_the_service_with_glue() -> None:
    result = ask("_http._tcp.web.default.svc.cluster.local", "SRV")
    assert [record.data for record in result.answers] == [Srv(0, 100, 80, "web.default.svc.cluster.local.")]
    assert result.additional == (Record("web.default.svc.cluster.local.", RType.A, "10.96.0.20"),)


def test_srv_of_the_service_name_lists_every_port() -> None:
    assert data("web.default.svc.cluster.local", "SRV") == [
        Srv(0, 50, 80, "web.default.svc.cluster.local."), Srv(0, 50, 8080, "web.default.svc.cluster.local.")]


def test_srv_of_a_headless_service_names_each_endpoint() -> None:
    result = ask("_pg._tcp.db.data.svc.cluster.local", "SRV")
    assert [record.data for record in result.answers] == [
        Srv(0, 50, 5432, "db-0.db.data.svc.cluster.local."),
        Srv(0, 50, 5432, "10-244-2-7.db.data.svc.cluster.local.")]
    assert [(record.name, record.data) for record in result.additional] == [
        ("db-0.db.data.svc.cluster.local.", "10.244.1.5"), ("10-244-2-7.db.data.svc.cluster.local.", "10.244.2.7")]


def test_srv_names_match_port_and_protocol() -> None:
    assert data("_dns._udp.kube-dns.kube-system.svc.cluster.local", "SRV") == [
        Srv(0, 100, 53, "kube-dns.kube-system.svc.cluster.local.")]
    assert ask("_dns._tcp.kube-dns.kube-system.svc.cluster.local", "SRV").outcome is Outcome.NXDOMAIN
    assert ask("_nope._tcp.web.default.svc.cluster.local", "SRV").outcome is Outcome.NXDOMAIN


def test_a_question_for_a_srv_name_answers_the_cluster_ip() -> None:
    assert data("_http._tcp.web.default.svc.cluster.local") == ["10.96.0.20"]


# -- ExternalName ----------------------------------------------------------------------------------


def test_external_name_is_a_cname_whose_target_the_upstream_completes() -> None:
    result = ask("ext.default.svc.cluster.local", "A")
    assert result.answers == (Record("ext.default.svc.cluster.local.", RType.CNAME, "www.example.com."),)
    assert result.chase == "www.example.com."


def test_cname_question_gets_the_cname_alone() -> None:
    result = ask("ext.default.svc.cluster.local", "CNAME")
    assert [record.data for record in result.answers] == ["www.example.com."] and result.chase == ""


def test_external_name_into_the_zone_is_followed_here() -> None:
    result = ask("alias.default.svc.cluster.local", "A")
    assert [(record.rtype, record.data) for record in result.answers] == [
        (RType.CNAME, "web.default.svc.cluster.local."), (RType.A, "10.96.0.20")]
    assert result.chase == ""


def test_external_name_that_is_an_address_has_no_record() -> None:
    assert ask("ext-ip.default.svc.cluster.local").outcome is Outcome.NXDOMAIN


def test_cname_loops_inside_the_zone_end() -> None:
    looping = ClusterIndex.of(NetworkSnapshot(services=(
        service("a", type="ExternalName", externalName="b.default.svc.cluster.local"),
        service("b", type="ExternalName", externalName="a.default.svc.cluster.local"))))
    result = answer("a.default.svc.cluster.local", "A", looping, NETWORK)
    assert result.outcome is Outcome.ANSWER and all(record.rtype is RType.CNAME for record in result.answers)
    assert len(result.answers) == 9  # the first CNAME and eight followed


# -- pods, reverse, infrastructure names -----------------------------------------------------------


def test_pod_names_are_answered_from_the_name_itself() -> None:
    assert data("10-244-3-9.default.pod.cluster.local") == ["10.244.3.9"]
    assert ask("10-244-3-999.default.pod.cluster.local").outcome is Outcome.NXDOMAIN
    assert ask("my-pod.default.pod.cluster.local").outcome is Outcome.NXDOMAIN


def test_ptr_of_cluster_ips_and_endpoints() -> None:
    assert data("20.0.96.10.in-addr.arpa", "PTR") == ["web.default.svc.cluster.local."]
    assert data("5.1.244.10.in-addr.arpa.", "PTR") == ["db-0.db.data.svc.cluster.local."]
    assert data("7.2.244.10.in-addr.arpa", "PTR") == ["10-244-2-7.db.data.svc.cluster.local."]


@pytest.mark.parametrize(("name", "qtype"), [("9.9.9.10.in-addr.arpa", "PTR"),   # nobody's
                                             ("20.0.96.10.in-addr.arpa", "A"),   # not a PTR question
                                             ("96.10.in-addr.arpa", "PTR")])    # a partial name
def test_other_reverse_questions_go_upstream(name: str, qtype: str) -> None:
    assert ask(name, qtype).outcome is Outcome.FORWARD


def test_zone_apex_soa_and_ns() -> None:
    assert ask("cluster.local", "SOA").answers == (SOA,)
    result = ask("cluster.local", "NS")
    assert [record.data for record in result.answers] == ["ns.dns.cluster.local."]
    assert result.additional == (Record("ns.dns.cluster.local.", RType.A, "10.96.0.10"),)
    assert data("ns.dns.cluster.local") == ["10.96.0.10"]
    assert data("dns-version.cluster.local", "TXT") == ["1.1.0"]


def test_soa_serial_is_the_newest_resource_version() -> None:
    assert ask("cluster.local", "SOA").answers[0].data.serial == 57


# -- NXDOMAIN, NODATA and what is not ours ---------------------------------------------------------


@pytest.mark.parametrize(("name", "qtype"), [
    ("web.default.svc.cluster.local", "AAAA"),      # IPv4 only, but the name exists
    ("web.default.svc.cluster.local", "MX"),
    ("web.default.svc.cluster.local", "CNAME"),
    ("db-0.db.data.svc.cluster.local", "SRV"),
    ("10-244-3-9.default.pod.cluster.local", "AAAA"),
    ("default.svc.cluster.local", "A"),             # a namespace
    ("svc.cluster.local", "A"),
    ("pod.cluster.local", "A"),
    ("cluster.local", "A"),
])
def test_existing_names_without_that_type_are_nodata_with_the_soa(name: str, qtype: str) -> None:
    result = ask(name, qtype)
    assert (result.outcome, result.answers, result.authority, result.authoritative) == \
        (Outcome.NODATA, (), (SOA,), True)


@pytest.mark.parametrize("name", [
    "nope.default.svc.cluster.local",
    "web.other.svc.cluster.local",                   # the Service lives in another namespace
    "nowhere.svc.cluster.local",                     # a namespace with no Service
    "web.cluster.local",
    "a.b._http._tcp.web.default.svc.cluster.local",  # too long
    "x.10-244-3-9.default.pod.cluster.local",
    # the search path of a pod in namespace default, looking up "web.default"
    "web.default.default.svc.cluster.local",
    # … and looking up "svc.default.svc.cluster.local" (4 dots < ndots:5, so the search path first)
    "svc.default.svc.cluster.local.default.svc.cluster.local",
    "svc.default.svc.cluster.local",
])
def test_names_that_do_not_exist_are_nxdomain_with_the_soa(name: str) -> None:
    for qtype in ("A", "AAAA"):
        result = ask(name, qtype)
        assert (result.outcome, result.authority, result.authoritative) == (Outcome.NXDOMAIN, (SOA,), True)


def test_single_label_names_fail_at_once_without_forwarding() -> None:
    result = ask("unknown-svc", "A")
    assert (result.outcome, result.authority) == (Outcome.NXDOMAIN, ())


@pytest.mark.parametrize("name", ["example.com", "www.example.com.", "cluster.local.example.com", "local"])
def test_names_outside_the_zone_are_forwarded(name: str) -> None:
    expected = Outcome.NXDOMAIN if name == "local" else Outcome.FORWARD
    assert ask(name).outcome is expected


def test_zone_transfers_are_refused() -> None:
    assert ask("cluster.local", "AXFR").outcome is Outcome.REFUSED


def test_another_cluster_domain() -> None:
    network = ClusterNetwork(cluster_domain="lab.example")
    assert [r.data for r in answer("web.default.svc.lab.example", "A", INDEX, network).answers] == ["10.96.0.20"]
    assert answer("web.default.svc.cluster.local", "A", INDEX, network).outcome is Outcome.FORWARD


# -- the name parser -------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kind", "fields"), [
    ("_HTTP._Tcp.web.default.svc.cluster.local.", NameKind.SERVICE,
     {"service": "web", "namespace": "default", "port": "http", "protocol": "tcp"}),
    ("web-0.web.default.svc.cluster.local", NameKind.SERVICE, {"service": "web", "endpoint": "web-0"}),
    ("4.3.2.1.in-addr.arpa", NameKind.REVERSE, {"address": "1.2.3.4"}),
    ("4.3.2.300.in-addr.arpa", NameKind.OUTSIDE, {}),
    ("", NameKind.OUTSIDE, {}),                        # the root
])
def test_parse(name: str, kind: NameKind, fields: dict) -> None:
    parsed = parse(name, "cluster.local")
    assert parsed.kind is kind
    assert {key: getattr(parsed, key) for key in fields} == fields


@pytest.mark.parametrize(("label", "address"), [("10-244-1-5", "10.244.1.5"), ("10-244-1", ""),
                                                ("10-244-1-256", ""), ("a-b-c-d", ""), ("1-2-3-4-5", "")])
def test_dashed_ipv4(label: str, address: str) -> None:
    assert dashed_ipv4(label) == address
