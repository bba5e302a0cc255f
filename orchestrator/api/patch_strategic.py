"""Kubernetes strategic merge patch (``application/strategic-merge-patch+json``).

This is the server side of k8s.io/apimachinery/pkg/util/strategicpatch (``StrategicMergeMapPatch``),
re-derived from its semantics rather than translated:

* Maps merge recursively and ``null`` deletes a key, exactly as in RFC 7386.
* A list is merged only if the schema says so (:data:`MERGE_KEYS`): lists of objects merge
  element-wise by their merge key, lists of scalars marked :data:`SET` merge as sets, and every
  other list is atomic — the patch value replaces it (``tolerations``, ``args``, ``command``…).
* Directives, none of which survive into the result:

  - ``$patch: replace`` in a map replaces the map; as a list element it replaces the whole list;
  - ``$patch: delete`` in a map empties it (Kubernetes leaves ``{}`` behind, and so do we); as a
    list element it deletes the element(s) with that merge key;
  - ``$patch: merge`` is the explicit default and changes nothing (Kubernetes rejects it in lists);
  - ``$retainKeys: [...]`` drops every key of the live map that is not listed (``kubectl apply``
    sends it for ``Deployment.spec.strategy`` and pod volumes);
  - ``$deleteFromPrimitiveList/<field>: [...]`` removes those values from a set-like list;
  - ``$setElementOrder/<field>: [...]`` fixes the order of a merged list (``kubectl apply`` always
    sends it next to a merged list, see :func:`_order`).

Where Kubernetes' behaviour is an accident of its Go implementation — a patch value for a key the
object lacks is stored verbatim, directives and ``null`` values included — this module instead
merges it into an empty value, so that directives never appear in the result.
"""

from __future__ import annotations

import copy
import json
from typing import Any, TypeVar

from orchestrator.api.jsonvalue import JSONValue, json_contains, json_equal, json_unique
from orchestrator.api.patch import PatchError

Path = tuple[str, ...]
Table = dict[Path, str]  # one kind's slice of MERGE_KEYS
T = TypeVar("T")

SET = "<set>"
"""Strategy for a list of scalars merged as a set (``patchStrategy:"merge"`` with no merge key)."""


def _under(prefix: Path, table: dict[Path, T]) -> dict[Path, T]:
    return {prefix + path: value for path, value in table.items()}


# Each block mirrors the ``patchStrategy``/``patchMergeKey`` struct tags of one Go type in
# k8s.io/api (core/v1 and apps/v1, as of Kubernetes 1.32) and k8s.io/apimachinery (ObjectMeta).
# Paths are JSON field names; "*" stands for "each element of the list".
_OBJECT_META: Table = {("ownerReferences",): "uid", ("finalizers",): SET}
_CONTAINER: Table = {
    ("ports",): "containerPort",
    ("env",): "name",
    ("volumeMounts",): "mountPath",
    ("volumeDevices",): "devicePath",
}
_POD_SPEC: Table = {
    ("containers",): "name",
    ("initContainers",): "name",
    ("ephemeralContainers",): "name",
    ("volumes",): "name",
    ("imagePullSecrets",): "name",
    ("hostAliases",): "ip",
    ("topologySpreadConstraints",): "topologyKey",
    ("resourceClaims",): "name",
    ("schedulingGates",): "name",
    **_under(("containers", "*"), _CONTAINER),
    **_under(("initContainers", "*"), _CONTAINER),
    **_under(("ephemeralContainers", "*"), _CONTAINER),
    # the claim template of a generic ephemeral volume carries an ObjectMeta of its own
    **_under(("volumes", "*", "ephemeral", "volumeClaimTemplate", "metadata"), _OBJECT_META),
}
_POD_STATUS: Table = {
    ("conditions",): "type",
    ("podIPs",): "ip",
    ("hostIPs",): "ip",
    ("resourceClaimStatuses",): "name",
}
_METADATA = _under(("metadata",), _OBJECT_META)
_POD_TEMPLATE = {
    **_under(("spec", "template", "metadata"), _OBJECT_META),
    **_under(("spec", "template", "spec"), _POD_SPEC),
}
_STATUS_CONDITIONS: Table = {("status", "conditions"): "type"}

