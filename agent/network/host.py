"""The host-wide half of cluster networking: service proxy, cluster DNS, routes, hairpin.

A Kubernetes node runs kube-proxy and reaches CoreDNS; here every host runs both for its cluster,
once: several agents may share a host (the local cluster), and two proxies writing one host's
iptables, or two DNS servers on one address, would fight. So each agent starts a
:class:`HostNetworking`, and the one that holds the host lock (a ``flock`` on a file named by the
cluster's tag, :func:`~agent.network.names.host_lock_path`) does the work. The kernel drops the
lock when its holder dies, even by ``kill -9``; the others try again every few seconds, so
another agent of the host takes over, and the rules it finds in place keep carrying traffic
meanwhile.

The holder watches Services, Endpoints and Nodes (:class:`~agent.network.clusterview.ClusterView`)
and, on every change and at least every ``resync`` seconds, level-triggered:

1. turns on hairpin mode on the bridge's ports (a pod reaching its own Service);
2. re-plans and applies the iptables rules (:class:`~agent.network.proxy.ServiceProxy`; unchanged
   rules are not written again, except at the periodic resync, which repairs rules someone
   removed), knowing which nodes are *local*: those whose InternalIP is an address of this host;
3. routes other machines' pod ranges via their nodes (:func:`~agent.network.routes.sync_routes`);
4. serves DNS on the bridge's gateway, port 53 (:class:`~agent.network.dns.server.DnsServer`),
   where the ``kube-dns`` Service's endpoint points, starting it again should binding fail.

A failing step is logged (and, while it keeps failing the same way, not again) and retried a
second later; the others go on. Nothing here runs without the privileges it needs: the agent
decides beforehand (``--cluster-networking``).
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TextIO

from orchestrator.api.clusternetwork import ClusterNetwork
from orchestrator.api.nodestatus import internal_ip

from agent.network import ip
from agent.network.clusterview import ClusterView, NetworkSnapshot
from agent.network.dns.errors import DnsBindError
from agent.network.dns.resolver import Resolver
from agent.network.dns.server import DnsServer
from agent.network.dns.upstream import HostResolvers, Upstream
from agent.network.ip import IpCommandFailed
from agent.network.iptables import IptablesError
from agent.network.names import bridge_name, host_lock_path
from agent.network.proxy import ServiceProxy
from agent.network.routes import RoutesIncomplete, sync_routes

log = logging.getLogger("dockyard.agent.host")

#: seconds between attempts to take the host lock
LOCK_RETRY = 2.0
#: seconds before a failed step is tried again
RETRY = 1.0

_FAILURES = (IptablesError, IpCommandFailed, RoutesIncomplete, DnsBindError, OSError)


class HostNetworking:
    def __init__(self, cluster_uid: str, network: ClusterNetwork, view: ClusterView, *, resync: float = 30.0,
                 on_failure: Callable[[str], None] = lambda message: None) -> None:
        self.cluster_uid, self.network, self.view, self.resync = cluster_uid, network, view, resync
        self.bridge = bridge_name(cluster_uid)
        self.proxy = ServiceProxy(cluster_uid, network, {})
        self.dns = DnsServer(Resolver(network, self._dns_snapshot, HostResolvers(exclude=[Upstream(network.gateway)])),
                             network.gateway)
        self._on_failure = on_failure
        self._dns_running = False
        self._last_failure: str | None = None
        self._lock_file: TextIO | None = None  # open while this agent holds the host lock
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="host-networking", daemon=True)

    @property
    def holder(self) -> bool:
        """Whether this agent runs the host's networking now."""
        return self._lock_file is not None

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Stop serving; iptables rules and routes stay (traffic keeps flowing until the next
        holder, or ``dockyard down``, takes over)."""
        self._stop.set()
        self.view.stop()  # wakes the loop, which waits on the view for the next change
        self.thread.join(timeout=5)
        if self._dns_running:
            self.dns.stop()
        if self._lock_file is not None:
            self._lock_file.close()  # releases the lock

    # -- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._take_lock():
            if self._stop.wait(LOCK_RETRY):
                return
        log.info("this agent runs the host's cluster networking (service proxy, DNS on %s:53, routes)",
                 self.network.gateway)
        self.view.start()
        seen, last_forced = -1, 0.0
        while not self._stop.is_set():
            generation = self.view.wait_for_change(seen, timeout=self.resync)
            if self._stop.is_set() or not self.view.synced():
                continue
            force = time.monotonic() - last_forced >= self.resync
            if self._sync(force):
                seen = generation
                if force:
                    last_forced = time.monotonic()
            else:
                self._stop.wait(RETRY)

    def _sync(self, force: bool) -> bool:
        """One pass over every step; True when all of them succeeded."""
        snapshot = self.view.snapshot()
        steps = (
            ("hairpin mode", lambda: ip.enable_hairpin(self.bridge)),
            ("service proxy", lambda: self._sync_proxy(snapshot, force)),
            ("routes", lambda: sync_routes(snapshot.nodes, self.network, self.bridge)),
            ("cluster DNS", self._serve_dns),
        )
        failures = []
        for name, step in steps:
            try:
                step()
            except _FAILURES as error:
                failures.append(f"{name}: {error}")
        if failures:
            self._failed("; ".join(failures))
            return False
        if self._last_failure is not None:
            log.info("host networking recovered")
            self._last_failure = None
        return True

    def _sync_proxy(self, snapshot: NetworkSnapshot, force: bool) -> None:
        self.proxy.local_nodes = self._local_nodes(snapshot.nodes)
        self.proxy.sync(snapshot, force=force)

    def _serve_dns(self) -> None:
        if not self._dns_running:
            self.dns.start()
            self._dns_running = True
            log.info("cluster DNS serving on %s:53", self.network.gateway)

    def _local_nodes(self, nodes: Iterable[dict]) -> dict[str, str]:
        local = {found.address for found in ip.addresses()}
        return {node["metadata"]["name"]: address for node in nodes
                if (address := internal_ip(node)) is not None and address in local}

    def _failed(self, message: str) -> None:
        if message != self._last_failure:
            log.warning("host networking: %s", message)
            self._on_failure(message)
            self._last_failure = message

    def _take_lock(self) -> bool:
        handle = open(host_lock_path(self.cluster_uid), "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._lock_file = handle
        return True

    def _dns_snapshot(self) -> NetworkSnapshot | None:
        """What the DNS answers from; None until the view has listed everything once (the DNS
        then says SERVFAIL, which resolvers do not cache, rather than a false NXDOMAIN)."""
        return self.view.snapshot() if self.view.synced() else None
