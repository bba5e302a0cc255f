"""An indexed, in-memory copy of every object of one kind, as its informer last saw them.

client-go's ``cache.Indexer``: objects by (namespace, name), plus secondary indexes so that the
questions controllers ask on every pass cost the size of the answer, not of the cluster:

* :attr:`Index.NAMESPACE` — the objects of one namespace;
* :attr:`Index.LABEL` — ``key=value`` of each label, so an equality-based selector
  (``app=web``; every ``matchLabels``) starts from the smallest matching set;
* :attr:`Index.OWNER` — the uid of each ownerReference: a ReplicaSet's pods, a Deployment's
  ReplicaSets, any owner's dependents for the garbage collector;
* :attr:`Index.NODE` — ``spec.nodeName``: the pods bound to a node.

**Objects are shared, never copied.** What :meth:`get` and :meth:`list` return is the very dict
the cache holds, as client-go's listers return shared pointers: a controller that wants a
changed version builds a new dict (``{**obj, "spec": …}``) and writes it through the client. The
:class:`MutationDetector` (client-go's ``KUBE_CACHE_MUTATION_DETECTOR``) catches a controller
that breaks the rule; the unit tests turn it on.

The cache is written by one informer thread and read by many controller threads; a lock makes
each read and each write atomic, which is all a level-triggered reader needs.
"""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from enum import Enum
from typing import Callable, Iterable

from orchestrator.api.selectors import LabelSelector, Operator


class Index(str, Enum):
    NAMESPACE = "namespace"
    LABEL = "label"
    OWNER = "owner"
    NODE = "node"


def _namespace(obj: dict) -> Iterable[str]:
    return (obj["metadata"].get("namespace") or "",)


def _labels(obj: dict) -> Iterable[str]:
    return (f"{key}={value}" for key, value in (obj["metadata"].get("labels") or {}).items())


def _owners(obj: dict) -> Iterable[str]:
    return (ref["uid"] for ref in obj["metadata"].get("ownerReferences") or [] if ref.get("uid"))


def _node(obj: dict) -> Iterable[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return (node,) if node else ()


_INDEXERS: dict[Index, Callable[[dict], Iterable[str]]] = {
    Index.NAMESPACE: _namespace, Index.LABEL: _labels, Index.OWNER: _owners, Index.NODE: _node,
}

ObjectKey = tuple[str, str]
#: what reads return (named here because ``Cache.list`` shadows ``list`` inside the class)
Objects = list[dict]


def object_key(obj: dict) -> ObjectKey:
    meta = obj["metadata"]
    return (meta.get("namespace") or "", meta["name"])


class Cache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[ObjectKey, dict] = {}
        self._indexes: dict[Index, defaultdict[str, set[ObjectKey]]] = {
            index: defaultdict(set) for index in Index}

    # -- reads ---------------------------------------------------------------------------------

    def get(self, namespace: str | None, name: str) -> dict | None:
        with self._lock:
            return self._objects.get((namespace or "", name))

    def list(self, namespace: str | None = None, selector: LabelSelector | None = None) -> Objects:
        """The objects of ``namespace`` (every namespace when None) that ``selector`` matches,
        sorted by namespace and name as the API lists them."""
        with self._lock:
            candidates = self._candidates(namespace, selector)
            objects = [self._objects[key] for key in sorted(candidates)] if candidates is not None else \
                [self._objects[key] for key in sorted(self._objects)]
        if selector is None or selector.empty:
            return objects
        return [obj for obj in objects if selector.matches(obj["metadata"].get("labels"))]

    def by_index(self, index: Index, value: str, namespace: str | None = None) -> Objects:
        """The objects whose ``index`` has ``value`` (pods on a node, dependents of an owner)."""
        with self._lock:
            keys = self._indexes[index].get(value, set())
            if namespace is not None:
                keys = keys & self._indexes[Index.NAMESPACE].get(namespace, set())
            return [self._objects[key] for key in sorted(keys)]

    def all(self) -> Objects:
        with self._lock:
            return list(self._objects.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._objects)

    def _candidates(self, namespace: str | None, selector: LabelSelector | None) -> set[ObjectKey] | None:
        """The smallest index set that must contain every answer; None means "everything"."""
        sets = []
        if namespace is not None:
            sets.append(self._indexes[Index.NAMESPACE].get(namespace, set()))
        for requirement in (selector.requirements if selector is not None else ()):
            if requirement.operator in (Operator.EQUALS, Operator.IN):
                label = self._indexes[Index.LABEL]
                sets.append(set().union(*(label.get(f"{requirement.key}={value}", set())
                                          for value in requirement.values)))
        if not sets:
            return None
        smallest = min(sets, key=len)
        return {key for key in smallest if all(key in other for other in sets if other is not smallest)}

    # -- writes (the informer's) ---------------------------------------------------------------

    def put(self, obj: dict) -> dict | None:
        """Store ``obj``; returns the version it replaced."""
        key = object_key(obj)
        with self._lock:
            previous = self._objects.get(key)
            if previous is not None:
                self._unindex(key, previous)
            self._objects[key] = obj
            self._index(key, obj)
            return previous

    def remove(self, obj: dict) -> dict | None:
        """Forget ``obj``; returns the version that was held."""
        key = object_key(obj)
        with self._lock:
            previous = self._objects.pop(key, None)
            if previous is not None:
                self._unindex(key, previous)
            return previous

    def _index(self, key: ObjectKey, obj: dict) -> None:
        for index, values_of in _INDEXERS.items():
            for value in values_of(obj):
                self._indexes[index][value].add(key)

    def _unindex(self, key: ObjectKey, obj: dict) -> None:
        for index, values_of in _INDEXERS.items():
            entries = self._indexes[index]
            for value in values_of(obj):
                keys = entries.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del entries[value]


class CacheMutated(AssertionError):
    """A reader changed an object the cache shares with every other reader."""


class MutationDetector:
    """Keeps a private deep copy of each object a cache hands out and compares on demand.

    Costly (every object twice, compared in full), so it is for tests: a controller that edits a
    cached dict in place would corrupt every other controller's view, and this says which
    object it was.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._copies: dict[int, tuple[dict, dict]] = {}

    def track(self, obj: dict) -> None:
        with self._lock:
            self._copies[id(obj)] = (obj, copy.deepcopy(obj))

    def forget(self, obj: dict | None) -> None:
        if obj is not None:
            with self._lock:
                self._copies.pop(id(obj), None)

    def check(self) -> None:
        with self._lock:
            pairs = list(self._copies.values())
        for shared, pristine in pairs:
            if shared != pristine:
                meta = pristine["metadata"]
                raise CacheMutated(
                    f"{pristine.get('kind', 'object')} {meta.get('namespace', '')}/{meta['name']} "
                    f"(resourceVersion {meta.get('resourceVersion')}) was changed in the informer cache; "
                    "copy it before editing")