MERGE_KEYS: dict[str, Table] = {
    "Pod": {**_METADATA, **_under(("spec",), _POD_SPEC), **_under(("status",), _POD_STATUS)},
    "ReplicaSet": {**_METADATA, **_POD_TEMPLATE, **_STATUS_CONDITIONS},
    "Deployment": {**_METADATA, **_POD_TEMPLATE, **_STATUS_CONDITIONS},
    "Service": {**_METADATA, ("spec", "ports"): "port", **_STATUS_CONDITIONS},
    "Endpoints": _METADATA,  # subsets, addresses and ports are all atomic lists
    "Node": {
        **_METADATA,
        ("spec", "podCIDRs"): SET,
        ("status", "addresses"): "type",
        **_STATUS_CONDITIONS,
    },
    "Namespace": {**_METADATA, **_STATUS_CONDITIONS},
    "ConfigMap": _METADATA,
    "Secret": _METADATA,
    "Event": _METADATA,
    "EndpointSlice": _METADATA,  # endpoints, ports and addresses are atomic lists
    "Lease": _METADATA,
}
"""Per kind: JSON path of a mergeable list → its merge key, or :data:`SET` for scalar sets.

Lists not listed here are atomic. Maps need no entry: they always merge (labels, annotations,
ConfigMap data…). Built from the struct tags of k8s.io/api, e.g. ``Containers []Container
`patchStrategy:"merge" patchMergeKey:"name"```; ``Tolerations``, ``EnvFrom``, ``Args`` and
``Command`` carry no tag, hence are replaced wholesale.
"""

# The rest of the struct tags and markers about the same fields. The server needs none of them (it
# follows the ``$retainKeys`` directives a patch carries): dockyard's own client diff
# (:mod:`orchestrator.api.patch_diff`) and the OpenAPI document kubectl computes its patches from
# (:mod:`orchestrator.api.openapi_schemas`) read them.
_TEMPLATE_VOLUMES: frozenset[Path] = frozenset({("spec", "template", "spec", "volumes", "*"),
                                                 ("spec", "template", "spec", "resourceClaims", "*")})
RETAIN_KEYS: dict[str, frozenset[Path]] = {
    "Pod": frozenset({("spec", "volumes", "*"), ("spec", "resourceClaims", "*"),
                      ("status", "resourceClaimStatuses", "*")}),
    "ReplicaSet": _TEMPLATE_VOLUMES,
    "Deployment": _TEMPLATE_VOLUMES | {("spec", "strategy")},
}
"""Per kind: the maps a client diff marks with ``$retainKeys`` (``patchStrategy:"retainKeys"`` in
k8s.io/api): apps/v1 ``DeploymentStrategy``, so that switching to Recreate drops ``rollingUpdate``,
and each element of the core/v1 lists tagged ``merge,retainKeys`` (a volume, so that switching its
source drops the old one). A path ending in "*" means every element of that list."""

_CONTAINER_MAP_KEYS: dict[Path, tuple[str, ...]] = {("ports",): ("containerPort", "protocol")}
_POD_SPEC_MAP_KEYS: dict[Path, tuple[str, ...]] = {
    ("topologySpreadConstraints",): ("topologyKey", "whenUnsatisfiable"),
    **_under(("containers", "*"), _CONTAINER_MAP_KEYS),
    **_under(("initContainers", "*"), _CONTAINER_MAP_KEYS),
    **_under(("ephemeralContainers", "*"), _CONTAINER_MAP_KEYS),
}
LIST_MAP_KEYS: dict[str, dict[Path, tuple[str, ...]]] = {
    "Pod": _under(("spec",), _POD_SPEC_MAP_KEYS),
    "ReplicaSet": _under(("spec", "template", "spec"), _POD_SPEC_MAP_KEYS),
    "Deployment": _under(("spec", "template", "spec"), _POD_SPEC_MAP_KEYS),
    "Service": {("spec", "ports"): ("port", "protocol")},
}
"""Per kind: keyed lists whose server-side-apply keys (``+listMapKey``) are more than the merge key.
A strategic merge still matches their elements on the merge key alone."""

SSA_ATOMIC: dict[str, frozenset[Path]] = {"Pod": frozenset({("status", "hostIPs")})}
"""Per kind: lists merged by key in a strategic merge patch but atomic to server-side apply."""

SUPPORTED_KINDS = frozenset(MERGE_KEYS)

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_SET_ORDER = "$setElementOrder/"
_DELETE_FROM = "$deleteFromPrimitiveList/"


def strategic_merge_patch(original: dict, patch: dict, kind: str) -> dict:
    """Apply ``patch`` to ``original``, an object of ``kind`` (apiVersion does not matter)."""
    table = MERGE_KEYS.get(kind)
    if table is None:
        raise PatchError(f"strategic merge patch is not supported for kind {kind!r}")
    if not isinstance(original, dict) or not isinstance(patch, dict):
        raise PatchError("strategic merge patch: the object and the patch must be JSON objects")
    return _merge_map(copy.deepcopy(original), copy.deepcopy(patch), table, ())


