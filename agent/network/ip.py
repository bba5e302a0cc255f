"""The agent's one adapter to the kernel's IPv4 configuration: the ``ip`` command, ``/proc/sys``
and ``/sys/class/net``.

Everything the agent changes on the host's network stack outside Docker goes through here: an
address on the pod bridge (a local node's address), routes to other machines' pod ranges, the
bridge's ``proxy_arp`` switch and its ports' ``hairpin_mode``. Reading uses ``ip -json`` so
nothing parses human output. Failures become :class:`IpCommandFailed` with a message that says
what went wrong and what to do (the usual cause, missing privileges, is named as such); nothing
above this module sees a ``CalledProcessError``.

All calls act on the network namespace the process runs in, which is what lets the tests run the
same code inside a namespace of their own (``ip netns exec``).
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: seconds one ``ip`` invocation may take; it answers in milliseconds unless the kernel is stuck
TIMEOUT = 10.0


class IpCommandFailed(Exception):
    """The kernel refused a change or could not be asked; ``str()`` says what to do."""


@dataclass(frozen=True)
class InterfaceAddress:
    device: str
    address: str
    prefixlen: int


@dataclass(frozen=True, order=True)
class Route:
    """A route of the main table as far as the agent cares: where to, and through which next hop
    (``gateway`` is None for a directly connected route)."""

    destination: str    # a network in CIDR form, "10.244.2.0/24" (a host route is "/32")
    gateway: str | None = None

    def spec(self) -> list[str]:
        """The route as ``ip route`` names it: its destination, and its next hop if it has one."""
        return [self.destination, "via", self.gateway] if self.gateway else [self.destination]


def addresses() -> list[InterfaceAddress]:
    """Every IPv4 address of every interface of this network namespace."""
    found = []
    for link in _json("-4", "address", "show"):
        for info in link.get("addr_info") or []:
            if info.get("family") == "inet" and info.get("local"):
                found.append(InterfaceAddress(link["ifname"], info["local"], int(info.get("prefixlen", 32))))
    return found


def link_exists(device: str) -> bool:
    return Path("/sys/class/net", device).exists()


def replace_address(device: str, address: str, prefixlen: int = 32) -> None:
    """Add ``address/prefixlen`` to ``device``; a no-op when it is there already."""
    _run("address", "replace", f"{address}/{prefixlen}", "dev", device)


def delete_address(device: str, address: str, prefixlen: int = 32) -> None:
    """Remove ``address/prefixlen`` from ``device``; one already gone (or a device gone) is fine."""
    if not link_exists(device) or not any(a.device == device and a.address == address for a in addresses()):
        return
    _run("address", "delete", f"{address}/{prefixlen}", "dev", device)


def routes() -> list[Route]:
    """The IPv4 routes of the main table, destinations normalised to CIDR form."""
    found = []
    for entry in _json("-4", "route", "show", "table", "main"):
        destination = entry.get("dst")
        if not destination or destination == "default":
            continue
        found.append(Route(str(ipaddress.IPv4Network(destination, strict=False)), entry.get("gateway")))
    return found


def replace_route(route: Route) -> None:
    _run("route", "replace", *route.spec())


def delete_route(route: Route) -> None:
    """Remove exactly this route (destination and next hop); one already gone is fine."""
    try:
        _run("route", "delete", *route.spec())
    except IpCommandFailed as error:
        if "No such process" not in str(error):  # the kernel's words for "no such route"
            raise


def enable_proxy_arp(device: str) -> None:
    """Let ``device`` answer ARP for addresses the host routes elsewhere (remote pods)."""
    path = Path("/proc/sys/net/ipv4/conf", device, "proxy_arp")
    try:
        if path.read_text().strip() != "1":
            path.write_text("1\n")
    except FileNotFoundError:
        raise IpCommandFailed(f"cannot enable proxy_arp on {device}: no such interface") from None
    except PermissionError:
        raise IpCommandFailed(f"cannot enable proxy_arp on {device}: permission denied; "
                              "run the agent as root (or with CAP_NET_ADMIN)") from None


def enable_hairpin(bridge: str) -> int:
    """Turn on hairpin mode on every port of ``bridge``; how many ports it was off on.

    A pod reaching its own Service is DNATed back to itself, and with bridge netfilter the frame
    must leave by the port it came in through, which a bridge refuses unless the port is in
    hairpin mode (the kubelet's ``--hairpin-mode=hairpin-veth``). Docker turns it on only when its
    userland proxy is off, so the agent does it for every pod's port.
    """
    changed = 0
    for switch in Path("/sys/class/net", bridge, "brif").glob("*/hairpin_mode"):
        try:
            if switch.read_text().strip() != "1":
                switch.write_text("1\n")
                changed += 1
        except FileNotFoundError:
            continue  # the pod's port went away meanwhile
        except PermissionError:
            raise IpCommandFailed(f"cannot turn on hairpin mode on the ports of {bridge}: permission denied; "
                                  "run the agent as root (or with CAP_NET_ADMIN)") from None
    return changed


def _json(*args: str) -> list[dict]:
    output = _run("-json", *args)
    return json.loads(output) if output.strip() else []


def _run(*args: str) -> str:
    command = ["ip", *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    except FileNotFoundError:
        raise IpCommandFailed("the `ip` command is missing: install iproute2 on this host") from None
    except subprocess.TimeoutExpired:
        raise IpCommandFailed(f"`{' '.join(command)}` did not answer in {TIMEOUT:g}s") from None
    if done.returncode != 0:
        reason = done.stderr.strip() or f"exit code {done.returncode}"
        advice = ("; run the agent as root (or with CAP_NET_ADMIN)"
                  if "Operation not permitted" in reason else "")
        raise IpCommandFailed(f"`{' '.join(command)}` failed: {reason}{advice}")
    return done.stdout
