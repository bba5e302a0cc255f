"""Events expire an --event-ttl after they last happened (orchestrator.controllers.eventttl)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from orchestrator.api.registry import kind_for
from orchestrator.controllers.eventttl import EventTTLController, due_in
from tests.support.driven import drive

EVENT = kind_for("v1", "Event")
NOW = datetime(2026, 12, 8, 12, 0, 0, tzinfo=timezone.utc)


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def event(name: str, last: datetime) -> dict:
    return {"metadata": {"name": name, "namespace": "default"}, "reason": "Tested", "message": "m", "type": "Normal",
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
            "firstTimestamp": stamp(last), "lastTimestamp": stamp(last), "count": 1}


def test_an_event_is_due_a_ttl_after_it_last_happened():
    recent = {**event("e", NOW - timedelta(minutes=50)), "metadata": {"name": "e", "creationTimestamp": stamp(NOW)}}
    assert due_in(recent, 3600, NOW) == 600
    assert due_in({"metadata": {"name": "x"}}, 3600, NOW) == 0  # no time at all: expires at once
    series = {"metadata": {"name": "s"}, "eventTime": stamp(NOW - timedelta(hours=3)),
              "series": {"lastObservedTime": stamp(NOW - timedelta(minutes=1))}}
    assert due_in(series, 3600, NOW) == 3540


def test_expired_events_go_and_fresh_ones_are_looked_at_again_when_due(api):
    api.create(EVENT, "default", event("old", NOW - timedelta(hours=2)))
    api.create(EVENT, "default", event("fresh", NOW - timedelta(minutes=10)))
    clock = {"now": NOW}
    controller = drive(EventTTLController, api, ttl_seconds=3600, clock=lambda: clock["now"])
    controller.reconcile(("default", "old"))
    controller.reconcile(("default", "fresh"))
    assert [e["metadata"]["name"] for e in api.list(EVENT, "default")[0]] == ["fresh"]
    clock["now"] = NOW + timedelta(minutes=51)
    controller.reconcile(("default", "fresh"))
    assert api.list(EVENT, "default")[0] == []


def test_a_bumped_event_lives_on(api):
    made = api.create(EVENT, "default", event("bumped", NOW - timedelta(hours=2))).object
    api.update(EVENT, "default", "bumped", {**made, "count": 2, "lastTimestamp": stamp(NOW)})
    controller = drive(EventTTLController, api, ttl_seconds=3600, clock=lambda: NOW)
    controller.reconcile(("default", "bumped"))
    assert len(api.list(EVENT, "default")[0]) == 1
