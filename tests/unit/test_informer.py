"""The shared informers and their cache (orchestrator.client), on the in-memory store through the
in-process client: indexes, relisting after 410 Gone, handler isolation, reading one's own
writes, and the mutation detector."""

from __future__ import annotations

import threading
import time
from typing import Iterable

import pytest

from orchestrator.api import errors
from orchestrator.api.options import PatchType
from orchestrator.api.registry import kind_for
from orchestrator.api.selectors import parse_label_selector
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.client.cache import Cache, CacheMutated, Index
from orchestrator.client.consistency import WriteTracker
from orchestrator.client.informer import Change, Informers
from orchestrator.client.protocol import WatchEventType
from orchestrator.controllers.base import Controller, ControllerRunner
from orchestrator.controllers.replicaset import ReplicaSetController
from orchestrator.controlplane.localclient import LocalClient
from orchestrator.store import MemoryStore

POD, NODE = kind_for("v1", "Pod"), kind_for("v1", "Node")
RS = kind_for("apps/v1", "ReplicaSet")


def pod(name: str, labels: dict | None = None, node: str | None = None, owner: str | None = None) -> dict:
    meta: dict = {"name": name, "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": owner,
                                    "controller": True}]
    spec: dict = {"containers": [{"name": "c", "image": "nginx:latest"}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": meta, "spec": spec}


# ── the cache ────────────────────────────────────────────────────────────────────────────────


def stored(name: str, namespace: str = "default", **extra) -> dict:
    return {"metadata": {"name": name, "namespace": namespace, "labels": extra.pop("labels", {}),
                         **extra.pop("metadata", {})}, **extra}


def test_the_indexes_answer_what_controllers_ask():
    cache = Cache()
    cache.put(stored("a", labels={"app": "web", "tier": "front"}, spec={"nodeName": "n1"},
                     metadata={"ownerReferences": [{"uid": "rs-1"}]}))
    cache.put(stored("b", labels={"app": "web"}, spec={"nodeName": "n2"}, metadata={"ownerReferences": [{"uid": "rs-1"}]}))
    cache.put(stored("c", "other", labels={"app": "web"}, spec={"nodeName": "n1"}))
    cache.put(stored("d", labels={"app": "db"}))
    names = lambda objs: [o["metadata"]["name"] for o in objs]  # noqa: E731
    assert names(cache.list()) == ["a", "b", "d", "c"]  # by namespace, then name, as the API lists
    assert names(cache.list("default")) == ["a", "b", "d"]
    assert names(cache.list(None, parse_label_selector("app=web"))) == ["a", "b", "c"]
    assert names(cache.list("default", parse_label_selector("app in (web, db),tier!=front"))) == ["b", "d"]
    assert names(cache.list("default", parse_label_selector("!tier"))) == ["b", "d"]
    assert names(cache.by_index(Index.OWNER, "rs-1")) == ["a", "b"]
    assert names(cache.by_index(Index.NODE, "n1")) == ["a", "c"]
    assert names(cache.by_index(Index.NODE, "n1", "other")) == ["c"]
    assert cache.get("default", "a")["spec"] == {"nodeName": "n1"} and cache.get("default", "zz") is None


def test_a_changed_object_leaves_its_old_index_entries():
    cache = Cache()
    cache.put(stored("a", labels={"app": "web"}, spec={"nodeName": "n1"}))
    cache.put(stored("a", labels={"app": "db"}, spec={"nodeName": "n2"}))
    assert cache.list(None, parse_label_selector("app=web")) == [] and cache.by_index(Index.NODE, "n1") == []
    assert len(cache.by_index(Index.NODE, "n2")) == 1
    cache.remove(stored("a"))
    assert cache.by_index(Index.NODE, "n2") == [] and len(cache) == 0


# ── the informer ─────────────────────────────────────────────────────────────────────────────


@pytest.fixture
def informers(api: ObjectAPI) -> Informers:
    return Informers(LocalClient(api), detect_mutations=True)


def record(informers: Informers, kind=POD) -> list[tuple[str, str, str | None]]:
    """Changes as (type, name, previous resourceVersion)."""
    seen: list[tuple[str, str, str | None]] = []
    informers.informer(kind).add_handler("recorder", lambda c: seen.append(
        (c.type.value, c.name, c.previous["metadata"]["resourceVersion"] if c.previous else None)))
    return seen


def test_changes_reach_handlers_after_the_cache_with_the_version_before(api, informers):
    api.create(POD, "default", pod("early"))
    seen = record(informers)
    cached_when_handled = []
    informers.informer(POD).add_handler("checker", lambda c: cached_when_handled.append(
        informers.cache(POD).get(c.namespace, c.name) is (None if c.type is WatchEventType.DELETED else c.object)))
    informers.pump()
    first = api.get(POD, "default", "early")["metadata"]["resourceVersion"]
    api.patch(POD, "default", "early", PatchType.MERGE, {"metadata": {"labels": {"v": "2"}}})
    api.delete(POD, "default", "early")
    informers.pump()
    assert [(t, n) for t, n, _ in seen] == [("ADDED", "early"), ("MODIFIED", "early"), ("DELETED", "early")]
    assert seen[1][2] == first  # the handler sees what changed
    assert all(cached_when_handled)


def test_a_lost_watch_is_replaced_by_a_relist_that_reports_the_difference():
    store = MemoryStore(history=3)
    small = ObjectAPI(store)
    small.create(kind_for("v1", "Namespace"), None, {"metadata": {"name": "default"}})
    informers = Informers(LocalClient(small))
    seen = record(informers)
    for name in ("a", "b"):
        small.create(POD, "default", pod(name))
    informers.pump()
    informer = informers.informer(POD)
    informer._close_stream()  # the watch drops (a restart, a network cut) …
    small.delete(POD, "default", "a")
    for name in ("c", "d", "e", "f"):  # … and the store compacts what it missed
        small.create(POD, "default", pod(name))
    with pytest.raises(errors.ApiError) as gone:
        LocalClient(small).watch(POD, informer.revision)
    assert gone.value.code == 410
    informers.pump()
    # the deletion is reported although its event is gone, with the last version the cache held
    assert [(t, n) for t, n, _ in seen[2:]] == [("DELETED", "a"), ("ADDED", "c"), ("ADDED", "d"), ("ADDED", "e"),
                                                ("ADDED", "f")]
    assert sorted(p["metadata"]["name"] for p in informers.cache(POD).list()) == ["b", "c", "d", "e", "f"]


class GoneOnce(LocalClient):
    """Its first watch is refused with 410 Gone, as after a compaction between list and watch."""

    refused = 0

    def watch(self, kind, resource_version):
        if not self.refused:
            self.refused += 1
            raise errors.gone(f"too old resource version: {resource_version}")
        return super().watch(kind, resource_version)


def test_a_running_informer_lists_again_when_its_watch_is_gone(api):
    client = GoneOnce(api)
    informers = Informers(client)
    seen = record(informers)
    informers.start()
    try:
        api.create(POD, "default", pod("after"))
        deadline = time.monotonic() + 2
        while ("ADDED", "after", None) not in seen:
            assert time.monotonic() < deadline, f"the informer never recovered: {seen}"
            time.sleep(0.01)
        assert client.refused == 1
    finally:
        informers.stop()


def test_a_handler_that_raises_is_counted_and_the_others_keep_hearing(api, informers):
    heard = record(informers)
    informers.informer(POD).add_handler("broken", lambda change: 1 / 0)
    heard_after = record(informers)
    for name in ("a", "b"):
        api.create(POD, "default", pod(name))
    informers.pump()
    assert len(heard) == len(heard_after) == 2
    assert informers.informer(POD).handler_errors == {"broken": 2}


def test_waiting_for_a_revision_returns_once_the_cache_reflects_it(api):
    informers = Informers(LocalClient(api))
    informers.informer(POD)
    informers.start()
    try:
        written = api.create(POD, "default", pod("a")).object
        revision = int(written["metadata"]["resourceVersion"])
        assert informers.wait_for(POD, revision, timeout=2)
        assert informers.cache(POD).get("default", "a") is not None
        assert not informers.wait_for(POD, revision + 100, timeout=0.05)  # nothing of that kind will come
        assert informers.wait_for(NODE, revision + 100, timeout=0)  # nobody informs on nodes here
    finally:
        informers.stop()


def test_a_write_tracker_waits_for_the_kinds_it_wrote(api):
    informers = Informers(LocalClient(api))
    informers.informer(POD)
    tracker = WriteTracker(LocalClient(api), informers)
    tracker.create(POD, "default", pod("mine"))
    assert informers.cache(POD).get("default", "mine") is None  # no informer thread has run
    tracker.settle()  # without threads, settling pumps
    assert informers.cache(POD).get("default", "mine") is not None


def test_the_mutation_detector_names_an_object_edited_in_the_cache(api, informers):
    api.create(POD, "default", pod("shared"))
    informers.cache(POD)
    informers.pump()
    informers.cache(POD).get("default", "shared")["metadata"]["labels"]["oops"] = "x"
    with pytest.raises(CacheMutated, match="default/shared"):
        informers.pump()


# ── controllers on shared informers ──────────────────────────────────────────────────────────


class Broken(Controller[str]):
    """A controller whose event handler fails on every change it is handed."""

    name = "broken"
    watches = (POD, RS)

    def keys_for(self, change: Change) -> Iterable[str]:
        raise RuntimeError("this handler is broken on purpose")

    def resync_keys(self) -> Iterable[str]:
        return []

    def reconcile(self, key: str) -> None:
        raise AssertionError("never reached")


def test_one_controllers_broken_handler_leaves_the_others_reacting_within_a_second(api):
    client = LocalClient(api)
    informers = Informers(client)
    runner = ControllerRunner(informers, [Broken(client, informers), ReplicaSetController(client, informers)])
    runner.start()
    try:
        started = time.monotonic()
        api.create(RS, "default", {"metadata": {"name": "web"}, "spec": {
            "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "c", "image": "nginx:latest"}]}}}})
        while len(api.list(POD, "default")[0]) < 2:
            assert time.monotonic() - started < 1.0, "the ReplicaSet controller did not react within a second"
            time.sleep(0.01)
        metrics = "\n".join(runner.metrics())
        errors_line = next(line for line in metrics.splitlines()
                           if line.startswith('dockyard_controller_event_handler_errors_total{controller="broken"}'))
        assert int(errors_line.split()[-1]) >= 3  # the ReplicaSet and both pods, at least
        assert 'dockyard_controller_event_handler_errors_total{controller="replicaset-controller"} 0' in metrics
    finally:
        runner.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("dockyard-informer-")]
