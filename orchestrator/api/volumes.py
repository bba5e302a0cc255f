"""Pod volumes: the sources a volume can come from and the shapes inside them.

The node agent mounts ``emptyDir`` (a Docker volume, or memory with ``medium: Memory``) and
``hostPath`` (a bind mount, on nodes that allow it). Every other source is modelled as Kubernetes
has it, so manifests that use them are accepted, checked and explained; a container that mounts
one does not start yet (``CreateContainerConfigError`` names the source). The descriptions say so
per source, and are the place to change when a source learns to mount.
"""

from __future__ import annotations

from enum import Enum

from pydantic import Field

from orchestrator.api.containers import ObjectFieldSelector, Quantity, ResourceFieldSelector, ResourceList
from orchestrator.api.meta import REQUIRED, KubeModel, LabelSelector, LocalObjectReference, ObjectMeta

class HostPathType(str, Enum):
    UNSET = ""
    DIRECTORY_OR_CREATE = "DirectoryOrCreate"
    DIRECTORY = "Directory"
    FILE_OR_CREATE = "FileOrCreate"
    FILE = "File"
    SOCKET = "Socket"
    CHAR_DEVICE = "CharDevice"
    BLOCK_DEVICE = "BlockDevice"


class KeyToPath(KubeModel):
    """Puts one key of a ConfigMap or Secret into a file of the volume."""

    key: str | None = None
    """The key to write."""
    path: str | None = None
    """The file's path relative to the volume's root; must not be absolute or contain '..'."""
    mode: int | None = None
    """The file's permission bits (0400 in YAML, 256 in JSON); defaults to the volume's defaultMode.
    """


class EmptyDirVolumeSource(KubeModel):
    """A directory that starts empty when the pod is placed on a node and is deleted with the pod.
    Its containers share it, and it survives their restarts."""

    medium: str | None = None
    """Where the data lives: empty (the default) for the node's disk, Memory for a RAM-backed tmpfs
    that counts against the containers' memory."""
    size_limit: Quantity | None = None
    """The most the volume may hold, such as 1Gi. dockyard stores it and does not enforce it."""


class HostPathVolumeSource(KubeModel):
    """A file or directory of the node's own file system, bind-mounted into the pod. Dangerous (the
    pod sees the node), and only allowed where the cluster permits it: dockyard mounts it on nodes
    whose agent allows hostPath volumes (a server started with --allow-privileged)."""

    path: str | None = None
    """The path on the node; a symbolic link is followed."""
    type: str | None = None
    """What must be at path: "" (the default, no check), DirectoryOrCreate, Directory, FileOrCreate,
    File, Socket, CharDevice or BlockDevice."""


class ConfigMapVolumeSource(KubeModel):
    """The keys of a ConfigMap as files, one per key (or as items say). dockyard cannot mount this
    source yet: a container that mounts it does not start."""

    name: str | None = None
    """The ConfigMap's name, in the pod's namespace."""
    items: list[KeyToPath] | None = None
    """Only these keys, at these paths; without it, every key becomes a file named after it."""
    default_mode: int | None = None
    """Permission bits of the files, 0644 (420) by default."""
    optional: bool | None = None
    """True: a missing ConfigMap or key gives an empty volume instead of keeping the pod from
    starting."""


class SecretVolumeSource(KubeModel):
    """The keys of a Secret as files, one per key (or as items say), decoded from base64. dockyard
    cannot mount this source yet: a container that mounts it does not start."""

    secret_name: str | None = None
    """The Secret's name, in the pod's namespace."""
    items: list[KeyToPath] | None = None
    """Only these keys, at these paths; without it, every key becomes a file named after it."""
    default_mode: int | None = None
    """Permission bits of the files, 0644 (420) by default."""
    optional: bool | None = None
    """True: a missing Secret or key gives an empty volume instead of keeping the pod from starting.
    """


