"""A restarted control plane is watched again, not listed again (issue 19, item 4).

Two worker machines' agents watch what they need (each its pods, and for the host's networking
every Service, Endpoints and Node: 4 watches per agent). The control plane is killed with
SIGKILL and started again on its state dir, as a user would after a crash. Every agent must then
resume its watches from the last resourceVersion it saw, which the restarted server replays from
its log, instead of listing everything again; and no agent lists anything in steady state
either (a watch that times out is resumed the same way). The figures are the server's own
``apiserver_request_total{verb="LIST"}``, counted from the restarted server's start.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.support.image_archive import PAUSE
from tests.support.kubectl import Kubectl
from tests.support.machines import SeparateMachines
from tests.support.waiting import wait_for

pytestmark = pytest.mark.docker

#: what each agent watches: its pods, and Services, Endpoints and Nodes for its host's networking
WATCHES_PER_AGENT = 4
#: LAB_KNOBS' --resync-interval: each agent watch ends after it and is opened again
RESYNC_SECONDS = 5


@pytest.fixture(scope="module")
def machines(machine_factory):
    return machine_factory(workers=2, images=(PAUSE,))


def metrics(kubectl: Kubectl) -> str:
    return kubectl("get", "--raw", "/metrics")


def list_requests(text: str) -> dict[str, int]:
    """LIST requests the server answered since it started, by resource."""
    counts: dict[str, int] = {}
    for resource, count in re.findall(r'apiserver_request_total\{verb="LIST",resource="([^"]+)",code="\d+"\} (\d+)',
                                      text):
        counts[resource] = counts.get(resource, 0) + int(count)
    return counts


def watchers(text: str) -> int:
    found = re.search(r"^apiserver_registered_watchers (\d+)$", text, re.MULTILINE)
    return int(found.group(1)) if found else 0


def every_agent_watching(machines: SeparateMachines, kubectl: Kubectl) -> None:
    expected = WATCHES_PER_AGENT * machines.workers
    wait_for(f"{expected} agent watches open", lambda: watchers(metrics(kubectl)) >= expected,
             explain=machines.logs, timeout=60, every=0.5)


def test_agents_resume_their_watches_across_a_control_plane_restart(machines):
    kubectl = machines.kubectl()
    every_agent_watching(machines, kubectl)

    machines.kill_server()
    time.sleep(1)  # the agents notice: their streams break, their requests are refused
    machines.start_server()
    every_agent_watching(machines, kubectl)
    on_reconnect = list_requests(metrics(kubectl))
    # two more rounds of every agent watch ending and being opened again
    time.sleep(2 * RESYNC_SECONDS + 1)
    after = list_requests(metrics(kubectl))
    steady = {resource: count - on_reconnect.get(resource, 0) for resource, count in after.items()
              if count > on_reconnect.get(resource, 0)}
    print(f"\nLIST requests to a restarted control plane from {machines.workers} agents: "
          f"{sum(on_reconnect.values())} until they watch again {on_reconnect}, "
          f"{sum(steady.values())} in the next {2 * RESYNC_SECONDS + 1} s {steady}")
    assert after == {}, f"the agents listed again instead of resuming their watches: {after}"
