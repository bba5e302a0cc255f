"""Containers and what hangs off them: ports, env, resources, probes, lifecycle hooks, security.

The node agent turns a :class:`Container` into Docker calls, so the fields it acts on are typed
precisely (ports, env, resources, probes, lifecycle, the common security knobs). Fields Kubernetes
has but dockyard only stores (``seLinuxOptions``, ``seccompProfile``, ``resizePolicy`` …) are kept
as loose dicts so that valid manifests are accepted unchanged.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Union

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from orchestrator.api.meta import IntOrString, KubeModel
from orchestrator.api.quantity import FORMAT_ERROR, is_quantity


def _check_quantity(value: str | int | float) -> str | int | float:
    if not is_quantity(value):
        # A custom error type lets the decoder report Kubernetes' own decoding message.
        raise PydanticCustomError("quantity_format", FORMAT_ERROR)
    return value


# Quantities arrive as strings (``"128Mi"``) or YAML numbers (``cpu: 1``, ``cpu: 0.5``).
Quantity = Annotated[Union[str, int, float], AfterValidator(_check_quantity)]
ResourceList = dict[str, Quantity]


class Protocol(str, Enum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


class ImagePullPolicy(str, Enum):
    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


class TerminationMessagePolicy(str, Enum):
    FILE = "File"
    FALLBACK_TO_LOGS_ON_ERROR = "FallbackToLogsOnError"


class URIScheme(str, Enum):
    HTTP = "HTTP"
    HTTPS = "HTTPS"


TERMINATION_MESSAGE_PATH_DEFAULT = "/dev/termination-log"


class ContainerPort(KubeModel):
    name: str | None = None
    container_port: int | None = None
    host_port: int | None = None
    host_ip: str | None = Field(default=None, alias="hostIP")
    protocol: str | None = None


class ObjectFieldSelector(KubeModel):
    api_version: str | None = None
    field_path: str | None = None


class ResourceFieldSelector(KubeModel):
    container_name: str | None = None
    resource: str | None = None
    divisor: Quantity | None = None


class KeySelector(KubeModel):
    """``configMapKeyRef`` / ``secretKeyRef``."""

    name: str | None = None
    key: str | None = None
    optional: bool | None = None


class EnvVarSource(KubeModel):
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    config_map_key_ref: KeySelector | None = None
    secret_key_ref: KeySelector | None = None


class EnvVar(KubeModel):
    name: str | None = None
    value: str | None = None
    value_from: EnvVarSource | None = None


class NamedSourceRef(KubeModel):
    name: str | None = None
    optional: bool | None = None


class EnvFromSource(KubeModel):
    prefix: str | None = None
    config_map_ref: NamedSourceRef | None = None
    secret_ref: NamedSourceRef | None = None


class ResourceRequirements(KubeModel):
    limits: ResourceList | None = None
    requests: ResourceList | None = None
    claims: list[dict[str, Any]] | None = None


class VolumeMount(KubeModel):
    name: str | None = None
    mount_path: str | None = None
    sub_path: str | None = None
    sub_path_expr: str | None = None
    read_only: bool | None = None
    recursive_read_only: str | None = None
    mount_propagation: str | None = None


class VolumeDevice(KubeModel):
    name: str | None = None
    device_path: str | None = None


class ExecAction(KubeModel):
    command: list[str] | None = None


class HTTPHeader(KubeModel):
    name: str | None = None
    value: str | None = None


class HTTPGetAction(KubeModel):
    path: str | None = None
    port: IntOrString | None = None
    host: str | None = None
    scheme: str | None = None
    http_headers: list[HTTPHeader] | None = None


class TCPSocketAction(KubeModel):
    port: IntOrString | None = None
    host: str | None = None


class GRPCAction(KubeModel):
    port: int | None = None
    service: str | None = None


class SleepAction(KubeModel):
    seconds: int | None = None


class Probe(KubeModel):
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    grpc: GRPCAction | None = None
    initial_delay_seconds: int | None = None
    timeout_seconds: int | None = None
    period_seconds: int | None = None
    success_threshold: int | None = None
    failure_threshold: int | None = None
    termination_grace_period_seconds: int | None = None


class LifecycleHandler(KubeModel):
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    sleep: SleepAction | None = None


class Lifecycle(KubeModel):
    post_start: LifecycleHandler | None = None
    pre_stop: LifecycleHandler | None = None
    stop_signal: str | None = None


class Capabilities(KubeModel):
    add: list[str] | None = None
    drop: list[str] | None = None


class SecurityContext(KubeModel):
    privileged: bool | None = None
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    read_only_root_filesystem: bool | None = None
    allow_privilege_escalation: bool | None = None
    capabilities: Capabilities | None = None
    proc_mount: str | None = None
    se_linux_options: dict[str, Any] | None = None
    seccomp_profile: dict[str, Any] | None = None
    app_armor_profile: dict[str, Any] | None = None
    windows_options: dict[str, Any] | None = None


class Container(KubeModel):
    name: str | None = None
    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    working_dir: str | None = None
    ports: list[ContainerPort] | None = None
    env_from: list[EnvFromSource] | None = None
    env: list[EnvVar] | None = None
    resources: ResourceRequirements | None = None
    resize_policy: list[dict[str, Any]] | None = None
    restart_policy: str | None = None  # only "Always", on init containers: a sidecar
    volume_mounts: list[VolumeMount] | None = None
    volume_devices: list[VolumeDevice] | None = None
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    lifecycle: Lifecycle | None = None
    termination_message_path: str | None = None
    termination_message_policy: str | None = None
    image_pull_policy: str | None = None
    security_context: SecurityContext | None = None
    stdin: bool | None = None
    stdin_once: bool | None = None
    tty: bool | None = None


class EphemeralContainer(Container):
    target_container_name: str | None = None
