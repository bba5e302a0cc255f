"""Pod → Docker specs (:mod:`agent.container_config`) against Kubernetes' container rules.

command/args vs ENTRYPOINT/CMD, ``$(VAR)`` expansion (k8s.io/kubernetes third_party expansion),
env ``valueFrom`` and ``envFrom`` with the kubelet's error wording, limits, volumes, labels and the
sandbox. The pods are defaulted by :func:`apply_defaults` the way the API server stores them.
"""

from __future__ import annotations

import base64

import pytest

from orchestrator.api.defaults import apply_defaults
from orchestrator.api.registry import kind_for

from agent import labels
from agent.container_config import (
    ConfigError, PodContext, build_container, build_sandbox, decode_data, expand, pod_volumes, resolve_env,
    sandbox_hash, spec_hash, volume_name,
)
from agent.labels import Owner, container_name
from agent.runtime.specs import MountKind, MountSpec, NetworkSpec, PortBinding

UID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
CLUSTER = "c1a2b3c4-0000-4000-8000-00000000beef"
NODE_IP = "192.168.56.11"
POD_IP = "10.244.1.7"
NODE_ALLOCATABLE = {"cpu": "2", "memory": "8Gi"}
NETWORK = NetworkSpec(name="dy-net", subnet="10.244.0.0/16", gateway="10.244.0.1", bridge="dy-c1a2b3c4", labels={})
CTX = PodContext(owner=Owner(CLUSTER, "node-1"), network=NETWORK, pause_image="dockyard/pause:1.0",
                 node_ip=NODE_IP)

CONFIG = {("ConfigMap", "default", "settings"): {"MODE": "prod", "LEVEL": "debug"},
          ("Secret", "default", "creds"): {"USER": "admin", "PASSWORD": "s3cret"},
          ("ConfigMap", "default", "tricky"): {"K": "$(A)"}}


def lookup(kind: str, namespace: str, name: str) -> dict[str, str] | None:
    return CONFIG.get((kind, namespace, name))


def make_pod(container: dict | None = None, *, name: str = "p", labels_: dict | None = None,
             annotations: dict | None = None, **spec: object) -> dict:
    main = {"name": "c", "image": "busybox:1.36", **(container or {})}
    metadata = {"name": name, "namespace": "default", "uid": UID, "labels": labels_ or {},
                "annotations": annotations or {}}
    return apply_defaults(kind_for("v1", "Pod"), {
        "apiVersion": "v1", "kind": "Pod", "metadata": metadata,
        "spec": {"containers": [main], "nodeName": "node-1", **spec}})


def build(pod: dict, ctx: PodContext = CTX, attempt: int = 2, streak: int = 1):
    return build_container(ctx, pod, pod["spec"]["containers"][0], sandbox_id="sandbox-id", pod_ip=POD_IP,
                           attempt=attempt, streak=streak, lookup=lookup)


def env_of(*env: dict, container: dict | None = None, **pod_kwargs) -> dict[str, str]:
    pod = make_pod({"env": list(env), **(container or {})}, **pod_kwargs)
    return resolve_env(pod, pod["spec"]["containers"][0], pod_ip=POD_IP, node_ip=NODE_IP, lookup=lookup,
                       node_allocatable=NODE_ALLOCATABLE)


def field(path: str) -> dict:
    return {"name": "V", "valueFrom": {"fieldRef": {"fieldPath": path}}}


# ── command and args ─────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize(
    ("command", "args", "entrypoint", "cmd"),
    [
        (None, None, None, None),                                     # the image's ENTRYPOINT and CMD
        (["sleep"], None, ["sleep"], None),                           # command replaces ENTRYPOINT
        (None, ["3600"], None, ["3600"]),                             # args replace CMD only
        (["sh", "-c"], ["echo hi"], ["sh", "-c"], ["echo hi"]),
    ],
)
def test_command_is_entrypoint_and_args_are_cmd(command, args, entrypoint, cmd) -> None:
    container = {k: v for k, v in (("command", command), ("args", args)) if v is not None}
    spec = build(make_pod(container))
    assert (spec.entrypoint, spec.command) == (entrypoint, cmd)


