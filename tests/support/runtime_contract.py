"""One contract for every container runtime the agent drives, written once and run against each.

:class:`RuntimeContract` holds the tests; a test module subclasses it and provides a ``harness``
fixture: ``tests/unit/test_agent_runtime_contract.py`` with the unit tests' ``FakeRuntime``,
``tests/integration/test_agent_runtime_contract.py`` with :class:`DockerRuntime` on the real
engine (as ``test_store.py`` runs one suite against both stores). A fake that passes here answers
the pod worker as Docker would, so the worker's unit tests prove something about the real thing.

The tests pin what the pod worker and the planner rely on (the promises listed in
:mod:`agent.runtime.protocol`): the labels a container was made with come back as its state (pod
uid, container name, spec hash, restart count, back-off streak, grace period); created, running
and exited, with exit codes and times; stop, kill and remove, also of what is gone; the errors,
in their exact words, for a missing image, container, sandbox or network, a name or address in
use, an image reference that cannot be parsed; listing by pod, and only this agent's containers.

Specs are built from a pod by :mod:`agent.container_config`, as the worker builds them, so the
labels are the real ones. The app container runs a shell that waits for ``/exit-code`` and exits
with the code written there: a process that ignores SIGTERM, as a shell as PID 1 does.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import pytest

from orchestrator.api.defaults import apply_defaults
from orchestrator.api.registry import kind_for

from agent import labels
from agent.container_config import PodContext, build_container, build_sandbox, sandbox_hash, spec_hash
from agent.labels import SANDBOX, Owner
from agent.network.names import bridge_name
from agent.observed import ObservedPod, RuntimeState
from agent.runtime.errors import (
    AddressInUse, CreateFailed, ImagePullFailed, InvalidImageName, SandboxFailed, StartFailed, SubnetOverlaps,
)
from agent.runtime.protocol import Runtime
from agent.runtime.specs import ContainerSpec, NetworkSpec, NetworkState, SandboxSpec

PAUSE = "dockyard/pause:1.0"
ECHO = "alicek106/rr-test:echo-hostname"     # busybox: sh, sleep, cat
ABSENT = "dockyard-contract/absent:never"    # an image no engine here has and no registry serves
#: waits for /exit-code, then exits with the code written there; ignores SIGTERM (PID 1, no trap)
WAIT_FOR_EXIT_CODE = "until [ -e /exit-code ]; do sleep 0.1; done; exit $(cat /exit-code)"
NOT_A_CONTAINER = "0" * 64
GRACE = 7                                    # the pods' terminationGracePeriodSeconds


@dataclass(frozen=True)
class Harness:
    """One runtime to hold to the contract, on an engine that has :data:`PAUSE` and :data:`ECHO`
    and the pod network ``ctx.network`` (made with ``create_network``, whose answer is ``network_id``).
    ``end(container_id, code)`` makes a running app container's process exit with ``code`` and
    returns once the runtime shows it exited. ``strangers`` are other agents on the same engine:
    another node of the same cluster, and the same node name in another cluster."""

    runtime: Runtime
    ctx: PodContext
    network_id: str
    end: Callable[[str, int], None]
    strangers: tuple[Owner, Owner]

    @property
    def network(self) -> NetworkSpec:
        return self.ctx.network

    def address(self, host: int) -> str:
        """An address of the pod network's first /24 of pods (x.y.1.host)."""
        first, second = self.network.subnet.split(".")[:2]
        return f"{first}.{second}.1.{host}"


def strangers(owner: Owner) -> tuple[Owner, Owner]:
    """Another node of ``owner``'s cluster, and ``owner``'s node name in a cluster of its own."""
    return Owner(owner.cluster_uid, f"{owner.node_name}-other"), Owner(str(uuid.uuid4()), owner.node_name)


def network_spec(name: str, subnet: str, cluster_uid: str) -> NetworkSpec:
    """A pod network on ``subnet`` (a /16), labelled with the cluster, as the agent makes it."""
    return NetworkSpec(name=name, subnet=subnet, gateway=str(next(ipaddress.IPv4Network(subnet).hosts())),
                       bridge=bridge_name(cluster_uid), labels={labels.CLUSTER: cluster_uid, labels.ROLE: "network"})


