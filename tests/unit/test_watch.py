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