def test_command_and_args_are_expanded_with_the_container_env() -> None:
    spec = build(make_pod({"env": [{"name": "GREETING", "value": "hello"}],
                           "command": ["echo", "$(GREETING)"],
                           "args": ["$$(GREETING)", "$(MISSING)", "$(GREETING)!"]}))
    assert spec.entrypoint == ["echo", "hello"]
    assert spec.command == ["$(GREETING)", "$(MISSING)", "hello!"]


# ── $(VAR) expansion ─────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("$(A)", "x"),
        ("$(A)-$(B)", "x-y"),
        ("pre$(A)post", "prexpost"),
        ("$(UNKNOWN)", "$(UNKNOWN)"),     # unknown names stay as written
        ("$$(A)", "$(A)"),                # $$ escapes the reference
        ("$$", "$"),
        ("$$$(A)", "$x"),
        ("$$$$", "$$"),
        ("$A", "$A"),                     # a lone $ is not an operator
        ("$(A", "$(A"),                   # unterminated reference
        ("a$", "a$"),
        ("$()", "$()"),
        ("$(my.var-1)", "dotted"),        # env names may hold . and -
        ("", ""),
    ],
)
def test_expand(text: str, expanded: str) -> None:
    assert expand(text, {"A": "x", "B": "y", "my.var-1": "dotted"}) == expanded


def test_env_values_see_only_the_variables_before_them() -> None:
    env = env_of({"name": "A", "value": "one"}, {"name": "B", "value": "$(A)-$(C)"}, {"name": "C", "value": "three"},
                 {"name": "A", "value": "again:$(A)"})
    assert env == {"A": "again:one", "B": "one-$(C)", "C": "three"}


def test_empty_value_is_an_empty_variable() -> None:
    assert env_of({"name": "EMPTY"}, {"name": "ALSO", "value": ""}) == {"EMPTY": "", "ALSO": ""}


def test_value_from_values_are_not_expanded() -> None:
    env = env_of({"name": "A", "value": "x"},
                 {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "tricky", "key": "K"}}})
    assert env["B"] == "$(A)"


# ── valueFrom: fieldRef and resourceFieldRef ─────────────────────────────────────────────────

@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("metadata.name", "p"),
        ("metadata.namespace", "default"),
        ("metadata.uid", UID),
        ("metadata.labels['app']", "web"),
        ("metadata.labels['missing']", ""),
        ("metadata.annotations['team']", "blue"),
        ("status.podIP", POD_IP),
        ("status.podIPs", POD_IP),
        ("status.hostIP", NODE_IP),
        ("status.hostIPs", NODE_IP),
        ("spec.nodeName", "node-1"),
        ("spec.serviceAccountName", "default"),
    ],
)
def test_field_ref(path: str, value: str) -> None:
    assert env_of(field(path), labels_={"app": "web"}, annotations={"team": "blue"}) == {"V": value}


def test_unsupported_field_ref_is_refused() -> None:
    with pytest.raises(ConfigError, match="unsupported fieldPath 'spec.restartPolicy'"):
        env_of(field("spec.restartPolicy"))


def resource(name: str, divisor: str | None = None) -> dict:
    ref = {"resource": name, **({"divisor": divisor} if divisor else {})}
    return {"name": "V", "valueFrom": {"resourceFieldRef": ref}}


LIMITED = {"resources": {"limits": {"cpu": "500m", "memory": "64Mi"}, "requests": {"memory": "32Mi"}}}


@pytest.mark.parametrize(
    ("name", "divisor", "value"),
    [
        ("limits.cpu", None, "1"),          # ceil(0.5 / 1)
        ("limits.cpu", "1m", "500"),
        ("limits.cpu", "100m", "5"),
        ("limits.cpu", "300m", "2"),        # ceil(500 / 300)
        ("requests.cpu", "1m", "500"),      # requests default to limits
        ("limits.memory", None, "67108864"),
        ("limits.memory", "1Mi", "64"),
        ("limits.memory", "1M", "68"),      # ceil(67108864 / 10^6)
        ("requests.memory", "1Mi", "32"),
        ("requests.memory", "1Ki", "32768"),
    ],
)
def test_resource_field_ref(name: str, divisor: str | None, value: str) -> None:
    assert env_of(resource(name, divisor), container=LIMITED) == {"V": value}


