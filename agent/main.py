"""The node agent process: join, register, then keep Docker matching the pods bound here.

Start-up: learn the cluster (``kube-public/cluster-info``: its uid and address plan) and get a
node token (:mod:`agent.join`), reach Docker, make sure the cluster's pod network exists
(:mod:`agent.network.podnet`; with ``--node-ip-on-bridge`` the node's address goes on its bridge),
register the Node. Then wait, reporting Ready=False as a kubelet without a network does, until the
control plane has given the Node a pod CIDR: pod IPs come from it (:mod:`agent.network.ipam`), so
no pod starts before. Then these loops run side by side:

* **pods** — list the pods bound to this node once, then watch, each watch resumed from the last
  revision seen (:class:`~agent.reflector.Reflector`): a broken stream or a restarted control plane
  is watched again, not listed again. Each pod has its own :class:`~agent.pod_worker.PodWorker`
  (:mod:`agent.pod_workers`), made once the Node has its pod CIDR;
* **sweep** — every ``resync_interval``, what Docker still holds of pods no longer bound here is
  removed;
* **docker events** — a container of ours dying wakes its pod's worker at once;
* **heartbeat** — the Node's conditions every ``heartbeat_interval``;
* **endpoint** — the authenticated HTTPS endpoint the API server uses for logs and exec;
* **host networking** — in the one agent per host holding the host lock: the service proxy,
  cluster DNS and routes (:mod:`agent.network.host`).

Adoption comes for free: a restarted agent lists its pods, each worker reads its containers from
Docker labels, finds them running with the right spec hash, and leaves them alone. Containers of
pods the API no longer knows are stopped and removed by the sweep.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

from agent.apiclient import ApiClient, ApiRejected, ApiUnavailable
from agent.config import AgentConfig, ClusterNetworking
from agent.container_config import PodContext
from agent.endpoint import AgentEndpoint
from agent.events import EventReason, EventRecorder
from agent.join import JoinError, join_cluster
from agent.labels import Owner
from agent.network.clusterview import ClusterView
from agent.network.host import HostNetworking
from agent.network.ip import IpCommandFailed
from agent.network.ipam import PodAddresses, node_pod_cidr
from agent.network.podnet import BridgeAddressKeeper, ensure_pod_network, pod_network_spec
from agent.network.resolvconf import HOST_RESOLV_CONF
from agent.node import Heartbeat, NotReady, allocatable, node_object, primary_ip, register
from agent.pod_workers import PodWorkers
from agent.podfiles import PodFiles
from agent.probes.manager import ProbeManager
from agent.reflector import Reflector
from agent.runtime.docker_runtime import DockerRuntime
from agent.runtime.errors import ContainerRuntimeError
from agent.runtime.streams import ContainerStreams

log = logging.getLogger("dockyard.agent")

#: seconds between looks at the Node while waiting for its pod CIDR
POD_CIDR_POLL = 0.5
#: how long a stopping agent waits for its last events to be written. A request to a server that
#: is gone or cut off only fails after the client's timeout (15 s), so this bounds the exit after
#: SIGTERM: under 2 s (issue 19; it was over 5 s, the flush's old bound, behind a partition)
SHUTDOWN_FLUSH_SECONDS = 0.5


class Agent:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        joined = join_cluster(config)
        self.cluster = joined.info
        self.owner = Owner(self.cluster.uid, config.node_name)
        self.api = ApiClient(config.server, joined.token, self.cluster.ca_pem, config.node_name)
        self.runtime = DockerRuntime(self.owner, config.docker_host)
        self.node_ip = config.node_ip or primary_ip()
        self.pod_network = pod_network_spec(self.cluster.name, self.cluster.uid, self.cluster.network)
        ensure_pod_network(self.runtime, self.pod_network)
        self.bridge_address: BridgeAddressKeeper | None = None
        if config.node_ip_on_bridge:
            self.bridge_address = BridgeAddressKeeper(self.runtime, self.pod_network, self.node_ip,
                                                      config.heartbeat_interval)
            self.bridge_address.ensure()
        self.machine = self.runtime.machine()
        self.ctx = PodContext(self.owner, self.pod_network, config.pause_image, self.node_ip, config.allow_host_path,
                              allocatable=allocatable(config, self.machine), cluster_network=self.cluster.network,
                              host_resolv_conf=_read_host_resolv_conf())
        self.files = PodFiles(config.state_dir)
        self.pods: PodWorkers | None = None  # once the Node has its pod CIDR
        self.events = EventRecorder(self.api, config.node_name)
        self.prober = ProbeManager(self.runtime.exec_in, self.events.pod, wake=self.wake)
        self.endpoint = AgentEndpoint(config, self.owner, self.cluster.ca_pem,
                                      streams=ContainerStreams.connect(self.owner, config.docker_host),
                                      pods=lambda: self.pods.pods() if self.pods is not None else [])
        self.heartbeat = Heartbeat(self.api, config.heartbeat_interval, self._not_ready)
        self.host_networking = self._host_networking()
        self._stop = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------

    def run(self) -> None:
        self.endpoint.start()
        # A restarted agent's Node has its pod CIDR already: it must not flap to NotReady meanwhile.
        pod_cidr = node_pod_cidr(self.api.get_node(), self.cluster.network)
        node = register(self.api, node_object(self.config, self.machine, self.node_ip, self.endpoint.port,
                                              self.endpoint.fingerprint, None if pod_cidr else NotReady.NO_POD_CIDR))
        self.events.node(self.config.node_name, EventReason.NODE_STARTING, "Starting kubelet.")
        self.heartbeat.node = node
        self.heartbeat.start()
        if self.bridge_address is not None:
            self.bridge_address.start()
        if self.host_networking is not None:
            self.host_networking.start()
        pod_cidr = pod_cidr or self._wait_for_pod_cidr(node)
        if pod_cidr is None:
            return  # stopped while waiting
        addresses = PodAddresses(pod_cidr, lambda: self.runtime.network_addresses(self.pod_network.name))
        pods = PodWorkers(config=self.config, ctx=self.ctx, runtime=self.runtime, api=self.api, events=self.events,
                          prober=self.prober, addresses=addresses, files=self.files)
        self.pods = pods
        try:
            self.heartbeat.beat()  # Ready now, not a heartbeat later
        except (ApiUnavailable, ApiRejected) as error:
            log.warning("reporting Ready: %s; the next heartbeat will", error)
        threading.Thread(target=self.runtime.watch_events, args=(self._on_docker_event, self._stop),
                         name="docker-events", daemon=True).start()
        log.info("node %s ready (cluster %s, IP %s, pod CIDR %s)", self.config.node_name, self.cluster.name,
                 self.node_ip, pod_cidr)
        self._pods_loop(pods)

    def _host_networking(self) -> HostNetworking | None:
        """This agent's share of the host's networking, if it may take part (see :mod:`agent.network.host`)."""
        mode = self.config.cluster_networking
        if mode is ClusterNetworking.OFF:
            return None
        if mode is ClusterNetworking.AUTO and os.geteuid() != 0:
            message = ("not running as root: this host runs no service proxy, cluster DNS or routes to other "
                       "machines' pods, so Services carry no traffic here; run the agent as root")
            log.warning(message)
            self.events.node(self.config.node_name, EventReason.NETWORKING_DISABLED, message)
            return None
        return HostNetworking(
            self.cluster.uid, self.cluster.network, ClusterView(self.api, self.config.resync_interval),
            resync=self.config.resync_interval,
            on_failure=lambda message: self.events.node(self.config.node_name, EventReason.NETWORKING_FAILED,
                                                        message))

    def _wait_for_pod_cidr(self, node: dict) -> str | None:
        """The pod CIDR the control plane assigns this Node; None if the agent stops first."""
        log.info("node %s: %s", self.config.node_name, NotReady.NO_POD_CIDR.value)
        while True:
            pod_cidr = node_pod_cidr(node, self.cluster.network)
            if pod_cidr is not None:
                return pod_cidr
            if self._stop.wait(POD_CIDR_POLL):
                return None
            try:
                node = self.api.get_node() or node
            except (ApiUnavailable, ApiRejected) as error:
                log.warning("reading the Node for its pod CIDR: %s", error)

    def _not_ready(self) -> NotReady | None:
        if not self.runtime.reachable():
            return NotReady.RUNTIME_DOWN
        if self.pods is None:
            return NotReady.NO_POD_CIDR
        return None

    def stop(self) -> None:
        """Stop the loops; containers keep running and are adopted by the next start."""
        self._stop.set()
        self.heartbeat.stop()
        if self.bridge_address is not None:
            self.bridge_address.stop()
        if self.host_networking is not None:
            self.host_networking.stop()
        if self.pods is not None:
            self.pods.stop()
        self.endpoint.stop()
        self.prober.stop()
        # the last events get out if the server answers; an unreachable one is not waited for
        self.events.flush(SHUTDOWN_FLUSH_SECONDS)
        self.events.stop()

    # -- pods --------------------------------------------------------------------------------

    def _pods_loop(self, pods: PodWorkers) -> None:
        path, params = self.api.bound_pods()
        threading.Thread(target=self._sweep_loop, args=(pods,), name="sweep", daemon=True).start()
        Reflector(self.api, path, params=params, replace=pods.replace, apply=pods.apply,
                  watch_seconds=self.config.resync_interval, retry_seconds=2.0).run(self._stop)

    def _sweep_loop(self, pods: PodWorkers) -> None:
        while not self._stop.wait(self.config.resync_interval):
            pods.sweep()

    def wake(self, uid: str) -> None:
        if self.pods is not None:
            self.pods.wake(uid)

    def _on_docker_event(self, uid: str, action: str) -> None:
        if action in ("die", "oom", "start", "destroy", "kill"):
            self.wake(uid)


def _read_host_resolv_conf() -> str:
    """The host's resolvers and search path, which pods with dnsPolicy Default (and the cluster
    domain's search path) build on; an unreadable file means none."""
    try:
        return HOST_RESOLV_CONF.read_text()
    except OSError as error:
        log.warning("cannot read %s (%s): pods get no host search domains", HOST_RESOLV_CONF, error)
        return ""


