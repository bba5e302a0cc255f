"""A local area network of separate machines on this host, made of Linux network namespaces.

Each *machine* is a network namespace of its own, with one link (a veth end) into the LAN. The
LAN is a Linux bridge in a namespace of its own (the "switch"), never in the host's root namespace:
the host's FORWARD policy is Docker's DROP, and nothing of a test may touch the host's own links,
routes or rules. The bridge itself holds the LAN's first address, so a process run in the switch's
namespace stands where a user's workstation stands on a real LAN (kubectl, curl to a NodePort)::

    namespace dym-<run>-lan    bridge dym<run>br  192.168.N.1/24   (the "workstation")
       ├─ dym<run>p1 ══ veth ══ dym<run>e1  192.168.N.10/24  in namespace dym-<run>-control
       ├─ dym<run>p2 ══ veth ══ dym<run>e2  192.168.N.11/24  in namespace dym-<run>-worker-1
       └─ dym<run>p3 ══ veth ══ dym<run>e3  192.168.N.12/24  in namespace dym-<run>-worker-2

Each machine's default route points at the workstation, as a real machine's points at its router
(the workstation forwards nowhere): what a machine takes for its primary address, the one the
kernel would use to reach the outside, is then its LAN address, as on a one-NIC machine.

The veth pairs are made directly between the two namespaces (``ip -n LAN link add … peer … netns
MACHINE``), so they never appear in the root namespace. Every name carries the run's tag (six hex
digits), so concurrent runs never meet and leftovers are recognisable (:mod:`tests.support.leftovers`).
The LAN's /24 is picked at random from 192.168.100.0 … 192.168.254.0 among those no route of this
host uses. It could not clash anyway (the host never sees it), but a leaked address would then
still be harmless.

Processes run *on* a machine through ``ip netns exec NAME`` (:meth:`Machine.command`): the
machine's network, and a /sys mounted for it, in a mount namespace of the process's own, while the
host's files stay visible. The /sys matters: sysfs shows the links of the namespace that mounted
it, so under a bare ``nsenter --net`` ``/sys/class/net`` lists the host's links, and an agent there
would find no ports on its bridge to turn hairpin mode on for (a pod reaching its own Service then
hangs). dockerd is the exception (:meth:`Machine.command_with_host_sys`, ``nsenter --net``): it
needs the host's cgroup mounts, which the fresh /sys of ``ip netns exec`` hides. Deleting a
namespace deletes its links, routes and iptables rules with it: :meth:`Lan.remove` is the whole
network teardown.
"""

from __future__ import annotations

import ipaddress
import random
import subprocess
from dataclasses import dataclass, field

from agent.network import ip

#: every namespace, link and cgroup of a run starts with this and the run's tag
PREFIX = "dym"
#: the third octet of the LAN's 192.168.N.0/24 is picked from these
LAN_CANDIDATES = range(100, 255)


def netns_path(name: str) -> str:
    return f"/run/netns/{name}"


def on(netns: str, argv: list[str] | tuple[str, ...]) -> list[str]:
    """``argv`` run on the machine whose network namespace is ``netns``, with its own /sys."""
    return ["ip", "netns", "exec", netns, *argv]


def on_with_host_sys(netns: str, argv: list[str] | tuple[str, ...]) -> list[str]:
    """``argv`` in the network namespace ``netns`` and nothing else: the host's /sys, cgroups included."""
    return ["nsenter", f"--net={netns_path(netns)}", *argv]


def sh(*argv: str) -> str:
    """Run a command; CalledProcessError carrying its stderr if it fails."""
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, argv, done.stdout, done.stderr)
    return done.stdout


def free_lan(in_use: list[str]) -> ipaddress.IPv4Network:
    """A 192.168.N.0/24 overlapping none of ``in_use`` (this host's route destinations)."""
    used = [ipaddress.ip_network(subnet, strict=False) for subnet in in_use
            if ":" not in subnet and subnet != "default"]
    choices = list(LAN_CANDIDATES)
    random.shuffle(choices)
    for third in choices:
        candidate = ipaddress.IPv4Network(f"192.168.{third}.0/24")
        if not any(candidate.overlaps(network) for network in used):
            return candidate
    raise RuntimeError("no free /24 left in 192.168.100.0-192.168.254.255 for a test LAN")