def test_resource_field_ref_of_an_unset_request_is_zero() -> None:
    assert env_of(resource("requests.cpu", "1m")) == {"V": "0"}


@pytest.mark.parametrize("name", ["limits.cpu", "limits.memory"])
def test_resource_field_ref_of_an_unset_limit_is_the_node_allocatable(name: str) -> None:
    assert int(env_of(resource(name))["V"]) > 0


# ── valueFrom: ConfigMap and Secret keys ─────────────────────────────────────────────────────

def key_ref(kind: str, name: str, key: str, optional: bool | None = None) -> dict:
    ref = {"name": name, "key": key, **({"optional": optional} if optional is not None else {})}
    return {"name": "V", "valueFrom": {kind: ref}}


@pytest.mark.parametrize(("kind", "name", "key", "value"), [
    ("configMapKeyRef", "settings", "MODE", "prod"),
    ("secretKeyRef", "creds", "PASSWORD", "s3cret"),
])
def test_key_ref(kind: str, name: str, key: str, value: str) -> None:
    assert env_of(key_ref(kind, name, key)) == {"V": value}


@pytest.mark.parametrize(
    ("kind", "name", "key", "message"),
    [
        ("configMapKeyRef", "nope", "MODE", 'configmap "nope" not found'),
        ("secretKeyRef", "nope", "USER", 'secret "nope" not found'),
        ("configMapKeyRef", "settings", "NOPE", "couldn't find key NOPE in ConfigMap default/settings"),
        ("secretKeyRef", "creds", "NOPE", "couldn't find key NOPE in Secret default/creds"),
    ],
)
def test_missing_key_ref_is_a_config_error_with_the_kubelets_words(kind, name, key, message) -> None:
    with pytest.raises(ConfigError) as error:
        env_of(key_ref(kind, name, key))
    assert str(error.value) == message


@pytest.mark.parametrize(("kind", "name", "key"), [
    ("configMapKeyRef", "nope", "MODE"), ("secretKeyRef", "nope", "USER"),
    ("configMapKeyRef", "settings", "NOPE"), ("secretKeyRef", "creds", "NOPE"),
])
def test_optional_missing_key_ref_leaves_the_variable_unset(kind: str, name: str, key: str) -> None:
    assert env_of({"name": "KEEP", "value": "1"}, key_ref(kind, name, key, optional=True)) == {"KEEP": "1"}


# ── envFrom ──────────────────────────────────────────────────────────────────────────────────

def test_env_from_with_prefix_and_env_overriding_it() -> None:
    container = {"envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "APP_"},
                             {"secretRef": {"name": "creds"}}]}
    env = env_of({"name": "APP_MODE", "value": "test"}, {"name": "WHO", "value": "$(USER)@$(APP_LEVEL)"},
                 container=container)
    assert env == {"APP_MODE": "test", "APP_LEVEL": "debug", "USER": "admin", "PASSWORD": "s3cret",
                   "WHO": "admin@debug"}


@pytest.mark.parametrize(("source", "message"), [
    ({"configMapRef": {"name": "nope"}}, 'configmap "nope" not found'),
    ({"secretRef": {"name": "nope"}}, 'secret "nope" not found'),
])
def test_env_from_a_missing_object(source: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        env_of(container={"envFrom": [source]})
    assert str(error.value) == message
    optional = {key: {**ref, "optional": True} for key, ref in source.items()}
    assert env_of(container={"envFrom": [optional]}) == {}


def test_decode_data() -> None:
    secret = {"data": {"USER": base64.b64encode(b"admin").decode()}, "stringData": {"TOKEN": "t"}}
    assert decode_data("Secret", secret) == {"USER": "admin", "TOKEN": "t"}
    assert decode_data("ConfigMap", {"data": {"A": "1"}}) == {"A": "1"}
    assert decode_data("ConfigMap", {}) == {}


# ── limits ───────────────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize(
    ("limits", "nano_cpus", "memory"),
    [
        ({}, None, None),
        ({"cpu": "500m"}, 500_000_000, None),
        ({"cpu": "1"}, 1_000_000_000, None),
        ({"cpu": "0.25"}, 250_000_000, None),
        ({"cpu": "2", "memory": "64Mi"}, 2_000_000_000, 67_108_864),
        ({"memory": "1G"}, None, 1_000_000_000),
        ({"memory": "1.5Gi"}, None, 1_610_612_736),
    ],
)
def test_limits(limits: dict, nano_cpus: int | None, memory: int | None) -> None:
    spec = build(make_pod({"resources": {"limits": limits}} if limits else {}))
    assert (spec.nano_cpus, spec.memory_bytes) == (nano_cpus, memory)


