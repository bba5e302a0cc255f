"""The ``eviction`` subresource: ``POST …/pods/{name}/eviction`` with a policy/v1 ``Eviction``.

It is how ``kubectl drain`` (and ``dockyard drain``) remove pods: kubectl looks for
``pods/eviction`` (group ``policy``, version ``v1``, kind ``Eviction``) in the discovery of
``/api/v1`` and, finding it, posts one Eviction per pod instead of deleting it.

After Kubernetes' ``EvictionREST``, minus what dockyard does not have: an Eviction deletes the pod
exactly as a ``DELETE`` with the Eviction's ``deleteOptions`` would (grace period,
preconditions), and answers a ``Status`` of success with code 201. **PodDisruptionBudgets are not
supported**: Kubernetes would refuse an eviction (429) that breaks a budget; dockyard has no
budgets, so an eviction is never refused for that reason, and a drain relies on the owners
(ReplicaSets) to bring replacements up elsewhere.
"""

from __future__ import annotations

from orchestrator.api import errors
from orchestrator.api.registry import kind_for
from orchestrator.apiserver.negotiation import delete_options
from orchestrator.apiserver.objects import ObjectAPI

POD = kind_for("v1", "Pod")
#: the API versions an Eviction body may name (kubectl 1.32 sends policy/v1)
EVICTION_VERSIONS = ("policy/v1", "policy/v1beta1")


def check_eviction(body: dict, name: str) -> dict:
    """The ``deleteOptions`` of a well-formed Eviction for pod ``name``; 400 otherwise."""
    if body.get("kind") not in (None, "Eviction") or body.get("apiVersion") not in (None, *EVICTION_VERSIONS):
        raise errors.bad_request(
            f'expected a policy/v1 Eviction, got {body.get("apiVersion")} {body.get("kind")}')
    meta = body.get("metadata") or {}
    if not isinstance(meta, dict) or meta.get("name") not in (None, "", name):
        raise errors.bad_request(
            f'name in URL does not match name in Eviction object: the URL names pod "{name}", '
            f'the body "{meta.get("name") if isinstance(meta, dict) else meta}"')
    options = body.get("deleteOptions") or {}
    if not isinstance(options, dict):
        raise errors.bad_request("deleteOptions of an Eviction must be an object")
    return options


def evict(api: ObjectAPI, namespace: str | None, name: str, body: dict) -> dict:
    """Delete pod ``namespace/name`` as the Eviction ``body`` asks; returns the pod's last state."""
    options = delete_options({}, check_eviction(body, name))
    return api.delete(POD, namespace, name, options)
