"""Planning logs and exec in the API server: container choice, what the status already says,
where the node's agent is. Pure functions, no network."""

from __future__ import annotations

import json

import pytest

from orchestrator.api import errors
from orchestrator.api.agentendpoint import SERVING_CERT_ANNOTATION
from orchestrator.api.podlogs import LogOptions
from orchestrator.api.remotecommand import StreamVerb
from orchestrator.apiserver.agenttls import AgentAddress
from orchestrator.apiserver.nodeproxy import _agent_error, agent_address, container_for, plan_logs, plan_remote_command


def pod(*containers: str, init: tuple[str, ...] = (), node: str | None = "node-1", phase: str = "Running",
        statuses: list[dict] | None = None) -> dict:
    spec = {"containers": [{"name": c, "image": "busybox"} for c in containers]}
    if init:
        spec["initContainers"] = [{"name": c, "image": "busybox"} for c in init]
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": "web", "namespace": "default", "uid": "u-1"}, "spec": spec,
            "status": {"phase": phase, "containerStatuses": statuses or []}}


def refusal(call) -> str:
    with pytest.raises(errors.ApiError) as refused:
        call()
    return refused.value.message


def test_container_choice():
    assert container_for(pod("app"), None) == "app"
    assert container_for(pod("app", "side"), "side") == "side"
    assert refusal(lambda: container_for(pod("app", "side"), None)) == \
        "a container name must be specified for pod web, choose one of: [app side]"
    assert refusal(lambda: container_for(pod("app", "side", init=("setup",)), None)) == \
        "a container name must be specified for pod web, choose one of: [app side] or one of the init containers: [setup]"
    assert refusal(lambda: container_for(pod("app"), "nope")) == "container nope is not valid for pod web"
    assert container_for(pod("app", init=("setup",)), "setup") == "setup"


def waiting(reason: str, *, last_exit: int | None = None) -> dict:
    status = {"name": "app", "state": {"waiting": {"reason": reason}}, "lastState": {}}
    if last_exit is not None:
        status["lastState"] = {"terminated": {"exitCode": last_exit, "containerID": "docker://abc"}}
    return status


def test_logs_of_a_running_container_go_to_the_agent():
    running = [{"name": "app", "state": {"running": {}}, "lastState": {}}]
    assert plan_logs(pod("app", statuses=running), LogOptions(tail_lines=5)) == LogOptions("app", tail_lines=5)
    # no status yet (the agent has not reported): the agent knows best
    assert plan_logs(pod("app"), LogOptions(previous=True)) == LogOptions("app", previous=True)


@pytest.mark.parametrize(("status", "message"), [
    (waiting("ContainerCreating"), 'container "app" in pod "web" is waiting to start: ContainerCreating'),
    (waiting("ErrImagePull"), 'container "app" in pod "web" is waiting to start: image can\'t be pulled'),
    (waiting("ImagePullBackOff"), 'container "app" in pod "web" is waiting to start: trying and failing to pull image'),
    (waiting("CreateContainerConfigError"),
     'container "app" in pod "web" is waiting to start: CreateContainerConfigError'),
])
def test_a_container_waiting_to_start_has_no_logs(status, message):
    assert refusal(lambda: plan_logs(pod("app", statuses=[status]), LogOptions())) == message


def test_previous_of_a_container_that_never_ran():
    assert refusal(lambda: plan_logs(pod("app", statuses=[waiting("ContainerCreating")]), LogOptions(previous=True))) \
        == 'previous terminated container "app" in pod "web" not found'


def test_previous_in_crash_loop_back_off_is_the_last_terminated_run():
    # in back-off the newest Docker instance is the one that just crashed: that is --previous
    crashing = pod("app", statuses=[waiting("CrashLoopBackOff", last_exit=1)])
    assert plan_logs(crashing, LogOptions(previous=True)) == LogOptions("app", previous=False)
    assert plan_logs(crashing, LogOptions()) == LogOptions("app")


def plan_exec(pod: dict, query):
    return plan_remote_command(pod, query, StreamVerb.EXEC)


