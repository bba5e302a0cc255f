"""Kubernetes object semantics over the raw store: what happens on create, update, patch and delete.

The store (``orchestrator.store``) is a versioned key/value log; this module is what makes it an
API server in Kubernetes' sense, the equivalent of the apiserver's generic registry plus each
kind's strategy:

* **create**: decode (strict or lenient about unknown fields), default, validate, admit, then the
  server fills ``uid``, ``creationTimestamp``, ``generation`` and the initial status;
* **update**: the caller's ``resourceVersion`` is a compare-and-swap precondition; the main
  resource never changes ``status`` and the ``status`` subresource changes nothing *but* status;
  ``generation`` moves only when the spec does; an update that changes nothing writes nothing
  (so re-applying a manifest is a true no-op);
* **patch**: read, apply the patch, update with the revision read, retrying on conflicts;
* **delete**: finalizers and propagation policies (``Orphan``/``Foreground`` become finalizers
  the garbage collector honours), graceful deletion of pods bound to a node (``deletionTimestamp``
  now, removal later by the node agent), namespaces that empty themselves before they go.

Both the HTTP handlers and the in-process controllers call :class:`ObjectAPI`, so there is one
place where these rules live. Objects handed out are fresh dicts: callers may not mutate what
they read and write it back without going through ``update``.
"""

from __future__ import annotations

import builtins
import copy
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from orchestrator.api import errors
from orchestrator.api.decode import decode
from orchestrator.api.jsonvalue import JSONValue
from orchestrator.api.defaults import apply_defaults, prepare_for_update
from orchestrator.api.options import DeleteOptions, Finalizer, ListOptions, PatchType, PropagationPolicy
from orchestrator.api.patch import PatchError, json_merge_patch, json_patch
from orchestrator.api.patch_strategic import strategic_merge_patch
from orchestrator.api.podstatus import is_finished
from orchestrator.api.registry import ResourceKind
from orchestrator.api.validation import validate
from orchestrator.apiserver.admission import Admission
from orchestrator.apiserver.reader import Listed
from orchestrator.store import Key, KeyExists, KeyNotFound, RevisionConflict, Store
from orchestrator.api.timestamps import now_rfc3339


#: the alphabet Kubernetes uses for ``generateName`` suffixes (no vowels, no look-alikes)
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
#: how often a patch is retried when a concurrent writer moved the object on
_PATCH_ATTEMPTS = 5


def random_suffix(length: int = 5) -> str:
    return "".join(secrets.choice(_NAME_ALPHABET) for _ in range(length))


@dataclass
class Written:
    """The outcome of a write: the object as stored (or as it would be, on dry runs) and warnings."""

    object: dict
    warnings: list[str] = field(default_factory=list)


def store_key(rk: ResourceKind, namespace: str | None, name: str) -> Key:
    return Key(rk.qualified_resource, namespace or "" if rk.namespaced else "", name)


