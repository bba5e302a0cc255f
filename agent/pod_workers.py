"""The node's pod workers: one :class:`~agent.pod_worker.PodWorker` per pod uid (the kubelet's ``podWorkers``).

A worker is made when a pod bound here first appears, told of every newer version, and told when
the pod is gone from the API; it ends by itself once the pod's containers are gone. The pods bound
here come from a :class:`~agent.reflector.Reflector` (:mod:`agent.main`): a list (:meth:`replace`)
at start and after a 410, every change after it (:meth:`apply`). A sweep (:meth:`sweep`, after each
list and every ``--resync-interval``) finds what Docker, the volumes or the agent's files still
hold of pods the API no longer has here (an agent restarted after they were deleted, a deletion
handled while Docker was down), and gives each a worker that removes it.

:class:`PodWorkers` exists only once the node can run pods: the control plane has given the Node
its pod CIDR, from which every sandbox gets its address (:class:`~agent.network.ipam.PodAddresses`).
The agent makes it then (:mod:`agent.main`), so no worker can be made without one.
"""

from __future__ import annotations

import logging
import threading

from agent.apiclient import ApiClient
from agent.config import AgentConfig
from agent.container_config import PodContext
from agent.events import EventRecorder
from agent.network.ipam import PodAddresses
from agent.pod_worker import PodWorker
from agent.podfiles import PodFiles
from agent.prober import Prober
from agent.runtime.docker_runtime import DockerRuntime
from agent.runtime.errors import ContainerRuntimeError

log = logging.getLogger("dockyard.agent")


class PodWorkers:
    def __init__(self, *, config: AgentConfig, ctx: PodContext, runtime: DockerRuntime, api: ApiClient,
                 events: EventRecorder, prober: Prober, addresses: PodAddresses, files: PodFiles) -> None:
        self.config, self.ctx, self.runtime, self.api, self.events, self.prober = \
            config, ctx, runtime, api, events, prober
        self.addresses, self.files = addresses, files
        self._workers: dict[str, PodWorker] = {}
        self._bound: dict[str, dict] = {}   # uid -> the pod, as the API last said
        self._listed = False                 # whether _bound holds a list yet
        self._lock = threading.Lock()

    def replace(self, pods: list[dict]) -> None:
        """The pods bound here, listed: start or update their workers, end those of pods not
        listed, then sweep."""
        with self._lock:
            self._bound = {pod["metadata"]["uid"]: pod for pod in pods}
            self._listed = True
            gone = [uid for uid in self._workers if uid not in self._bound]
        for pod in pods:
            self.changed(pod)
        for uid in gone:
            self.gone(uid)
        self.sweep()

    def apply(self, event: str, pod: dict) -> None:
        """One change of a pod bound here, from the watch that follows a list."""
        uid = pod["metadata"]["uid"]
        with self._lock:
            if event == "DELETED":
                self._bound.pop(uid, None)
            else:
                self._bound[uid] = pod
        if event == "DELETED":
            self.gone(uid, check_docker=True)
        else:
            self.changed(pod)

    def sweep(self) -> None:
        """Give a worker to whatever Docker, the volumes or the files still hold of a pod that is
        no longer bound here. Not before the first list: every pod would look stray then."""
        with self._lock:
            if not self._listed:
                return
        try:
            leftovers = set(self.runtime.list_pods()) | self.runtime.orphaned_volume_pods() | self.files.pod_uids()
        except ContainerRuntimeError as error:
            log.warning("listing containers: %s", error)
            return
        with self._lock:
            stray = leftovers - set(self._bound)
        for uid in stray:
            self.gone(uid)

    def changed(self, pod: dict) -> None:
        """A pod bound here, new or newer."""
        uid = pod["metadata"]["uid"]
        with self._lock:
            worker = self._workers.get(uid)
            if worker is None:
                self._new_worker(uid, pod).start()
                return
        worker.update(pod)

    def gone(self, uid: str, check_docker: bool = False) -> None:
        """The pod left the API: its worker (or a new one, for leftovers) removes what remains.
        A pod whose worker finished its deletion has nothing left; ``check_docker`` looks first."""
        with self._lock:
            worker = self._workers.get(uid)
        if worker is not None:
            worker.update(None)
            return
        if check_docker and not self.runtime.observe_pod(uid).containers:
            return
        with self._lock:
            if uid not in self._workers:
                self._new_worker(uid, None).start()

    def pods(self) -> list[dict]:
        """The pods the workers run now, each as last seen (the agent's ``/pods``)."""
        with self._lock:
            workers = list(self._workers.values())
        return [pod for worker in workers if (pod := worker.pod) is not None]

    def wake(self, uid: str) -> None:
        with self._lock:
            worker = self._workers.get(uid)
        if worker is not None:
            worker.wake()

    def stop(self) -> None:
        """Stop every worker; the containers keep running, for the next start to adopt."""
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            worker.stop()

    def _new_worker(self, uid: str, pod: dict | None) -> PodWorker:
        worker = PodWorker(uid, pod, config=self.config, ctx=self.ctx, runtime=self.runtime, api=self.api,
                           events=self.events, prober=self.prober, addresses=self.addresses, files=self.files,
                           on_exit=self._worker_exited)
        self._workers[uid] = worker
        return worker

    def _worker_exited(self, uid: str, worker: PodWorker) -> None:
        with self._lock:
            if self._workers.get(uid) is worker:
                del self._workers[uid]
