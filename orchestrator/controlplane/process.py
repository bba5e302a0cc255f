"""The control plane process: store, object API, controllers, scheduler, watch hub and HTTPS server in one.

``dockyard server`` calls :func:`run`. :class:`ControlPlane` is also what tests build in-process.
This is the one place that wires the halves together: the API server serves the object API over
HTTPS, and the controllers and scheduler reach the same object API through the client seam
(:class:`~orchestrator.controlplane.localclient.LocalClient`) and one set of shared informers.
Start-up order matters: the store opens (and with it every acknowledged write of a previous run),
the built-in namespaces exist before anything is served, the informers list every kind and the
controllers start before requests are accepted, and ``/readyz`` turns ok last.
Bootstrap also publishes ``kube-public/cluster-info`` (refreshed on every start, since the
server URL may have changed), which joining agents read first (:mod:`orchestrator.api.bootstrap`),
and puts the ``kubernetes`` and ``kube-dns`` Services with their endpoints in place
(:mod:`orchestrator.apiserver.systemservices`), before any controller runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from types import FrameType
from typing import Callable, Iterator
from dataclasses import dataclass, field

import uvicorn

from orchestrator.api import errors
from orchestrator.api.bootstrap import CLUSTER_INFO_NAME, CLUSTER_INFO_NAMESPACE, PublicClusterInfo
from orchestrator.api.clusternetwork import ClusterNetwork
from orchestrator.api.registry import kind_for
from orchestrator.apiserver import health
from orchestrator.apiserver.admission import DEFAULT_NOT_READY_TOLERATION_SECONDS, Admission, AdmissionPolicy
from orchestrator.apiserver.agenttls import AgentTLS
from orchestrator.apiserver.app import ApiServerApp
from orchestrator.apiserver.handlers import ResourceHandlers
from orchestrator.apiserver.join import JoinEndpoint
from orchestrator.apiserver.nodeproxy import NodeProxy
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.apiserver.resourceproxy import ResourceProxy
from orchestrator.apiserver.spdyupgrade import UpgradeAwareHttp
from orchestrator.apiserver.systemservices import api_server_address, ensure_system_objects, system_services
from orchestrator.apiserver.watch import WatchHub
from orchestrator.client.informer import Informers
from orchestrator.cluster.init import init_cluster
from orchestrator.cluster.pki import ca_pem
from orchestrator.cluster.statedir import StateDir
from orchestrator.cluster.tokens import TokenBook
from orchestrator.controllers.base import ControllerRunner
from orchestrator.controlplane.localclient import LocalClient
from orchestrator.controllers.deployment import DeploymentController
from orchestrator.controllers.endpoints import EndpointsController
from orchestrator.controllers.eventttl import DEFAULT_EVENT_TTL_SECONDS, EventTTLController
from orchestrator.controllers.garbagecollector import GarbageCollector
from orchestrator.controllers.namespace import NamespaceController
from orchestrator.controllers.nodehealth import DEFAULT_GRACE_PERIOD_SECONDS
from orchestrator.controllers.nodeipam import NodeIpamController
from orchestrator.controllers.nodelifecycle import NodeLifecycleController
from orchestrator.controllers.replicaset import ReplicaSetController
from orchestrator.controllers.servicelb import ServiceLoadBalancerController
from orchestrator.scheduler.scheduler import Scheduler
from orchestrator.store import SQLiteStore

log = logging.getLogger("dockyard.server")

#: namespaces every cluster has, as in Kubernetes
BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass
class ServerConfig:
    state_dir: StateDir
    host: str = "127.0.0.1"
    port: int = 6443
    cluster_name: str = "dockyard"
    allow_privileged: bool = False
    network: ClusterNetwork = field(default_factory=ClusterNetwork)
    extra_hosts: list[str] = field(default_factory=list)
    #: seconds without a heartbeat before a node is Unknown (kube-controller-manager's flag)
    node_monitor_grace_period: float = DEFAULT_GRACE_PERIOD_SECONDS
    #: seconds pods tolerate a not-ready/unreachable node before eviction (kube-apiserver's flag)
    default_not_ready_toleration_seconds: int = DEFAULT_NOT_READY_TOLERATION_SECONDS
    #: seconds an Event is kept after it last happened (kube-apiserver's ``--event-ttl``)
    event_ttl: float = DEFAULT_EVENT_TTL_SECONDS


class ControlPlane:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.cluster = init_cluster(config.state_dir, cluster_name=config.cluster_name, api_host=config.host,
                                    api_port=config.port, extra_hosts=config.extra_hosts,
                                    flags={"allow_privileged": config.allow_privileged,
                                           **config.network.to_data()})
        self.store = SQLiteStore(config.state_dir.db)
        self.api = ObjectAPI(self.store, Admission(AdmissionPolicy(
            allow_privileged=config.allow_privileged, network=config.network,
            default_toleration_seconds=config.default_not_ready_toleration_seconds)))
        self.tokens = TokenBook.for_state(config.state_dir)
        self.hub = WatchHub(self.api)
        client = LocalClient(self.api)
        informers = Informers(client)
        self.controllers = ControllerRunner(informers, [
            GarbageCollector(client, informers), NamespaceController(client, informers),
            ReplicaSetController(client, informers), DeploymentController(client, informers),
            NodeLifecycleController(client, informers, grace_seconds=config.node_monitor_grace_period),
            NodeIpamController(client, informers, config.network), EndpointsController(client, informers),
            ServiceLoadBalancerController(client, informers), Scheduler(client, informers),
            EventTTLController(client, informers, ttl_seconds=config.event_ttl)])
        state = config.state_dir
        agents = AgentTLS(state.kubelet_client_cert, state.kubelet_client_key)
        self.nodes = NodeProxy(self.api, agents)
        self.handlers = ResourceHandlers(self.api, self.hub, log_streamer=self.nodes.stream_logs,
                                         remote_command=self.nodes.remote_command, port_forward=self.nodes.port_forward,
                                         proxy=ResourceProxy(self.api, agents))
        self.app = ApiServerApp(self.handlers, self.tokens.authenticate, health_checks=self._health_checks(informers),
                                join=JoinEndpoint(self.tokens.exchange_join), more_metrics=self.controllers.metrics)
        self._ready = False

    def _health_checks(self, informers: Informers) -> dict[health.Endpoint, list[health.Check]]:
        """What ``/livez`` and ``/readyz`` check (:mod:`orchestrator.apiserver.health`)."""
        def store() -> str | None:
            try:
                self.store.revision()
            except Exception as error:  # noqa: BLE001 - any failure is the answer
                return f"the store does not answer: {error}"
            return None

        live = [health.PING, health.Check("store", store)]
        ready = [*live,
                 health.Check("informer-sync", lambda: None if informers.synced() else "the informers are listing"),
                 health.Check("shutdown", lambda: None if self._ready else "not serving (starting or shutting down)")]
        return {health.Endpoint.HEALTHZ: live, health.Endpoint.LIVEZ: live, health.Endpoint.READYZ: ready}

    def bootstrap(self) -> None:
        namespace = kind_for("v1", "Namespace")
        for name in BUILTIN_NAMESPACES:
            try:
                self.api.create(namespace, None, {"metadata": {"name": name}})
            except errors.ApiError as error:
                if error.code != 409:
                    raise
        self._publish_cluster_info()
        ensure_system_objects(self.api, system_services(
            self.config.network, api_server_address(self.cluster.info), self.cluster.info.api_port))

    def _publish_cluster_info(self) -> None:
        info = self.cluster.info
        wanted = PublicClusterInfo(name=info.name, uid=info.uid, ca_pem=ca_pem(self.config.state_dir),
                                   server=info.server_url, network=self.config.network).to_configmap()
        configmap = kind_for("v1", "ConfigMap")
        current = errors.or_none(lambda: self.api.get(configmap, CLUSTER_INFO_NAMESPACE, CLUSTER_INFO_NAME))
        if current is None:
            self.api.create(configmap, CLUSTER_INFO_NAMESPACE, wanted)
        elif current.get("data") != wanted["data"]:
            self.api.update(configmap, CLUSTER_INFO_NAMESPACE, CLUSTER_INFO_NAME,
                            {**current, "data": wanted["data"]})

    async def serve(self) -> None:
        self.bootstrap()
        loop = asyncio.get_running_loop()
        self.hub.start(loop)
        self.controllers.start()
        server = _Server(uvicorn.Config(
            self.app.asgi, host=self.config.host, port=self.config.port,
            ssl_certfile=str(self.cluster.server_cert), ssl_keyfile=str(self.cluster.server_key),
            log_level="warning", access_log=False, timeout_graceful_shutdown=2,
            # the client is the TCP peer: uvicorn would otherwise believe a local caller's
            # X-Forwarded-For, which a proxied app must receive as the client sent it
            proxy_headers=False,
            http=UpgradeAwareHttp,  # kubectl port-forward's SPDY upgrade, beside uvicorn's HTTP
        ), on_exit=lambda: loop.call_soon_threadsafe(self.hub.close_all))
        self._ready = True
        log.info("dockyard API server listening on %s", self.cluster.server_url)
        try:
            await server.serve()
        finally:
            self._ready = False
            self.controllers.stop()
            self.hub.stop()
            self.store.close()


class _Server(uvicorn.Server):
    """uvicorn's server, which also ends the open watches as soon as it is told to stop, and
    lets the control plane finish its own shutdown.

    uvicorn's graceful shutdown waits (up to its timeout) for open requests to finish, and a
    watch never does by itself: without this, every ``kubectl get -w`` would hold a stopping
    server for the whole timeout. kube-apiserver likewise closes watches when it shuts down.

    uvicorn also raises the signal that stopped it again once it has stopped, with the default
    handlers back: SIGTERM then killed the process before :meth:`ControlPlane.serve` could stop
    the controllers and close the store, and SIGINT ended in a KeyboardInterrupt traceback. A
    stop that was asked for is a clean exit (code 0, as kube-apiserver's), so the signals are
    taken here and not raised again.
    """

    def __init__(self, config: uvicorn.Config, *, on_exit: Callable[[], object]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit:
            log.info("signal %s: stopping", sig)
        self._on_exit()
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {signum: signal.signal(signum, self.handle_exit) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def run(config: ServerConfig) -> None:
    asyncio.run(ControlPlane(config).serve())