class PersistentVolumeClaimVolumeSource(KubeModel):
    """The storage a PersistentVolumeClaim of the pod's namespace is bound to. dockyard has no
    persistent volumes yet: a container that mounts this source does not start."""

    claim_name: str | None = None
    """The claim's name, in the pod's namespace."""
    read_only: bool | None = None
    """True: mount read-only, whatever the volume mounts say. Defaults to false."""


class DownwardAPIVolumeFile(KubeModel):
    """One file whose content is a field of the pod or a resource value of a container."""

    path: str | None = None
    """The file's path relative to the volume's root; must not be absolute or contain '..'."""
    field_ref: ObjectFieldSelector | None = None
    """A field of the pod: metadata.name, metadata.namespace, metadata.uid, metadata.labels or
    metadata.annotations (the whole map, or one key in brackets)."""
    resource_field_ref: ResourceFieldSelector | None = None
    """A request or limit of a container (containerName is required here)."""
    mode: int | None = None
    """The file's permission bits; defaults to the volume's defaultMode."""


class DownwardAPIVolumeSource(KubeModel):
    """Files that hold the pod's own metadata and resource values. dockyard cannot mount this source
    yet: a container that mounts it does not start."""

    items: list[DownwardAPIVolumeFile] | None = None
    """The files to write."""
    default_mode: int | None = None
    """Permission bits of the files, 0644 (420) by default."""


class SecretProjection(KubeModel):
    """The keys of a Secret as files of a projected volume."""

    name: str | None = None
    """The Secret's name, in the pod's namespace."""
    items: list[KeyToPath] | None = None
    """Only these keys, at these paths; without it, every key becomes a file named after it."""
    optional: bool | None = None
    """True: a missing Secret or key is skipped instead of keeping the pod from starting."""


class ConfigMapProjection(KubeModel):
    """The keys of a ConfigMap as files of a projected volume."""

    name: str | None = None
    """The ConfigMap's name, in the pod's namespace."""
    items: list[KeyToPath] | None = None
    """Only these keys, at these paths; without it, every key becomes a file named after it."""
    optional: bool | None = None
    """True: a missing ConfigMap or key is skipped instead of keeping the pod from starting."""


class DownwardAPIProjection(KubeModel):
    """Files of a projected volume that hold the pod's own metadata and resource values."""

    items: list[DownwardAPIVolumeFile] | None = None
    """The files to write."""


class ServiceAccountTokenProjection(KubeModel):
    """A token of the pod's service account, written to a file and renewed before it expires."""

    audience: str | None = None
    """Who the token is for; defaults to the API server."""
    expiration_seconds: int | None = None
    """How long the token is valid, at least 600 seconds; defaults to 3600."""
    path: str | None = None
    """The file's path relative to the volume's root."""


class ClusterTrustBundleProjection(KubeModel):
    """The certificates of ClusterTrustBundle objects, written to one file."""

    name: str | None = None
    """One bundle, by name; cannot be combined with signerName."""
    signer_name: str | None = None
    """All bundles of this signer that labelSelector selects."""
    label_selector: LabelSelector | None = None
    """With signerName: which of the signer's bundles."""
    optional: bool | None = None
    """True: a missing bundle writes nothing instead of keeping the pod from starting."""
    path: str | None = None
    """The file's path relative to the volume's root."""


class VolumeProjection(KubeModel):
    """One source of a projected volume; exactly one field is set."""

    secret: SecretProjection | None = None
    """Keys of a Secret."""
    downward_api: DownwardAPIProjection | None = Field(default=None, alias="downwardAPI")
    """Fields of the pod and resource values of its containers."""
    config_map: ConfigMapProjection | None = None
    """Keys of a ConfigMap."""
    service_account_token: ServiceAccountTokenProjection | None = None
    """A token of the pod's service account."""
    cluster_trust_bundle: ClusterTrustBundleProjection | None = None
    """Certificates of ClusterTrustBundle objects."""


