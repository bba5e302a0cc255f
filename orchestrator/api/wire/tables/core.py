"""core/v1 objects other than pods: Namespace, Node, Service, Endpoints, Event, ConfigMap, Secret,
Binding and the references they share. Numbers are Kubernetes' (k8s.io/api/core/v1)."""

from __future__ import annotations

from orchestrator.api.core import (
    ClientIPConfig, ConfigMap, EndpointAddress, EndpointPort, Endpoints, EndpointSubset, Event, EventSeries,
    EventSource, LoadBalancerIngress, LoadBalancerStatus, Namespace, NamespaceCondition, NamespaceSpec,
    NamespaceStatus, PortStatus, Secret, Service, ServicePort, ServiceSpec, ServiceStatus, SessionAffinityConfig,
)
from orchestrator.api.meta import LocalObjectReference, ObjectReference
from orchestrator.api.node import (
    AttachedVolume, ConfigMapNodeConfigSource, ContainerImage, DaemonEndpoint, Node, NodeAddress, NodeCondition,
    NodeConfigSource, NodeConfigStatus, NodeDaemonEndpoints, NodeFeatures, NodeRuntimeHandler,
    NodeRuntimeHandlerFeatures, NodeSpec, NodeStatus, NodeSwapStatus, NodeSystemInfo, Taint,
)
from orchestrator.api.pod import Binding
from orchestrator.api.wire.schema import Package

CORE = "k8s.io.api.core.v1"

OBJECTS = Package(CORE, "v1", {
    "Namespace": (Namespace, "metadata=1 spec=2 status=3"),
    "NamespaceSpec": (NamespaceSpec, "finalizers=1"),
    "NamespaceStatus": (NamespaceStatus, "phase=1 conditions=2:[]NamespaceCondition"),
    "NamespaceCondition": (NamespaceCondition,
        "type=1!:string status=2!:string lastTransitionTime=4:Time reason=5:string message=6:string"),

    "Node": (Node, "metadata=1 spec=2 status=3"),
    "NodeSpec": (NodeSpec,
        "podCIDR=1 podCIDRs=7 providerID=3 unschedulable=4 taints=5 configSource=6?:NodeConfigSource externalID=2"),
    "Taint": (Taint, "key=1! value=2 effect=3! timeAdded=4?:Time"),
    "NodeConfigSource": (NodeConfigSource, "configMap=2?:ConfigMapNodeConfigSource"),
    "ConfigMapNodeConfigSource": (ConfigMapNodeConfigSource,
        "namespace=1!:string name=2!:string uid=3:string resourceVersion=4:string kubeletConfigKey=5!:string"),
    "NodeStatus": (NodeStatus,
        "capacity=1 allocatable=2 phase=3 conditions=4 addresses=5 daemonEndpoints=6 nodeInfo=7 "
        "images=8:[]ContainerImage volumesInUse=9 volumesAttached=10:[]AttachedVolume "
        "config=11?:NodeConfigStatus runtimeHandlers=12:[]NodeRuntimeHandler features=13?:NodeFeatures"),
    "NodeCondition": (NodeCondition,
        "type=1! status=2! lastHeartbeatTime=3:Time lastTransitionTime=4:Time reason=5 message=6"),
    "NodeAddress": (NodeAddress, "type=1! address=2!"),
    "NodeDaemonEndpoints": (NodeDaemonEndpoints, "kubeletEndpoint=1"),
    "DaemonEndpoint": (DaemonEndpoint, "Port=1!"),
    "NodeSystemInfo": (NodeSystemInfo,
        "machineID=1! systemUUID=2! bootID=3! kernelVersion=4! osImage=5! containerRuntimeVersion=6! "
        "kubeletVersion=7! kubeProxyVersion=8! operatingSystem=9! architecture=10! swap=11?:NodeSwapStatus"),
    "NodeSwapStatus": (NodeSwapStatus, "capacity=1?:int"),
    "ContainerImage": (ContainerImage, "names=1:[]string sizeBytes=2:int"),
    "AttachedVolume": (AttachedVolume, "name=1!:string devicePath=2!:string"),
    "NodeConfigStatus": (NodeConfigStatus,
        "assigned=1?:NodeConfigSource active=2?:NodeConfigSource lastKnownGood=3?:NodeConfigSource error=4:string"),
    "NodeRuntimeHandler": (NodeRuntimeHandler, "name=1!:string features=2?:NodeRuntimeHandlerFeatures"),
    "NodeRuntimeHandlerFeatures": (NodeRuntimeHandlerFeatures, "recursiveReadOnlyMounts=1?:bool userNamespaces=2?:bool"),
    "NodeFeatures": (NodeFeatures, "supplementalGroupsPolicy=1?:bool"),

    "Service": (Service, "metadata=1 spec=2 status=3"),
    "ServiceSpec": (ServiceSpec,
        "ports=1 selector=2 clusterIP=3 clusterIPs=18 type=4 externalIPs=5 sessionAffinity=7 loadBalancerIP=8 "
        "loadBalancerSourceRanges=9 externalName=10 externalTrafficPolicy=11 healthCheckNodePort=12 "
        "publishNotReadyAddresses=13 sessionAffinityConfig=14? ipFamilies=19 ipFamilyPolicy=17? "
        "allocateLoadBalancerNodePorts=20? loadBalancerClass=21? internalTrafficPolicy=22? trafficDistribution=23?"),
    "ServicePort": (ServicePort, "name=1 protocol=2 appProtocol=6? port=3! targetPort=4 nodePort=5"),
    "SessionAffinityConfig": (SessionAffinityConfig, "clientIP=1?"),
    "ClientIPConfig": (ClientIPConfig, "timeoutSeconds=1?"),
    "ServiceStatus": (ServiceStatus, "loadBalancer=1 conditions=2:[]Condition"),
    "LoadBalancerStatus": (LoadBalancerStatus, "ingress=1"),
    "LoadBalancerIngress": (LoadBalancerIngress, "ip=1 hostname=2 ipMode=3? ports=4:[]PortStatus"),
    "PortStatus": (PortStatus, "port=1!:int protocol=2!:string error=3?:string"),

    "Endpoints": (Endpoints, "metadata=1 subsets=2"),
    "EndpointSubset": (EndpointSubset, "addresses=1 notReadyAddresses=2 ports=3"),
    "EndpointAddress": (EndpointAddress, "ip=1! hostname=3 nodeName=4? targetRef=2?"),
    "EndpointPort": (EndpointPort, "name=1 port=2! protocol=3 appProtocol=4?"),

    "Event": (Event,
        "metadata=1 involvedObject=2 reason=3 message=4 source=5 firstTimestamp=6:Time lastTimestamp=7:Time "
        "count=8 type=9 eventTime=10:MicroTime series=11? action=12 related=13? reportingComponent=14! "
        "reportingInstance=15!"),
    "EventSource": (EventSource, "component=1 host=2"),
    "EventSeries": (EventSeries, "count=1 lastObservedTime=2:MicroTime"),

    "ConfigMap": (ConfigMap, "metadata=1 immutable=4? data=2 binaryData=3:{}bytes"),
    "Secret": (Secret, "metadata=1 immutable=5? data=2:{}bytes stringData=4 type=3"),

    "Binding": (Binding, "metadata=1 target=2:ObjectReference"),
    "ObjectReference": (ObjectReference, "kind=1 namespace=2 name=3 uid=4 apiVersion=5 resourceVersion=6 fieldPath=7"),
    "LocalObjectReference": (LocalObjectReference, "name=1"),
}, kinds=("Namespace", "Node", "Service", "Endpoints", "Event", "ConfigMap", "Secret", "Binding"))