def _spec_of(obj: dict) -> dict:
    """Everything but metadata and status: what ``generation`` tracks."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}


class ObjectAPI:
    def __init__(self, store: Store, admission: Admission | None = None,
                 clock: Callable[[], str] = now_rfc3339) -> None:
        self.store = store
        self.admission = admission or Admission()
        self._now = clock

    # -- reads -----------------------------------------------------------------------------

    def get(self, rk: ResourceKind, namespace: str | None, name: str) -> dict:
        try:
            return self.store.get(store_key(rk, namespace, name))
        except KeyNotFound:
            raise errors.not_found(rk.plural, rk.group, name) from None

    def list(self, rk: ResourceKind, namespace: str | None, options: ListOptions | None = None) -> Listed:
        """Matching objects, the revision they were read at, and where to continue (if limited).

        Selectors are applied before the limit, as Kubernetes does, so a page is never short
        merely because some objects did not match.
        """
        options = options or ListOptions()
        scope = namespace if rk.namespaced else None
        pinned_name = options.field_selector.exact("metadata.name")
        items: list[dict] = []
        after = options.after
        while True:
            result = self.store.list(rk.qualified_resource, scope, limit=options.limit, after=after)
            for obj in result.items:
                if pinned_name is not None and obj["metadata"]["name"] != pinned_name:
                    continue
                if options.label_selector.matches(obj["metadata"].get("labels")) and \
                        options.field_selector.matches(obj):
                    items.append(obj)
                    if options.limit and len(items) == options.limit:
                        last = obj["metadata"]
                        more = result.next_after is not None or obj is not result.items[-1]
                        return Listed(items, result.revision, (last.get("namespace", ""), last["name"]) if more else None)
            if result.next_after is None:
                return Listed(items, result.revision, None)
            after = result.next_after

    # -- create ----------------------------------------------------------------------------

    def create(self, rk: ResourceKind, namespace: str | None, body: dict, *, strict: bool = True,
               dry_run: bool = False) -> Written:
        obj, warnings = decode(rk, body, strict=strict)
        meta = obj.setdefault("metadata", {})
        if rk.namespaced:
            namespace = namespace or meta.get("namespace") or "default"
            if meta.get("namespace") not in (None, "", namespace):
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + random_suffix()
        for server_owned in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(server_owned, None)
        meta["creationTimestamp"] = self._now()
        meta["uid"] = str(uuid.uuid4())
        if rk.has_spec_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        obj = apply_defaults(rk, obj)
        validate(rk, obj, None)
        obj = self.admission.admit_create(self, rk, obj)
        _set_initial_status(rk, obj)
        if dry_run:
            return Written(obj, warnings)
        try:
            stored = self.store.create(store_key(rk, namespace, meta["name"]), obj)
        except KeyExists:
            raise errors.already_exists(rk.plural, rk.group, meta["name"]) from None
        return Written(stored, warnings)

    # -- update ----------------------------------------------------------------------------

    def update(self, rk: ResourceKind, namespace: str | None, name: str, body: dict, *,
               subresource: str | None = None, strict: bool = True, dry_run: bool = False) -> Written:
        obj, warnings = decode(rk, body, strict=strict)
        meta = obj.setdefault("metadata", {})
        if meta.get("name") not in (None, name):
            raise errors.bad_request(
                f'the name of the object ({meta.get("name")}) does not match the name on the URL ({name})')
        old = self.get(rk, namespace, name)
        expected = meta.get("resourceVersion")
        if expected and expected != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rk.plural, rk.group, name)
        return self._replace(rk, old, obj, subresource, warnings, dry_run)

    def _replace(self, rk: ResourceKind, old: dict, new: dict, subresource: str | None,
                 warnings: builtins.list[str], dry_run: bool) -> Written:  # ``list`` is the method
        """Turn ``new`` (as the client sent it) into the next stored version of ``old``."""
        name = old["metadata"]["name"]
        merged = self._merge_for_subresource(rk, old, new, subresource)
        merged = apply_defaults(rk, prepare_for_update(rk, merged, old))
        validate(rk, merged, old, subresource)
        merged = self.admission.admit_update(self, rk, merged, old)
        if merged == old:
            return Written(old, warnings)
        if _removable(rk, merged):
            if dry_run:
                return Written(merged, warnings)
            return Written(self._remove(rk, old), warnings)
        if dry_run:
            return Written(merged, warnings)
        key = store_key(rk, old["metadata"].get("namespace"), name)
        try:
            stored = self.store.update(key, merged, expected_revision=int(old["metadata"]["resourceVersion"]))
        except RevisionConflict:
            raise errors.conflict(rk.plural, rk.group, name) from None
        except KeyNotFound:
            raise errors.not_found(rk.plural, rk.group, name) from None
        return Written(stored, warnings)

    def _merge_for_subresource(self, rk: ResourceKind, old: dict, new: dict, subresource: str | None) -> dict:
        merged = copy.deepcopy(new)
        merged["apiVersion"], merged["kind"] = rk.api_version, rk.kind
        old_meta = old["metadata"]
        if subresource == "status":
            # The status subresource writes status and nothing else (metadata stays the server's).
            merged = {**copy.deepcopy(old), "status": merged.get("status", {})}
            return merged
        if subresource == "finalize":
            # ``PUT namespaces/{name}/finalize`` writes spec.finalizers and nothing else; the
            # namespace controller empties it once the namespace holds nothing more.
            finalized = copy.deepcopy(old)
            finalized.setdefault("spec", {})["finalizers"] = (merged.get("spec") or {}).get("finalizers") or []
            return finalized
        if subresource == "ephemeralcontainers":
            # ``kubectl debug`` adds a container to a running pod: the write may touch
            # spec.ephemeralContainers and nothing else (validation then allows only additions).
            debugged = copy.deepcopy(old)
            debugged.setdefault("spec", {})["ephemeralContainers"] = \
                (merged.get("spec") or {}).get("ephemeralContainers") or []
            return debugged
        if subresource == "binding":
            # A binding (orchestrator.apiserver.binding) moves exactly three things in one write:
            # the node, the annotations the Binding carries and the PodScheduled condition.
            bound = copy.deepcopy(old)
            for section, name in (("spec", "nodeName"), ("metadata", "annotations"), ("status", "conditions")):
                if name in (merged.get(section) or {}):
                    bound.setdefault(section, {})[name] = merged[section][name]
            return bound
        meta = merged.setdefault("metadata", {})
        for immutable in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                          "namespace", "name", "generation", "resourceVersion"):
            if immutable in old_meta:
                meta[immutable] = old_meta[immutable]
            else:
                meta.pop(immutable, None)
        if "status" in old:
            merged["status"] = copy.deepcopy(old["status"])
        else:
            merged.pop("status", None)
        if rk.has_spec_generation and _spec_of(merged) != _spec_of(old):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
        return merged

    # -- patch -----------------------------------------------------------------------------

    def patch(self, rk: ResourceKind, namespace: str | None, name: str, patch_type: PatchType,
              patch: dict | builtins.list, *, subresource: str | None = None, strict: bool = True,
              dry_run: bool = False) -> Written:
        if patch_type is PatchType.APPLY:
            raise errors.ApiError(
                "server-side apply is not supported by dockyard; use client-side `kubectl apply` "
                "(the default) instead", errors.StatusReason.UNSUPPORTED_MEDIA_TYPE, 415)
        for attempt in range(_PATCH_ATTEMPTS):
            old = self.get(rk, namespace, name)
            patched = apply_patch(rk, old, patch_type, patch)
            precondition = (patch.get("metadata") or {}).get("resourceVersion") if isinstance(patch, dict) else None
            if precondition and precondition != old["metadata"]["resourceVersion"]:
                raise errors.conflict(rk.plural, rk.group, name)
            patched.setdefault("metadata", {})["resourceVersion"] = old["metadata"]["resourceVersion"]
            obj, warnings = decode(rk, patched, strict=strict)
            try:
                return self._replace(rk, old, obj, subresource, warnings, dry_run)
            except errors.ApiError as error:
                if error.reason is not errors.StatusReason.CONFLICT or precondition or attempt == _PATCH_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    # -- delete ----------------------------------------------------------------------------

    def delete(self, rk: ResourceKind, namespace: str | None, name: str,
               options: DeleteOptions | None = None) -> dict:
        """Delete now, or mark for deletion; returns the object's last (or current) state.

        Like the apiserver's GuaranteedUpdate, a delete that loses a race with another writer (a
        controller updating status) reads the object again and retries — unless the caller pinned
        a resourceVersion, whose conflict is the answer it asked for.
        """
        options = options or DeleteOptions()
        for attempt in range(_PATCH_ATTEMPTS):
            try:
                return self._delete_once(rk, namespace, name, options)
            except errors.ApiError as error:
                if error.reason is not errors.StatusReason.CONFLICT or options.precondition_resource_version \
                        or attempt == _PATCH_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _delete_once(self, rk: ResourceKind, namespace: str | None, name: str, options: DeleteOptions) -> dict:
        obj = self.get(rk, namespace, name)
        meta = obj["metadata"]
        if options.precondition_uid and options.precondition_uid != meta.get("uid"):
            raise errors.conflict(rk.plural, rk.group, name,
                                  f"Precondition failed: UID in precondition: {options.precondition_uid}, "
                                  f"UID in object meta: {meta.get('uid')}")
        if options.precondition_resource_version and \
                options.precondition_resource_version != meta.get("resourceVersion"):
            raise errors.conflict(rk.plural, rk.group, name)
        self.admission.admit_delete(self, rk, obj)
        marked = copy.deepcopy(obj)
        marked_meta = marked["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if options.propagation is PropagationPolicy.ORPHAN and Finalizer.ORPHAN.value not in finalizers:
            finalizers.append(Finalizer.ORPHAN.value)
        if options.propagation is PropagationPolicy.FOREGROUND and Finalizer.FOREGROUND.value not in finalizers:
            finalizers.append(Finalizer.FOREGROUND.value)
        if finalizers:
            marked_meta["finalizers"] = finalizers
        grace = self._grace_period(rk, obj, options)
        if meta.get("deletionTimestamp"):
            # Already terminating: a second delete may only shorten the grace period.
            grace = min(grace, int(meta.get("deletionGracePeriodSeconds") or 0))
        deadline = datetime.now(timezone.utc) + timedelta(seconds=grace)
        marked_meta.setdefault("deletionTimestamp", deadline.strftime("%Y-%m-%dT%H:%M:%SZ"))
        marked_meta["deletionGracePeriodSeconds"] = grace
        if rk.kind == "Namespace":
            marked.setdefault("status", {})["phase"] = "Terminating"
        if options.dry_run:
            return marked
        if _removable(rk, marked):
            return self._remove(rk, obj)
        if marked == obj:
            return obj
        try:
            return self.store.update(store_key(rk, namespace, name), marked,
                                     expected_revision=int(meta["resourceVersion"]))
        except RevisionConflict:
            raise errors.conflict(rk.plural, rk.group, name) from None

    def _grace_period(self, rk: ResourceKind, obj: dict, options: DeleteOptions) -> int:
        """Seconds a pod on a node gets to stop; 0 (delete at once) for everything else.

        A pod that never reached a node, or whose containers already finished, has nothing to
        stop, so like Kubernetes we delete it immediately; ``gracePeriodSeconds=0`` (``--force``)
        does the same for running pods.
        """
        if rk.kind != "Pod" or not obj.get("spec", {}).get("nodeName"):
            return 0
        if is_finished(obj):
            return 0
        if options.grace_period_seconds is not None:
            return max(0, options.grace_period_seconds)
        return max(0, int(obj["spec"].get("terminationGracePeriodSeconds", 30)))

    def _remove(self, rk: ResourceKind, obj: dict) -> dict:
        meta = obj["metadata"]
        key = store_key(rk, meta.get("namespace"), meta["name"])
        try:
            return self.store.delete(key, expected_revision=int(meta["resourceVersion"]))
        except KeyNotFound:
            raise errors.not_found(rk.plural, rk.group, meta["name"]) from None
        except RevisionConflict:
            raise errors.conflict(rk.plural, rk.group, meta["name"]) from None


def qos_class(spec: dict) -> str:
    """Kubernetes' QoS class: Guaranteed (limits = requests for cpu and memory everywhere),
    BestEffort (no requests or limits at all) or Burstable (anything in between)."""
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    resources = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    for r in resources:
        limits, requests = r.get("limits") or {}, r.get("requests") or {}
        for name in ("cpu", "memory"):
            if name not in limits or str(requests.get(name, limits[name])) != str(limits[name]):
                return "Burstable"
    return "Guaranteed"


#: kinds whose status is the server's from the start, never the client's (a Node's agent
#: reports its own status when it registers; a Namespace's phase is defaulted)
_SERVER_STATUS_KINDS = frozenset({"Pod", "ReplicaSet", "Deployment", "Service"})


def _set_initial_status(rk: ResourceKind, obj: dict) -> None:
    """A new object's status: its kind's empty status as Kubernetes serializes it (the fields Go
    writes even at their zero value, such as a ReplicaSet's ``replicas: 0`` or a Service's
    ``loadBalancer: {}``), plus a Pod's phase and QoS class."""
    if rk.kind not in _SERVER_STATUS_KINDS:
        return
    empty = rk.model.model_validate({}).model_dump(by_alias=True, exclude_none=True, mode="json")
    obj["status"] = empty.get("status", {})
    if rk.kind == "Pod":
        obj["status"].update(phase="Pending", qosClass=qos_class(obj.get("spec", {})))


