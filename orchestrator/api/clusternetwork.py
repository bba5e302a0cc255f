"""The cluster's address plan: one value the control plane, every agent and the DNS agree on.

Kubernetes spreads these over several components' flags (kube-controller-manager's
``--cluster-cidr`` and ``--node-cidr-mask-size``, kube-apiserver's ``--service-cluster-ip-range``,
the kubelet's ``--cluster-dns`` and ``--cluster-domain``, kube-proxy's ``clusterCIDR``). dockyard
sets them once, on ``dockyard server``, and publishes them in ``kube-public/cluster-info`` so an
agent joining later cannot disagree.

Worked example with the defaults::

    cluster CIDR 10.244.0.0/16, node CIDR mask /24, service CIDR 10.96.0.0/12
    10.244.0.0/24    infrastructure, never a node's:
        10.244.0.1       the pod network's gateway on every host (the Docker bridge), where the
                         host's cluster DNS server listens
        10.244.0.11 …    addresses of the nodes of a local cluster (``dockyard up``), one per
                         node, on that bridge: node-1 is .11, node-2 is .12
    10.244.1.0/24    the first node's pod CIDR, then 10.244.2.0/24 … (255 nodes at most)
    10.96.0.1        the ``kubernetes`` Service (first address of the service range)
    10.96.0.10       the ``kube-dns`` Service: every pod's nameserver

In each node CIDR the network address, the ``.1`` and the broadcast address are never given to a
pod, so a node's range holds 253 pods (more than the default 110-pod limit).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

DEFAULT_CLUSTER_CIDR = "10.244.0.0/16"
DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
DEFAULT_NODE_CIDR_MASK = 24
DEFAULT_CLUSTER_DOMAIN = "cluster.local"
DNS_PORT = 53

#: how many side-by-side clusters :func:`first_free_network` can place on one host
SIDE_BY_SIDE_CLUSTERS = 9

#: offsets inside the ranges, as Kubernetes places them
_KUBERNETES_SERVICE_OFFSET = 1
_DNS_SERVICE_OFFSET = 10
_LOCAL_NODE_ADDRESS_OFFSET = 10

_DATA_KEYS = {"cluster_cidr": "cluster-cidr", "service_cidr": "service-cidr",
              "node_cidr_mask": "node-cidr-mask-size", "cluster_domain": "cluster-domain"}


class NetworkConfigError(ValueError):
    """The address plan contradicts itself; the message names the flag to change."""


@dataclass(frozen=True)
class ClusterNetwork:
    cluster_cidr: str = DEFAULT_CLUSTER_CIDR
    service_cidr: str = DEFAULT_SERVICE_CIDR
    node_cidr_mask: int = DEFAULT_NODE_CIDR_MASK
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN

    def __post_init__(self) -> None:
        try:
            pods, services = ipaddress.IPv4Network(self.cluster_cidr), ipaddress.IPv4Network(self.service_cidr)
        except ValueError as error:
            raise NetworkConfigError(f"--cluster-cidr/--service-cidr: {error}") from None
        if pods.overlaps(services):
            raise NetworkConfigError(f"the pod range {pods} (--cluster-cidr) overlaps the service range "
                                     f"{services} (--service-cidr); give them separate ranges")
        if not pods.prefixlen < self.node_cidr_mask <= 28:
            raise NetworkConfigError(f"--node-cidr-mask-size {self.node_cidr_mask} must be longer than the "
                                     f"cluster CIDR's /{pods.prefixlen} and at most /28")
        if services.num_addresses < 16:
            raise NetworkConfigError(f"the service range {services} is too small; use at most a /28")
        if not self.cluster_domain or self.cluster_domain.strip(".") != self.cluster_domain:
            raise NetworkConfigError(f"--cluster-domain {self.cluster_domain!r} must be a domain like cluster.local")

    # -- the pod network ---------------------------------------------------------------------

    @property
    def pods(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.cluster_cidr)

    @property
    def gateway(self) -> str:
        """The bridge's address on every host: pods' default route and the DNS server's address."""
        return str(self.pods.network_address + 1)

    @property
    def node_cidr_count(self) -> int:
        """How many nodes can get a pod CIDR (the first block is the infrastructure's)."""
        return 2 ** (self.node_cidr_mask - self.pods.prefixlen) - 1

    def node_cidr(self, index: int) -> str:
        """The ``index``-th node block, 1-based (block 0 is the infrastructure's)."""
        if not 1 <= index <= self.node_cidr_count:
            raise IndexError(f"node CIDR {index} is outside 1..{self.node_cidr_count}")
        block = 2 ** (32 - self.node_cidr_mask)
        return str(ipaddress.IPv4Network((int(self.pods.network_address) + index * block, self.node_cidr_mask)))

    def local_node_address(self, ordinal: int) -> str:
        """The address of the ``ordinal``-th node (1-based) of a local cluster, on the bridge."""
        infrastructure = next(self.pods.subnets(new_prefix=self.node_cidr_mask))
        address = infrastructure.network_address + _LOCAL_NODE_ADDRESS_OFFSET + ordinal
        if ordinal < 1 or address >= infrastructure.broadcast_address:
            raise IndexError(f"a local cluster has room for at most "
                             f"{infrastructure.num_addresses - _LOCAL_NODE_ADDRESS_OFFSET - 2} nodes")
        return str(address)

    # -- services ----------------------------------------------------------------------------

    @property
    def services(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.service_cidr)

    @property
    def kubernetes_service_ip(self) -> str:
        return str(self.services.network_address + _KUBERNETES_SERVICE_OFFSET)

    @property
    def dns_service_ip(self) -> str:
        return str(self.services.network_address + _DNS_SERVICE_OFFSET)

    @property
    def reserved_service_ips(self) -> frozenset[str]:
        """Addresses the allocator never hands to user Services."""
        return frozenset({self.kubernetes_service_ip, self.dns_service_ip})

    # -- wire form (kube-public/cluster-info) ------------------------------------------------

    def to_data(self) -> dict[str, str]:
        return {key: str(getattr(self, attr)) for attr, key in _DATA_KEYS.items()}

    @classmethod
    def from_data(cls, data: dict[str, str]) -> ClusterNetwork:
        """Read back :meth:`to_data`; keys a server before the pod network did not publish keep
        their defaults."""
        mask = data.get(_DATA_KEYS["node_cidr_mask"])
        return cls(cluster_cidr=data.get(_DATA_KEYS["cluster_cidr"]) or DEFAULT_CLUSTER_CIDR,
                   service_cidr=data.get(_DATA_KEYS["service_cidr"]) or DEFAULT_SERVICE_CIDR,
                   node_cidr_mask=int(mask) if mask else DEFAULT_NODE_CIDR_MASK,
                   cluster_domain=data.get(_DATA_KEYS["cluster_domain"]) or DEFAULT_CLUSTER_DOMAIN)


def first_free_network(taken: list[str]) -> ClusterNetwork:
    """The first address plan whose ranges overlap none of ``taken`` (subnets already used on this
    host: other Docker networks, among them other clusters' pod networks).

    Candidates pair a pod range with a service range: the defaults first, then 10.245.0.0/16 with
    10.112.0.0/12, 10.246.0.0/16 with 10.128.0.0/12 … so two clusters on one host never share an
    address, and each keeps its plan for life (it is stored in its ``cluster.json``).
    """
    used = [ipaddress.IPv4Network(subnet, strict=False) for subnet in taken if ":" not in subnet]
    for index in range(SIDE_BY_SIDE_CLUSTERS):
        candidate = ClusterNetwork(cluster_cidr=f"10.{244 + index}.0.0/16", service_cidr=f"10.{96 + 16 * index}.0.0/12")
        if not any(candidate.pods.overlaps(net) or candidate.services.overlaps(net) for net in used):
            return candidate
    raise NetworkConfigError(
        f"no free address range for another cluster on this host: {SIDE_BY_SIDE_CLUSTERS} clusters or other "
        "Docker networks use 10.244.0.0/16-10.252.0.0/16; stop one (`dockyard down`) or start the server "
        "by hand with --cluster-cidr and --service-cidr")
