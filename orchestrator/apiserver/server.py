"""The control plane process: store, object API, controllers, watch hub and HTTPS server in one.

``dockyard server`` calls :func:`run`. :class:`ControlPlane` is also what tests build in-process.
Start-up order matters: the store opens (and with it every acknowledged write of a previous run),
the built-in namespaces exist before anything is served, controllers start before requests are
accepted so nothing created in the first second is missed, and ``/readyz`` turns ok last.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import uvicorn

from orchestrator.api import errors
from orchestrator.api.registry import kind_for
from orchestrator.apiserver.admission import Admission, AdmissionPolicy
from orchestrator.apiserver.app import ApiServerApp
from orchestrator.apiserver.handlers import ResourceHandlers
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.apiserver.watch import WatchHub
from orchestrator.cluster.init import init_cluster
from orchestrator.cluster.statedir import StateDir
from orchestrator.cluster.tokens import TokenBook
from orchestrator.controllers.base import ControllerRunner
from orchestrator.controllers.garbagecollector import GarbageCollector
from orchestrator.controllers.namespace import NamespaceController
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
    service_cidr: str = "10.96.0.0/12"
    extra_hosts: list[str] = field(default_factory=list)


class ControlPlane:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.cluster = init_cluster(config.state_dir, cluster_name=config.cluster_name, api_host=config.host,
                                    api_port=config.port, extra_hosts=config.extra_hosts,
                                    flags={"allow_privileged": config.allow_privileged,
                                           "service_cidr": config.service_cidr})
        self.store = SQLiteStore(config.state_dir.db)
        self.api = ObjectAPI(self.store, Admission(AdmissionPolicy(config.allow_privileged, config.service_cidr)))
        self.tokens = TokenBook.for_state(config.state_dir)
        self.hub = WatchHub(self.api)
        self.controllers = ControllerRunner(self.api, [GarbageCollector(self.api), NamespaceController(self.api)])
        self.handlers = ResourceHandlers(self.api, self.hub)
        self.app = ApiServerApp(self.handlers, self.tokens.authenticate, ready=lambda: self._ready)
        self._ready = False

    def bootstrap(self) -> None:
        namespace = kind_for("v1", "Namespace")
        for name in BUILTIN_NAMESPACES:
            try:
                self.api.create(namespace, None, {"metadata": {"name": name}})
            except errors.ApiError as error:
                if error.code != 409:
                    raise

    async def serve(self) -> None:
        self.bootstrap()
        self.hub.start(asyncio.get_running_loop())
        self.controllers.start()
        server = uvicorn.Server(uvicorn.Config(
            self.app.asgi, host=self.config.host, port=self.config.port,
            ssl_certfile=str(self.cluster.server_cert), ssl_keyfile=str(self.cluster.server_key),
            log_level="warning", access_log=False, timeout_graceful_shutdown=2,
        ))
        self._ready = True
        log.info("dockyard API server listening on %s", self.cluster.server_url)
        try:
            await server.serve()
        finally:
            self._ready = False
            self.controllers.stop()
            self.hub.stop()
            self.store.close()


def run(config: ServerConfig) -> None:
    asyncio.run(ControlPlane(config).serve())
