"""The service proxy's planner (kube-proxy's iptables mode) with literal Services and Endpoints."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.api.clusternetwork import ClusterNetwork

from agent.network.clusterview import NetworkSnapshot
from agent.network.proxy_chains import ChainNames
from agent.network.proxy_rules import plan_rules
from agent.network.ruleset import RuleSet, Table, TableRules
from agent.network.servicemap import service_ports
from tests.support.service_objects import endpoints, service

UID = "1a2b3c4d-5e6f-4a1b-8c2d-0123456789ab"
P = "DY-1A2B3C4D-"
NETWORK = ClusterNetwork()
ONE_NODE = {"node-1": "192.168.0.11"}
THREE_NODES = {"node-1": "10.244.0.11", "node-2": "10.244.0.12", "node-3": "10.244.0.13"}


def plan(services, eps=(), nodes=ONE_NODE) -> RuleSet:
    return plan_rules(UID, NETWORK, nodes, NetworkSnapshot(services=tuple(services), endpoints=tuple(eps)))


def chain(table: TableRules, name: str) -> list[str]:
    """The rules of one chain, as iptables-save would list them without the ``-A CHAIN``."""
    assert name in table.chains, f"{name} not declared; chains: {table.chains}"
    return [rule.line().split(" ", 2)[2] for rule in table.rules if rule.chain == name]


def targets(lines: list[str]) -> list[str]:
    return [line.rsplit("-j ", 1)[1].split()[0] for line in lines]


def names_of(svc_name="web", port_name="", protocol="TCP", eps=()):
    [sp] = [p for p in service_ports(NetworkSnapshot(services=(service(svc_name, {"name": port_name, "port": 80,
                                                                                    "protocol": protocol}),),
                                                     endpoints=eps))]
    return ChainNames(P), sp


# -- ClusterIP -------------------------------------------------------------------------------


def test_cluster_ip_spreads_over_endpoints_with_kube_proxy_probabilities():
    rules = plan([service("web")], [endpoints("web", ("10.244.1.5", "node-1"), ("10.244.2.7", "node-2"),
                                              ("10.244.3.9", "node-3"))])
    [entry] = [line for line in chain(rules.nat, P + "SERVICES") if "cluster IP" in line]
    assert entry.startswith('-d 10.96.0.20/32 -p tcp -m tcp --dport 80 -m comment --comment "default/web cluster IP"')
    svc_chain = targets([entry])[0]
    assert re.fullmatch(P + "SVC-[A-Z2-7]{12}", svc_chain) and len(svc_chain) <= 28
    lines = chain(rules.nat, svc_chain)
    assert lines[0].startswith("! -s 10.244.0.0/16 -d 10.96.0.20/32 -p tcp -m tcp --dport 80")
    assert lines[0].endswith(f"-j {P}MARK-MASQ")
    picks = lines[1:]
    assert [re.search(r"--probability (\S+)", line) and re.search(r"--probability (\S+)", line)[1]
            for line in picks] == ["0.3333333333", "0.5000000000", None]
    assert ["-> 10.244.1.5:8080" in picks[0], "-> 10.244.2.7:8080" in picks[1], "-> 10.244.3.9:8080" in picks[2]] \
        == [True, True, True]
    # each endpoint chain: hairpin masquerade, then DNAT to ip:targetPort
    first = chain(rules.nat, targets(picks)[0])
    assert first == [f"-s 10.244.1.5/32 -m comment --comment default/web -j {P}MARK-MASQ",
                     "-p tcp -m comment --comment default/web -m tcp -j DNAT --to-destination 10.244.1.5:8080"]


@pytest.mark.parametrize("count", [1, 2, 4, 7])
def test_probabilities_give_every_endpoint_an_equal_share(count):
    assert shares_of(count) == pytest.approx([1 / count] * count, abs=1e-9)


@given(st.integers(min_value=1, max_value=300))
@settings(max_examples=25, deadline=None)
def test_probabilities_stay_fair_for_any_number_of_endpoints(count):
    # ten decimals, as kube-proxy prints them: the rounding costs no endpoint more than 1e-8
    assert shares_of(count) == pytest.approx([1 / count] * count, abs=1e-8)


def shares_of(count: int) -> list[float]:
    """The share of connections each endpoint gets from the planned probabilities."""
    addresses = [(f"10.244.{1 + i // 200}.{i % 200 + 10}", "node-1") for i in range(count)]
    rules = plan([service("web")], [endpoints("web", *addresses)])
    svc_chain = targets([line for line in chain(rules.nat, P + "SERVICES") if "cluster IP" in line])[0]
    remaining, shares = 1.0, []
    for line in chain(rules.nat, svc_chain)[1:]:
        found = re.search(r"--probability (\S+)", line)
        probability = float(found[1]) if found else 1.0
        shares.append(remaining * probability)
        remaining -= remaining * probability
    return shares


def test_endpoints_are_matched_by_port_name_and_protocol():
    web = service("web", {"name": "http", "port": 80, "protocol": "TCP"},
                  {"name": "dns", "port": 53, "protocol": "UDP"})
    eps = endpoints("web", ("10.244.1.5", "node-1"),
                    ports=({"name": "dns", "port": 5353, "protocol": "UDP"},
                           {"name": "http", "port": 8080, "protocol": "TCP"},
                           {"name": "http", "port": 9999, "protocol": "UDP"}))
    rules = plan([web], [eps])
    dnat = [line for line in (rule.line() for rule in rules.nat.rules) if "DNAT" in line]
    assert any("-p tcp" in line and "10.244.1.5:8080" in line for line in dnat)
    assert any("-p udp" in line and "10.244.1.5:5353" in line for line in dnat)
    assert not any("9999" in line for line in dnat)
    entries = chain(rules.nat, P + "SERVICES")
    assert any('-p udp -m udp --dport 53 -m comment --comment "default/web:dns cluster IP"' in line for line in entries)


def test_not_ready_loopback_and_foreign_namespace_endpoints_get_no_traffic():
    rules = plan([service("web")],
                 [endpoints("web", ("10.244.1.5", "node-1"), ("127.0.0.1", None), not_ready=[("10.244.1.6", "node-1")]),
                  endpoints("web", ("10.244.9.9", "node-1"), namespace="other")])
    dnat = " ".join(rule.line() for rule in rules.nat.rules if "DNAT" in rule.args)
    assert "10.244.1.5:8080" in dnat
    assert "127.0.0.1" not in dnat and "10.244.1.6" not in dnat and "10.244.9.9" not in dnat


def test_sctp_is_proxied_like_tcp():
    rules = plan([service("sig", {"port": 3868, "protocol": "SCTP"})],
                 [endpoints("sig", ("10.244.1.5", "node-1"), ports=({"port": 3868, "protocol": "SCTP"},))])
    assert any("-p sctp -m sctp --dport 3868" in line for line in chain(rules.nat, P + "SERVICES"))


@pytest.mark.parametrize("svc", [
    service("ext", type="ExternalName", cluster_ip="", externalName="example.com"),
    service("headless", cluster_ip="None"),
    service("pending", cluster_ip=""),
])
def test_external_name_headless_and_ip_less_services_get_no_rules(svc):
    name = svc["metadata"]["name"]
    rules = plan([svc], [endpoints(name, ("10.244.1.5", "node-1"))])
    assert plan([]) == rules


# -- no endpoints ----------------------------------------------------------------------------


def test_service_without_endpoints_is_refused_not_dnatted():
    web = service("web", {"port": 80, "protocol": "TCP", "nodePort": 30080}, type="LoadBalancer",
                  externalIPs=["203.0.113.7"], status={"loadBalancer": {"ingress": [{"ip": "192.168.0.11"}]}})
    rules = plan([web], [endpoints("web")])
    refusals = chain(rules.filter, P + "SERVICES")
    assert refusals == [
        '-d 10.96.0.20/32 -p tcp -m tcp --dport 80 -m comment --comment "default/web has no endpoints" -j REJECT',
        '-d 203.0.113.7/32 -p tcp -m tcp --dport 80 -m comment --comment "default/web has no endpoints" -j REJECT',
        '-d 192.168.0.11/32 -p tcp -m tcp --dport 80 -m comment --comment "default/web has no endpoints" -j REJECT',
        '-m addrtype --dst-type LOCAL -p tcp -m tcp --dport 30080 -m comment --comment "default/web has no endpoints"'
        ' -j REJECT',
    ]
    assert not any("default/web" in line for line in chain(rules.nat, P + "SERVICES"))
    assert chain(rules.nat, P + "NODEPORTS") == []
    assert not [c for c in rules.nat.chains if "-SVC-" in c or "-SEP-" in c or "-EXT-" in c]


# -- session affinity ------------------------------------------------------------------------


def test_client_ip_affinity_checks_recent_clients_first_and_records_them_at_the_endpoint():
    web = service("web", sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}})
    rules = plan([web], [endpoints("web", ("10.244.1.5", "node-1"), ("10.244.2.7", "node-2"))])
    svc_chain = targets([line for line in chain(rules.nat, P + "SERVICES") if "cluster IP" in line])[0]
    lines = chain(rules.nat, svc_chain)[1:]
    sep1, sep2 = targets(lines[2:])
    assert lines[:2] == [
        f'-m comment --comment "default/web -> 10.244.1.5:8080" -m recent --name {sep1} --mask 255.255.255.255 '
        f'--rsource --rcheck --seconds 60 --reap -j {sep1}',
        f'-m comment --comment "default/web -> 10.244.2.7:8080" -m recent --name {sep2} --mask 255.255.255.255 '
        f'--rsource --rcheck --seconds 60 --reap -j {sep2}',
    ]
    assert "--probability 0.5000000000" in lines[2]
    assert chain(rules.nat, sep1)[1] == (f"-p tcp -m comment --comment default/web -m recent --name {sep1} "
                                         f"--mask 255.255.255.255 --rsource --set -m tcp -j DNAT "
                                         f"--to-destination 10.244.1.5:8080")


def test_client_ip_affinity_defaults_to_three_hours():
    rules = plan([service("web", sessionAffinity="ClientIP")], [endpoints("web", ("10.244.1.5", "node-1"))])
    assert any("--seconds 10800 --reap" in rule.line() for rule in rules.nat.rules)


# -- NodePort, Cluster and Local policies ----------------------------------------------------


def nodeport_service(policy="Cluster", **spec):
    return service("web", {"port": 80, "protocol": "TCP", "nodePort": 30080}, type="NodePort",
                   externalTrafficPolicy=policy, **spec)


def ext_chain_of(line: str) -> str:
    return targets([line])[0]


def test_nodeport_with_cluster_policy_masquerades_and_uses_every_endpoint():
    rules = plan([nodeport_service()], [endpoints("web", ("10.244.1.5", "node-1"), ("10.244.2.7", "node-2"))])
    services_chain = chain(rules.nat, P + "SERVICES")
    assert services_chain[-1] == ('-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -m comment --comment '
                                  f'"NodePorts: packets to a local address; keep this rule last" -j {P}NODEPORTS')
    [nodeport] = chain(rules.nat, P + "NODEPORTS")
    assert nodeport.startswith("-p tcp -m tcp --dport 30080 -m comment --comment default/web -j ")
    ext = ext_chain_of(nodeport)
    assert re.fullmatch(P + "EXT-[A-Z2-7]{12}", ext)
    svc_chain = targets([line for line in services_chain if "cluster IP" in line])[0]
    assert chain(rules.nat, ext) == [
        f'-m comment --comment "masquerade traffic for default/web external destinations" -j {P}MARK-MASQ',
        f"-j {svc_chain}"]


def test_nodeport_with_local_policy_on_one_node_keeps_the_source_and_uses_local_endpoints():
    rules = plan([nodeport_service("Local")],
                 [endpoints("web", ("10.244.1.5", "node-1"), ("10.244.2.7", "node-2"))], nodes=ONE_NODE)
    [nodeport] = chain(rules.nat, P + "NODEPORTS")
    assert nodeport.startswith("-p tcp -m tcp --dport 30080")  # every local address is node-1's
    ext = ext_chain_of(nodeport)
    svc_chain = targets([line for line in chain(rules.nat, P + "SERVICES") if "cluster IP" in line])[0]
    lines = chain(rules.nat, ext)
    assert lines[0] == (f'-s 10.244.0.0/16 -m comment --comment "pod traffic for default/web external destinations" '
                        f'-j {svc_chain}')
    assert lines[1].startswith("-m addrtype --src-type LOCAL") and lines[1].endswith(f"-j {P}MARK-MASQ")
    assert lines[2].startswith("-m addrtype --src-type LOCAL") and lines[2].endswith(f"-j {svc_chain}")
    local = targets([lines[3]])[0]
    assert re.fullmatch(P + "SVL-[A-Z2-7]{12}", local)
    assert not any("MARK-MASQ" in line for line in chain(rules.nat, local))
    [pick] = chain(rules.nat, local)
    assert "10.244.1.5:8080" in pick and "statistic" not in pick  # node-1's only endpoint
    assert chain(rules.filter, P + "SERVICES") == []


def test_local_policy_on_a_node_without_local_endpoints_refuses_external_clients():
    rules = plan([nodeport_service("Local")], [endpoints("web", ("10.244.2.7", "node-2"))], nodes=ONE_NODE)
    ext = ext_chain_of(chain(rules.nat, P + "NODEPORTS")[0])
    assert not any("-SVL-" in line for line in chain(rules.nat, ext))  # pod and host short-circuits only
    assert chain(rules.filter, P + "SERVICES") == [
        '-m addrtype --dst-type LOCAL -p tcp -m tcp --dport 30080 -m comment --comment '
        '"default/web has no local endpoints" -j REJECT']


def test_local_policy_with_several_local_nodes_matches_each_node_address():
    rules = plan([nodeport_service("Local")],
                 [endpoints("web", ("10.244.1.5", "node-1"), ("10.244.2.7", "node-2"), ("10.244.2.8", "node-2"))],
                 nodes=THREE_NODES)
    nodeports = chain(rules.nat, P + "NODEPORTS")
    assert [line.split(" -p")[0] for line in nodeports] == ["-d 10.244.0.11/32", "-d 10.244.0.12/32",
                                                           "-d 10.244.0.13/32"]
    ext1, ext2, ext3 = map(ext_chain_of, nodeports)
    assert len({ext1, ext2, ext3}) == 3
    # the host's own packets to a node address are not "pod traffic": they get the node's policy
    assert chain(rules.nat, ext1)[0].startswith("-m addrtype ! --src-type LOCAL -s 10.244.0.0/16")
    assert not any("--src-type LOCAL -m comment" in line for line in chain(rules.nat, ext1))
    local2 = targets(chain(rules.nat, ext2))[-1]
    assert sorted(re.search(r"-> (\S+)\"", line)[1] for line in chain(rules.nat, local2)) == \
        ["10.244.2.7:8080", "10.244.2.8:8080"]
    assert len(chain(rules.nat, ext3)) == 1  # node-3: nothing local, only the pod short-circuit
    assert chain(rules.filter, P + "SERVICES") == [
        '-d 10.244.0.13/32 -p tcp -m tcp --dport 30080 -m comment --comment "default/web has no local endpoints"'
        ' -j REJECT']


def test_cluster_policy_with_several_local_nodes_answers_on_each_nodes_address_only():
    rules = plan([nodeport_service()], [endpoints("web", ("10.244.2.7", "node-2"))], nodes=THREE_NODES)
    nodeports = chain(rules.nat, P + "NODEPORTS")
    assert [line.split(" -m comment")[0] for line in nodeports] == [
        f"-d 10.244.0.1{n}/32 -p tcp -m tcp --dport 30080" for n in (1, 2, 3)]
    assert len({ext_chain_of(line) for line in nodeports}) == 1


def test_a_node_port_without_endpoints_is_refused_on_each_local_nodes_address():
    rules = plan([nodeport_service()], [], nodes=THREE_NODES)
    refused = [line.split(" -m comment")[0] for line in chain(rules.filter, P + "SERVICES")]
    assert [line for line in refused if "30080" in line] == [
        f"-d 10.244.0.1{n}/32 -p tcp -m tcp --dport 30080" for n in (1, 2, 3)]


# -- LoadBalancer and external IPs -----------------------------------------------------------


def lb_service(policy, ingress, **spec):
    return service("web", {"port": 80, "protocol": "TCP", "nodePort": 30080}, type="LoadBalancer",
                   externalTrafficPolicy=policy, status={"loadBalancer": {"ingress": [{"ip": ip} for ip in ingress]}},
                   **spec)


def test_load_balancer_ingress_ips_answer_on_the_service_port():
    rules = plan([lb_service("Cluster", ["10.244.0.11", "10.244.0.12"])],
                 [endpoints("web", ("10.244.2.7", "node-2"))], nodes=THREE_NODES)
    lb = [line for line in chain(rules.nat, P + "SERVICES") if "loadbalancer IP" in line]
    assert [line.split(" -m comment")[0] for line in lb] == ["-d 10.244.0.11/32 -p tcp -m tcp --dport 80",
                                                             "-d 10.244.0.12/32 -p tcp -m tcp --dport 80"]
    nodeports = chain(rules.nat, P + "NODEPORTS")
    assert {ext_chain_of(line) for line in lb} == {ext_chain_of(line) for line in nodeports}


def test_load_balancer_with_local_policy_goes_to_the_owning_nodes_endpoints():
    rules = plan([lb_service("Local", ["10.244.0.11", "10.244.0.12", "198.51.100.9"])],
                 [endpoints("web", ("10.244.2.7", "node-2"))], nodes=THREE_NODES)
    lb = {line.split("/32")[0][3:]: ext_chain_of(line)
          for line in chain(rules.nat, P + "SERVICES") if "loadbalancer IP" in line}
    nodeports = {line.split("/32")[0][3:]: ext_chain_of(line) for line in chain(rules.nat, P + "NODEPORTS")}
    assert lb == {"10.244.0.11": nodeports["10.244.0.11"], "10.244.0.12": nodeports["10.244.0.12"]}
    refused = [line.split(" -m comment")[0] for line in chain(rules.filter, P + "SERVICES")]
    assert refused == ["-d 10.244.0.11/32 -p tcp -m tcp --dport 80",       # node-1 has no endpoint
                       "-d 198.51.100.9/32 -p tcp -m tcp --dport 80",      # no local node owns it
                       "-d 10.244.0.11/32 -p tcp -m tcp --dport 30080",
                       "-d 10.244.0.13/32 -p tcp -m tcp --dport 30080"]


def test_external_ips_answer_like_load_balancer_ips():
    rules = plan([service("web", externalIPs=["203.0.113.7", "not-an-ip"])],
                 [endpoints("web", ("10.244.1.5", "node-1"))])
    [entry] = [line for line in chain(rules.nat, P + "SERVICES") if "external IP" in line]
    assert entry.startswith("-d 203.0.113.7/32 -p tcp -m tcp --dport 80")
    ext = ext_chain_of(entry)
    assert chain(rules.nat, ext)[0].endswith(f"-j {P}MARK-MASQ")
    assert chain(rules.nat, P + "NODEPORTS") == []  # a ClusterIP Service has no NodePort


# -- the fixed part --------------------------------------------------------------------------


def test_pod_network_plumbing_keeps_pod_sources_and_masquerades_marked_packets():
    rules = plan([])
    assert chain(rules.nat, P + "MARK-MASQ") == ["-j MARK --or-mark 0x4000"]
    assert chain(rules.nat, P + "POSTROUTING") == [
        '-s 10.244.0.0/16 -d 10.244.0.0/16 -m mark ! --mark 0x4000/0x4000 -m comment --comment '
        '"pod-to-pod traffic keeps its source address" -j ACCEPT',
        "-m mark ! --mark 0x4000/0x4000 -j RETURN",
        "-j MARK --xor-mark 0x4000",
        '-m comment --comment "service traffic requiring SNAT" -j MASQUERADE --random-fully']
    forward = chain(rules.filter, P + "FORWARD")
    assert forward[0].startswith("-m mark --mark 0x4000/0x4000")
    assert forward[1].startswith("-d 10.244.0.0/16 -o dy-1a2b3c4d ")
    assert "--ctreplsrc 10.244.0.0/16" in forward[2]
    assert all(line.endswith("-j ACCEPT") for line in forward)


def test_jumps_from_builtin_chains_name_the_cluster():
    jumps = plan([]).jumps
    assert [(jump.table, jump.chain, jump.args[-1]) for jump in jumps] == [
        (Table.NAT, "PREROUTING", P + "SERVICES"), (Table.NAT, "OUTPUT", P + "SERVICES"),
        (Table.NAT, "POSTROUTING", P + "POSTROUTING"),
        (Table.FILTER, "INPUT", P + "SERVICES"), (Table.FILTER, "FORWARD", P + "SERVICES"),
        (Table.FILTER, "OUTPUT", P + "SERVICES"), (Table.FILTER, "FORWARD", P + "FORWARD")]
    assert all(f"dockyard cluster {UID}" in " ".join(jump.args) for jump in jumps)


def test_every_chain_carries_the_cluster_prefix_and_fits_the_kernel_limit():
    rules = plan([lb_service("Local", ["10.244.0.12"], sessionAffinity="ClientIP")],
                 [endpoints("web", ("10.244.2.7", "node-2"))], nodes=THREE_NODES)
    for table in (rules.nat, rules.filter):
        assert all(name.startswith(P) and len(name) <= 28 for name in table.chains)
        assert len(set(table.chains)) == len(table.chains)
        declared = set(table.chains)
        for rule in table.rules:
            assert rule.chain in declared
            jump = rule.args[rule.args.index("-j") + 1]
            assert not jump.startswith("DY-") or jump in declared, f"{rule.line()} jumps to an undeclared chain"


def test_plans_are_deterministic_whatever_the_input_order():
    web = nodeport_service("Local")
    api = service("api", cluster_ip="10.96.0.30")
    eps_web = endpoints("web", ("10.244.2.7", "node-2"), ("10.244.1.5", "node-1"))
    eps_api = endpoints("api", ("10.244.1.9", "node-1"))
    first = plan([web, api], [eps_web, eps_api], nodes=THREE_NODES)
    reordered = plan([api, web], [eps_api, endpoints("web", ("10.244.1.5", "node-1"), ("10.244.2.7", "node-2"))],
                     nodes=dict(reversed(list(THREE_NODES.items()))))
    assert first == reordered


def test_chain_names_are_stable_and_distinct_per_port_and_protocol():
    names, sp_tcp = names_of(port_name="dns", protocol="TCP")
    _, sp_udp = names_of(port_name="dns", protocol="UDP")
    _, sp_other = names_of(svc_name="web2", port_name="dns")
    assert names.service(sp_tcp) == ChainNames(P).service(sp_tcp)
    assert len({names.service(sp_tcp), names.service(sp_udp), names.service(sp_other)}) == 3
    assert names.external(sp_tcp, "node-1") != names.external(sp_tcp, "node-2") != names.external(sp_tcp, None)


def test_a_host_without_local_nodes_is_a_caller_error():
    with pytest.raises(ValueError, match="at least one local node"):
        plan([], nodes={})
