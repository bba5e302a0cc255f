"""Validation shared by every kind: ``metadata``, labels, annotations, label selectors.

Mirrors k8s.io/apimachinery/pkg/api/validation/objectmeta.go and
apimachinery/pkg/apis/meta/v1/validation. Functions take a wire-form dict and a
:class:`~orchestrator.api.field.Path` and return the causes they found (never raise), so that a
caller can report *all* problems of an object at once, as Kubernetes does.
"""

from __future__ import annotations

from typing import Any

from orchestrator.api import field as fld
from orchestrator.api import names
from orchestrator.api.errors import Cause
from orchestrator.api.field import Path

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})


def validate_labels(labels: dict[str, str] | None, path: Path) -> list[Cause]:
    """Keys are qualified names, values label values; both report on the map's own path."""
    causes = []
    for key, value in (labels or {}).items():
        causes += [fld.invalid(path, key, msg) for msg in names.is_qualified_name(key)]
        causes += [fld.invalid(path, value, msg) for msg in names.is_valid_label_value(value)]
    return causes


def validate_annotations(annotations: dict[str, str] | None, path: Path) -> list[Cause]:
    causes = []
    total = 0
    for key, value in (annotations or {}).items():
        causes += [fld.invalid(path, key, msg) for msg in names.is_qualified_name(key.lower())]
        total += len(key) + len(value)
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(fld.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return causes


def validate_label_selector(selector: dict | None, path: Path) -> list[Cause]:
    if selector is None:
        return []
    causes = []
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        expr_path = path.child("matchExpressions").index(i)
        operator = expr.get("operator") or ""
        values = expr.get("values") or []
        if operator in ("In", "NotIn"):
            if not values:
                causes.append(fld.required(expr_path.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                causes.append(fld.forbidden(expr_path.child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            causes.append(fld.invalid(expr_path.child("operator"), operator, "not a valid selector operator"))
        key = expr.get("key") or ""
        causes += [fld.invalid(expr_path.child("key"), key, msg) for msg in names.is_qualified_name(key)]
        for value in values:
            causes += [fld.invalid(expr_path.child("values"), value, msg) for msg in names.is_valid_label_value(value)]
    causes += validate_labels(selector.get("matchLabels"), path.child("matchLabels"))
    return causes


def _validate_owner_references(refs: list[dict] | None, path: Path) -> list[Cause]:
    causes = []
    controllers = []
    for ref in refs or []:
        api_version = ref.get("apiVersion") or ""
        if not api_version:
            causes.append(fld.invalid(path.child("apiVersion"), api_version, "version must not be empty"))
        if not ref.get("kind"):
            causes.append(fld.invalid(path.child("kind"), ref.get("kind") or "", "kind must not be empty"))
        if not ref.get("name"):
            causes.append(fld.invalid(path.child("name"), ref.get("name") or "", "name must not be empty"))
        if not ref.get("uid"):
            causes.append(fld.invalid(path.child("uid"), ref.get("uid") or "", "uid must not be empty"))
        if ref.get("controller"):
            controllers.append(f"{ref.get('kind')}/{ref.get('name')}")
    if len(controllers) > 1:
        causes.append(fld.invalid(path, refs, "Only one reference can have Controller set to true. Found \"true\" in references for "
                                  + " and ".join(controllers)))
    return causes


def _validate_finalizers(finalizers: list[str] | None, path: Path) -> list[Cause]:
    causes = []
    seen: set[str] = set()
    for finalizer in finalizers or []:
        causes += [fld.invalid(path, finalizer, msg) for msg in names.is_qualified_name(finalizer)]
        if finalizer in seen:
            causes.append(fld.duplicate(path, finalizer))
        seen.add(finalizer)
    return causes


def validate_object_meta(
    meta: dict,
    *,
    namespaced: bool,
    name_fn: names.NameValidator,
    path: Path = Path("metadata"),
) -> list[Cause]:
    """``ValidateObjectMeta``: name (or generateName), namespace scope, labels, annotations …"""
    causes = []
    generate_name = meta.get("generateName") or ""
    if generate_name:
        causes += [fld.invalid(path.child("generateName"), generate_name, msg) for msg in name_fn(generate_name, True)]
    name = meta.get("name") or ""
    if not name:
        if not generate_name:
            causes.append(fld.required(path.child("name"), "name or generateName is required"))
    else:
        causes += [fld.invalid(path.child("name"), name, msg) for msg in name_fn(name, False)]
    namespace = meta.get("namespace") or ""
    if namespaced:
        if not namespace:
            causes.append(fld.required(path.child("namespace"), ""))
        else:
            causes += [fld.invalid(path.child("namespace"), namespace, msg) for msg in names.is_dns1123_label(namespace)]
    elif namespace:
        causes.append(fld.forbidden(path.child("namespace"), "not allowed on this type"))
    causes += fld.nonnegative(meta.get("generation"), path.child("generation"))
    causes += validate_labels(meta.get("labels"), path.child("labels"))
    causes += validate_annotations(meta.get("annotations"), path.child("annotations"))
    causes += _validate_owner_references(meta.get("ownerReferences"), path.child("ownerReferences"))
    causes += _validate_finalizers(meta.get("finalizers"), path.child("finalizers"))
    return causes


def validate_object_meta_update(new: dict, old: dict, path: Path = Path("metadata")) -> list[Cause]:
    """``ValidateObjectMetaUpdate``: identity fields never change; no new finalizers while deleting."""
    causes = []
    if old.get("deletionTimestamp"):
        added = [f for f in new.get("finalizers") or [] if f not in (old.get("finalizers") or [])]
        if added:
            causes.append(fld.forbidden(
                path.child("finalizers"),
                "no new finalizers can be added if the object is being deleted, found new finalizers "
                + fld.go_value(sorted(added)),
            ))
    if (new.get("generation") or 0) < (old.get("generation") or 0):
        causes.append(fld.invalid(path.child("generation"), new.get("generation") or 0, "must not be decremented"))
    for name in ("name", "namespace", "uid", "creationTimestamp"):
        causes += fld.immutable(new.get(name) or "", old.get(name) or "", path.child(name))
    return causes


def meta_of(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}
