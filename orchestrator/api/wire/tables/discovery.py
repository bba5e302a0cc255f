"""discovery.k8s.io/v1: EndpointSlice. Numbers are Kubernetes' (k8s.io/api/discovery/v1)."""

from __future__ import annotations

from orchestrator.api.discovery import (
    Endpoint, EndpointConditions, EndpointHints, EndpointSlice, EndpointSlicePort, ForZone,
)
from orchestrator.api.wire.schema import Package

DISCOVERY = Package("k8s.io.api.discovery.v1", "discovery.k8s.io/v1", {
    "EndpointSlice": (EndpointSlice, "metadata=1 addressType=4! endpoints=2 ports=3"),
    "Endpoint": (Endpoint,
        "addresses=1 conditions=2 hostname=3? targetRef=4? deprecatedTopology=5 nodeName=6? zone=7? "
        "hints=8?:EndpointHints"),
    "EndpointConditions": (EndpointConditions, "ready=1? serving=2? terminating=3?"),
    "EndpointHints": (EndpointHints, "forZones=1:[]ForZone"),
    "ForZone": (ForZone, "name=1!:string"),
    "EndpointPort": (EndpointSlicePort, "name=1? protocol=2? port=3? appProtocol=4?"),
}, kinds=("EndpointSlice",))
