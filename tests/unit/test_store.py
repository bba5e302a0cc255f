"""One contract suite, run against the SQLite store and the in-memory fake."""

import threading

import pytest

from orchestrator.store import (
    EventType, Key, KeyExists, KeyNotFound, MemoryStore, RevisionCompacted, RevisionConflict,
    SQLiteStore, Watcher,
)


@pytest.fixture(params=["sqlite", "memory"])
def store(request, tmp_path):
    made = SQLiteStore(tmp_path / "state.db") if request.param == "sqlite" else MemoryStore()
    yield made
    made.close()


def pod(name, **extra):
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "default"}, **extra}


def key(name):
    return Key("pods", "default", name)


def test_create_stamps_monotonic_revisions(store):
    first = store.create(key("a"), pod("a"))
    second = store.create(key("b"), pod("b"))
    assert int(first["metadata"]["resourceVersion"]) < int(second["metadata"]["resourceVersion"])
    assert store.get(key("a")) == first
    assert store.revision() == int(second["metadata"]["resourceVersion"])


def test_duplicate_create_is_refused(store):
    store.create(key("a"), pod("a"))
    with pytest.raises(KeyExists):
        store.create(key("a"), pod("a"))


def test_update_compares_and_swaps(store):
    created = store.create(key("a"), pod("a"))
    read_rev = int(created["metadata"]["resourceVersion"])
    updated = store.update(key("a"), pod("a", spec={"x": 1}), expected_revision=read_rev)
    with pytest.raises(RevisionConflict):
        store.update(key("a"), pod("a", spec={"x": 2}), expected_revision=read_rev)
    assert store.get(key("a")) == updated


def test_missing_keys(store):
    with pytest.raises(KeyNotFound):
        store.get(key("nope"))
    with pytest.raises(KeyNotFound):
        store.update(key("nope"), pod("nope"))
    with pytest.raises(KeyNotFound):
        store.delete(key("nope"))


def test_delete_with_stale_revision_changes_nothing(store):
    created = store.create(key("a"), pod("a"))
    store.update(key("a"), pod("a", spec={"x": 1}))
    with pytest.raises(RevisionConflict):
        store.delete(key("a"), expected_revision=int(created["metadata"]["resourceVersion"]))
    store.get(key("a"))


def test_list_is_scoped_sorted_and_paginated(store):
    for name in ["c", "a", "b"]:
        store.create(key(name), pod(name))
    store.create(Key("pods", "other", "z"), pod("z"))
    store.create(Key("services", "default", "a"), {"metadata": {"name": "a"}})
    page = store.list("pods", "default", limit=2)
    assert [o["metadata"]["name"] for o in page.items] == ["a", "b"]
    assert page.next_after == ("default", "b")
    rest = store.list("pods", "default", limit=2, after=page.next_after)
    assert [o["metadata"]["name"] for o in rest.items] == ["c"] and rest.next_after is None
    assert len(store.list("pods").items) == 4


def test_events_replay_in_order_and_deleted_carries_the_object(store):
    start = store.revision()
    store.create(key("a"), pod("a"))
    store.update(key("a"), pod("a", spec={"x": 1}))
    store.delete(key("a"))
    events = store.events_since(start)
    assert [e.type for e in events] == [EventType.ADDED, EventType.MODIFIED, EventType.DELETED]
    assert events[-1].object["spec"] == {"x": 1}
    assert [e.revision for e in events] == sorted(e.revision for e in events)


def test_compacted_history_is_gone(tmp_path):
    small = MemoryStore(history=3)
    for name in "abcdef":
        small.create(key(name), pod(name))
    with pytest.raises(RevisionCompacted):
        small.events_since(0)
    assert len(small.events_since(small.revision() - 2)) == 2


def test_watcher_sees_history_then_live_events_exactly_once(store):
    store.create(key("a"), pod("a"))
    watcher = Watcher(store, 0)
    store.create(key("b"), pod("b"))
    seen = [watcher.next(timeout=1).key.name, watcher.next(timeout=1).key.name]
    assert seen == ["a", "b"]
    assert watcher.next(timeout=0.05) is None
    watcher.close()


def test_concurrent_writers_get_distinct_revisions(store):
    def write(prefix):
        for i in range(25):
            store.create(key(f"{prefix}-{i}"), pod(f"{prefix}-{i}"))

    threads = [threading.Thread(target=write, args=(p,)) for p in "wxyz"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    revisions = [int(o["metadata"]["resourceVersion"]) for o in store.list("pods").items]
    assert len(set(revisions)) == 100


def test_sqlite_survives_reopen(tmp_path):
    path = tmp_path / "state.db"
    first = SQLiteStore(path)
    first.create(key("a"), pod("a"))
    rev = first.revision()
    first.close()
    again = SQLiteStore(path)
    assert again.get(key("a"))["metadata"]["resourceVersion"] == str(rev)
    again.create(key("b"), pod("b"))
    assert again.revision() == rev + 1
    assert again.integrity_check() == "ok"
    again.close()
