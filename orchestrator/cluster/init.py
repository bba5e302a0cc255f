"""``dockyard init``: bring a state directory to a complete, consistent cluster.

:func:`init_cluster` is idempotent and safe to run again, e.g. with a new ``--listen`` address or
port. Each step keeps what is already there and only adds what is missing:

1. directories (0700) — :class:`~orchestrator.cluster.statedir.StateDir`;
2. the CA — created once, never replaced (every kubeconfig and agent trusts it);
3. the server certificate — re-issued only if the API address or an extra host is not covered;
   beside it the API server's client certificate for node agents, issued once and renewed
   near expiry;
4. the admin token — issued on first init only. Its plaintext lives solely in the 0600
   kubeconfig (``tokens.json`` has hashes), so a later init reads it back from there and keeps
   it if it still authenticates as admin; only a lost or revoked one is replaced;
5. the kubeconfig — rewritten only when its content would change (new port, new host);
6. ``cluster.json`` — name, API address, flags; the creation time of the first init and the
   cluster's uid are kept. The uid (a random UUID, made once and never changed; a ``cluster.json``
   from before uids existed gets one) is what tells two clusters on one Docker engine apart:
   every container, network and volume an agent makes carries it as a label, and
   ``dockyard down`` removes exactly what carries it.

A wildcard listen address (``0.0.0.0`` or ``::``) is not somewhere a client can connect to, so
the kubeconfig then points at ``127.0.0.1`` and the certificate additionally covers this machine's
hostname and primary IP, which is what agents on other machines will dial.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from orchestrator.cluster.kubeconfig import KubeconfigError, read_kubeconfig, render_kubeconfig
from orchestrator.cluster.pki import ca_pem, ensure_apiserver_client_cert, ensure_ca, ensure_server_cert
from orchestrator.cluster.statedir import PUBLIC_MODE, SECRET_MODE, StateDir, atomic_write
from orchestrator.cluster.identity import ADMIN_USER
from orchestrator.cluster.tokens import TokenBook

_CLUSTER_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


@dataclass(frozen=True)
class ClusterInfo:
    """The contents of ``cluster.json``."""

    name: str
    api_host: str
    api_port: int
    server_url: str
    created: str  # ISO 8601, UTC, of the first init
    uid: str  # random UUID of the first init; "" only in a cluster.json written before uids
    flags: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, state: StateDir) -> ClusterInfo:
        raw = json.loads(state.cluster_json.read_text())
        return cls(raw["name"], raw["api_host"], int(raw["api_port"]), raw["server_url"],
                   raw["created"], raw.get("uid") or "", dict(raw.get("flags") or {}))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "uid": self.uid, "api_host": self.api_host, "api_port": self.api_port,
                "server_url": self.server_url, "created": self.created, "flags": self.flags}


@dataclass(frozen=True)
class ClusterInit:
    """What :func:`init_cluster` made or found."""

    state: StateDir
    info: ClusterInfo
    admin_token_issued: bool  # True on first init (or when the old admin token was lost)

    @property
    def server_url(self) -> str:
        return self.info.server_url

    @property
    def kubeconfig(self) -> Path:
        return self.state.kubeconfig

    @property
    def ca_cert(self) -> Path:
        return self.state.ca_cert

    @property
    def server_cert(self) -> Path:
        return self.state.server_cert

    @property
    def server_key(self) -> Path:
        return self.state.server_key


def init_cluster(
    state: StateDir,
    *,
    cluster_name: str,
    api_host: str,
    api_port: int,
    extra_hosts: Iterable[str] = (),
    flags: Mapping[str, Any] | None = None,
) -> ClusterInit:
    """Create or complete the cluster in ``state``; see the module docstring for each step.

    ``flags`` (recorded in ``cluster.json``) default to those of the previous init.
    """
    if not _CLUSTER_NAME.fullmatch(cluster_name):
        raise ValueError(f"invalid cluster name {cluster_name!r}: lowercase letters, digits, '-'")
    if not 0 < api_port < 65536:
        raise ValueError(f"invalid API port {api_port}")
    state.ensure()

    previous = ClusterInfo.load(state) if state.cluster_json.exists() else None
    url = server_url(api_host, api_port)
    hosts = [api_host, *extra_hosts]
    if _is_wildcard(api_host):
        hosts += _this_machine()

    ensure_ca(state, cluster_name)
    ensure_server_cert(state, hosts)
    ensure_apiserver_client_cert(state)

    token, issued = _admin_token(state)
    text = render_kubeconfig(cluster_name=cluster_name, server_url=url, ca_pem=ca_pem(state),
                             user=ADMIN_USER, token=token)
    if not state.kubeconfig.exists() or state.kubeconfig.read_text() != text:
        atomic_write(state.kubeconfig, text, SECRET_MODE)

    info = ClusterInfo(
        name=cluster_name,
        api_host=api_host,
        api_port=api_port,
        server_url=url,
        created=previous.created if previous else _utc_now(),
        uid=previous.uid if previous and previous.uid else str(uuid.uuid4()),
        flags=dict(flags) if flags is not None else (previous.flags if previous else {}),
    )
    if info != previous:
        atomic_write(state.cluster_json, json.dumps(info.to_json(), indent=2) + "\n", PUBLIC_MODE)
    return ClusterInit(state=state, info=info, admin_token_issued=issued)


def server_url(api_host: str, api_port: int) -> str:
    """``https://host:port`` as clients should dial it (IPv6 in brackets, wildcard → loopback)."""
    host = api_host.strip("[]")
    if _is_wildcard(host):
        host = "127.0.0.1"
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass  # a DNS name
    return f"https://{host}:{api_port}"


def reachable_url(info: ClusterInfo) -> str:
    """The URL another machine should dial: :attr:`ClusterInfo.server_url`, except that a server
    listening on every address (whose kubeconfig says ``127.0.0.1``) is reached at this machine's
    primary IP, which its certificate covers (see :func:`init_cluster`)."""
    if not _is_wildcard(info.api_host):
        return info.server_url
    names = _this_machine()
    return server_url(names[-1], info.api_port) if len(names) > 1 else info.server_url


def _admin_token(state: StateDir) -> tuple[str, bool]:
    """The admin token from the existing kubeconfig if it still works, else a new one."""
    book = TokenBook.for_state(state)
    try:
        token = read_kubeconfig(state.kubeconfig)["token"]
    except (FileNotFoundError, KubeconfigError, yaml.YAMLError, ValueError):
        token = None
    if token is not None:
        identity = book.authenticate(token)
        if identity is not None and identity.is_admin:
            return token, False
    return book.issue_admin(), True


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def _this_machine() -> list[str]:
    """Names other machines may use to reach this one: hostname and primary IPv4 address."""
    names = [socket.gethostname()]
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        # Connecting a UDP socket sends nothing; it only asks the kernel which local address
        # would route to the outside (TEST-NET-1 here, never actually contacted).
        probe.connect(("192.0.2.1", 9))
        names.append(probe.getsockname()[0])
    except OSError:
        pass  # no route: the hostname alone will have to do
    finally:
        probe.close()
    return names


def _utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
