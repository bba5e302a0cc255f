"""Names of the service proxy's iptables chains (pure).

Every chain of a cluster starts with its prefix ``DY-<TAG>-`` (:func:`agent.network.names.chain_prefix`,
12 characters), which is how the proxy recognises its own chains on a host shared with Docker,
the host's rules and other clusters — and how cleanup finds them with nothing but the cluster uid.
The kernel allows 28 characters, which leaves 16:

* fixed chains by their role: ``DY-1A2B3C4D-SERVICES``, ``…-NODEPORTS``, ``…-POSTROUTING`` …
* per service port, kube-proxy's kinds (``SVC`` its endpoints, ``SVL`` its endpoints on one local
  node, ``EXT`` its external traffic, ``SEP`` one endpoint) followed by 12 characters of base32
  SHA-256 of what the chain stands for, as kube-proxy names them: stable across syncs and agent
  restarts, so an unchanged service keeps its chains, and different services never share one.

Example: the TCP port ``http`` of ``default/web`` in cluster ``1a2b3c4d-…`` has its endpoints in
``DY-1A2B3C4D-SVC-`` + the first 12 base32 characters of sha256(``default/web:http/tcp``); its
endpoint 10.244.1.5:8080 has ``DY-1A2B3C4D-SEP-`` + 12 of sha256(``default/web:http/tcp/10.244.1.5:8080``).
"""

from __future__ import annotations

import base64
import hashlib

from agent.network.servicemap import Endpoint, ServicePort

#: ``DY-1A2B3C4D-`` (12) + ``SVC-`` (4) + 12 = 28 characters, the kernel's limit for a chain name
HASH_LENGTH = 12


class ChainNames:
    """The chain names of one cluster."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.services = prefix + "SERVICES"        # nat: entry from PREROUTING and OUTPUT
        self.nodeports = prefix + "NODEPORTS"      # nat: NodePorts, reached last from SERVICES
        self.mark_masq = prefix + "MARK-MASQ"      # nat: marks a packet for masquerading
        self.postrouting = prefix + "POSTROUTING"  # nat: masquerades what is marked
        self.refuse = prefix + "SERVICES"          # filter: rejects what has no endpoint
        self.forward = prefix + "FORWARD"          # filter: lets pod traffic through FORWARD

    def service(self, sp: ServicePort) -> str:
        return self._per_port("SVC", sp)

    def local(self, sp: ServicePort, node: str) -> str:
        return self._per_port("SVL", sp, node)

    def external(self, sp: ServicePort, node: str | None) -> str:
        """The external-traffic chain: one per service port (Cluster policy) or per service port
        and local node (Local policy: each node keeps to its own endpoints)."""
        return self._per_port("EXT", sp, *([node] if node else []))

    def endpoint(self, sp: ServicePort, endpoint: Endpoint) -> str:
        return self._per_port("SEP", sp, str(endpoint))

    def _per_port(self, kind: str, sp: ServicePort, *extra: str) -> str:
        return f"{self.prefix}{kind}-{chain_hash(sp.key, sp.protocol.value.lower(), *extra)}"


def chain_hash(*parts: str) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return base64.b32encode(digest).decode()[:HASH_LENGTH]