class ProjectedVolumeSource(KubeModel):
    """Several sources (Secrets, ConfigMaps, the downward API, service account tokens) in one
    directory. dockyard cannot mount this source yet: a container that mounts it does not start."""

    sources: list[VolumeProjection] | None = None
    """The sources, in order; a later file with the same path replaces an earlier one."""
    default_mode: int | None = None
    """Permission bits of the files, 0644 (420) by default."""


class GitRepoVolumeSource(KubeModel):
    """Deprecated in Kubernetes: a directory holding a clone of a git repository. dockyard cannot
    mount this source yet: a container that mounts it does not start."""

    repository: str | None = None
    """The repository's URL."""
    revision: str | None = None
    """The commit to check out; defaults to the default branch's head."""
    directory: str | None = None
    """The clone's directory name inside the volume; "." clones into the volume's root."""


class NFSVolumeSource(KubeModel):
    """A directory exported by an NFS server. dockyard cannot mount this source yet: a container
    that mounts it does not start."""

    server: str | None = None
    """The NFS server's host name or IP address."""
    path: str | None = None
    """The exported path on the server."""
    read_only: bool | None = None
    """True: mount read-only. Defaults to false."""


class ISCSIVolumeSource(KubeModel):
    """A disk reached over iSCSI. dockyard cannot mount this source yet: a container that mounts it
    does not start."""

    target_portal: str | None = None
    """The target's address, IP:port (port 3260 when left out)."""
    iqn: str | None = None
    """The target's iSCSI Qualified Name."""
    lun: int | None = None
    """The logical unit number of the disk on the target."""
    iscsi_interface: str | None = None
    """The iSCSI interface to use; defaults to default (TCP)."""
    fs_type: str | None = None
    """The file system on the disk, such as ext4."""
    read_only: bool | None = None
    """True: mount read-only. Defaults to false."""
    portals: list[str] | None = None
    """More target addresses, for multipath."""
    chap_auth_discovery: bool | None = None
    """True: authenticate discovery with CHAP."""
    chap_auth_session: bool | None = None
    """True: authenticate the session with CHAP."""
    secret_ref: LocalObjectReference | None = None
    """The Secret holding the CHAP credentials."""
    initiator_name: str | None = None
    """A custom initiator name for this connection."""


class CSIVolumeSource(KubeModel):
    """A volume provided by a CSI driver installed on the node. dockyard cannot mount this source
    yet: a container that mounts it does not start."""

    driver: str | None = None
    """The CSI driver's name, as the driver registers it."""
    read_only: bool | None = None
    """True: mount read-only. Defaults to false."""
    fs_type: str | None = None
    """The file system to mount, such as ext4; the driver's choice when left out."""
    volume_attributes: dict[str, str] | None = None
    """Settings passed to the driver as they are."""
    node_publish_secret_ref: LocalObjectReference | None = None
    """A Secret with credentials the driver needs to mount the volume."""


class TypedLocalObjectReference(KubeModel):
    """Names an object in the same namespace, with its kind and API group."""

    api_group: str | None = None
    """The object's API group; empty for the core group."""
    kind: str | None = None
    """The object's kind."""
    name: str | None = None
    """The object's name."""


class TypedObjectReference(KubeModel):
    """Names an object with its kind, API group and, optionally, namespace."""

    api_group: str | None = None
    """The object's API group; empty for the core group."""
    kind: str | None = None
    """The object's kind."""
    name: str | None = None
    """The object's name."""
    namespace: str | None = None
    """The object's namespace, when it is not the claim's own."""


class VolumeResourceRequirements(KubeModel):
    """How much storage a claim asks for."""

    limits: ResourceList | None = None
    """The most storage the volume may have."""
    requests: ResourceList | None = None
    """The least storage the volume must have, such as storage: 1Gi."""


