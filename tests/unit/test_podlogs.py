"""PodLogOptions: parsing, Kubernetes' validation, the round trip to the agent, kubelet messages."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from orchestrator.api import errors
from orchestrator.api.podlogs import LogOptions, LogsUnavailable


def test_kubectls_query_parsed():
    options = LogOptions.from_query({"container": "app", "follow": "true", "tailLines": "10", "previous": "true",
                                     "timestamps": "true", "limitBytes": "500"})
    assert options == LogOptions("app", follow=True, previous=True, timestamps=True, tail_lines=10, limit_bytes=500)
    assert LogOptions.from_query({}) == LogOptions()


@pytest.mark.parametrize("options", [
    LogOptions(),
    LogOptions("app", follow=True, tail_lines=0, since_seconds=30, limit_bytes=1),
    LogOptions(previous=True, timestamps=True, since_time=datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
])
def test_round_trip_to_the_agent(options):
    assert LogOptions.from_query(options.to_query()) == options


@pytest.mark.parametrize(("query", "message"), [
    ({"tailLines": "-1"}, 'PodLogOptions "web" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0'),
    ({"limitBytes": "0"}, 'PodLogOptions "web" is invalid: limitBytes: Invalid value: 0: must be greater than 0'),
    ({"sinceSeconds": "ten"}, 'PodLogOptions "web" is invalid: sinceSeconds: Invalid value: "ten": must be a whole number'),
    ({"sinceTime": "yesterday"}, 'PodLogOptions "web" is invalid: sinceTime: Invalid value: "yesterday": '
                                 "must be an RFC 3339 time such as 2024-01-01T00:00:00Z"),
    ({"sinceSeconds": "5", "sinceTime": "2024-01-01T00:00:00Z"},
     'PodLogOptions "web" is invalid: at most one of `sinceTime` or `sinceSeconds` may be specified'),
])
def test_invalid_options(query, message):
    with pytest.raises(errors.ApiError) as refused:
        LogOptions.from_query(query, "web")
    assert (refused.value.code, refused.value.message) == (422, message)


@pytest.mark.parametrize(("reason", "waiting", "message"), [
    (LogsUnavailable.NOT_STARTED, "ContainerCreating", 'container "app" in pod "web" is waiting to start: ContainerCreating'),
    (LogsUnavailable.NO_PREVIOUS, "", 'previous terminated container "app" in pod "web" not found'),
    (LogsUnavailable.IMAGE_PULL, "", 'container "app" in pod "web" is waiting to start: image can\'t be pulled'),
    (LogsUnavailable.IMAGE_PULL_BACKOFF, "",
     'container "app" in pod "web" is waiting to start: trying and failing to pull image'),
])
def test_the_kubelets_words(reason, waiting, message):
    error = reason.error("app", "web", waiting or "ContainerCreating")
    assert (error.code, error.reason, error.message) == (400, errors.StatusReason.BAD_REQUEST, message)
