"""Reading a Node's status: its InternalIP and its Ready condition (pure).

Several parts of the system ask these two questions of a Node — the scheduler, the node
lifecycle and service load balancer controllers, the API server dialling an agent, the agents'
routes and service proxy — so they are answered once, here.
"""

from __future__ import annotations

from orchestrator.api.node import NodeAddressType, NodeConditionType


def internal_ip(node: dict) -> str | None:
    """The node's first InternalIP address, or None before it published one."""
    return next((address.get("address") for address in (node.get("status") or {}).get("addresses") or []
                 if address.get("type") == NodeAddressType.INTERNAL_IP.value and address.get("address")), None)


def ready_condition(node: dict) -> dict | None:
    """The node's Ready condition, or None before it reported one."""
    return next((condition for condition in (node.get("status") or {}).get("conditions") or []
                 if condition.get("type") == NodeConditionType.READY.value), None)
