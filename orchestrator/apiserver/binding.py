"""The ``binding`` subresource: how a pod gets its node (``POST …/pods/{name}/binding``).

After Kubernetes' ``BindingREST`` (pkg/registry/core/pod/storage/storage.go). The scheduler
decides; the API server records the decision in one write that

* sets ``spec.nodeName`` to the Binding's ``target.name``,
* copies the Binding's annotations onto the pod (dockyard's scheduler leaves
  ``scheduler.dockyard.io/scores`` there — why that node won), and
* sets the pod's ``PodScheduled`` condition True.

A pod is bound once. Binding a pod that already has a node, or that is being deleted, is a 409
Conflict; so is a Binding whose ``metadata.uid`` (or ``resourceVersion``) no longer matches the pod,
which keeps a decision about a pod that was deleted and re-created under the same name from
landing on the new one. The answer is a ``Status`` of success with code 201, as Kubernetes sends.

The HTTP handler and the in-process scheduler both call :func:`bind`; the write goes through
:meth:`ObjectAPI.update` with ``subresource="binding"``, which lets exactly those three fields
change, so validation, admission and optimistic concurrency are the usual ones.
"""

from __future__ import annotations

import copy

from orchestrator.api import errors
from orchestrator.api import field as fld
from orchestrator.api.conditions import set_condition
from orchestrator.api.field import Path
from orchestrator.api.meta import ConditionStatus
from orchestrator.api.pod import PodConditionType
from orchestrator.api.registry import kind_for
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.api.timestamps import now_rfc3339

POD = kind_for("v1", "Pod")
#: how Kubernetes names the resource in binding errors ("Operation cannot be fulfilled on pods/binding …")
RESOURCE = "pods/binding"
#: the only kinds a Binding may target ("" means Node)
TARGET_KINDS = ("Node", "")
#: a concurrent write to the pod (its agent-less status, a label) is retried, as GuaranteedUpdate does
_ATTEMPTS = 5


def check_binding(binding: dict, name: str) -> str:
    """The node a Binding for pod ``name`` names (``ValidatePodBinding``); 400/422 when malformed."""
    meta = binding.get("metadata") or {}
    if not isinstance(meta, dict) or meta.get("name") not in (None, "", name):
        raise errors.bad_request(
            f'name in URL does not match name in Binding object: the URL names pod "{name}", '
            f'the body "{meta.get("name") if isinstance(meta, dict) else meta}"')
    target = binding.get("target")
    if not isinstance(target, dict):
        raise errors.invalid("Binding", "", name, [fld.required(Path("target.name"))])
    causes = []
    if (target.get("kind") or "") not in TARGET_KINDS:
        causes.append(fld.not_supported(Path("target.kind"), target.get("kind"), ["Node", "<empty>"]))
    if not target.get("name"):
        causes.append(fld.required(Path("target.name")))
    if causes:
        raise errors.invalid("Binding", "", name, causes)
    return target["name"]


def assign(pod: dict, binding: dict, now: str) -> dict:
    """The next version of ``pod``, bound to the node of ``binding`` (which :func:`check_binding`
    accepted); raises 409 when the pod may not be bound."""
    meta, name = pod["metadata"], pod["metadata"]["name"]
    node = binding["target"]["name"]
    wanted = binding.get("metadata") or {}
    if wanted.get("uid") and wanted["uid"] != meta.get("uid"):
        raise errors.conflict(RESOURCE, "", name, f"Precondition failed: UID in precondition: {wanted['uid']}, "
                                                  f"UID in object meta: {meta.get('uid')}")
    if wanted.get("resourceVersion") and wanted["resourceVersion"] != meta.get("resourceVersion"):
        raise errors.conflict(RESOURCE, "", name)
    if meta.get("deletionTimestamp"):
        raise errors.conflict(RESOURCE, "", name, f"pod {name} is being deleted, cannot be assigned to a host")
    current = (pod.get("spec") or {}).get("nodeName")
    if current:
        raise errors.conflict(RESOURCE, "", name, f'pod {name} is already assigned to node "{current}"')
    bound = copy.deepcopy(pod)
    bound["spec"]["nodeName"] = node
    if wanted.get("annotations"):
        bound["metadata"]["annotations"] = {**(meta.get("annotations") or {}), **wanted["annotations"]}
    status = bound.setdefault("status", {})
    status["conditions"] = set_condition(status.get("conditions"), PodConditionType.POD_SCHEDULED,
                                         ConditionStatus.TRUE, now)
    return bound


def bind(api: ObjectAPI, namespace: str | None, name: str, binding: dict, *, dry_run: bool = False) -> dict:
    """Bind pod ``namespace/name`` as ``binding`` says; returns the pod as stored."""
    check_binding(binding, name)
    for attempt in range(_ATTEMPTS):
        pod = api.get(POD, namespace, name)
        bound = assign(pod, binding, now_rfc3339())
        try:
            return api.update(POD, namespace, name, bound, subresource="binding", dry_run=dry_run).object
        except errors.ApiError as error:
            if error.reason is not errors.StatusReason.CONFLICT or attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def success_status() -> dict:
    """What ``POST pods/{name}/binding`` and ``…/eviction`` answer, as Kubernetes does."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
