"""core/v1 pods: the spec with its containers, probes, security and scheduling terms, the status,
and pod templates. Numbers are Kubernetes' (k8s.io/api/core/v1); volumes are in ``core_volumes``."""

from __future__ import annotations

from orchestrator.api.containers import (
    Container, ContainerPort, ContainerResizePolicy, EnvFromSource, EnvVar, EnvVarSource, EphemeralContainer,
    ExecAction, GRPCAction, HTTPGetAction, HTTPHeader, KeySelector, Lifecycle, LifecycleHandler, NamedSourceRef,
    ObjectFieldSelector, Probe, ResourceClaim, ResourceFieldSelector, ResourceRequirements, SleepAction,
    TCPSocketAction, VolumeDevice, VolumeMount,
)
from orchestrator.api.pod import (
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
    ContainerUser, LinuxContainerUser, Pod, PodCondition, PodIP, PodResourceClaimStatus, PodStatus, PodTemplateSpec,
    ResourceHealth, ResourceStatus, VolumeMountStatus,
)
from orchestrator.api.podspec import (
    HostAlias, PodDNSConfig, PodDNSConfigOption, PodOS, PodReadinessGate, PodResourceClaim, PodSpec,
)
from orchestrator.api.scheduling import (
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PodAffinity, PodAffinityTerm,
    PodAntiAffinity, PodSchedulingGate, PreferredSchedulingTerm, Toleration, TopologySpreadConstraint,
    WeightedPodAffinityTerm,
)
from orchestrator.api.security import (
    AppArmorProfile, Capabilities, PodSecurityContext, SeccompProfile, SecurityContext, SELinuxOptions, Sysctl,
    WindowsSecurityContextOptions,
)
from orchestrator.api.wire.schema import Package
from orchestrator.api.wire.tables.core import CORE

#: Container and EphemeralContainerCommon are the same fields under two names
_CONTAINER = (
    "name=1! image=2 command=3 args=4 workingDir=5 ports=6 envFrom=19 env=7 resources=8 "
    "resizePolicy=23:[]ContainerResizePolicy restartPolicy=24? volumeMounts=9 volumeDevices=21 livenessProbe=10? "
    "readinessProbe=11? startupProbe=22? lifecycle=12? terminationMessagePath=13 terminationMessagePolicy=20 "
    "imagePullPolicy=14 securityContext=15? stdin=16 stdinOnce=17 tty=18")