def _removable(rk: ResourceKind, obj: dict) -> bool:
    """Kubernetes' rule: marked for deletion, no finalizers left and no grace period to wait out.

    A Namespace also has ``spec.finalizers`` (``kubernetes``), which the namespace controller
    removes through the ``finalize`` subresource once the namespace is empty.
    """
    meta = obj["metadata"]
    return (
        bool(meta.get("deletionTimestamp"))
        and not meta.get("finalizers")
        and not (rk.kind == "Namespace" and (obj.get("spec") or {}).get("finalizers"))
        and not meta.get("deletionGracePeriodSeconds")
    )


def apply_patch(rk: ResourceKind, old: dict, patch_type: PatchType, patch: dict | list) -> dict:
    """``old`` with a patch of ``patch_type`` applied; a patch that cannot apply, or that turns the
    object into something else than an object, is the client's error (400)."""
    try:
        patched = _apply_patch(rk, old, patch_type, patch)
    except PatchError as error:
        raise errors.bad_request(str(error)) from None
    if not isinstance(patched, dict):
        raise errors.bad_request("the patch does not produce an object")
    return patched


def _apply_patch(rk: ResourceKind, old: dict, patch_type: PatchType, patch: dict | list) -> JSONValue:
    if patch_type is PatchType.JSON:
        if not isinstance(patch, list):
            raise errors.bad_request("a JSON patch must be a list of operations")
        return json_patch(old, patch)
    if not isinstance(patch, dict):
        raise errors.bad_request("a merge patch must be a JSON object")
    if patch_type is PatchType.MERGE:
        return json_merge_patch(old, patch)
    return strategic_merge_patch(old, patch, rk.kind)
