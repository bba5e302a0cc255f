"""Three-way strategic merge patches: the client side of ``kubectl apply``.

``kubectl apply -f`` does not send the manifest; it sends a strategic merge patch computed from
three versions of the object:

* ``original`` — what was applied last time (the ``last-applied-configuration`` annotation);
* ``modified`` — the manifest being applied now;
* ``current`` — the live object, which others may have changed since (``kubectl scale``,
  controllers, defaulting, sidecar injection).

The patch is the union of two diffs (Kubernetes' ``strategicpatch.CreateThreeWayMergePatch``):

* changes and additions, ``current → modified`` with deletions ignored: everything the manifest
  says is enforced, but a field the manifest never mentioned is somebody else's and stays;
* deletions, ``original → modified`` with changes ignored: only what the user removed from the
  manifest since the last apply is removed — ``null`` for a map key, a ``$patch: delete``
  element for a keyed list, ``$deleteFromPrimitiveList/<field>`` for a set-like list.

Merged lists also carry ``$setElementOrder/<field>`` with the manifest's order, and lists the
schema does not merge (``args``, ``tolerations``…) are replaced whole. Maps Kubernetes tags
``retainKeys`` (``Deployment.spec.strategy``, each pod volume) get a ``$retainKeys`` list, so that
switching ``type: Recreate`` drops the live ``rollingUpdate`` the manifest never contained.

Deliberate departures from Kubernetes, all so that re-applying an unchanged manifest yields ``{}``
(the CLI prints ``unchanged``) without changing what the server ends up with:

* a deletion is only sent if the live object still has the field;
* ``$setElementOrder`` is only sent if the list's content changes or the live order disagrees
  with the manifest (Kubernetes also sends it whenever the live list has server-only elements);
* ``$retainKeys`` is only sent if that map changes (Kubernetes also sends it whenever the live
  map has extra keys — e.g. the ``rollingUpdate`` defaulted under ``type: RollingUpdate``).

Conflict detection (``kubectl apply --overwrite=false``) is not implemented: apply overwrites.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from orchestrator.api.jsonvalue import JSONValue, json_contains, json_equal, json_unique
from orchestrator.api.patch import PatchError
from orchestrator.api.patch_strategic import MERGE_KEYS, RETAIN_KEYS, SET, Path

_SET_ORDER = "$setElementOrder/"
_DELETE_FROM = "$deleteFromPrimitiveList/"
_RETAIN_KEYS = "$retainKeys"

# Written by the server, never by the user: a patch must not try to set or clear them.
_SERVER_METADATA = (
    "resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink",
    "deletionTimestamp", "deletionGracePeriodSeconds",
)


@dataclass(frozen=True)
class _Schema:
    merge_keys: dict[Path, str]
    retain_keys: frozenset[Path]


def three_way_strategic_patch(original: dict, modified: dict, current: dict, kind: str) -> dict:
    """The strategic merge patch ``kubectl apply`` sends to turn ``current`` into ``modified``
    while deleting only what was removed since ``original``; ``{}`` when nothing would change."""
    table = MERGE_KEYS.get(kind)
    if table is None:
        raise PatchError(f"strategic merge patch is not supported for kind {kind!r}")
    for name, document in (("original", original), ("modified", modified), ("current", current)):
        if not isinstance(document, dict):
            raise PatchError(f"three-way patch: the {name} object must be a JSON object")
    schema = _Schema(table, RETAIN_KEYS.get(kind, frozenset()))
    # Private copies: the patch may reuse their subtrees, and must not alias the caller's data.
    original, modified, current = (_user_fields(doc) for doc in (original, modified, current))
    return _diff_map(original, modified, current, schema, ())


def _user_fields(document: dict) -> dict:
    """A deep copy of ``document`` without ``status`` and server-written metadata."""
    result = copy.deepcopy(document)
    result.pop("status", None)
    metadata = result.get("metadata")
    if isinstance(metadata, dict):
        for field in _SERVER_METADATA:
            metadata.pop(field, None)
    return result


# --- maps -----------------------------------------------------------------------------------------


def _diff_map(original: dict, modified: dict, current: dict, schema: _Schema, path: Path) -> dict:
    patch: dict = {}
    for key, value in modified.items():
        patch.update(_diff_field(key, original.get(key), value, current, schema, path + (key,)))
    for key in original:
        # Removed from the manifest since the last apply; if the live object has already lost
        # the field there is nothing to delete.
        if key not in modified and current.get(key) is not None:
            patch[key] = None
    if patch and path in schema.retain_keys:
        patch[_RETAIN_KEYS] = sorted(key for key, value in modified.items() if value is not None)
    return patch


def _diff_field(
    key: str, old: JSONValue, new: JSONValue, current: dict, schema: _Schema, path: Path
) -> dict:
    """The patch entries (the field itself, or its list directives) for one manifest field."""
    live = current.get(key)
    if new is None:
        # An explicit ``null`` in the manifest asks for the field to be absent.
        return {key: None} if live is not None else {}
    if key not in current:
        return {key: new}
    if isinstance(new, dict) and isinstance(live, dict):
        changes = _diff_map(old if isinstance(old, dict) else {}, new, live, schema, path)
        return {key: changes} if changes else {}
    strategy = schema.merge_keys.get(path)
    if isinstance(new, list) and isinstance(live, list) and strategy is not None:
        old_list = old if isinstance(old, list) else []
        if strategy is SET:
            return _diff_set(key, old_list, new, live, path)
        return _diff_keyed_list(key, old_list, new, live, strategy, schema, path)
    # Scalars, atomic lists and type changes: the manifest's value replaces the live one.
    return {} if json_equal(new, live) else {key: new}


# --- lists ----------------------------------------------------------------------------------------


def _diff_keyed_list(
    field: str, original: list, modified: list, current: list, key: str, schema: _Schema, path: Path
) -> dict:
    """Element-wise diff of a list merged by ``key``: changed or new elements, then deletions."""
    wanted = [_merge_value(element, key, path) for element in modified]
    if not current:
        # Nothing live to merge with or order against: the manifest's list is the patch.
        return {field: modified} if modified else {}
    elements = []
    for element, value in zip(modified, wanted):
        live = _find(current, key, value)
        if live is None:
            elements.append(element)
            continue
        old = _find(original, key, value) or {}
        if changes := _diff_map(old, element, live, schema, path + ("*",)):
            elements.append({key: value, **changes})
    live_values = _key_values(current, key)
    for value in json_unique(_key_values(original, key)):
        if not json_contains(wanted, value) and json_contains(live_values, value):
            elements.append({key: value, "$patch": "delete"})
    patch: dict = {}
    if elements or not _same_relative_order(wanted, live_values):
        patch[_SET_ORDER + field] = [{key: value} for value in wanted]
    if elements:
        patch[field] = elements
    return patch


def _diff_set(field: str, original: list, modified: list, current: list, path: Path) -> dict:
    """Diff of a list of scalars merged as a set (``finalizers``)."""
    if any(isinstance(item, (dict, list)) for item in original + modified + current):
        raise PatchError(f"three-way patch: {_where(path)}: a set-like list must hold scalars")
    additions = json_unique([value for value in modified if not json_contains(current, value)])
    removed = [value for value in original if not json_contains(modified, value)]
    deletions = json_unique([value for value in removed if json_contains(current, value)])
    patch: dict = {}
    if additions or deletions or not _same_relative_order(modified, current):
        patch[_SET_ORDER + field] = json_unique(modified)
    if additions:
        patch[field] = additions
    if deletions:
        patch[_DELETE_FROM + field] = deletions
    return patch


def _same_relative_order(wanted: list, live: list) -> bool:
    """Whether the values both lists share already appear in the same order in each.

    If they do, ``$setElementOrder`` would leave the live list as it is — server-only elements
    keep their places — so sending it would only make an unchanged apply look like a change.
    """
    shared_wanted = [value for value in json_unique(wanted) if json_contains(live, value)]
    shared_live = [value for value in json_unique(live) if json_contains(wanted, value)]
    return json_equal(shared_wanted, shared_live)


# --- small helpers --------------------------------------------------------------------------------


def _merge_value(element: JSONValue, key: str, path: Path) -> JSONValue:
    if not isinstance(element, dict) or element.get(key) is None:
        raise PatchError(f"three-way patch: {_where(path)}: element {element!r} has no {key!r}")
    return element[key]


def _key_values(items: list, key: str) -> list:
    """Merge-key values of ``items``; elements without one cannot be matched and are skipped."""
    return [item[key] for item in items if isinstance(item, dict) and item.get(key) is not None]


def _find(items: list, key: str, value: JSONValue) -> dict | None:
    # The first match, as the server merges into the first element carrying the key.
    matches = (item for item in items if isinstance(item, dict) and key in item)
    return next((item for item in matches if json_equal(item[key], value)), None)


def _where(path: Path) -> str:
    return ".".join(path).replace(".*", "[*]") or "<root>"
