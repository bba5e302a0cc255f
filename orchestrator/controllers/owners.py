"""Ownership: controller references, adoption and release, and which owners a change concerns
(pure functions, no I/O).

After Kubernetes' ``ControllerRefManager`` (pkg/controller/controller_ref_manager.go):

* A dependent names its controller in an ownerReference with ``controller: true``
  (:func:`controller_ref`); an owner writes one with :func:`owner_reference`.
* **Claiming** (:func:`claim`, ``ClaimPods``/``ClaimReplicaSets``): an active dependent whose
  controller reference is the owner (by uid) is the owner's while the owner's selector still
  matches it, and is *released* (the reference removed) when it no longer does; an active
  orphan (no controller reference at all) that the selector matches is *adopted*. A dependent
  controlled by someone else is never touched. An owner being deleted neither adopts nor
  releases, and an empty selector adopts nothing.
* **Which owners a change concerns** (:func:`owner_keys`, client-go's ``resolveControllerRef``
  plus ``getPodReplicaSets``): the controller named before the change and the one named after
  it (a release moves a dependent from one to none, and the old owner must notice), and, for a
  live orphan, every owner whose selector matches its labels, since one of them may adopt it. A
  dependent that is gone, being deleted or finished is never adopted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from orchestrator.api.podstatus import is_active
from orchestrator.api.selectors import LabelSelector, from_label_selector_object


def controller_ref(obj: dict) -> dict | None:
    """The ownerReference naming ``obj``'s controller, if it has one."""
    return next((r for r in obj["metadata"].get("ownerReferences") or [] if r.get("controller")), None)


def is_controlled_by(obj: dict, owner: dict) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == owner["metadata"]["uid"]


def owner_reference(owner: dict) -> dict:
    """The controller reference ``owner`` puts on what it makes or adopts."""
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def selector_of(obj: dict) -> LabelSelector:
    """``spec.selector`` of a workload (a ``metav1.LabelSelector``)."""
    return from_label_selector_object((obj.get("spec") or {}).get("selector"))


def with_controller_ref(dependent: dict, owner: dict) -> list[dict]:
    """The dependent's ownerReferences once ``owner`` adopts it (other, non-controller owners stay)."""
    return [*(dependent["metadata"].get("ownerReferences") or []), owner_reference(owner)]


def without_owner(dependent: dict, owner: dict) -> list[dict]:
    """The dependent's ownerReferences once ``owner`` releases it (or is deleted with orphaning)."""
    uid = owner["metadata"]["uid"]
    return [r for r in dependent["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]


@dataclass(frozen=True)
class Claim:
    """Which active dependents an owner controls after claiming, and the ownership changes to write.

    ``owned`` includes the dependents to adopt (they are the owner's once the adoption is
    written) and excludes those to release.
    """

    owned: list[dict]
    adopt: list[dict]
    release: list[dict]


def claim(owner: dict, candidates: Iterable[dict], active: Callable[[dict], bool] = is_active) -> Claim:
    """Claim the ``active`` dependents among ``candidates`` (the owner's namespace, or the part of
    it an index narrowed down) for ``owner``."""
    selector, deleting = selector_of(owner), bool(owner["metadata"].get("deletionTimestamp"))
    owned, adopt, release = [], [], []
    for dependent in candidates:
        if not active(dependent):
            continue
        matches = not selector.empty and selector.matches(dependent["metadata"].get("labels"))
        ref = controller_ref(dependent)
        if ref is not None:
            if ref.get("uid") != owner["metadata"]["uid"]:
                continue  # someone else's
            if matches:
                owned.append(dependent)
            elif not deleting:
                release.append(dependent)
        elif matches and not deleting and not dependent["metadata"].get("deletionTimestamp"):
            adopt.append(dependent)
            owned.append(dependent)
    return Claim(owned, adopt, release)


def owner_keys(kind: str, dependent: dict, previous: dict | None, gone: bool,
               owners: Iterable[dict]) -> Iterator[tuple[str, str]]:
    """The (namespace, name) keys of the owners of ``kind`` that a change of ``dependent`` concerns.

    ``previous`` is the dependent before the change (None when new), ``gone`` says it was
    deleted, and ``owners`` are the owners of that kind in its namespace (the would-be adopters).
    """
    namespace = dependent["metadata"].get("namespace") or ""
    named = {ref["name"] for obj in (dependent, previous) if obj is not None
             if (ref := controller_ref(obj)) and ref.get("kind") == kind}
    for name in sorted(named):
        yield (namespace, name)
    if gone or controller_ref(dependent) is not None or not is_active(dependent):
        return
    labels = dependent["metadata"].get("labels")
    for candidate in owners:
        name = candidate["metadata"]["name"]
        selector = selector_of(candidate)
        if name not in named and not selector.empty and selector.matches(labels):
            yield (namespace, name)