class PersistentVolumeClaimSpec(KubeModel):
    """What storage a claim asks for."""

    access_modes: list[str] | None = None
    """How the volume may be mounted: ReadWriteOnce (one node), ReadOnlyMany, ReadWriteMany or
    ReadWriteOncePod (one pod)."""
    selector: LabelSelector | None = None
    """Only persistent volumes with these labels may be bound."""
    resources: VolumeResourceRequirements | None = None
    """How much storage the claim needs."""
    volume_name: str | None = None
    """Bind to this persistent volume by name."""
    storage_class_name: str | None = None
    """The storage class that provisions the volume; empty asks for a volume without one."""
    volume_mode: str | None = None
    """Filesystem (the default) or Block."""
    data_source: TypedLocalObjectReference | None = None
    """An existing claim or snapshot to fill the new volume from."""
    data_source_ref: TypedObjectReference | None = None
    """Like dataSource, and may name an object of another kind or namespace."""
    volume_attributes_class_name: str | None = None
    """The VolumeAttributesClass to give the volume."""


class PersistentVolumeClaimTemplate(KubeModel):
    """The claim an ephemeral volume creates for its pod."""

    metadata: ObjectMeta | None = None
    """Labels and annotations for the claim; its name is the pod's name and the volume's, joined by
    '-'."""
    spec: PersistentVolumeClaimSpec | None = Field(default=None, json_schema_extra=REQUIRED)
    """The storage the claim asks for."""


class EphemeralVolumeSource(KubeModel):
    """A volume from a PersistentVolumeClaim made for the pod and deleted with it. dockyard cannot
    mount this source yet: a container that mounts it does not start."""

    volume_claim_template: PersistentVolumeClaimTemplate | None = None
    """The claim to create."""


class ImageVolumeSource(KubeModel):
    """The files of an OCI image (or artifact), mounted read-only. dockyard cannot mount this source
    yet: a container that mounts it does not start."""

    reference: str | None = None
    """The image, as a container's image field names one."""
    pull_policy: str | None = None
    """Always, IfNotPresent or Never, as for a container's image."""


class Volume(KubeModel):
    """A directory the pod's containers can mount, named in the pod and filled from exactly one
    source (an emptyDir when none is given)."""

    name: str | None = None
    """The volume's name, which volume mounts refer to: a lowercase DNS label, unique in the pod."""
    empty_dir: EmptyDirVolumeSource | None = None
    """A directory that starts empty and lives as long as the pod."""
    host_path: HostPathVolumeSource | None = None
    """A path on the node; only where the cluster allows it."""
    config_map: ConfigMapVolumeSource | None = None
    """The keys of a ConfigMap as files; not mounted by dockyard yet."""
    secret: SecretVolumeSource | None = None
    """The keys of a Secret as files; not mounted by dockyard yet."""
    persistent_volume_claim: PersistentVolumeClaimVolumeSource | None = None
    """The storage a PersistentVolumeClaim is bound to; not mounted by dockyard yet."""
    projected: ProjectedVolumeSource | None = None
    """Several Secrets, ConfigMaps and other sources in one directory; not mounted by dockyard yet.
    """
    downward_api: DownwardAPIVolumeSource | None = Field(default=None, alias="downwardAPI")
    """The pod's own metadata as files; not mounted by dockyard yet."""
    nfs: NFSVolumeSource | None = None
    """An NFS export; not mounted by dockyard."""
    csi: CSIVolumeSource | None = None
    """A volume from a CSI driver; not mounted by dockyard."""
    ephemeral: EphemeralVolumeSource | None = None
    """A claim made for the pod and deleted with it; not mounted by dockyard."""
    image: ImageVolumeSource | None = None
    """The files of an image, read-only; not mounted by dockyard."""
    git_repo: GitRepoVolumeSource | None = None
    """Deprecated: a clone of a git repository; not mounted by dockyard."""
    iscsi: ISCSIVolumeSource | None = None
    """An iSCSI disk; not mounted by dockyard."""


VOLUME_SOURCES = (
    "emptyDir", "hostPath", "configMap", "secret", "persistentVolumeClaim", "projected",
    "downwardAPI", "nfs", "csi", "ephemeral", "image", "gitRepo", "iscsi",
)