class _StoppedWhileStarting(BaseException):
    """SIGTERM or SIGINT arrived before the agent had started (joining, reaching Docker): there
    is nothing to stop yet, so the signal ends the start-up where it is."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def run(config: AgentConfig) -> int:
    """``dockyard agent``: run until SIGTERM/SIGINT (exit code 0, promptly: the loops stop, the
    containers keep running); exit code 1 with a message if it cannot start or its loop fails."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns what matters
    started: list[Agent] = []
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if not started:
            raise _StoppedWhileStarting(signum)
        if done.is_set():
            return  # a second signal while stopping (the handler runs in the main thread, re-entered)
        done.set()
        log.info("signal %s: stopping (containers keep running)", signum)
        started[0].stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        started.append(Agent(config))
    except (JoinError, ContainerRuntimeError, IpCommandFailed, ApiUnavailable, ApiRejected) as error:
        log.error("cannot start the agent for node %s: %s", config.node_name, error)
        return 1
    except _StoppedWhileStarting as stopped:
        log.info("signal %s while starting: stopping", stopped.signum)
        return 0
    runner = threading.Thread(target=started[0].run, name="agent", daemon=True)
    runner.start()
    while not done.is_set() and runner.is_alive():
        done.wait(0.5)
    if not done.is_set():
        log.error("the agent's main loop ended without being asked to (see the error above); exiting")
        return 1
    return 0
