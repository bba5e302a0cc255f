"""The separate-machines fixture cleans up after itself even when everything on a machine died.

Every module using :mod:`tests.support.machines` already checks, at teardown, that its run left
nothing on the host (:func:`tests.support.leftovers.machine_objects`). That covers the graceful
path. This test covers the other: the agent and the machine's dockerd killed with SIGKILL while a
pod runs, as when a test run is interrupted or an engine crashes. Then dockerd's containerd shims,
the pod's processes, the fuse-overlayfs mounts and docker's network-namespace mounts all outlive
the engine, and teardown must still find and remove them, touching nothing of the host's.
"""

from __future__ import annotations

import os
import signal

import pytest

from tests.support.image_archive import ECHO_HOSTNAME, PAUSE
from tests.support.leftovers import machine_objects
from tests.support.machine_engine import mounts_under, shim_socket
from tests.support.machines import SeparateMachines
from tests.support.waiting import wait_for

pytestmark = pytest.mark.docker


def test_teardown_removes_what_a_killed_engine_left_running(image_archive):
    machines = SeparateMachines(image_archive, workers=1, images=(PAUSE, ECHO_HOSTNAME))
    sockets = []
    try:
        machines.start()
        kubectl = machines.kubectl()
        kubectl("run", "web", f"--image={ECHO_HOSTNAME}")
        kubectl("wait", "--for=condition=Ready", "pod/web", "--timeout=60s", timeout=70)
        engine = machines.engines["worker-1"]
        containers = [path.name for path in (engine.root / "data" / "containers").iterdir()]

        os.kill(machines.agents["worker-1"].pid, signal.SIGKILL)
        assert engine.process is not None
        engine.process.kill()
        engine.process.wait(timeout=10)

        # what the crash left: the pod still running, its layers mounted, its shims' sockets
        assert wait_for("the pod's processes to outlive dockerd", engine.cgroup_pids, timeout=5)
        assert mounts_under(engine.root)
        sockets = [shim_socket(engine.containerd_address, container) for container in containers]
        assert any(socket.exists() for socket in sockets)
        present = machine_objects(machines.tag)  # the check that teardown runs sees all of it
        assert all(present[kind] for kind in ("namespaces", "cgroups", "mounts", "processes", "directories")), present
    finally:
        machines.teardown()  # fails by itself if it leaves anything of the run

    assert not any(machine_objects(machines.tag).values())
    assert not [socket for socket in sockets if socket.exists()]