@dataclass(frozen=True)
class Machine:
    """One machine on the LAN: its network namespace and its address there."""
    name: str          # the host name it plays (control, worker-1 …)
    netns: str
    address: str       # on the LAN
    uplink: str        # its end of the veth pair, in its own namespace

    def command(self, *argv: str) -> list[str]:
        return on(self.netns, argv)

    def command_with_host_sys(self, *argv: str) -> list[str]:
        return on_with_host_sys(self.netns, argv)


@dataclass
class Lan:
    tag: str
    subnet: ipaddress.IPv4Network = field(default_factory=lambda: free_lan([r.destination for r in ip.routes()]))
    machines: list[Machine] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # namespaces made so far, for remove()

    @property
    def netns(self) -> str:
        """The switch's namespace, where the "workstation" runs."""
        return f"{PREFIX}-{self.tag}-lan"

    @property
    def bridge(self) -> str:
        return f"{PREFIX}{self.tag}br"

    @property
    def workstation_address(self) -> str:
        return str(self.subnet.network_address + 1)

    def command(self, *argv: str) -> list[str]:
        """``argv`` run from the workstation: a process on the LAN but on none of the machines."""
        return on(self.netns, argv)

    def create(self) -> Lan:
        self._add_netns(self.netns)
        for step in (["link", "set", "lo", "up"],
                     ["link", "add", self.bridge, "type", "bridge"],
                     ["address", "add", f"{self.workstation_address}/{self.subnet.prefixlen}", "dev", self.bridge],
                     ["link", "set", self.bridge, "up"]):
            sh("ip", "-n", self.netns, *step)
        return self

    def add_machine(self, name: str, host_number: int) -> Machine:
        """A new namespace joined to the LAN at 192.168.N.<host_number>."""
        index = len(self.machines) + 1
        machine = Machine(name=name, netns=f"{PREFIX}-{self.tag}-{name}",
                          address=str(self.subnet.network_address + host_number),
                          uplink=f"{PREFIX}{self.tag}e{index}")
        port = f"{PREFIX}{self.tag}p{index}"
        self._add_netns(machine.netns)
        sh("ip", "-n", self.netns, "link", "add", port, "type", "veth", "peer", "name", machine.uplink,
           "netns", machine.netns)
        sh("ip", "-n", self.netns, "link", "set", port, "master", self.bridge, "up")
        for step in (["link", "set", "lo", "up"],
                     ["address", "add", f"{machine.address}/{self.subnet.prefixlen}", "dev", machine.uplink],
                     ["link", "set", machine.uplink, "up"],
                     ["route", "add", "default", "via", self.workstation_address]):
            sh("ip", "-n", machine.netns, *step)
        # A new namespace inherits forwarding on here; a machine boots with it off, and Docker,
        # turning it on, sets the FORWARD policy to DROP, which the agents' rules must then get past.
        sh(*machine.command("sysctl", "-q", "-w", "net.ipv4.ip_forward=0"))
        self.machines.append(machine)
        return machine

    def port(self, machine: Machine) -> str:
        """The switch's end of ``machine``'s cable (the veth peer of its uplink)."""
        return f"{PREFIX}{self.tag}p{self.machines.index(machine) + 1}"

    def unplug(self, machine: Machine) -> None:
        """Cut ``machine`` off the LAN, as a pulled cable does: the switch's port goes down, so
        what it sends is lost and nothing reaches it; its processes, addresses and routes stay."""
        sh("ip", "-n", self.netns, "link", "set", self.port(machine), "down")

    def plug(self, machine: Machine) -> None:
        """Connect ``machine`` again after :meth:`unplug`."""
        sh("ip", "-n", self.netns, "link", "set", self.port(machine), "up")

    def remove(self) -> None:
        """Delete every namespace of the LAN, and with them every link, route and rule in them.
        A namespace some process still holds vanishes from ``ip netns`` at once and from the
        kernel when that process ends; :mod:`tests.support.machine_engine` ends them first."""
        failures = []
        for netns in reversed(self.created):
            done = subprocess.run(["ip", "netns", "delete", netns], capture_output=True, text=True)
            if done.returncode != 0 and "No such file" not in done.stderr:
                failures.append(f"{netns}: {done.stderr.strip()}")
        self.created.clear()
        if failures:
            raise RuntimeError("could not delete the test LAN's namespaces: " + "; ".join(failures))

    def _add_netns(self, name: str) -> None:
        sh("ip", "netns", "add", name)
        self.created.append(name)
