"""Watch filtering: selections entered and left become ADDED and DELETED, as in Kubernetes."""

from __future__ import annotations

import asyncio

from orchestrator.api.registry import kind_for
from orchestrator.api.selectors import parse_label_selector
from orchestrator.api.options import ListOptions
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.apiserver.watch import MAX_PENDING, WatchHub
from orchestrator.store import EventType, Key, MemoryStore, StoredEvent

POD = kind_for("v1", "Pod")


def obj(labels: dict) -> dict:
    return {"metadata": {"name": "p", "namespace": "default", "labels": labels}}


def event(kind: EventType, now: dict, before: dict | None = None, revision: int = 5) -> StoredEvent:
    return StoredEvent(kind, Key("pods", "default", "p"), now, revision, before)


def make_watch(selector: str = "app=web", namespace: str | None = "default"):
    hub = WatchHub(ObjectAPI(MemoryStore()))
    return hub.open(POD, namespace, ListOptions(label_selector=parse_label_selector(selector)))


def test_label_changes_enter_and_leave_the_selection():
    watch = make_watch()
    web, other = obj({"app": "web"}), obj({"app": "db"})
    assert watch.translate(event(EventType.ADDED, web)).type == "ADDED"
    assert watch.translate(event(EventType.ADDED, other)) is None
    assert watch.translate(event(EventType.MODIFIED, web, other)).type == "ADDED"
    assert watch.translate(event(EventType.MODIFIED, other, web)).type == "DELETED"
    assert watch.translate(event(EventType.MODIFIED, web, web)).type == "MODIFIED"
    assert watch.translate(event(EventType.MODIFIED, other, other)) is None
    assert watch.translate(event(EventType.DELETED, web, web)).type == "DELETED"


def test_other_namespaces_and_resources_are_filtered_out():
    watch = make_watch("")
    elsewhere = StoredEvent(EventType.ADDED, Key("pods", "kube-system", "p"), obj({}), 3)
    service = StoredEvent(EventType.ADDED, Key("services", "default", "p"), obj({}), 4)
    assert watch.translate(elsewhere) is None and watch.translate(service) is None


def test_a_watcher_that_falls_behind_is_expired_with_410():
    async def scenario():
        watch = make_watch("")
        watch.hub.watches.add(watch)
        for revision in range(1, MAX_PENDING + 3):
            watch.offer(event(EventType.ADDED, obj({}), revision=revision))
        watch.after = 0
        events = [e async for e in watch.stream("1", timeout=0.5)]
        return events

    events = asyncio.run(scenario())
    assert events[-1].type == "ERROR" and events[-1].object["code"] == 410


def test_closing_ends_a_waiting_watch_cleanly():
    """At shutdown the server ends every watch at once, with no ERROR event: the client watches again."""
    async def scenario():
        watch = make_watch("")
        api = watch.hub.api
        api.create(kind_for("v1", "Namespace"), None, {"metadata": {"name": "default"}})
        since = str(api.store.revision())
        events: list = []

        async def follow():
            async for e in watch.stream(since, timeout=30):
                events.append(e)

        following = asyncio.create_task(follow())
        await asyncio.sleep(0.05)  # the stream now waits for the next event
        started = asyncio.get_running_loop().time()
        watch.hub.close_all()
        await asyncio.wait_for(following, 1)
        return events, asyncio.get_running_loop().time() - started

    events, took = asyncio.run(scenario())
    assert events == [] and took < 0.5


def follow_until_end(watch, since: str, *, timeout: float, bookmarks: bool, close_after: float | None = None,
                     offer: list[StoredEvent] = ()):
    """The events of ``watch.stream`` from ``since``; ``offer`` arrives live, and the server closes
    the watch after ``close_after`` seconds if given."""
    async def scenario():
        watch.hub.watches.add(watch)
        for stored in offer:
            watch.offer(stored)
        if close_after is not None:
            asyncio.get_running_loop().call_later(close_after, watch.hub.close_all)
        return [e async for e in watch.stream(since, timeout=timeout, bookmarks=bookmarks)]

    return asyncio.run(scenario())


def test_a_watch_that_times_out_ends_with_a_bookmark_at_the_last_revision_it_weighed():
    """Events it did not select still move the bookmark: the client resumes after them."""
    watch = make_watch("app=web")
    web, other = obj({"app": "web"}), obj({"app": "db"})
    events = follow_until_end(watch, "1", timeout=0.2, bookmarks=True,
                              offer=[event(EventType.ADDED, web, revision=3),
                                     event(EventType.ADDED, other, revision=9)])
    assert [e.type for e in events] == ["ADDED", "BOOKMARK"]
    assert events[-1].object == {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": "9"}}


def test_a_watch_the_server_closes_ends_with_a_bookmark_too():
    watch = make_watch("")
    events = follow_until_end(watch, "4", timeout=30, bookmarks=True, close_after=0.05)
    assert [(e.type, e.object["metadata"]["resourceVersion"]) for e in events] == [("BOOKMARK", "4")]


def test_no_bookmark_unless_asked_for():
    assert follow_until_end(make_watch(""), "4", timeout=0.1, bookmarks=False) == []
    assert follow_until_end(make_watch(""), "4", timeout=30, bookmarks=False, close_after=0.05) == []


def test_a_watch_opened_while_the_server_stops_ends_at_once():
    """A client whose watch was closed opens the next on its kept-alive connection: that one must
    not hold the stopping server for its graceful-shutdown timeout."""
    watch = make_watch("")
    watch.hub.close_all()
    again = watch.hub.open(POD, "default", ListOptions())
    assert follow_until_end(again, "0", timeout=30, bookmarks=True) == []