def _merge_map(original: dict, patch: dict, table: Table, path: Path) -> dict:
    patch = dict(patch)
    directive = patch.pop(_DIRECTIVE, None)
    if directive == "delete":
        return {}
    if directive == "replace":
        # Built from the patch alone, so that directives nested inside it are still honoured.
        return _merge_map({}, patch, table, path)
    if directive not in (None, "merge"):
        raise _error(path, f"unknown $patch directive {directive!r}")
    result = _retain_keys(original, patch, path)
    orders = _pop_prefixed(patch, _SET_ORDER, path)
    deletions = _pop_prefixed(patch, _DELETE_FROM, path)
    for field, order in orders.items():
        # Consumes patch[field] too: the order directive and its list are merged together.
        _order(result, patch, field, order, table, path + (field,))
    for key, value in patch.items():
        if key.startswith("$"):
            raise _error(path, f"unknown directive {key!r}")
        _merge_field(result, key, value, table, path + (key,))
    for field, values in deletions.items():
        _delete_from_primitive_list(result, field, values)
    return result


def _merge_field(result: dict, key: str, value: JSONValue, table: Table, path: Path) -> None:
    current = result.get(key)
    if value is None:
        result.pop(key, None)
    elif isinstance(current, dict) and isinstance(value, dict):
        result[key] = _merge_map(current, value, table, path)
    elif isinstance(current, list) and isinstance(value, list):
        result[key] = _merge_list(current, value, table, path)
    else:
        result[key] = _fresh(value, table, path)


def _fresh(value: JSONValue, table: Table, path: Path) -> Any:
    """A patch value that has nothing to merge with (new key, or type changed), minus directives."""
    if isinstance(value, dict):
        return _merge_map({}, value, table, path)
    if isinstance(value, list):
        return _merge_list([], value, table, path)
    return value


def _retain_keys(original: dict, patch: dict, path: Path) -> dict:
    retain = patch.pop(_RETAIN_KEYS, None)
    if retain is None:
        return dict(original)
    if not isinstance(retain, list) or not all(isinstance(key, str) for key in retain):
        raise _error(path, "$retainKeys must be a list of field names")
    for key, value in patch.items():
        parallel = key.startswith(_SET_ORDER) or key.startswith(_DELETE_FROM)
        # A patch that sets a field it does not retain contradicts itself.
        if value is not None and not parallel and key not in retain:
            raise _error(path, f"field {key!r} is set but missing from $retainKeys {retain}")
    return {key: value for key, value in original.items() if key in retain}


def _pop_prefixed(patch: dict, prefix: str, path: Path) -> dict[str, list]:
    found = {}
    for key in [key for key in patch if key.startswith(prefix)]:
        field, value = key[len(prefix):], patch.pop(key)
        if not field or not isinstance(value, list):
            raise _error(path, f"{key!r} must name a field and hold a list")
        found[field] = value
    return found


# --- lists ----------------------------------------------------------------------------------------


def _merge_list(original: list, patch: list, table: Table, path: Path) -> list:
    strategy = table.get(path)
    if strategy is None:
        return patch
    if not original and not patch:
        return []
    if _element_kind(original + patch, path) == "scalar":
        if strategy is not SET:
            raise _error(path, f"elements must be objects with the merge key {strategy!r}")
        merged = json_unique(original + patch)
        return _normalize(merged, patch, original, None)
    if strategy is SET:
        raise _error(path, "cannot merge a list of objects that has no merge key")
    return _merge_keyed_list(original, patch, strategy, table, path)


def _merge_keyed_list(original: list, patch: list, key: str, table: Table, path: Path) -> list:
    original, plain = _list_directives(original, patch, key, path)
    merged = list(original)
    for element in plain:
        position = _find(merged, element[key], key)
        if position is None:
            merged.append(_merge_map({}, element, table, path + ("*",)))
        else:
            merged[position] = _merge_map(merged[position], element, table, path + ("*",))
    return _normalize(merged, plain, original, key)


def _list_directives(original: list, patch: list, key: str, path: Path) -> tuple[list, list]:
    """Apply the ``$patch`` elements of a keyed patch list; return (live list, plain elements)."""
    plain, replace = [], False
    for element in patch:
        if _DIRECTIVE not in element:
            _merge_value(element, key, path)
            plain.append(element)
        elif element[_DIRECTIVE] == "delete":
            value = _merge_value(element, key, path)
            original = [item for item in original if not _has_key(item, key, value)]
        elif element[_DIRECTIVE] == "replace":
            replace = True
        elif element[_DIRECTIVE] != "merge":
            raise _error(path, f"unknown $patch directive {element[_DIRECTIVE]!r}")
    return ([] if replace else original), plain


