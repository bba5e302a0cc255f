"""TLS towards node agents: our client certificate, and their pinned serving certificates.

An agent's serving certificate is self-signed, so no CA can vouch for it; its Node publishes the
certificate's SHA-256 instead (:data:`orchestrator.api.agentendpoint.SERVING_CERT_ANNOTATION`).
Pinning it takes two steps, because Python's ``ssl`` has no hook to inspect a certificate during
the handshake:

1. **fetch**: a bare TLS handshake (presenting our client certificate, as the agent demands)
   that only reads the certificate the agent presents, compares its SHA-256 with the pin and
   hangs up without sending anything;
2. **trust exactly that**: an ``SSLContext`` whose only trust anchor is that one certificate,
   with hostname checking off (the pin, not a name, is the identity). Every real connection
   (httpx for logs, websockets for exec) then verifies the agent against it in the normal
   handshake, so an impostor fails before a byte of a request is sent.

Contexts are cached by fingerprint: the fetch happens once per agent certificate, not per
request, and a re-registered agent with a new certificate simply gets a new entry.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path

from orchestrator.api import errors
from orchestrator.api.agentendpoint import cert_sha256

CONNECT_TIMEOUT = 10.0
#: more distinct agent certificates than this in one server's life means churn; start over
MAX_CACHED = 1024


@dataclass(frozen=True)
class AgentAddress:
    node: str
    host: str
    port: int
    fingerprint: str

    @property
    def netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class AgentTLS:
    def __init__(self, client_cert: Path, client_key: Path) -> None:
        self.client_cert = client_cert
        self.client_key = client_key
        self._contexts: dict[str, ssl.SSLContext] = {}

    async def context(self, address: AgentAddress) -> ssl.SSLContext:
        """An SSLContext that trusts only the certificate ``address.fingerprint`` pins."""
        cached = self._contexts.get(address.fingerprint)
        if cached is not None:
            return cached
        der = await self._presented_certificate(address)
        if cert_sha256(der) != address.fingerprint:
            raise errors.ApiError(
                f"the node agent at {address.netloc} presented a certificate with SHA-256 {cert_sha256(der)}, "
                f'but node "{address.node}" publishes {address.fingerprint}; refusing to talk to it. A restarted '
                "agent publishes its certificate when it registers; if this persists, something else answers "
                "on that address", errors.StatusReason.SERVICE_UNAVAILABLE, 503)
        context = self._base()
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=der)
        if len(self._contexts) >= MAX_CACHED:
            self._contexts.clear()
        self._contexts[address.fingerprint] = context
        return context

    def _base(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False  # identity is the pinned certificate, not a name
        context.load_cert_chain(self.client_cert, self.client_key)
        return context

    async def _presented_certificate(self, address: AgentAddress) -> bytes:
        probe = self._base()
        probe.verify_mode = ssl.CERT_NONE  # only reads the certificate; it is checked right after
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(address.host, address.port, ssl=probe), CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError, ssl.SSLError) as error:
            raise unreachable(address, error) from None
        try:
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ssl.SSLError):
                pass  # the agent may hang up first; we have what we came for
        return der


def unreachable(address: AgentAddress, error: BaseException) -> errors.ApiError:
    why = str(error) or type(error).__name__
    return errors.ApiError(
        f'cannot reach the node agent of node "{address.node}" at https://{address.netloc}: {why}; '
        "is the agent running (dockyard status) and reachable from the API server?",
        errors.StatusReason.SERVICE_UNAVAILABLE, 503)
