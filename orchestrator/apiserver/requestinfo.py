"""What a resource request asks to do, worked out once from its method, path and query.

This is Kubernetes' request-info resolver (``RequestInfoFactory``): before any handler runs, the
request becomes a :class:`RequestInfo` — the verb, the resource (kind, namespace, name,
subresource) and, for lists, watches and collection deletes, the selectors that decide *which*
objects it touches. The authorizer (:mod:`orchestrator.apiserver.auth`) decides on exactly these
values, and the handlers act on exactly these values, so what was allowed is what is done.

The verb follows the HTTP method, as in Kubernetes:

======================  ===============================================
method                  verb
======================  ===============================================
GET, HEAD               ``get`` on an object; ``list`` on a collection;
                        ``watch`` on either with ``?watch=true``
POST                    ``create``
PUT                     ``update``
PATCH                   ``patch``
DELETE                  ``delete`` on an object; ``deletecollection`` on
                        a collection
anything else           none: 405, whoever asks
======================  ===============================================

with two exceptions: ``exec``, ``attach`` and ``portforward`` start a process, join one or open
connections into a pod, so they are ``create`` whatever the method (a WebSocket upgrade is a GET,
the SPDY upgrade a POST), as Kubernetes authorizes them since 1.30; and the ``proxy``
subresource's query belongs to the proxied application, so its verb is the method's alone (GET
and HEAD ``get``, ``?watch=true`` or not).

A selector that does not parse does not fail the request here: the request is authorized as if
it had no selector (which can only narrow what a node may list) and the parse error is the
answer once it is allowed, as in Kubernetes, where a caller without access learns nothing more
than 403 whatever it sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Mapping

from orchestrator.api import errors
from orchestrator.api.options import ListOptions
from orchestrator.api.registry import PROXY
from orchestrator.api.remotecommand import StreamVerb
from orchestrator.api.selectors import FieldRequirement, FieldSelector
from orchestrator.apiserver.negotiation import list_options
from orchestrator.apiserver.routing import Target


class Verb(str, Enum):
    GET = "get"
    LIST = "list"
    WATCH = "watch"
    CREATE = "create"
    UPDATE = "update"
    PATCH = "patch"
    DELETE = "delete"
    DELETE_COLLECTION = "deletecollection"


READ_VERBS = frozenset({Verb.GET, Verb.LIST, Verb.WATCH})

#: the pod subresources that stream a process's input and output, by their path segment
STREAM_SUBRESOURCES = {verb.value: verb for verb in StreamVerb}
#: ``kubectl port-forward``'s subresource
PORT_FORWARD = "portforward"
#: the subresources that are ``create`` whatever the method (Kubernetes' "connect" verbs)
CONNECT_SUBRESOURCES = frozenset({*STREAM_SUBRESOURCES, PORT_FORWARD})

#: field selectors each kind accepts besides metadata.name / metadata.namespace (as Kubernetes)
FIELD_SELECTORS = {
    "Pod": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "status.phase", "status.podIP", "status.nominatedNodeName", "spec.hostNetwork"},
    "Event": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
              "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
              "reason", "reportingComponent", "source", "type"},
    "Node": {"spec.unschedulable"},
    "Secret": {"type"},
    "Namespace": {"status.phase"},
    "ReplicaSet": {"status.replicas"},
}

_SELECTING_VERBS = frozenset({Verb.LIST, Verb.WATCH, Verb.DELETE_COLLECTION})


def field_paths(kind: str) -> frozenset[str]:
    return frozenset({"metadata.name", "metadata.namespace"} | FIELD_SELECTORS.get(kind, set()))


@dataclass(frozen=True)
class RequestInfo:
    """One resource request, resolved: what it does (``verb``) to what (``target``), and for
    list, watch and deletecollection which objects (``selection``, or why it could not be read)."""

    verb: Verb
    target: Target
    selection: ListOptions | errors.ApiError | None = None

    @property
    def selected(self) -> ListOptions | None:
        """The selectors the authorizer sees: none when the query did not parse."""
        return self.selection if isinstance(self.selection, ListOptions) else None

    def list_options(self) -> ListOptions:
        """The selectors the handler acts on; the parse error, now that the request is allowed."""
        if isinstance(self.selection, errors.ApiError):
            raise self.selection
        return self.selection or ListOptions()

    @property
    def stream(self) -> StreamVerb | None:
        """``exec`` or ``attach`` when the request is one."""
        return STREAM_SUBRESOURCES.get(self.target.subresource or "")

    @property
    def port_forward(self) -> bool:
        """Whether the request is ``kubectl port-forward``'s (``pods/{name}/portforward``)."""
        return self.target.subresource == PORT_FORWARD and self.target.name is not None


def resolve(method: str, target: Target, query: Mapping[str, str]) -> RequestInfo:
    """The :class:`RequestInfo` of ``method`` on ``target`` with ``query``; 405 for a method
    that names no verb."""
    verb = _verb(method.upper(), target, query)
    if verb not in _SELECTING_VERBS:
        return RequestInfo(verb, target)
    if target.name is not None:
        # a watch on one object: the collection's watch, narrowed to that name
        pinned = FieldRequirement("metadata.name", target.name, negate=False)
        return RequestInfo(verb, target, ListOptions(field_selector=FieldSelector((pinned,))))
    try:
        return RequestInfo(verb, target, list_options(query, field_paths(target.rk.kind)))
    except errors.ApiError as error:
        return RequestInfo(verb, target, error)


def _verb(method: str, target: Target, query: Mapping[str, str]) -> Verb:
    if method not in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        raise errors.method_not_allowed(f"{method} is not supported; use GET, POST, PUT, PATCH or DELETE")
    if target.subresource in CONNECT_SUBRESOURCES:
        return Verb.CREATE
    if method in ("GET", "HEAD") and target.subresource == PROXY:
        return Verb.GET
    if method in ("GET", "HEAD"):
        if query.get("watch") in ("true", "1"):
            return Verb.WATCH
        return Verb.LIST if target.is_collection else Verb.GET
    if method == "DELETE":
        return Verb.DELETE_COLLECTION if target.is_collection else Verb.DELETE
    return {"POST": Verb.CREATE, "PUT": Verb.UPDATE, "PATCH": Verb.PATCH}[method]