PODS = Package(CORE, "v1", {
    "Pod": (Pod, "metadata=1 spec=2 status=3"),
    "PodTemplateSpec": (PodTemplateSpec, "metadata=1 spec=2"),
    "PodSpec": (PodSpec,
        "volumes=1 initContainers=20 containers=2 ephemeralContainers=34 restartPolicy=3 "
        "terminationGracePeriodSeconds=4? activeDeadlineSeconds=5? dnsPolicy=6 nodeSelector=7 serviceAccountName=8 "
        "serviceAccount=9 automountServiceAccountToken=21? nodeName=10 hostNetwork=11 hostPID=12 hostIPC=13 "
        "shareProcessNamespace=27? securityContext=14? imagePullSecrets=15 hostname=16 subdomain=17 "
        "affinity=18?:Affinity schedulerName=19 tolerations=22 hostAliases=23 priorityClassName=24 priority=25? "
        "dnsConfig=26?:PodDNSConfig readinessGates=28 runtimeClassName=29? enableServiceLinks=30? "
        "preemptionPolicy=31? overhead=32 topologySpreadConstraints=33:[]TopologySpreadConstraint "
        "setHostnameAsFQDN=35? os=36?:PodOS hostUsers=37? schedulingGates=38:[]PodSchedulingGate "
        "resourceClaims=39:[]PodResourceClaim resources=40?:ResourceRequirements"),

    "Container": (Container, _CONTAINER),
    "EphemeralContainer": (EphemeralContainer,
        "*ephemeralContainerCommon=1:EphemeralContainerCommon targetContainerName=2"),
    "EphemeralContainerCommon": (EphemeralContainer, _CONTAINER),
    "ContainerPort": (ContainerPort, "name=1 hostPort=2 containerPort=3! protocol=4 hostIP=5"),
    "EnvFromSource": (EnvFromSource, "prefix=1 configMapRef=2?:ConfigMapEnvSource secretRef=3?:SecretEnvSource"),
    "ConfigMapEnvSource": (NamedSourceRef, "*localObjectReference=1:LocalObjectReference optional=2?"),
    "SecretEnvSource": (NamedSourceRef, "*localObjectReference=1:LocalObjectReference optional=2?"),
    "EnvVar": (EnvVar, "name=1! value=2 valueFrom=3?"),
    "EnvVarSource": (EnvVarSource,
        "fieldRef=1? resourceFieldRef=2? configMapKeyRef=3?:ConfigMapKeySelector secretKeyRef=4?:SecretKeySelector"),
    "ObjectFieldSelector": (ObjectFieldSelector, "apiVersion=1 fieldPath=2!"),
    "ResourceFieldSelector": (ResourceFieldSelector, "containerName=1 resource=2! divisor=3"),
    "ConfigMapKeySelector": (KeySelector, "*localObjectReference=1:LocalObjectReference key=2! optional=3?"),
    "SecretKeySelector": (KeySelector, "*localObjectReference=1:LocalObjectReference key=2! optional=3?"),
    "ResourceRequirements": (ResourceRequirements, "limits=1 requests=2 claims=3:[]ResourceClaim"),
    "ResourceClaim": (ResourceClaim, "name=1!:string request=2:string"),
    "ContainerResizePolicy": (ContainerResizePolicy, "resourceName=1!:string restartPolicy=2!:string"),
    "VolumeMount": (VolumeMount,
        "name=1! readOnly=2 recursiveReadOnly=7? mountPath=3! subPath=4 mountPropagation=5? subPathExpr=6"),
    "VolumeDevice": (VolumeDevice, "name=1! devicePath=2!"),
    "Probe": (Probe,
        "*handler=1:ProbeHandler initialDelaySeconds=2 timeoutSeconds=3 periodSeconds=4 successThreshold=5 "
        "failureThreshold=6 terminationGracePeriodSeconds=7?"),
    "ProbeHandler": (Probe, "exec=1? httpGet=2? tcpSocket=3? grpc=4?"),
    "ExecAction": (ExecAction, "command=1"),
    "HTTPGetAction": (HTTPGetAction, "path=1 port=2 host=3 scheme=4 httpHeaders=5"),
    "HTTPHeader": (HTTPHeader, "name=1! value=2!"),
    "TCPSocketAction": (TCPSocketAction, "port=1 host=2"),
    "GRPCAction": (GRPCAction, "port=1! service=2?"),
    "Lifecycle": (Lifecycle, "postStart=1? preStop=2? stopSignal=3?"),
    "LifecycleHandler": (LifecycleHandler, "exec=1? httpGet=2? tcpSocket=3? sleep=4?"),
    "SleepAction": (SleepAction, "seconds=1!"),
    "SecurityContext": (SecurityContext,
        "capabilities=1? privileged=2? seLinuxOptions=3?:SELinuxOptions windowsOptions=10?:WindowsSecurityContextOptions "
        "runAsUser=4? runAsGroup=8? runAsNonRoot=5? readOnlyRootFilesystem=6? allowPrivilegeEscalation=7? "
        "procMount=9? seccompProfile=11?:SeccompProfile appArmorProfile=12?:AppArmorProfile"),
    "Capabilities": (Capabilities, "add=1 drop=2"),
    "SELinuxOptions": (SELinuxOptions, "user=1:string role=2:string type=3:string level=4:string"),
    "WindowsSecurityContextOptions": (WindowsSecurityContextOptions,
        "gmsaCredentialSpecName=1?:string gmsaCredentialSpec=2?:string runAsUserName=3?:string hostProcess=4?:bool"),
    "SeccompProfile": (SeccompProfile, "type=1!:string localhostProfile=2?:string"),
    "AppArmorProfile": (AppArmorProfile, "type=1!:string localhostProfile=2?:string"),

    "PodSecurityContext": (PodSecurityContext,
        "seLinuxOptions=1?:SELinuxOptions windowsOptions=8?:WindowsSecurityContextOptions runAsUser=2? "
        "runAsGroup=6? runAsNonRoot=3? supplementalGroups=4 supplementalGroupsPolicy=12? fsGroup=5? "
        "sysctls=7:[]Sysctl fsGroupChangePolicy=9? seccompProfile=10?:SeccompProfile "
        "appArmorProfile=11?:AppArmorProfile seLinuxChangePolicy=13?"),
    "Sysctl": (Sysctl, "name=1!:string value=2!:string"),
    "Affinity": (Affinity, "nodeAffinity=1?:NodeAffinity podAffinity=2?:PodAffinity podAntiAffinity=3?:PodAntiAffinity"),
    "NodeAffinity": (NodeAffinity,
        "requiredDuringSchedulingIgnoredDuringExecution=1?:NodeSelector "
        "preferredDuringSchedulingIgnoredDuringExecution=2:[]PreferredSchedulingTerm"),
    "NodeSelector": (NodeSelector, "nodeSelectorTerms=1:[]NodeSelectorTerm"),
    "NodeSelectorTerm": (NodeSelectorTerm, "matchExpressions=1:[]NodeSelectorRequirement matchFields=2:[]NodeSelectorRequirement"),
    "NodeSelectorRequirement": (NodeSelectorRequirement, "key=1!:string operator=2!:string values=3:[]string"),
    "PreferredSchedulingTerm": (PreferredSchedulingTerm, "weight=1!:int preference=2:NodeSelectorTerm"),
    "PodAffinity": (PodAffinity,
        "requiredDuringSchedulingIgnoredDuringExecution=1:[]PodAffinityTerm "
        "preferredDuringSchedulingIgnoredDuringExecution=2:[]WeightedPodAffinityTerm"),
    "PodAntiAffinity": (PodAntiAffinity,
        "requiredDuringSchedulingIgnoredDuringExecution=1:[]PodAffinityTerm "
        "preferredDuringSchedulingIgnoredDuringExecution=2:[]WeightedPodAffinityTerm"),
    "PodAffinityTerm": (PodAffinityTerm,
        "labelSelector=1?:LabelSelector namespaces=2:[]string topologyKey=3!:string "
        "namespaceSelector=4?:LabelSelector matchLabelKeys=5:[]string mismatchLabelKeys=6:[]string"),
    "WeightedPodAffinityTerm": (WeightedPodAffinityTerm, "weight=1!:int podAffinityTerm=2:PodAffinityTerm"),
    "Toleration": (Toleration, "key=1 operator=2 value=3 effect=4 tolerationSeconds=5?"),
    "HostAlias": (HostAlias, "ip=1! hostnames=2"),
    "PodDNSConfig": (PodDNSConfig, "nameservers=1:[]string searches=2:[]string options=3:[]PodDNSConfigOption"),
    "PodDNSConfigOption": (PodDNSConfigOption, "name=1:string value=2?:string"),
    "PodReadinessGate": (PodReadinessGate, "conditionType=1!"),
    "TopologySpreadConstraint": (TopologySpreadConstraint,
        "maxSkew=1!:int topologyKey=2!:string whenUnsatisfiable=3!:string labelSelector=4?:LabelSelector "
        "minDomains=5?:int nodeAffinityPolicy=6?:string nodeTaintsPolicy=7?:string matchLabelKeys=8:[]string"),
    "PodOS": (PodOS, "name=1!:string"),
    "PodSchedulingGate": (PodSchedulingGate, "name=1!:string"),
    "PodResourceClaim": (PodResourceClaim, "name=1!:string resourceClaimName=3?:string resourceClaimTemplateName=4?:string"),

    "PodStatus": (PodStatus,
        "observedGeneration=17 phase=1 conditions=2 message=3 reason=4 nominatedNodeName=11 hostIP=5 "
        "hostIPs=16:[]HostIP podIP=6 podIPs=12:[]PodIP startTime=7?:Time initContainerStatuses=10 containerStatuses=8 "
        "qosClass=9 ephemeralContainerStatuses=13 resize=14 resourceClaimStatuses=15:[]PodResourceClaimStatus"),
    "PodCondition": (PodCondition,
        "type=1! observedGeneration=7 status=2! lastProbeTime=3:Time lastTransitionTime=4:Time reason=5 message=6"),
    "HostIP": (PodIP, "ip=1!"),
    "PodIP": (PodIP, "ip=1!"),
    "ContainerStatus": (ContainerStatus,
        "name=1! state=2 lastState=3 ready=4! restartCount=5! image=6! imageID=7! containerID=8 started=9? "
        "allocatedResources=10 resources=11?:ResourceRequirements volumeMounts=12:[]VolumeMountStatus "
        "user=13?:ContainerUser allocatedResourcesStatus=14:[]ResourceStatus stopSignal=15?"),
    "ContainerState": (ContainerState, "waiting=1? running=2? terminated=3?"),
    "ContainerStateWaiting": (ContainerStateWaiting, "reason=1 message=2"),
    "ContainerStateRunning": (ContainerStateRunning, "startedAt=1:Time"),
    "ContainerStateTerminated": (ContainerStateTerminated,
        "exitCode=1! signal=2 reason=3 message=4 startedAt=5:Time finishedAt=6:Time containerID=7"),
    "VolumeMountStatus": (VolumeMountStatus, "name=1!:string mountPath=2!:string readOnly=3:bool recursiveReadOnly=4?:string"),
    "ContainerUser": (ContainerUser, "linux=1?:LinuxContainerUser"),
    "LinuxContainerUser": (LinuxContainerUser, "uid=1!:int gid=2!:int supplementalGroups=3:[]int"),
    "ResourceStatus": (ResourceStatus, "name=1!:string resources=2:[]ResourceHealth"),
    "ResourceHealth": (ResourceHealth, "resourceID=1!:string health=2:string"),
    "PodResourceClaimStatus": (PodResourceClaimStatus, "name=1!:string resourceClaimName=2?:string"),
}, kinds=("Pod",))
