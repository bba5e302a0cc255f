"""Containers and what hangs off them: ports, env, resources, probes and lifecycle hooks.

The node agent turns a :class:`Container` into Docker calls. Fields Kubernetes has but dockyard
only stores (``resizePolicy``, ``volumeDevices``, a container's resource ``claims`` …) are modelled
all the same, so that manifests are checked and explained as Kubernetes checks and explains them;
their descriptions say that dockyard does not act on them. Security settings live in
:mod:`orchestrator.api.security`.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Union

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from orchestrator.api.meta import REQUIRED, IntOrString, KubeModel
from orchestrator.api.quantity import FORMAT_ERROR, is_quantity
from orchestrator.api.security import SecurityContext


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
    """A network port the container listens on. Listing a port is informational (the container can
    be reached on any port of the pod's IP); a name lets Services and probes refer to it."""

    name: str | None = None
    """A name for the port, unique in the pod, at most 15 lowercase letters, digits and '-' (http,
    metrics); Services and probes can then target it by name."""
    container_port: int | None = None
    """The port number inside the pod's network namespace, 1 to 65535."""
    host_port: int | None = None
    """Also publish the port on this port of the node's addresses. Pods asking for the same host
    port and protocol cannot share a node, so the scheduler keeps them apart."""
    host_ip: str | None = Field(default=None, alias="hostIP")
    """With hostPort: the node address to publish on; empty means all of them."""
    protocol: str | None = None
    """TCP (the default), UDP or SCTP."""


class ObjectFieldSelector(KubeModel):
    """Selects a field of the pod itself, for an environment variable or a downward API file."""

    api_version: str | None = None
    """The schema the field path is written against; defaults to v1."""
    field_path: str | None = None
    """The field, one of metadata.name, metadata.namespace, metadata.uid, metadata.labels['KEY'],
    metadata.annotations['KEY'], spec.nodeName, spec.serviceAccountName, status.hostIP,
    status.hostIPs, status.podIP or status.podIPs."""


class ResourceFieldSelector(KubeModel):
    """Selects a container's resource request or limit, for an environment variable or a downward
    API file."""

    container_name: str | None = None
    """Which container's resources; required in a volume, the container itself in an environment
    variable."""
    resource: str | None = None
    """One of limits.cpu, limits.memory, limits.ephemeral-storage, requests.cpu, requests.memory or
    requests.ephemeral-storage. A limit that is not set reads as the node's allocatable amount."""
    divisor: Quantity | None = None
    """The unit of the value, such as 1m for millicores or 1Mi for mebibytes; defaults to 1."""


class KeySelector(KubeModel):
    """Selects one key of a ConfigMap (configMapKeyRef) or a Secret (secretKeyRef)."""

    name: str | None = None
    """The name of the ConfigMap or Secret, in the pod's namespace."""
    key: str | None = None
    """The key whose value to use."""
    optional: bool | None = None
    """True: a missing object or key leaves the variable unset instead of keeping the container from
    starting (CreateContainerConfigError)."""


class EnvVarSource(KubeModel):
    """Where an environment variable's value comes from; exactly one of the fields is set."""

    field_ref: ObjectFieldSelector | None = None
    """A field of the pod, such as metadata.name or status.podIP."""
    resource_field_ref: ResourceFieldSelector | None = None
    """A resource request or limit of a container, such as limits.memory."""
    config_map_key_ref: KeySelector | None = None
    """One key of a ConfigMap in the pod's namespace."""
    secret_key_ref: KeySelector | None = None
    """One key of a Secret in the pod's namespace, decoded from base64."""


class EnvVar(KubeModel):
    """One environment variable of the container."""

    name: str | None = None
    """The variable's name; unique in the container (a later entry with the same name wins)."""
    value: str | None = None
    """The value. $(NAME) is replaced by the value of a variable defined earlier in the list (or
    left as it is when there is none); $$ writes a literal $. Defaults to the empty string."""
    value_from: EnvVarSource | None = None
    """Take the value from the pod's fields, a container's resources, a ConfigMap or a Secret
    instead; cannot be used together with value."""


class NamedSourceRef(KubeModel):
    """A ConfigMap (configMapRef) or Secret (secretRef) whose keys all become environment variables.
    """

    name: str | None = None
    """The name of the ConfigMap or Secret, in the pod's namespace."""
    optional: bool | None = None
    """True: a missing object adds nothing instead of keeping the container from starting."""


class EnvFromSource(KubeModel):
    """Every key of one ConfigMap or Secret as an environment variable. Keys that are not valid
    variable names are skipped; variables in env win over these."""

    prefix: str | None = None
    """A string put in front of each key to make the variable's name."""
    config_map_ref: NamedSourceRef | None = None
    """The ConfigMap to read."""
    secret_ref: NamedSourceRef | None = None
    """The Secret to read."""


class ResourceClaim(KubeModel):
    """Names one of the pod's resourceClaims that this container uses (dynamic resource allocation,
    which dockyard stores and does not act on)."""

    name: str | None = None
    """The name of an entry in the pod's spec.resourceClaims."""
    request: str | None = None
    """One request of that claim, when only part of it is for this container."""


class ResourceRequirements(KubeModel):
    """How much CPU and memory a container asks for and may use. The scheduler places pods by their
    requests; the runtime enforces the limits."""

    limits: ResourceList | None = None
    """The most the container may use, by resource name (cpu, memory). dockyard turns them into
    Docker's CPU quota and memory limit; a container over its memory limit is killed (OOMKilled). In
    a pod, requests default to the limits."""
    requests: ResourceList | None = None
    """What the container is guaranteed, by resource name: the scheduler only picks a node whose
    allocatable resources minus other pods' requests still cover them. Cannot exceed the limits."""
    claims: list[ResourceClaim] | None = None
    """Dynamic resource claims of the pod that this container uses; stored, not acted on."""


class ContainerResizePolicy(KubeModel):
    """What happens when a resource of a running container is resized. dockyard stores it; it does
    not resize running containers."""

    resource_name: str | None = None
    """The resource the policy is for: cpu or memory."""
    restart_policy: str | None = None
    """NotRequired (resize in place, the default) or RestartContainer."""


class VolumeMount(KubeModel):
    """Where one of the pod's volumes appears inside the container."""

    name: str | None = None
    """The volume's name in the pod's spec.volumes."""
    mount_path: str | None = None
    """The absolute path inside the container where the volume appears; must not contain ':'."""
    sub_path: str | None = None
    """Mount only this path inside the volume instead of its root. dockyard does not support it yet:
    a container using it does not start."""
    sub_path_expr: str | None = None
    """Like subPath, with $(VAR) expanded from the container's environment; not supported by
    dockyard yet."""
    read_only: bool | None = None
    """True: mount read-only. Defaults to false."""
    recursive_read_only: str | None = None
    """Disabled (the default), IfPossible or Enabled: whether mounts below a read-only mount are
    read-only too; stored, not applied."""
    mount_propagation: str | None = None
    """None (the default), HostToContainer or Bidirectional: whether mounts made later on either
    side show up on the other; stored, not applied."""


class VolumeDevice(KubeModel):
    """A raw block volume exposed to the container as a device; dockyard has no block volumes."""

    name: str | None = None
    """The name of a persistentVolumeClaim volume of the pod."""
    device_path: str | None = None
    """The path of the device inside the container."""


class ExecAction(KubeModel):
    """Runs a command inside the container; an exit status of 0 is success."""

    command: list[str] | None = None
    """The command and its arguments, run directly (not in a shell: use sh -c for pipes or
    variables), in the container's working directory."""


class HTTPHeader(KubeModel):
    """One header of an HTTP probe or hook request."""

    name: str | None = None
    """The header's name."""
    value: str | None = None
    """The header's value."""


class HTTPGetAction(KubeModel):
    """An HTTP GET request to the container; a status from 200 to 399 is success."""

    path: str | None = None
    """The path to request; defaults to /."""
    port: IntOrString | None = Field(default=None, json_schema_extra=REQUIRED)
    """The container's port, by number or by the name of one of its ports."""
    host: str | None = None
    """The host to connect to; defaults to the pod's IP. Set the Host header in httpHeaders to vary
    the virtual host instead."""
    scheme: str | None = None
    """HTTP (the default) or HTTPS; HTTPS does not verify the certificate."""
    http_headers: list[HTTPHeader] | None = None
    """Extra headers to send."""


class TCPSocketAction(KubeModel):
    """Opens a TCP connection to the container; an accepted connection is success."""

    port: IntOrString | None = Field(default=None, json_schema_extra=REQUIRED)
    """The container's port, by number or by the name of one of its ports."""
    host: str | None = None
    """The host to connect to; defaults to the pod's IP."""


class GRPCAction(KubeModel):
    """Calls the gRPC health checking service of the container. dockyard does not speak gRPC: such a
    probe reports an error once and is not run again, so a readiness probe never passes and a
    liveness probe never restarts the container."""

    port: int | None = None
    """The port of the gRPC service."""
    service: str | None = None
    """The service name sent in the health check request; empty by default."""


class SleepAction(KubeModel):
    """Waits before going on; used as a preStop hook to let load balancers notice a pod is leaving.
    """

    seconds: int | None = None
    """How long to wait, in seconds."""


class Probe(KubeModel):
    """A periodic check of a container, made by the node agent. Exactly one of exec, httpGet,
    tcpSocket and grpc says what to do."""

    exec: ExecAction | None = None
    """Run a command in the container."""
    http_get: HTTPGetAction | None = None
    """Send an HTTP GET request to the container."""
    tcp_socket: TCPSocketAction | None = None
    """Open a TCP connection to the container."""
    grpc: GRPCAction | None = None
    """Call the gRPC health service; dockyard does not run gRPC checks."""
    initial_delay_seconds: int | None = None
    """Seconds to wait after the container starts before the first check. Defaults to 0."""
    timeout_seconds: int | None = None
    """Seconds a check may take before it counts as failed. Defaults to 1."""
    period_seconds: int | None = None
    """Seconds between checks. Defaults to 10."""
    success_threshold: int | None = None
    """Consecutive successes needed to count as passing after a failure. Defaults to 1, and must be
    1 for liveness and startup probes."""
    failure_threshold: int | None = None
    """Consecutive failures needed to count as failing. Defaults to 3."""
    termination_grace_period_seconds: int | None = None
    """For liveness and startup probes: the seconds a container killed because of this probe gets to
    stop, instead of the pod's terminationGracePeriodSeconds."""


class LifecycleHandler(KubeModel):
    """What a lifecycle hook does; exactly one field is set."""

    exec: ExecAction | None = None
    """Run a command in the container; a non-zero exit fails the hook."""
    http_get: HTTPGetAction | None = None
    """Send an HTTP GET request; only getting no answer fails the hook, whatever the status."""
    tcp_socket: TCPSocketAction | None = None
    """Accepted for old manifests; it cannot run as a hook, in Kubernetes as in dockyard."""
    sleep: SleepAction | None = None
    """Wait a number of seconds."""


class Lifecycle(KubeModel):
    """Hooks the node agent runs when the container starts and before it stops."""

    post_start: LifecycleHandler | None = None
    """Runs right after the container is created, alongside its entrypoint. If it fails, the
    container is killed and restarted according to the restart policy."""
    pre_stop: LifecycleHandler | None = None
    """Runs before the container is stopped (on deletion, or when a liveness probe fails); the stop
    signal follows when it ends. It counts against the pod's grace period."""
    stop_signal: str | None = None
    """The signal that stops the container, such as SIGTERM; defaults to the image's. dockyard
    stores it and stops containers with the image's signal."""


class Container(KubeModel):
    """One container of a pod: an image to run, how to run it, and how to tell whether it works."""

    name: str | None = None
    """The container's name, unique in the pod: a lowercase DNS label (letters, digits and '-')."""
    image: str | None = None
    """The image to run, such as nginx:1.27 or registry.example.com/app@sha256:..."""
    command: list[str] | None = None
    """The entrypoint, replacing the image's ENTRYPOINT; not run in a shell. $(VAR) is expanded from
    the container's environment."""
    args: list[str] | None = None
    """The arguments to the entrypoint, replacing the image's CMD. $(VAR) is expanded from the
    container's environment."""
    working_dir: str | None = None
    """The working directory; defaults to the image's."""
    ports: list[ContainerPort] | None = None
    """Ports the container listens on. Informational, except that a named port can be targeted by
    name and a hostPort is published on the node."""
    env_from: list[EnvFromSource] | None = None
    """ConfigMaps and Secrets whose every key becomes an environment variable."""
    env: list[EnvVar] | None = None
    """Environment variables, on top of envFrom and the image's; later entries may use earlier ones
    as $(NAME)."""
    resources: ResourceRequirements | None = None
    """CPU and memory the container asks for (requests) and may use (limits)."""
    resize_policy: list[ContainerResizePolicy] | None = None
    """How each resource may be resized while the container runs; stored, not acted on."""
    restart_policy: str | None = None
    """Only for init containers: Always makes it a sidecar that keeps running beside the app
    containers. dockyard stores it."""
    volume_mounts: list[VolumeMount] | None = None
    """The pod's volumes to mount into this container, and where."""
    volume_devices: list[VolumeDevice] | None = None
    """Block volumes to expose as devices; dockyard has none."""
    liveness_probe: Probe | None = None
    """A check that the container still works: after failureThreshold failed checks, the container
    is killed and restarted according to the pod's restartPolicy."""
    readiness_probe: Probe | None = None
    """A check that the container can serve: while it fails, the pod is not Ready and is left out of
    its Services' endpoints."""
    startup_probe: Probe | None = None
    """A check that the container has started: liveness and readiness probes wait until it passes
    once, and if it keeps failing the container is restarted. For slow starters."""
    lifecycle: Lifecycle | None = None
    """Hooks to run right after the container starts and before it stops."""
    termination_message_path: str | None = None
    """A file in the container whose content becomes the terminated state's message. Defaults to
    /dev/termination-log; dockyard does not read it."""
    termination_message_policy: str | None = None
    """File (the default) or FallbackToLogsOnError (use the end of the log when the file is empty);
    dockyard does not read the message."""
    image_pull_policy: str | None = None
    """Always (check the registry on every start), IfNotPresent (pull only when missing) or Never
    (use the local image only). Defaults to Always for a :latest or untagged image, IfNotPresent
    otherwise."""
    security_context: SecurityContext | None = None
    """The container's user, capabilities and privileges, over the pod's securityContext."""
    stdin: bool | None = None
    """True: keep a stdin open for the container, so kubectl attach can write to it. Defaults to
    false."""
    stdin_once: bool | None = None
    """With stdin: close stdin after the first attached session ends. Defaults to false."""
    tty: bool | None = None
    """True: give the container a terminal (kubectl run -it asks for one). Defaults to false."""


class EphemeralContainer(Container):
    """A container added to a running pod to troubleshoot it (kubectl debug). It has a container's
    fields but no ports, probes or resources, and it is never restarted; it cannot be removed except
    by deleting the pod."""

    target_container_name: str | None = None
    """A container of the pod whose processes this one sees (its process namespace), as kubectl
    debug --target asks."""