def test_requests_alone_set_no_docker_limit() -> None:
    spec = build(make_pod({"resources": {"requests": {"cpu": "100m", "memory": "16Mi"}}}))
    assert (spec.nano_cpus, spec.memory_bytes) == (None, None)


# ── volumes ──────────────────────────────────────────────────────────────────────────────────

def test_empty_dir_volumes_are_pod_owned_docker_volumes() -> None:
    pod = make_pod({"volumeMounts": [{"name": "cache", "mountPath": "/cache"},
                                     {"name": "scratch", "mountPath": "/scratch", "readOnly": True}]},
                   volumes=[{"name": "cache", "emptyDir": {}}, {"name": "scratch", "emptyDir": {"medium": "Memory"}}])
    assert pod_volumes(CTX, pod) == [(f"dy-{UID}-cache", False), (f"dy-{UID}-scratch", True)]
    assert volume_name(UID, "cache") == f"dy-{UID}-cache"
    assert build(pod).mounts == (MountSpec("/cache", f"dy-{UID}-cache", MountKind.VOLUME, False),
                                 MountSpec("/scratch", f"dy-{UID}-scratch", MountKind.VOLUME, True))


def test_host_path_is_refused_unless_the_node_allows_it() -> None:
    pod = make_pod({"volumeMounts": [{"name": "logs", "mountPath": "/logs"}]},
                   volumes=[{"name": "logs", "hostPath": {"path": "/var/log"}}])
    with pytest.raises(ConfigError) as error:
        build(pod)
    assert str(error.value) == ('hostPath volume "logs" is not allowed on this node; '
                                "start the cluster with --allow-privileged to permit it")
    allowed = PodContext(**{**CTX.__dict__, "allow_host_path": True})
    assert build(pod, allowed).mounts == (MountSpec("/logs", "/var/log", MountKind.BIND, False),)


@pytest.mark.parametrize(("volume", "kind"), [
    ({"configMap": {"name": "settings"}}, "configMap"),
    ({"secret": {"secretName": "creds"}}, "secret"),
    ({"persistentVolumeClaim": {"claimName": "data"}}, "persistentVolumeClaim"),
])
def test_unsupported_volume_types_are_refused_clearly(volume: dict, kind: str) -> None:
    pod = make_pod({"volumeMounts": [{"name": "v", "mountPath": "/v"}]}, volumes=[{"name": "v", **volume}])
    with pytest.raises(ConfigError) as error:
        build(pod)
    assert str(error.value) == (f'volume "v" of type {kind} is not supported by dockyard yet; '
                                "use emptyDir, hostPath, or env from the ConfigMap/Secret")


def test_mount_of_an_undeclared_volume_is_refused() -> None:
    pod = make_pod({"volumeMounts": [{"name": "ghost", "mountPath": "/g"}]})
    with pytest.raises(ConfigError, match='volume "ghost" is mounted by container "c" but not declared'):
        build(pod)


def test_sub_path_is_refused_with_the_reason() -> None:
    pod = make_pod({"volumeMounts": [{"name": "v", "mountPath": "/v", "subPath": "x"}]},
                   volumes=[{"name": "v", "emptyDir": {}}])
    with pytest.raises(ConfigError, match="subPath .* not supported .* mount the whole volume"):
        build(pod)