def _order(result: dict, patch: dict, field: str, order: list, table: Table, path: Path) -> None:
    """Merge ``patch[field]`` into ``result[field]`` and sort it as ``$setElementOrder`` says.

    Kubernetes' precedence is: the directive's order, then the patch list's order, then the live
    order. Elements of the live list that the directive does not mention (added by someone other
    than ``kubectl apply``) are kept and slotted in where they sat relative to the others.
    """
    strategy = table.get(path)
    key = strategy if strategy not in (None, SET) else None
    if key is not None:
        for item in order:
            _merge_value(item, key, path)
    in_patch = field in patch
    patch_list = patch.pop(field, [])
    if not isinstance(patch_list, list):
        raise _error(path, "must be a list to go with $setElementOrder")
    _check_order(patch_list, order, key, path)
    current = result.get(field)
    live = current if isinstance(current, list) else None
    if in_patch:
        merged = _merge_list(live or [], patch_list, table, path)
    elif live is not None:
        merged = live
    else:
        return
    result[field] = _normalize(merged, order, live or [], key)


def _check_order(patch_list: list, order: list, key: str | None, path: Path) -> None:
    """The patch's own elements must appear in ``order``, in the same relative order."""
    position = 0
    for element in patch_list:
        if isinstance(element, dict) and _DIRECTIVE in element:
            continue
        value = element if key is None else _merge_value(element, key, path)
        while position < len(order) and not _matches(order[position], value, key):
            position += 1
        if position == len(order):
            raise _error(path, f"the patch list's order does not match $setElementOrder {order}")
        position += 1


def _normalize(merged: list, patch_order: list, live_order: list, key: str | None) -> list:
    """Order a merged list like Kubernetes' ``normalizeElementOrder``.

    Elements the patch mentions are sorted by the patch's order, the others by the live order; the
    two runs are then interleaved, taking a live-only element first only while it precedes, in the
    live list, the next patch element.
    """
    in_patch = [item for item in merged if _position(patch_order, item, key) is not None]
    live_only = [item for item in merged if _position(patch_order, item, key) is None]
    in_patch.sort(key=lambda item: _rank(patch_order, item, key))
    live_only.sort(key=lambda item: _rank(live_order, item, key))
    result: list = []
    while live_only and in_patch:
        left = _position(live_order, live_only[0], key)
        right = _position(live_order, in_patch[0], key)
        take_left = left is not None and right is not None and left < right
        result.append((live_only if take_left else in_patch).pop(0))
    return result + live_only + in_patch


def _position(order: list, item: JSONValue, key: str | None) -> int | None:
    """Index of the first element of ``order`` that is ``item`` (by merge key, if there is one)."""
    value = item if key is None else (item.get(key) if isinstance(item, dict) else None)
    matches = (index for index, candidate in enumerate(order) if _matches(candidate, value, key))
    return next(matches, None)


def _rank(order: list, item: JSONValue, key: str | None) -> int:
    position = _position(order, item, key)
    return len(order) if position is None else position


def _delete_from_primitive_list(result: dict, field: str, values: list) -> None:
    current = result.get(field)
    if isinstance(current, list):
        result[field] = [item for item in current if not json_contains(values, item)]


# --- small helpers --------------------------------------------------------------------------------


def _element_kind(items: list, path: Path) -> str:
    kinds = {type(item).__name__ if isinstance(item, (dict, list)) else "scalar" for item in items}
    if "list" in kinds:
        raise _error(path, "lists of lists cannot be merged")
    if len(kinds) > 1:
        raise _error(path, "list elements are not all of the same type")
    return kinds.pop()


def _merge_value(element: JSONValue, key: str, path: Path) -> JSONValue:
    if not isinstance(element, dict) or key not in element:
        raise _error(path, f"map: {json.dumps(element)} does not contain declared merge key: {key}")
    return element[key]


def _find(items: list, value: JSONValue, key: str) -> int | None:
    return next((index for index, item in enumerate(items) if _has_key(item, key, value)), None)


def _has_key(item: JSONValue, key: str, value: JSONValue) -> bool:
    return isinstance(item, dict) and key in item and json_equal(item[key], value)


def _matches(candidate: JSONValue, value: JSONValue, key: str | None) -> bool:
    return json_equal(candidate, value) if key is None else _has_key(candidate, key, value)


def _error(path: Path, message: str) -> PatchError:
    where = ".".join(path).replace(".*", "[*]") or "<root>"
    return PatchError(f"strategic merge patch: {where}: {message}")
