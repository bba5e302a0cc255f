"""Who is calling (bearer tokens) and what they may do (admin vs node agents).

Authentication: every request but the public health and version endpoints carries
``Authorization: Bearer <token>``; the token book (``orchestrator.cluster.tokens``) maps it to an
identity. No or unknown token: 401. The one exception is a GET without any token of an object in
:data:`PUBLIC_OBJECTS` (``kube-public/cluster-info``, see :mod:`orchestrator.api.bootstrap`):
it proceeds as ``system:anonymous``, which is authorized for exactly those objects (a wrong token
still gets 401, as in Kubernetes).

Authorization follows the shape of Kubernetes' Node authorizer, simplified:

* ``system:masters`` (the admin kubeconfig) may do everything;
* everyone, anonymous callers and join tokens included, may GET the :data:`PUBLIC_OBJECTS`;
* a node agent (``system:node:<name>``) may read and write *its own* Node; read, update the
  status of, and finally delete pods bound to it, and list/watch pods only with
  ``fieldSelector=spec.nodeName=<name>``; create and update Events anywhere; read Services,
  Endpoints and EndpointSlices (it runs the service proxy) and Namespaces; read the ConfigMaps
  and Secrets that its pods reference; create and renew its heartbeat Lease in
  ``kube-node-lease``. It may not use any ``proxy`` subresource (Kubernetes' node rules grant
  none: a node's credentials must not reach into other nodes' pods). Anything else is 403 with
  Kubernetes' wording.

Authorization runs once per request, before any handler: the app resolves the request into a
:class:`~orchestrator.apiserver.requestinfo.RequestInfo` and :func:`authorize_request` turns it
into an :class:`Authorized` request or refuses it. The handlers accept nothing else, and only
this module can make an :class:`Authorized`, so a handler cannot be reached unauthorized, however
many verbs and subresources are added.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.api import errors
from orchestrator.api.bootstrap import CLUSTER_INFO_NAME, CLUSTER_INFO_NAMESPACE, CLUSTER_INFO_PATH
from orchestrator.api.coordination import NODE_LEASE_NAMESPACE
from orchestrator.api.options import ListOptions
from orchestrator.api.registry import PROXY, ResourceKind, kind_for
from orchestrator.apiserver.reader import ObjectReader
from orchestrator.apiserver.requestinfo import READ_VERBS, RequestInfo, Verb
from orchestrator.cluster.identity import Identity

#: paths anyone may read without a token, as Kubernetes' system:public-info-viewer role allows
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/livez", "/version"})

#: (kind, namespace, name) of the objects anyone may GET: public by design, like kubeadm's
#: cluster-info, which a joining machine reads before it has any credentials
PUBLIC_OBJECTS = frozenset({("ConfigMap", CLUSTER_INFO_NAMESPACE, CLUSTER_INFO_NAME)})
#: their paths, so the authentication gate can let a token-less GET through to authorization
ANONYMOUS_GET_PATHS = frozenset({CLUSTER_INFO_PATH})


@dataclass(frozen=True)
class Attributes:
    """What the authorizer decides on (Kubernetes' ``authorizer.Attributes``, less the user)."""

    verb: Verb
    rk: ResourceKind
    namespace: str | None
    name: str | None
    subresource: str | None
    options: ListOptions | None = None

    @classmethod
    def of(cls, info: RequestInfo) -> "Attributes":
        target = info.target
        return cls(info.verb, target.rk, target.namespace, target.name, target.subresource, info.selected)


#: the key only :func:`authorize_request` holds; see :class:`Authorized`
_GRANTED = object()


@dataclass(frozen=True)
class Authorized:
    """A request the authorizer has allowed: the only thing the resource handlers accept.

    It cannot be made outside this module (the constructor checks for a key only
    :func:`authorize_request` passes), so every path into a handler goes through authorization.
    """

    identity: Identity
    info: RequestInfo
    _grant: object = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._grant is not _GRANTED:
            raise TypeError("an Authorized request comes only from auth.authorize_request()")


def authorize_request(identity: Identity, info: RequestInfo, api: ObjectReader) -> Authorized:
    """``info`` as an :class:`Authorized` request if ``identity`` may make it, else 403."""
    authorize(identity, Attributes.of(info), api)
    return Authorized(identity, info, _GRANTED)


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authorize(identity: Identity, attrs: Attributes, api: ObjectReader) -> None:
    """Return if ``identity`` may do what ``attrs`` say, else raise 403 (Kubernetes' wording)."""
    if identity.is_admin or _public(attrs):
        return
    if identity.is_node and identity.node_name and _node_may(identity.node_name, attrs, api):
        return
    resource = attrs.rk.plural + (f"/{attrs.subresource}" if attrs.subresource else "")
    raise errors.forbidden(identity.user, attrs.verb.value, resource, attrs.rk.group, attrs.namespace or "")


def _public(attrs: Attributes) -> bool:
    return (attrs.verb is Verb.GET and attrs.subresource is None
            and (attrs.rk.kind, attrs.namespace, attrs.name) in PUBLIC_OBJECTS)


def _node_may(node: str, attrs: Attributes, api: ObjectReader) -> bool:
    kind, verb = attrs.rk.kind, attrs.verb
    if attrs.subresource == PROXY:
        return False
    if kind == "Node":
        return verb in READ_VERBS or (attrs.name == node and verb in (Verb.CREATE, Verb.UPDATE, Verb.PATCH)) \
            or (verb is Verb.CREATE and attrs.name is None)
    if kind == "Pod":
        if verb in (Verb.LIST, Verb.WATCH):
            return attrs.options is not None and attrs.options.field_selector.exact("spec.nodeName") == node
        if verb in (Verb.GET, Verb.UPDATE, Verb.PATCH, Verb.DELETE):
            if attrs.subresource not in (None, "status", "log"):
                return False
            return _bound_to(api, attrs, node)
        return False
    if kind == "Event":
        return verb in (Verb.CREATE, Verb.UPDATE, Verb.PATCH, Verb.GET)
    if kind == "Lease":  # its own heartbeat Lease, as the kubelet's
        return attrs.namespace == NODE_LEASE_NAMESPACE and (attrs.name == node or (
            verb is Verb.CREATE and attrs.name is None)) and verb in (Verb.GET, Verb.CREATE, Verb.UPDATE, Verb.PATCH)
    if kind in ("Service", "Endpoints", "EndpointSlice", "Namespace"):
        return verb in READ_VERBS
    if kind in ("ConfigMap", "Secret"):
        return verb is Verb.GET and _referenced_by_a_pod_on(api, node, kind, attrs.namespace, attrs.name)
    return False


def _bound_to(api: ObjectReader, attrs: Attributes, node: str) -> bool:
    try:
        pod = api.get(attrs.rk, attrs.namespace, attrs.name or "")
    except errors.ApiError:
        return False
    return pod.get("spec", {}).get("nodeName") == node


def _referenced_by_a_pod_on(api: ObjectReader, node: str, kind: str, namespace: str | None, name: str | None) -> bool:
    pods = api.list(kind_for("v1", "Pod"), namespace).items
    return any(
        pod.get("spec", {}).get("nodeName") == node and (kind, name) in _references(pod.get("spec", {}))
        for pod in pods
    )


def _references(spec: dict) -> set[tuple[str, str]]:
    """The (kind, name) of every ConfigMap and Secret a pod spec reads."""
    found: set[tuple[str, str]] = set()
    for volume in spec.get("volumes") or []:
        if "configMap" in volume:
            found.add(("ConfigMap", volume["configMap"].get("name", "")))
        if "secret" in volume:
            found.add(("Secret", volume["secret"].get("secretName", "")))
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            if "configMapKeyRef" in source:
                found.add(("ConfigMap", source["configMapKeyRef"].get("name", "")))
            if "secretKeyRef" in source:
                found.add(("Secret", source["secretKeyRef"].get("name", "")))
        for env_from in container.get("envFrom") or []:
            if "configMapRef" in env_from:
                found.add(("ConfigMap", env_from["configMapRef"].get("name", "")))
            if "secretRef" in env_from:
                found.add(("Secret", env_from["secretRef"].get("name", "")))
    return found