def test_logs_and_attach_reach_an_ephemeral_container():
    """``kubectl logs POD -c dbg`` and ``kubectl debug -it`` (an attach) name what kubectl debug added."""
    debugged = pod("app", statuses=[{"name": "app", "state": {"running": {}}, "lastState": {}}])
    debugged["spec"]["ephemeralContainers"] = [{"name": "dbg", "image": "busybox"}]
    debugged["status"]["ephemeralContainerStatuses"] = [
        {"name": "dbg", "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}}]
    assert container_for(debugged, "dbg") == "dbg"
    assert container_for(debugged, None) == "app"  # never chosen for you
    assert refusal(lambda: plan_logs(debugged, LogOptions("dbg"))) == \
        'container "dbg" in pod "web" is waiting to start: ContainerCreating'
    attach = plan_remote_command(debugged, [("container", "dbg"), ("stdin", "true")], StreamVerb.ATTACH)
    assert attach.container == "dbg"


def test_unscheduled_pods_have_no_host():
    assert refusal(lambda: plan_logs(pod("app", node=None), LogOptions())) == "pod web does not have a host assigned"
    assert refusal(lambda: plan_exec(pod("app", node=None), [("command", "ls"), ("stdout", "true")])) == \
        "pod web does not have a host assigned"


def test_exec_plan():
    options = plan_exec(pod("app", "side"), [("command", "ls"), ("container", "side"), ("stdout", "true")])
    assert (options.command, options.container) == (("ls",), "side")
    assert plan_exec(pod("app"), [("command", "ls"), ("stdout", "true")]).container == "app"
    assert refusal(lambda: plan_exec(pod("app", phase="Succeeded"), [("command", "ls"), ("stdout", "true")])) == \
        "cannot exec into a container in a completed pod; current phase is Succeeded"


def test_attach_plan_needs_no_command_and_refuses_completed_pods():
    options = plan_remote_command(pod("app", "side"), [("container", "side"), ("stdin", "true"), ("stdout", "true")],
                                  StreamVerb.ATTACH)
    assert (options.command, options.container, options.stdin) == ((), "side", True)
    assert refusal(lambda: plan_remote_command(pod("app", phase="Failed"), [("stdout", "true")], StreamVerb.ATTACH)) \
        == "cannot attach to a container in a completed pod; current phase is Failed"
    assert refusal(lambda: plan_remote_command(pod("app"), [("stdout", "false")], StreamVerb.ATTACH)) == \
        "you must specify at least 1 of stdin, stdout, stderr"


def node(**status) -> dict:
    return {"metadata": {"name": "node-1", "annotations": {SERVING_CERT_ANNOTATION: "ab" * 32}},
            "status": {"addresses": [{"type": "Hostname", "address": "node-1"},
                                     {"type": "InternalIP", "address": "10.0.0.7"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}, **status}}


def test_the_agent_address_comes_from_the_node():
    address = agent_address(node())
    assert address == AgentAddress("node-1", "10.0.0.7", 10250, "ab" * 32)
    assert address.netloc == "10.0.0.7:10250"
    assert AgentAddress("n", "fd00::1", 1, "x").netloc == "[fd00::1]:1"


def test_a_node_without_an_agent_endpoint():
    bare = node(addresses=[], daemonEndpoints={})
    bare["metadata"]["annotations"] = {}
    assert refusal(lambda: agent_address(bare)) == (
        f'node "node-1" does not publish an InternalIP address and a kubelet endpoint port and the '
        f"{SERVING_CERT_ANNOTATION} annotation, so its agent cannot be reached (for logs, exec, attach or the "
        "node proxy); is it a dockyard agent that has registered?")


def test_agent_errors_are_handed_on():
    status = {"kind": "Status", "status": "Failure", "reason": "BadRequest", "code": 400,
              "message": 'previous terminated container "app" in pod "web" not found'}
    error = _agent_error(400, json.dumps(status).encode())
    assert (error.code, error.reason, error.message) == (400, errors.StatusReason.BAD_REQUEST, status["message"])
    garbled = _agent_error(502, b"bad gateway")
    assert (garbled.code, garbled.message) == (500, "the node agent answered: bad gateway")
