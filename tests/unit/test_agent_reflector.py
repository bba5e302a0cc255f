"""The agent's reflector lists once and resumes every watch from the last revision it saw.

The API here is scripted: each watch call takes the next script entry, the events it yields and
how it ends (cleanly, a broken stream, a 410). What the real server and ApiClient do in those
cases (BOOKMARK on a clean end, ApiUnavailable on a broken stream, replay after a restart) is
checked against a real ``dockyard server`` in ``tests/e2e/test_watch_resume.py``, and the whole
agent across a control-plane restart in ``tests/integration/test_watch_resumption.py``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from agent.apiclient import ApiRejected, ApiUnavailable
from agent.reflector import Reflector


def pod(name: str, revision: int) -> dict:
    return {"metadata": {"name": name, "namespace": "default", "resourceVersion": str(revision)}}


def bookmark(revision: int) -> dict:
    return {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": str(revision)}}


@dataclass
class ScriptedApi:
    """``lists``: what each list returns; ``watches``: per watch, its events and then how it
    ends (None: the server closed it; an exception: raised). The last watch stops the reflector."""
    lists: list[tuple[list[dict], str]]
    watches: list[tuple[list[tuple[str, dict]], Exception | None]]
    stop: threading.Event = field(default_factory=threading.Event)
    listed: int = 0
    watched_from: list[str] = field(default_factory=list)

    def list(self, path, params=None):
        self.listed += 1
        return self.lists.pop(0)

    def watch(self, path, resource_version, params=None, timeout_seconds=300):
        self.watched_from.append(resource_version)
        events, end = self.watches.pop(0)
        yield from events
        if not self.watches:
            self.stop.set()
        if end is not None:
            raise end


def run(api: ScriptedApi) -> tuple[Reflector, list]:
    seen: list = []
    reflector = Reflector(api, "/api/v1/pods", replace=lambda items: seen.append(("LIST", [i["metadata"]["name"]
                                                                                          for i in items])),
                          apply=lambda kind, obj: seen.append((kind, obj["metadata"]["name"])), retry_seconds=0)
    reflector.run(api.stop)
    return reflector, seen


def test_a_watch_that_ends_or_breaks_is_resumed_from_the_last_revision_without_a_list():
    api = ScriptedApi(lists=[([pod("a", 5)], "7")], watches=[
        ([("ADDED", pod("b", 8))], None),                          # timed out: no bookmark (an old server)
        ([("MODIFIED", pod("a", 9))], ApiUnavailable("peer closed connection")),   # the server died
        ([], ApiUnavailable("connection refused")),                # still down
        ([("BOOKMARK", bookmark(15))], None),                      # back; nothing for us until 15
        ([("DELETED", pod("b", 16))], None),
    ])
    reflector, seen = run(api)
    assert api.listed == 1 and reflector.lists == 1
    assert api.watched_from == ["7", "8", "9", "9", "15"]
    assert seen == [("LIST", ["a"]), ("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]


def test_410_gone_is_the_one_reason_to_list_again():
    api = ScriptedApi(lists=[([pod("a", 5)], "5"), ([pod("c", 40)], "41")], watches=[
        ([], ApiRejected(410, "Expired", "too old resource version: 5 (30)")),
        ([("ADDED", pod("d", 42))], None),
    ])
    reflector, seen = run(api)
    assert reflector.lists == 2
    assert api.watched_from == ["5", "41"]
    assert seen == [("LIST", ["a"]), ("LIST", ["c"]), ("ADDED", "d")]


def test_a_change_that_could_not_be_handled_comes_again_with_the_next_watch():
    api = ScriptedApi(lists=[([], "3")], watches=[
        ([("ADDED", pod("a", 4)), ("DELETED", pod("a", 5))], None),
        ([("DELETED", pod("a", 5))], None),
    ])
    failures = iter([True])
    handled: list = []

    def apply(kind, obj):
        if kind == "DELETED" and next(failures, False):
            raise RuntimeError("Docker is down")
        handled.append((kind, obj["metadata"]["resourceVersion"]))

    reflector = Reflector(api, "/api/v1/pods", replace=lambda items: None, apply=apply, retry_seconds=0)
    reflector.run(api.stop)
    assert api.watched_from == ["3", "4"]  # not past the failed deletion
    assert handled == [("ADDED", "4"), ("DELETED", "5")]