# ── labels, names, hashes ────────────────────────────────────────────────────────────────────

def test_container_labels_are_the_agents_memory() -> None:
    pod = make_pod(terminationGracePeriodSeconds=5)
    spec = build(pod, attempt=3, streak=2)
    assert spec.labels == {
        labels.CLUSTER: CLUSTER, labels.NODE: "node-1",
        labels.POD_UID: UID, labels.POD_NAME: "p", labels.POD_NAMESPACE: "default",
        labels.CONTAINER: "c", labels.SPEC_HASH: spec_hash(pod["spec"]["containers"][0]),
        labels.RESTART_COUNT: "3", labels.BACKOFF_STREAK: "2", labels.GRACE_PERIOD: "5", labels.ROLE: "app",
    }
    assert spec.name == container_name(CLUSTER, "default", "p", "c", UID, 3)
    assert spec.name == f"dy_c_p_default_{UID[:8]}_3_{CLUSTER[:8]}"
    assert spec.sandbox_id == "sandbox-id"
    assert spec.image == "busybox:1.36"


def test_spec_hash_follows_every_container_field() -> None:
    base = make_pod()["spec"]["containers"][0]
    assert spec_hash(base) == spec_hash(dict(reversed(list(base.items()))))   # key order does not matter
    assert spec_hash(base) != spec_hash({**base, "image": "busybox:1.37"})
    assert spec_hash(base) != spec_hash({**base, "env": [{"name": "A", "value": "1"}]})


def test_sandbox_hash_follows_host_ports_not_images() -> None:
    plain = make_pod()
    assert sandbox_hash(plain) == sandbox_hash(make_pod({"image": "nginx:1.25"}))
    assert sandbox_hash(plain) == sandbox_hash(make_pod({"ports": [{"containerPort": 80}]}))
    assert sandbox_hash(plain) != sandbox_hash(make_pod({"ports": [{"containerPort": 80, "hostPort": 8080}]}))


def test_security_context_user_container_over_pod() -> None:
    pod = make_pod({"securityContext": {"runAsGroup": 3000}}, securityContext={"runAsUser": 1000})
    assert build(pod).user == "1000:3000"
    assert build(make_pod()).user is None


# ── the sandbox ──────────────────────────────────────────────────────────────────────────────

def test_sandbox_publishes_host_ports_and_takes_the_pod_name_as_hostname() -> None:
    pod = make_pod({"ports": [{"containerPort": 80, "hostPort": 8080},
                              {"containerPort": 53, "hostPort": 5353, "protocol": "UDP", "hostIP": "127.0.0.1"},
                              {"containerPort": 9090}]},
                   name="web-0")
    sandbox = build_sandbox(CTX, pod, attempt=1)
    assert sandbox.hostname == "web-0"
    assert sandbox.ports == (PortBinding(80, "tcp", 8080, ""), PortBinding(53, "udp", 5353, "127.0.0.1"))
    assert sandbox.image == "dockyard/pause:1.0"
    assert sandbox.network == "dy-net"
    assert sandbox.name == container_name(CLUSTER, "default", "web-0", labels.SANDBOX, UID, 1)
    assert sandbox.labels[labels.CONTAINER] == labels.SANDBOX
    assert sandbox.labels[labels.ROLE] == "sandbox"
    assert sandbox.labels[labels.SPEC_HASH] == sandbox_hash(pod)
    assert sandbox.labels[labels.RESTART_COUNT] == "1"


def test_sandbox_hostname_from_spec_hostname() -> None:
    assert build_sandbox(CTX, make_pod(hostname="db"), attempt=0).hostname == "db"


def test_sandbox_host_aliases() -> None:
    pod = make_pod(hostAliases=[{"ip": "10.0.0.9", "hostnames": ["db", "db.local"]}])
    assert build_sandbox(CTX, pod, attempt=0).extra_hosts == ("db:10.0.0.9", "db.local:10.0.0.9")


def test_the_sandbox_asks_for_the_pod_ip_it_was_given() -> None:
    assert build_sandbox(CTX, make_pod(), attempt=0, ipv4_address="10.244.1.9").ipv4_address == "10.244.1.9"
    assert build_sandbox(CTX, make_pod(), attempt=0).ipv4_address is None


