"""The agent's reflector against a real ``dockyard server``: watches end with a BOOKMARK, and a
server killed with SIGKILL and started again is watched again from the last revision, with no
second list; the restarted server replays what happened meanwhile from its log."""

from __future__ import annotations

import re
import signal
import threading

import pytest

from agent.apiclient import ApiClient
from agent.reflector import Reflector
from orchestrator.cluster.kubeconfig import read_kubeconfig
from tests.support.waiting import wait_for

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


class Copy:
    """What a reflector on the default namespace's ConfigMaps holds: name -> data."""

    def __init__(self) -> None:
        self.held: dict[str, dict] = {}
        self.lock = threading.Lock()

    def replace(self, items: list[dict]) -> None:
        with self.lock:
            self.held = {item["metadata"]["name"]: item.get("data") or {} for item in items}

    def apply(self, kind: str, obj: dict) -> None:
        with self.lock:
            if kind == "DELETED":
                self.held.pop(obj["metadata"]["name"], None)
            else:
                self.held[obj["metadata"]["name"]] = obj.get("data") or {}

    def names(self) -> set[str]:
        with self.lock:
            return set(self.held)


@pytest.fixture
def reflected(control_plane):
    """A reflector on the default namespace's ConfigMaps, watching in 1-second watches."""
    api = ApiClient(control_plane.url, control_plane.token(), read_kubeconfig(control_plane.kubeconfig)["ca_pem"],
                    "tester")
    copy = Copy()
    reflector = Reflector(api, CONFIGMAPS, replace=copy.replace, apply=copy.apply, watch_seconds=1,
                          retry_seconds=0.2)
    stop = threading.Event()
    thread = threading.Thread(target=reflector.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield reflector, copy
    finally:
        stop.set()
        thread.join(timeout=5)
        api.close()


def create(control_plane, namespace: str, name: str) -> int:
    with control_plane.client() as http:
        answer = http.post(f"/api/v1/namespaces/{namespace}/configmaps",
                           json={"metadata": {"name": name}, "data": {"name": name}})
        assert answer.status_code == 201, answer.text
        return int(answer.json()["metadata"]["resourceVersion"])


def configmap_lists(control_plane) -> int:
    with control_plane.client() as http:
        text = http.get("/metrics").text
    return sum(int(n) for n in re.findall(r'apiserver_request_total\{verb="LIST",resource="configmaps",[^}]*\} (\d+)',
                                          text))


def test_a_timed_out_watch_ends_with_a_bookmark_past_what_it_filtered_out(control_plane, reflected):
    reflector, copy = reflected
    create(control_plane, "default", "mine")
    wait_for("the reflector to hold mine", lambda: copy.names() == {"mine"})
    elsewhere = create(control_plane, "kube-system", "not-mine")
    # the next watch that ends says so: the reflector resumes after a change it never saw
    wait_for("the bookmark's revision", lambda: int(reflector.revision or 0) >= elsewhere, timeout=5, every=0.1)
    assert reflector.lists == 1


def test_a_killed_and_restarted_server_is_watched_again_not_listed_again(control_plane, reflected):
    reflector, copy = reflected
    for name in ("a", "b"):
        create(control_plane, "default", name)
    wait_for("the reflector to hold a and b", lambda: copy.names() == {"a", "b"})

    control_plane.kill(signal.SIGKILL)
    control_plane.start()
    create(control_plane, "default", "c")
    with control_plane.client() as http:
        assert http.delete(f"{CONFIGMAPS}/a").status_code == 200
    wait_for("the reflector to hold b and c", lambda: copy.names() == {"b", "c"}, timeout=15)
    assert copy.held["c"] == {"name": "c"}
    assert reflector.lists == 1
    assert configmap_lists(control_plane) == 0  # the restarted server was never asked for a list