def make_pod(name: str = "web") -> dict:
    manifest = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "contract", "uid": str(uuid.uuid4())},
                "spec": {"terminationGracePeriodSeconds": GRACE, "containers": [
                    {"name": "app", "image": ECHO, "command": ["sh", "-c", WAIT_FOR_EXIT_CODE]}]}}
    return apply_defaults(kind_for("v1", "Pod"), manifest)


def sandbox_spec(harness: Harness, pod: dict, address: str | None, attempt: int = 0) -> SandboxSpec:
    return build_sandbox(harness.ctx, pod, attempt, address)


def app_spec(harness: Harness, pod: dict, sandbox_id: str, attempt: int = 0, streak: int = 0) -> ContainerSpec:
    container = pod["spec"]["containers"][0]
    return build_container(harness.ctx, pod, container, sandbox_id=sandbox_id, pod_ip="", attempt=attempt,
                           streak=streak, lookup=lambda kind, namespace, name: None)


def debug_spec(harness: Harness, pod: dict, sandbox_id: str, pid_target: str | None) -> ContainerSpec:
    """An ephemeral container ``dbg`` of ``pod`` (as ``kubectl debug --target=app`` adds one),
    joining the PID namespace of the container ``pid_target``."""
    container = {"name": "dbg", "image": ECHO, "command": ["sh", "-c", WAIT_FOR_EXIT_CODE],
                 "targetContainerName": "app", "terminationMessagePolicy": "File"}
    return build_container(harness.ctx, pod, container, sandbox_id=sandbox_id, pod_ip="", attempt=0, streak=0,
                           lookup=lambda kind, namespace, name: None, pid_target=pid_target)


def uid(pod: dict) -> str:
    return pod["metadata"]["uid"]


def just_now(moment: datetime | None) -> bool:
    """Within a minute of this machine's clock (the engine's clock is the same one)."""
    return moment is not None and abs(datetime.now(timezone.utc) - moment) < timedelta(minutes=1)


