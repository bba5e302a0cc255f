"""The Docker side of logs and exec, with a fake docker client: which instance is read, that only
this agent's containers are looked at, and how a log stream is cut into lines."""

from __future__ import annotations

import pytest

from agent import labels
from agent.labels import Owner
from agent.runtime.errors import ContainerNotRunning, LogsNotAvailable
from agent.runtime.streams import ContainerRef, ContainerStreams, LogStream

OWNER = Owner("cluster-1", "node-1")
REF = ContainerRef("default", "web", "uid-1", "app")


class FakeApi:
    def __init__(self, containers: list[dict]) -> None:
        self.listed = containers
        self.filters: list[dict] = []

    def containers(self, all: bool, filters: dict) -> list[dict]:
        assert all
        self.filters.append(filters)
        return self.listed


class FakeClient:
    def __init__(self, containers: list[dict]) -> None:
        self.api = FakeApi(containers)


def summary(container_id: str, attempt: int, state: str, name: str = "app") -> dict:
    return {"Id": container_id, "State": state,
            "Labels": {labels.CONTAINER: name, labels.RESTART_COUNT: str(attempt), labels.POD_UID: "uid-1"}}


def test_lookups_select_by_owner_pod_and_container_labels():
    client = FakeClient([])
    with pytest.raises(LogsNotAvailable):
        ContainerStreams(client, OWNER).find(REF)
    wanted = set(client.api.filters[0]["label"])
    assert wanted == {f"{labels.CLUSTER}=cluster-1", f"{labels.NODE}=node-1", f"{labels.POD_NAMESPACE}=default",
                      f"{labels.POD_NAME}=web", f"{labels.POD_UID}=uid-1", f"{labels.CONTAINER}=app"}


def test_newest_instance_and_the_one_before():
    streams = ContainerStreams(FakeClient([summary("old", 0, "exited"), summary("new", 1, "running")]), OWNER)
    assert streams.find(REF) == "new"
    assert streams.find(REF, previous=True) == "old"
    assert streams.find_running(REF) == "new"


def test_missing_instances_in_the_kubelets_words():
    only = ContainerStreams(FakeClient([summary("first", 0, "exited")]), OWNER)
    with pytest.raises(LogsNotAvailable, match='^previous terminated container "app" in pod "web" not found$'):
        only.find(REF, previous=True)
    with pytest.raises(ContainerNotRunning, match=r'^container not found \("app"\)$'):
        only.find_running(REF)
    none = ContainerStreams(FakeClient([]), OWNER)
    with pytest.raises(LogsNotAvailable, match='is waiting to start: ContainerCreating$'):
        none.find(REF)


def test_the_sandbox_is_never_a_target():
    client = FakeClient([summary("pause", 0, "running", name=labels.SANDBOX)])
    with pytest.raises(ContainerNotRunning):
        ContainerStreams(client, OWNER).find_running(ContainerRef("default", "web", "uid-1", labels.SANDBOX))
    assert client.api.filters == []  # not even looked up


def lines(stream: LogStream) -> list[bytes]:
    found = []
    while (line := stream.next_line()) is not None:
        found.append(line)
    return found


def test_chunks_become_lines():
    chunks = iter([b"one\ntw", b"o\n", b"", b"three\nfour"])
    assert lines(LogStream(chunks, None)) == [b"one\n", b"two\n", b"three\n", b"four"]


@pytest.mark.parametrize(("limit", "expected"), [
    (1, [b"o"]), (4, [b"one\n"]), (6, [b"one\n", b"tw"]), (100, [b"one\n", b"two\n"]),
])
def test_limit_bytes_cuts_exactly(limit, expected):
    assert lines(LogStream(iter([b"one\ntwo\n"]), limit)) == expected


def test_close_ends_the_stream_and_closes_dockers():
    class Closable:
        closed = False

        def __iter__(self):
            return self

        def __next__(self):
            return b"line\n"

        def close(self):
            self.closed = True

    chunks = Closable()
    stream = LogStream(chunks, None)
    assert stream.next_line() == b"line\n"
    stream.close()
    assert chunks.closed and stream.next_line() is None
