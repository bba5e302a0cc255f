"""How an agent learns which cluster it serves and gets its own credentials.

The two steps of :mod:`orchestrator.api.bootstrap`, client side:

1. :func:`fetch_cluster_info` reads ``kube-public/cluster-info``. With ``--ca-file`` the TLS
   connection is verified from the start. With only ``--ca-cert-hash`` (a fresh machine that was
   handed ``dockyard token create``'s join command) the first read is unverified and *anonymous*
   (no token travels over it), the CA it returns must match the pin, and the information is then
   read again over TLS verified with that CA, so a man-in-the-middle can neither slip in its own
   CA nor forge the cluster's name or uid.
2. :func:`load_or_exchange_token` turns the agent's ``--token`` into a node token: a node token
   (``dyn_…``) is used as is; a join token (``dyj_…``) is exchanged once and the node token saved
   in the agent's state dir (0600), so a restarted agent reuses it (a join token cannot be
   exchanged twice for one node name).

:func:`join_cluster` does both, which is what the agent calls at start-up. Everything here is
plain httpx; no orchestrator module but the pure :mod:`orchestrator.api` is imported.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import httpx

from agent.config import AgentConfig
from orchestrator.api.bootstrap import (
    CLUSTER_INFO_PATH, JOIN_NODE_NAME, JOIN_PATH, JOIN_TOKEN, PublicClusterInfo, ca_cert_hash,
)

NODE_TOKEN_PREFIX = "dyn_"
JOIN_TOKEN_PREFIX = "dyj_"
#: the saved node token, inside the agent's state dir
NODE_TOKEN_FILE = "node-token"
TIMEOUT = 10.0


class JoinError(Exception):
    """Joining failed; ``str()`` says why and what to do."""


@dataclass(frozen=True)
class JoinedCluster:
    """What an agent knows once it has joined: the cluster and its own bearer token."""

    info: PublicClusterInfo
    token: str


def join_cluster(config: AgentConfig) -> JoinedCluster:
    info = fetch_cluster_info(config.server, config.ca_file, config.ca_cert_hash)
    return JoinedCluster(info, load_or_exchange_token(config, info.ca_pem))


def fetch_cluster_info(server: str, ca_file: Path | None = None, ca_cert_hash: str | None = None
                       ) -> PublicClusterInfo:
    """The cluster's public information, from a server whose CA is trusted (``ca_file``) or pinned
    (``ca_cert_hash``, ``sha256:HEX``); see the module docstring."""
    pin = _normalised_pin(ca_cert_hash) if ca_cert_hash else None
    if ca_file is not None:
        try:
            trusted = Path(ca_file).read_text()
        except OSError as error:
            raise JoinError(f"cannot read the cluster CA {ca_file}: {error.strerror}") from None
        if pin is not None:
            _check_pin(trusted, pin, f"the CA in {ca_file}")
    elif pin is not None:
        offered = _read_cluster_info(server, verify=False)
        _check_pin(offered.ca_pem, pin, f"the CA that {server} presents")
        trusted = offered.ca_pem
    else:
        raise JoinError(
            "the agent cannot trust the API server yet: give --ca-file (the cluster's pki/ca.crt) "
            "or --ca-cert-hash (the sha256:… that `dockyard token create` prints)")
    return _read_cluster_info(server, verify=_context(trusted))


def exchange_join_token(server: str, ca_pem: str, join_token: str, node_name: str) -> str:
    """Trade ``join_token`` for a node token for ``node_name`` (once per node name)."""
    response = _call(server, "POST", JOIN_PATH, verify=_context(ca_pem), token=join_token,
                     json={JOIN_NODE_NAME: node_name})
    if response.status_code == 401:
        raise JoinError(f"{server} does not accept the join token: it is unknown, expired or revoked. "
                        "Make a new one with `dockyard token create` on the control plane")
    _raise_for_status(server, response, f"exchanging the join token for node {node_name!r}")
    token = _json(server, response).get(JOIN_TOKEN)
    if not isinstance(token, str) or not token.startswith(NODE_TOKEN_PREFIX):
        raise JoinError(f"{server} answered the join request without a node token; is it a dockyard server?")
    return token


def load_or_exchange_token(config: AgentConfig, ca_pem: str) -> str:
    """The agent's node token: ``config.token`` if it is one, else the one saved by an earlier
    start, else ``config.token`` (a join token) exchanged now and saved."""
    if config.token.startswith(NODE_TOKEN_PREFIX):
        return config.token
    saved = read_node_token(config.state_dir)
    if saved is not None:
        return saved
    if not config.token.startswith(JOIN_TOKEN_PREFIX):
        raise JoinError(f"--token must be a node token ({NODE_TOKEN_PREFIX}…) or a join token "
                        f"({JOIN_TOKEN_PREFIX}…, from `dockyard token create`)")
    token = exchange_join_token(config.server, ca_pem, config.token, config.node_name)
    save_node_token(config.state_dir, token)
    return token


def read_node_token(state_dir: Path) -> str | None:
    try:
        token = (Path(state_dir) / NODE_TOKEN_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return token or None


def save_node_token(state_dir: Path, token: str) -> Path:
    """Write the node token to ``state_dir/node-token``, readable by its owner only.

    Written to a temporary file created 0600 and renamed over the old one, so the token is never
    readable by others, nor half-written if the machine stops mid-write.
    """
    state_dir = Path(state_dir)
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = state_dir / NODE_TOKEN_FILE
    temporary = state_dir / f".{NODE_TOKEN_FILE}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, target)
    return target


# -- HTTP -------------------------------------------------------------------------------------


def _read_cluster_info(server: str, *, verify: ssl.SSLContext | bool) -> PublicClusterInfo:
    response = _call(server, "GET", CLUSTER_INFO_PATH, verify=verify)
    _raise_for_status(server, response, "reading kube-public/cluster-info")
    try:
        return PublicClusterInfo.from_configmap(_json(server, response))
    except ValueError as error:
        raise JoinError(f"{server}: {error}") from None


def _call(server: str, method: str, path: str, *, verify: ssl.SSLContext | bool, token: str | None = None,
          json: dict | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with httpx.Client(base_url=server.rstrip("/"), verify=verify, timeout=TIMEOUT) as client:
            return client.request(method, path, headers=headers, json=json)
    except httpx.HTTPError as error:
        if "CERTIFICATE_VERIFY_FAILED" in str(error):
            raise JoinError(
                f"the certificate of {server} does not verify against the cluster CA ({error}). If "
                f"the CA is right, the certificate does not name this address: start `dockyard "
                f"server` with --advertise HOST for the address agents use") from None
        raise JoinError(f"cannot reach the API server at {server}: {error}. Is `dockyard server` "
                        f"running there, and is the address and port right?") from None


def _raise_for_status(server: str, response: httpx.Response, doing: str) -> None:
    if response.status_code < 400:
        return
    try:
        message = response.json().get("message") or response.text
    except ValueError:
        message = response.text
    raise JoinError(f"{doing} failed: {server} answered {response.status_code}: {message}")


def _json(server: str, response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise JoinError(f"{server} did not answer with JSON; is it a dockyard API server?")
    return body


# -- trust ------------------------------------------------------------------------------------


def _context(ca_pem: str) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cadata=ca_pem)
    except ssl.SSLError as error:
        raise JoinError(f"the cluster CA is not a usable PEM certificate: {error}") from None


def _normalised_pin(pin: str) -> str:
    algorithm, _, digest = pin.strip().partition(":")
    digest = digest.lower()
    if algorithm.lower() != "sha256" or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise JoinError(f"--ca-cert-hash {pin!r} is not of the form sha256:<64 hex digits>, "
                        "as `dockyard token create` prints it")
    return f"sha256:{digest}"


def _check_pin(ca_pem: str, pin: str, what: str) -> None:
    try:
        actual = ca_cert_hash(ca_pem)
    except ValueError:
        raise JoinError(f"{what} is not a PEM certificate") from None
    if actual != pin:
        raise JoinError(
            f"{what} has hash {actual}, not the expected {pin}: this is not the cluster the join "
            "command was made for (or someone is intercepting the connection). Check the server "
            "address, or ask for a fresh join command")
