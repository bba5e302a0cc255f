"""core/v1 volumes: the sources dockyard's Pod model accepts and the shapes inside them.

Numbers are Kubernetes' (k8s.io/api/core/v1). The cloud and legacy sources dockyard's model has no
field for (``gcePersistentDisk``, ``rbd``, ``cephfs`` …) are not listed: a protobuf body carrying
one is read without it, as Kubernetes' own decoder skips fields it does not know.
"""

from __future__ import annotations

from orchestrator.api.volumes import (
    ClusterTrustBundleProjection, ConfigMapProjection, ConfigMapVolumeSource, CSIVolumeSource, DownwardAPIProjection,
    DownwardAPIVolumeFile, DownwardAPIVolumeSource, EmptyDirVolumeSource, EphemeralVolumeSource, GitRepoVolumeSource,
    HostPathVolumeSource, ImageVolumeSource, ISCSIVolumeSource, KeyToPath, NFSVolumeSource,
    PersistentVolumeClaimSpec, PersistentVolumeClaimTemplate, PersistentVolumeClaimVolumeSource,
    ProjectedVolumeSource, SecretProjection, SecretVolumeSource, ServiceAccountTokenProjection,
    TypedLocalObjectReference, TypedObjectReference, Volume, VolumeProjection, VolumeResourceRequirements,
)
from orchestrator.api.wire.schema import Package
from orchestrator.api.wire.tables.core import CORE

VOLUMES = Package(CORE, "v1", {
    "Volume": (Volume, "name=1! *volumeSource=2:VolumeSource"),
    "VolumeSource": (Volume,
        "hostPath=1? emptyDir=2? gitRepo=5?:GitRepoVolumeSource secret=6? nfs=7?:NFSVolumeSource "
        "iscsi=8?:ISCSIVolumeSource persistentVolumeClaim=10? downwardAPI=16?:DownwardAPIVolumeSource "
        "configMap=19? projected=26? csi=28?:CSIVolumeSource ephemeral=29?:EphemeralVolumeSource "
        "image=30?:ImageVolumeSource"),
    "HostPathVolumeSource": (HostPathVolumeSource, "path=1! type=2?"),
    "EmptyDirVolumeSource": (EmptyDirVolumeSource, "medium=1 sizeLimit=2?"),
    "GitRepoVolumeSource": (GitRepoVolumeSource, "repository=1!:string revision=2:string directory=3:string"),
    "SecretVolumeSource": (SecretVolumeSource, "secretName=1 items=2 defaultMode=3? optional=4?"),
    "KeyToPath": (KeyToPath, "key=1! path=2! mode=3?"),
    "NFSVolumeSource": (NFSVolumeSource, "server=1!:string path=2!:string readOnly=3:bool"),
    "ISCSIVolumeSource": (ISCSIVolumeSource,
        "targetPortal=1!:string iqn=2!:string lun=3!:int iscsiInterface=4:string fsType=5:string "
        "readOnly=6:bool portals=7:[]string chapAuthDiscovery=8:bool chapAuthSession=11:bool "
        "secretRef=10?:LocalObjectReference initiatorName=12?:string"),
    "PersistentVolumeClaimVolumeSource": (PersistentVolumeClaimVolumeSource, "claimName=1! readOnly=2"),
    "DownwardAPIVolumeSource": (DownwardAPIVolumeSource, "items=1:[]DownwardAPIVolumeFile defaultMode=2?:int"),
    "DownwardAPIVolumeFile": (DownwardAPIVolumeFile,
        "path=1!:string fieldRef=2?:ObjectFieldSelector resourceFieldRef=3?:ResourceFieldSelector mode=4?:int"),
    "ConfigMapVolumeSource": (ConfigMapVolumeSource,
        "*localObjectReference=1:LocalObjectReference items=2 defaultMode=3? optional=4?"),
    "ProjectedVolumeSource": (ProjectedVolumeSource, "sources=1:[]VolumeProjection defaultMode=2?"),
    "VolumeProjection": (VolumeProjection,
        "secret=1?:SecretProjection downwardAPI=2?:DownwardAPIProjection configMap=3?:ConfigMapProjection "
        "serviceAccountToken=4?:ServiceAccountTokenProjection clusterTrustBundle=5?:ClusterTrustBundleProjection"),
    "SecretProjection": (SecretProjection, "*localObjectReference=1:LocalObjectReference items=2:[]KeyToPath optional=4?:bool"),
    "ConfigMapProjection": (ConfigMapProjection,
        "*localObjectReference=1:LocalObjectReference items=2:[]KeyToPath optional=4?:bool"),
    "DownwardAPIProjection": (DownwardAPIProjection, "items=1:[]DownwardAPIVolumeFile"),
    "ServiceAccountTokenProjection": (ServiceAccountTokenProjection, "audience=1:string expirationSeconds=2?:int path=3!:string"),
    "ClusterTrustBundleProjection": (ClusterTrustBundleProjection,
        "name=1?:string signerName=2?:string labelSelector=3?:LabelSelector optional=5?:bool path=4!:string"),
    "CSIVolumeSource": (CSIVolumeSource,
        "driver=1!:string readOnly=2?:bool fsType=3?:string volumeAttributes=4:{}string "
        "nodePublishSecretRef=5?:LocalObjectReference"),
    "EphemeralVolumeSource": (EphemeralVolumeSource, "volumeClaimTemplate=1?:PersistentVolumeClaimTemplate"),
    "PersistentVolumeClaimTemplate": (PersistentVolumeClaimTemplate, "metadata=1:ObjectMeta spec=2:PersistentVolumeClaimSpec"),
    "PersistentVolumeClaimSpec": (PersistentVolumeClaimSpec,
        "accessModes=1:[]string selector=4?:LabelSelector resources=2:VolumeResourceRequirements "
        "volumeName=3:string storageClassName=5?:string volumeMode=6?:string "
        "dataSource=7?:TypedLocalObjectReference dataSourceRef=8?:TypedObjectReference "
        "volumeAttributesClassName=9?:string"),
    "VolumeResourceRequirements": (VolumeResourceRequirements, "limits=1:{}Quantity requests=2:{}Quantity"),
    "TypedLocalObjectReference": (TypedLocalObjectReference, "apiGroup=1?:string kind=2!:string name=3!:string"),
    "TypedObjectReference": (TypedObjectReference, "apiGroup=1?:string kind=2!:string name=3!:string namespace=4?:string"),
    "ImageVolumeSource": (ImageVolumeSource, "reference=1:string pullPolicy=2:string"),
})