def test_a_host_network_sandbox_is_the_machines_network_with_its_name() -> None:
    """``kubectl debug node/NAME``: no pod IP, no hostname or published ports of its own."""
    pod = make_pod({"ports": [{"containerPort": 80, "hostPort": 80}]}, hostNetwork=True)
    sandbox = build_sandbox(CTX, pod, attempt=0, ipv4_address="10.244.1.9")
    assert (sandbox.host_network, sandbox.hostname, sandbox.ipv4_address, sandbox.ports) == (True, None, None, ())


def test_host_pid_and_host_ipc_give_the_containers_the_machines_namespaces() -> None:
    assert (build(make_pod()).host_pid, build(make_pod()).host_ipc) == (False, False)
    debugger = build(make_pod(hostPID=True, hostIPC=True))
    assert (debugger.host_pid, debugger.host_ipc) == (True, True)


def test_a_changed_dns_config_rebuilds_the_sandbox() -> None:
    # the sandbox carries no DNS settings any more (the resolv.conf mount does), but the kubelet
    # still makes a new sandbox when dnsConfig changes
    before = make_pod(dnsConfig={"nameservers": ["1.1.1.1"]})
    after = make_pod(dnsConfig={"nameservers": ["9.9.9.9"]})
    assert sandbox_hash(before) != sandbox_hash(after)


def test_the_pods_resolv_conf_is_mounted_writable_unless_the_root_filesystem_is_read_only() -> None:
    assert not CTX.allow_host_path  # the agent's own file: no hostPath policy applies to it
    pod = make_pod()
    spec = build_container(CTX, pod, pod["spec"]["containers"][0], sandbox_id="s", pod_ip=POD_IP, attempt=0,
                           streak=0, lookup=lookup, resolv_conf="/var/lib/agent/pods/x/resolv.conf")
    assert spec.mounts == (MountSpec("/etc/resolv.conf", "/var/lib/agent/pods/x/resolv.conf", MountKind.BIND, False),)
    locked = make_pod({"securityContext": {"readOnlyRootFilesystem": True}})
    spec = build_container(CTX, locked, locked["spec"]["containers"][0], sandbox_id="s", pod_ip=POD_IP, attempt=0,
                           streak=0, lookup=lookup, resolv_conf="/r")
    assert spec.mounts == (MountSpec("/etc/resolv.conf", "/r", MountKind.BIND, True),)



def test_long_pod_name_is_truncated_to_a_valid_hostname() -> None:
    name = "a" * 62 + "-b"             # a valid 64-character pod name
    assert build_sandbox(CTX, make_pod(name=name), attempt=0).hostname == "a" * 62


def test_a_debug_container_joins_the_pid_namespace_it_is_given() -> None:
    pod = make_pod()
    assert build(pod).pid_target is None
    debugger = build_container(CTX, pod, {"name": "dbg", "image": "busybox:1.36", "targetContainerName": "c"},
                               sandbox_id="sandbox-id", pod_ip=POD_IP, attempt=0, streak=0, lookup=lookup,
                               pid_target="c-container-id")
    assert debugger.pid_target == "c-container-id" and debugger.labels[labels.CONTAINER] == "dbg"


def test_share_process_namespace_joins_the_sandboxs_pid_namespace() -> None:
    assert build(make_pod()).share_process_namespace is False
    assert build(make_pod(shareProcessNamespace=True)).share_process_namespace is True


@pytest.mark.parametrize("stdin, stdin_once, expected", [
    (True, True, (True, True)),     # kubectl run -i: stdin closes when the attached client's ends
    (True, False, (True, False)),
    (False, True, (False, False)),  # stdinOnce means nothing without stdin
])
def test_stdin_and_stdin_once_reach_docker(stdin, stdin_once, expected) -> None:
    spec = build(make_pod({"name": "c", "image": "busybox", "stdin": stdin, "stdinOnce": stdin_once}))
    assert (spec.stdin_open, spec.stdin_once) == expected
