"""What can go wrong around the DNS server, as named errors whose ``str()`` tells a person what to do.

Socket errors are translated here, at the edge: callers match on the class (and on the
:class:`BindFailure` reason), and show the message as it is.
"""

from __future__ import annotations

import errno
from enum import Enum


class DnsError(Exception):
    """Base of every DNS server failure; ``str()`` is a complete explanation."""


class BindFailure(str, Enum):
    ADDRESS_IN_USE = "AddressInUse"
    ADDRESS_NOT_AVAILABLE = "AddressNotAvailable"
    PERMISSION_DENIED = "PermissionDenied"
    SOCKET_ERROR = "SocketError"


_ADVICE = {
    BindFailure.ADDRESS_IN_USE: "another program already listens there (on port 53 often systemd-resolved "
                                "or dnsmasq); stop it or make it listen elsewhere",
    BindFailure.ADDRESS_NOT_AVAILABLE: "no interface of this host has that address; is the cluster's bridge "
                                       "network up?",
    BindFailure.PERMISSION_DENIED: "ports below 1024 need root or CAP_NET_BIND_SERVICE",
    BindFailure.SOCKET_ERROR: "the operating system refused the socket",
}

_ERRNO_REASONS = {
    errno.EADDRINUSE: BindFailure.ADDRESS_IN_USE,
    errno.EADDRNOTAVAIL: BindFailure.ADDRESS_NOT_AVAILABLE,
    errno.EACCES: BindFailure.PERMISSION_DENIED,
}


class DnsBindError(DnsError):
    """The server cannot listen on its address and port."""

    def __init__(self, reason: BindFailure, transport: str, address: str, port: int, detail: str) -> None:
        self.reason = reason
        super().__init__(f"the cluster DNS server cannot listen on {address}:{port}/{transport}: {detail}; "
                         f"{_ADVICE[reason]}")

    @classmethod
    def from_os_error(cls, error: OSError, transport: str, address: str, port: int) -> DnsBindError:
        reason = BindFailure.SOCKET_ERROR if error.errno is None else \
            _ERRNO_REASONS.get(error.errno, BindFailure.SOCKET_ERROR)
        return cls(reason, transport, address, port, error.strerror or str(error))


class UpstreamUnavailable(DnsError):
    """No upstream resolver answered a forwarded query in time (the client gets SERVFAIL)."""
