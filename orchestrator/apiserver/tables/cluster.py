"""Cluster-scoped kinds: Node and Namespace tables."""

from __future__ import annotations

from datetime import datetime

from .columns import AGE, NAME, NONE, STRING, Cell, Column, KindPrinter, wide
from .fields import Object, field, items, mapping, name_of, text
from .humanize import UNKNOWN, since

NODE_COLUMNS: tuple[Column, ...] = (
    NAME,
    Column("Status", STRING, "The status of the node"),
    Column("Roles", STRING, "The roles of the node"),
    AGE,
    Column("Version", STRING, "Kubelet Version reported by the node."),
    wide("Internal-IP", STRING, "List of addresses reachable to the node."),
    wide("External-IP", STRING, "List of addresses reachable to the node."),
    wide("OS-Image", STRING, "OS Image reported by the node from /etc/os-release."),
    wide("Kernel-Version", STRING, "Kernel Version reported by the node from 'uname -r'."),
    wide("Container-Runtime", STRING, "Container runtime version reported by the node."),
)
NAMESPACE_COLUMNS: tuple[Column, ...] = (
    NAME,
    Column("Status", STRING, "The status of the namespace"),
    AGE,
)

READY_CONDITION = "Ready"
SCHEDULING_DISABLED = "SchedulingDisabled"  # appended for cordoned nodes (spec.unschedulable)
UNKNOWN_NODE_STATUS = "Unknown"  # the node never reported a Ready condition
# Roles come from `node-role.kubernetes.io/<role>` label keys, or the legacy `kubernetes.io/role=<role>`.
NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
LEGACY_ROLE_LABEL = "kubernetes.io/role"
INTERNAL_IP = "InternalIP"
EXTERNAL_IP = "ExternalIP"


def node_status(node: Object) -> str:
    """``Ready``, ``NotReady`` or ``Unknown``, plus ``,SchedulingDisabled`` when cordoned."""
    ready = None
    for condition in items(node, "status", "conditions"):
        if text(condition, "type") == READY_CONDITION:
            ready = condition  # the last one wins, as in kubectl's condition map
    if ready is None:
        states = [UNKNOWN_NODE_STATUS]
    elif text(ready, "status") == "True":
        states = [READY_CONDITION]
    else:
        states = ["Not" + READY_CONDITION]
    if field(node, "spec", "unschedulable") is True:
        states.append(SCHEDULING_DISABLED)
    return ",".join(states)


def node_roles(node: Object) -> str:
    """Comma-joined roles, sorted (kubectl's set order is random), ``<none>`` without any."""
    roles: set[str] = set()
    for key, value in mapping(node, "metadata", "labels").items():
        if key.startswith(NODE_ROLE_PREFIX) and key[len(NODE_ROLE_PREFIX):]:
            roles.add(key[len(NODE_ROLE_PREFIX):])
        elif key == LEGACY_ROLE_LABEL and value:
            roles.add(str(value))
    return ",".join(sorted(roles)) or NONE


def _address(node: Object, address_type: str) -> str:
    for address in items(node, "status", "addresses"):
        if text(address, "type") == address_type:
            return text(address, "address")
    return NONE


def _node_info(node: Object, key: str) -> str:
    return text(node, "status", "nodeInfo", key) or UNKNOWN


def node_cells(node: Object, now: datetime) -> list[Cell]:
    return [
        name_of(node),
        node_status(node),
        node_roles(node),
        since(field(node, "metadata", "creationTimestamp"), now),
        text(node, "status", "nodeInfo", "kubeletVersion"),
        _address(node, INTERNAL_IP),
        _address(node, EXTERNAL_IP),
        _node_info(node, "osImage"),
        _node_info(node, "kernelVersion"),
        _node_info(node, "containerRuntimeVersion"),
    ]


def namespace_cells(namespace: Object, now: datetime) -> list[Cell]:
    return [
        name_of(namespace),
        text(namespace, "status", "phase"),
        since(field(namespace, "metadata", "creationTimestamp"), now),
    ]


NODE_PRINTER = KindPrinter(NODE_COLUMNS, node_cells)
LEASE_COLUMNS: tuple[Column, ...] = (
    NAME,
    Column("Holder", STRING, "holderIdentity contains the identity of the holder of a current lease."),
    AGE,
)


def lease_cells(lease: Object, now: datetime) -> list[Cell]:
    return [name_of(lease), text(lease, "spec", "holderIdentity"), since(field(lease, "metadata", "creationTimestamp"), now)]


LEASE_PRINTER = KindPrinter(LEASE_COLUMNS, lease_cells)
NAMESPACE_PRINTER = KindPrinter(NAMESPACE_COLUMNS, namespace_cells)