class RuntimeContract:
    """The tests; subclasses provide the ``harness`` fixture."""

    # -- sandboxes ---------------------------------------------------------------------------

    def test_a_sandbox_runs_with_its_address_and_its_labels_read_back_as_state(self, harness: Harness) -> None:
        pod = make_pod()
        address = harness.address(2)
        made = harness.runtime.create_sandbox(sandbox_spec(harness, pod, address, attempt=2))

        assert (made.name, made.is_sandbox, made.state) == (SANDBOX, True, RuntimeState.RUNNING)
        assert (made.pod_uid, made.pod_name, made.pod_namespace) == (uid(pod), "web", "contract")
        assert (made.spec_hash, made.attempt, made.backoff_streak, made.grace_seconds) == \
            (sandbox_hash(pod), 2, 0, GRACE)
        assert (made.ip, made.image, made.exit_code, made.finished_at) == (address, PAUSE, None, None)
        assert made.image_id.startswith("sha256:") and just_now(made.started_at)
        assert harness.runtime.observe_pod(uid(pod)) == ObservedPod(uid(pod), (made,))
        assert address in harness.runtime.network_addresses(harness.network.name)

    def test_stopping_a_sandbox_ends_the_pause_process_cleanly_and_frees_its_address(self, harness: Harness) -> None:
        pod = make_pod()
        made = harness.runtime.create_sandbox(sandbox_spec(harness, pod, harness.address(2)))

        harness.runtime.stop(made.id, 1)

        stopped = harness.runtime.observe_pod(uid(pod)).sandbox
        assert stopped is not None and (stopped.state, stopped.exit_code, stopped.ip) == (RuntimeState.EXITED, 0, None)
        assert stopped.finished_at is not None and stopped.started_at is not None
        assert stopped.finished_at >= stopped.started_at
        assert harness.address(2) not in harness.runtime.network_addresses(harness.network.name)

    def test_an_address_in_use_is_refused_and_leaves_nothing_behind(self, harness: Harness) -> None:
        first, second = make_pod("first"), make_pod("second")
        harness.runtime.create_sandbox(sandbox_spec(harness, first, harness.address(2)))
        spec = sandbox_spec(harness, second, harness.address(2))

        with pytest.raises(AddressInUse) as refused:
            harness.runtime.create_sandbox(spec)

        assert str(refused.value) == f"Failed to start pod sandbox: {harness.address(2)}: Address already in use"
        assert harness.runtime.observe_pod(uid(second)).containers == ()
        # the pod worker tries the next address with the same container name: it must be free
        retried = harness.runtime.create_sandbox(replace(spec, ipv4_address=harness.address(3)))
        assert retried.ip == harness.address(3)

    def test_a_sandbox_from_a_missing_image_is_refused(self, harness: Harness) -> None:
        pod = make_pod()
        with pytest.raises(SandboxFailed) as refused:
            harness.runtime.create_sandbox(replace(sandbox_spec(harness, pod, harness.address(2)), image=ABSENT))
        assert str(refused.value) == f"Failed to create pod sandbox: No such image: {ABSENT}"
        assert harness.runtime.observe_pod(uid(pod)).containers == ()

    def test_a_sandbox_on_a_missing_network_is_refused_and_leaves_nothing_behind(self, harness: Harness) -> None:
        pod = make_pod()
        missing = f"{harness.network.name}-missing"
        with pytest.raises(SandboxFailed) as refused:
            harness.runtime.create_sandbox(replace(sandbox_spec(harness, pod, None), network=missing))
        assert str(refused.value) == f"Failed to start pod sandbox: network {missing} not found"
        assert harness.runtime.observe_pod(uid(pod)).containers == ()

    def test_a_sandbox_name_in_use_is_refused(self, harness: Harness) -> None:
        pod = make_pod()
        spec = sandbox_spec(harness, pod, harness.address(2))
        made = harness.runtime.create_sandbox(spec)
        with pytest.raises(SandboxFailed) as refused:
            harness.runtime.create_sandbox(replace(spec, ipv4_address=harness.address(3)))
        assert str(refused.value) == (
            f'Failed to create pod sandbox: Conflict. The container name "/{spec.name}" is already in use by '
            f'container "{made.id}". You have to remove (or rename) that container to be able to reuse that name.')

    # -- app containers ----------------------------------------------------------------------

    def test_an_app_container_is_created_then_started_in_its_sandbox(self, harness: Harness) -> None:
        pod = make_pod()
        sandbox = harness.runtime.create_sandbox(sandbox_spec(harness, pod, harness.address(2)))

        made = harness.runtime.create_container(app_spec(harness, pod, sandbox.id, attempt=3, streak=2))

        created = harness.runtime.observe_pod(uid(pod)).latest("app")
        assert created is not None and created.id == made
        assert (created.state, created.started_at, created.finished_at, created.exit_code, created.ip) == \
            (RuntimeState.CREATED, None, None, None, None)
        assert (created.pod_uid, created.pod_name, created.pod_namespace, created.grace_seconds) == \
            (uid(pod), "web", "contract", GRACE)
        assert (created.spec_hash, created.attempt, created.backoff_streak) == \
            (spec_hash(pod["spec"]["containers"][0]), 3, 2)
        assert created.image == ECHO and created.image_id.startswith("sha256:")

        harness.runtime.start(made)

        running = harness.runtime.observe_pod(uid(pod)).latest("app")
        assert running is not None and running.state is RuntimeState.RUNNING and just_now(running.started_at)
        assert running.ip is None  # it joins the sandbox's network namespace: no address of its own
        assert {c.name for c in harness.runtime.observe_pod(uid(pod)).containers} == {SANDBOX, "app"}

    def test_a_process_that_exits_by_itself_reads_back_with_its_code(self, harness: Harness) -> None:
        pod = make_pod()
        sandbox = harness.runtime.create_sandbox(sandbox_spec(harness, pod, harness.address(2)))
        made = harness.runtime.create_container(app_spec(harness, pod, sandbox.id))
        harness.runtime.start(made)

        harness.end(made, 3)

        ended = harness.runtime.observe_pod(uid(pod)).latest("app")
        assert ended is not None and (ended.state, ended.exit_code, ended.oom_killed) == (RuntimeState.EXITED, 3, False)
        assert ended.finished_at is not None and ended.started_at is not None
        assert ended.finished_at >= ended.started_at and ended.ran_for() >= 0

    def test_stop_kills_a_process_that_ignores_sigterm_once_the_grace_period_is_over(self, harness: Harness) -> None:
        pod = make_pod()
        sandbox = harness.runtime.create_sandbox(sandbox_spec(harness, pod, harness.address(2)))
        made = harness.runtime.create_container(app_spec(harness, pod, sandbox.id))
        harness.runtime.start(made)

        harness.runtime.stop(made, 0)

        stopped = harness.runtime.observe_pod(uid(pod)).latest("app")
        assert stopped is not None and (stopped.state, stopped.exit_code) == (RuntimeState.EXITED, 137)
        assert just_now(stopped.finished_at)
        harness.runtime.stop(made, 0)  # stopping it again changes nothing
        assert harness.runtime.observe_pod(uid(pod)).latest("app") == stopped

    def test_an_app_container_from_a_missing_image_is_refused(self, harness: Harness) -> None:
        pod = make_pod()
        sandbox = harness.runtime.create_sandbox(sandbox_spec(harness, pod, harness.address(2)))
        with pytest.raises(CreateFailed) as refused:
            harness.runtime.create_container(replace(app_spec(harness, pod, sandbox.id), image=ABSENT))
        assert str(refused.value) == f"Error: No such image: {ABSENT}"
        assert [c.name for c in harness.runtime.observe_pod(uid(pod)).containers] == [SANDBOX]

    def test_an_app_container_in_a_missing_sandbox_is_refused(self, harness: Harness) -> None:
        pod = make_pod()
        with pytest.raises(CreateFailed) as refused:
            harness.runtime.create_container(app_spec(harness, pod, NOT_A_CONTAINER))
        assert str(refused.value) == f"Error: No such container: {NOT_A_CONTAINER}"
        assert harness.runtime.observe_pod(uid(pod)).containers == ()

    def test_an_app_container_name_in_use_is_refused(self, harness: Harness) -> None:
        pod = make_pod()
        sandbox = harness.runtime.create_sandbox(sandbox_spec(harness, pod, harness.address(2)))
        spec = app_spec(harness, pod, sandbox.id)
        made = harness.runtime.create_container(spec)
        with pytest.raises(CreateFailed) as refused:
            harness.runtime.create_container(spec)
        assert str(refused.value) == (
            f'Error: Conflict. The container name "/{spec.name}" is already in use by container "{made}". '
            f"You have to remove (or rename) that container to be able to reuse that name.")

    def test_starting_a_missing_container_fails(self, harness: Harness) -> None:
        with pytest.raises(StartFailed) as refused:
            harness.runtime.start(NOT_A_CONTAINER)
        assert str(refused.value) == f"Error: failed to start container: No such container: {NOT_A_CONTAINER}"

    def test_starting_in_a_stopped_sandbox_fails_and_leaves_the_container_created(self, harness: Harness) -> None:
        pod = make_pod()
        sandbox = harness.runtime.create_sandbox(sandbox_spec(harness, pod, harness.address(2)))
        made = harness.runtime.create_container(app_spec(harness, pod, sandbox.id))
        harness.runtime.stop(sandbox.id, 1)

        with pytest.raises(StartFailed) as refused:
            harness.runtime.start(made)

        assert str(refused.value) == ("Error: failed to start container: cannot join network of a non running "
                                      f"container: {sandbox.id}")
        left = harness.runtime.observe_pod(uid(pod)).latest("app")
        assert left is not None and left.state is RuntimeState.CREATED

    # -- the host's namespaces (kubectl debug node/NAME) ------------------------------------

    def test_a_pod_in_the_hosts_namespaces_runs_without_an_address_of_its_own(self, harness: Harness) -> None:
        pod = make_pod("node-debugger")
        pod["spec"].update(hostNetwork=True, hostPID=True, hostIPC=True)
        sandbox = harness.runtime.create_sandbox(sandbox_spec(harness, pod, harness.address(9)))

        assert sandbox.state is RuntimeState.RUNNING and sandbox.ip is None
        assert harness.address(9) not in harness.runtime.network_addresses(harness.network.name)
        app = harness.runtime.create_container(app_spec(harness, pod, sandbox.id))
        harness.runtime.start(app)
        running = harness.runtime.observe_pod(uid(pod)).latest("app")
        assert running is not None and running.state is RuntimeState.RUNNING and running.ip is None

    # -- debug containers: a target's PID namespace ----------------------------------------

    def test_a_debug_container_runs_in_the_pid_namespace_of_its_running_target(self, harness: Harness) -> None:
        pod = make_pod()
        sandbox = harness.runtime.create_sandbox(sandbox_spec(harness, pod, harness.address(2)))
        target = harness.runtime.create_container(app_spec(harness, pod, sandbox.id))
        harness.runtime.start(target)

        debugger = harness.runtime.create_container(debug_spec(harness, pod, sandbox.id, pid_target=target))
        harness.runtime.start(debugger)

        running = harness.runtime.observe_pod(uid(pod)).latest("dbg")
        assert running is not None and running.id == debugger and running.state is RuntimeState.RUNNING
        assert {c.name for c in harness.runtime.observe_pod(uid(pod)).containers} == {SANDBOX, "app", "dbg"}

    def test_a_debug_container_whose_target_is_no_container_is_refused(self, harness: Harness) -> None:
        pod = make_pod()
        sandbox = harness.runtime.create_sandbox(sandbox_spec(harness, pod, harness.address(2)))
        with pytest.raises(CreateFailed) as refused:
            harness.runtime.create_container(debug_spec(harness, pod, sandbox.id, pid_target=NOT_A_CONTAINER))
        assert str(refused.value) == f"Error: No such container: {NOT_A_CONTAINER}"
        assert [c.name for c in harness.runtime.observe_pod(uid(pod)).containers] == [SANDBOX]

    def test_a_debug_container_cannot_start_while_its_target_is_not_running(self, harness: Harness) -> None:
        pod = make_pod()
        sandbox = harness.runtime.create_sandbox(sandbox_spec(harness, pod, harness.address(2)))
        target = harness.runtime.create_container(app_spec(harness, pod, sandbox.id))
        debugger = harness.runtime.create_container(debug_spec(harness, pod, sandbox.id, pid_target=target))

        with pytest.raises(StartFailed) as refused:
            harness.runtime.start(debugger)

        assert str(refused.value) == f"Error: failed to start container: container {target} is not running"
        left = harness.runtime.observe_pod(uid(pod)).latest("dbg")
        assert left is not None and left.state is RuntimeState.CREATED

    # -- removing ----------------------------------------------------------------------------

    def test_remove_takes_running_and_exited_containers_and_frees_their_names(self, harness: Harness) -> None:
        pod = make_pod()
        spec = sandbox_spec(harness, pod, harness.address(2))
        sandbox = harness.runtime.create_sandbox(spec)
        app = app_spec(harness, pod, sandbox.id)
        made = harness.runtime.create_container(app)
        harness.runtime.start(made)
        harness.runtime.stop(sandbox.id, 1)

        harness.runtime.remove(made)          # running
        harness.runtime.remove(sandbox.id)    # exited

        assert harness.runtime.observe_pod(uid(pod)).containers == ()
        assert harness.address(2) not in harness.runtime.network_addresses(harness.network.name)
        again = harness.runtime.create_sandbox(spec)
        harness.runtime.create_container(replace(app, sandbox_id=again.id))
        assert len(harness.runtime.observe_pod(uid(pod)).containers) == 2

    def test_stopping_or_removing_what_is_gone_is_no_error(self, harness: Harness) -> None:
        harness.runtime.stop(NOT_A_CONTAINER, 0)
        harness.runtime.remove(NOT_A_CONTAINER)

    # -- listing -----------------------------------------------------------------------------

    def test_observe_pod_lists_one_pods_containers(self, harness: Harness) -> None:
        first, second = make_pod("first"), make_pod("second")
        one = harness.runtime.create_sandbox(sandbox_spec(harness, first, harness.address(2)))
        two = harness.runtime.create_sandbox(sandbox_spec(harness, second, harness.address(3)))

        assert harness.runtime.observe_pod(uid(first)).containers == (one,)
        assert harness.runtime.observe_pod(uid(second)).containers == (two,)
        nobody = str(uuid.uuid4())
        assert harness.runtime.observe_pod(nobody) == ObservedPod(nobody, ())

    def test_containers_of_other_agents_on_the_engine_are_invisible(self, harness: Harness) -> None:
        """Labels name the owner: an agent sees only its own node's containers of its own cluster."""
        pod = make_pod()
        for stranger in harness.strangers:
            harness.runtime.create_sandbox(build_sandbox(replace(harness.ctx, owner=stranger), pod, 0, None))
        assert harness.runtime.observe_pod(uid(pod)).containers == ()

    # -- images ------------------------------------------------------------------------------

    def test_an_image_is_present_by_any_spelling_of_its_reference(self, harness: Harness) -> None:
        assert harness.runtime.image_present(PAUSE)
        assert harness.runtime.image_present(f"docker.io/{PAUSE}")
        assert not harness.runtime.image_present("dockyard/pause")  # that is dockyard/pause:latest
        assert not harness.runtime.image_present(ABSENT)

    @pytest.mark.parametrize("reference", ["Busybox:1.36", "busybox::1.36", "busy box"])
    def test_an_unparsable_image_reference_is_an_invalid_image_name(self, harness: Harness, reference: str) -> None:
        with pytest.raises(InvalidImageName) as refused:
            harness.runtime.image_present(reference)
        assert str(refused.value) == (f'Failed to apply default image tag "{reference}": couldn\'t parse image '
                                      f"reference: invalid reference format")

    def test_pulling_an_image_no_registry_serves_fails_and_leaves_it_absent(self, harness: Harness) -> None:
        with pytest.raises(ImagePullFailed) as refused:
            harness.runtime.pull(ABSENT)
        assert str(refused.value).startswith(f'Failed to pull image "{ABSENT}": ')
        assert not harness.runtime.image_present(ABSENT)

    # -- volumes -----------------------------------------------------------------------------

    def test_volumes_are_made_once_and_removed_with_their_pod(self, harness: Harness) -> None:
        pod = make_pod()
        name = f"dy-{uid(pod)}-cache"
        assert harness.runtime.ensure_volume(name, uid(pod)) == name
        assert harness.runtime.ensure_volume(name, uid(pod)) == name
        harness.runtime.remove_pod_volumes(uid(pod))
        harness.runtime.remove_pod_volumes(uid(pod))  # none left: no error

    # -- the pod network ---------------------------------------------------------------------

    def test_the_pod_network_reads_back_as_made(self, harness: Harness) -> None:
        spec = harness.network
        made = NetworkState(harness.network_id, spec.name, (spec.subnet,), (spec.gateway,), spec.bridge)
        assert harness.runtime.networks(spec.name) == [made]
        assert made in harness.runtime.networks()
        assert harness.runtime.networks(spec.name[:-1]) == []  # names match exactly, not as substrings
        assert harness.runtime.network_addresses(f"{spec.name}-missing") == set()

    def test_a_network_overlapping_another_is_refused(self, harness: Harness) -> None:
        spec = harness.network
        part = f"{spec.subnet.rsplit('.', 2)[0]}.7.0/24"
        overlapping = replace(spec, name=f"{spec.name}-overlap", subnet=part, gateway=part.replace(".0/24", ".1"),
                              bridge=f"{spec.bridge[:11]}ov")
        with pytest.raises(SubnetOverlaps) as refused:
            harness.runtime.create_network(overlapping)
        assert str(refused.value) == (f"cannot create the pod network {overlapping.name}: "
                                      "Pool overlaps with other one on this address space")
        assert harness.runtime.networks(overlapping.name) == []

