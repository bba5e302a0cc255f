"""Security settings of pods and containers: users, capabilities, privilege, and the kernel
security profiles.

The node agent applies what Docker can express on one host: ``runAsUser``/``runAsGroup`` (the
container's user), ``privileged``, added and dropped capabilities and a read-only root filesystem.
The rest — SELinux, seccomp and AppArmor profiles, fsGroup, sysctls, Windows options — is accepted
and stored as Kubernetes would, and each field's description says that dockyard does not apply it.
"""

from __future__ import annotations

from orchestrator.api.meta import KubeModel


class Capabilities(KubeModel):
    """Linux capabilities to give the container on top of the runtime's defaults, or take away."""

    add: list[str] | None = None
    """Capabilities to add, such as NET_ADMIN or SYS_TIME (with or without the CAP_ prefix)."""
    drop: list[str] | None = None
    """Capabilities to remove; ALL removes every one, after which add gives back the listed ones."""


class SELinuxOptions(KubeModel):
    """An SELinux label for the container's processes. dockyard stores it and does not apply it."""

    user: str | None = None
    """The SELinux user of the label."""
    role: str | None = None
    """The SELinux role of the label."""
    type: str | None = None
    """The SELinux type of the label."""
    level: str | None = None
    """The SELinux level (MLS/MCS range) of the label."""


class SeccompProfile(KubeModel):
    """Which seccomp filter limits the system calls of the container. dockyard stores it; the
    containers run with Docker's default filter whatever it says."""

    type: str | None = None
    """RuntimeDefault (the runtime's own filter), Unconfined (none) or Localhost (a file on the
    node)."""
    localhost_profile: str | None = None
    """With type Localhost: the profile's path, relative to the node's seccomp profile directory."""


class AppArmorProfile(KubeModel):
    """Which AppArmor profile confines the container. dockyard stores it and does not apply it."""

    type: str | None = None
    """RuntimeDefault (the runtime's profile), Unconfined (none) or Localhost (a profile loaded on
    the node)."""
    localhost_profile: str | None = None
    """With type Localhost: the name of the profile loaded on the node."""


class WindowsSecurityContextOptions(KubeModel):
    """Settings for Windows containers, which dockyard does not run; stored as given."""

    gmsa_credential_spec_name: str | None = None
    """The name of the GMSACredentialSpec resource to use."""
    gmsa_credential_spec: str | None = None
    """The contents of the GMSA credential spec, inline."""
    run_as_user_name: str | None = None
    """The Windows user name the container's entrypoint runs as."""
    host_process: bool | None = None
    """True: run as a host process container, with the node's network and file system."""


class Sysctl(KubeModel):
    """One kernel parameter to set in the pod's namespaces. dockyard stores it and does not set it.
    """

    name: str | None = None
    """The parameter, such as net.ipv4.ip_local_port_range."""
    value: str | None = None
    """The value to write."""


class SecurityContext(KubeModel):
    """Privilege and access settings of one container. A setting here wins over the same setting in
    the pod's securityContext."""

    privileged: bool | None = None
    """True: the container gets every capability and the host's devices, nearly as much as a process
    on the node. Defaults to false. dockyard accepts it only from a server started with
    --allow-privileged."""
    run_as_user: int | None = None
    """The user id the container's processes run as; defaults to the image's user."""
    run_as_group: int | None = None
    """The group id the container's processes run as; defaults to the image's group."""
    run_as_non_root: bool | None = None
    """True: the container must not run as root (uid 0). dockyard stores it and does not check it.
    """
    read_only_root_filesystem: bool | None = None
    """True: mount the container's root file system read-only; volumes stay writable. Defaults to
    false."""
    allow_privilege_escalation: bool | None = None
    """Whether a process may gain more privileges than its parent (Linux no_new_privs). dockyard
    stores it and does not set the flag."""
    capabilities: Capabilities | None = None
    """Linux capabilities to add to or drop from the runtime's defaults."""
    proc_mount: str | None = None
    """Default (the runtime masks parts of /proc) or Unmasked. dockyard stores it; /proc is always
    masked."""
    se_linux_options: SELinuxOptions | None = None
    """The SELinux label of the container; stored, not applied."""
    seccomp_profile: SeccompProfile | None = None
    """The seccomp filter of the container; stored, not applied."""
    app_armor_profile: AppArmorProfile | None = None
    """The AppArmor profile of the container; stored, not applied."""
    windows_options: WindowsSecurityContextOptions | None = None
    """Windows-only settings; stored, not applied."""


class PodSecurityContext(KubeModel):
    """Security settings for every container of the pod. A container's own securityContext overrides
    the fields both have."""

    run_as_user: int | None = None
    """The user id every container runs as, unless a container sets its own."""
    run_as_group: int | None = None
    """The group id every container runs as, unless a container sets its own."""
    run_as_non_root: bool | None = None
    """True: no container may run as root (uid 0). dockyard stores it and does not check it."""
    fs_group: int | None = None
    """A group that owns the pod's volumes and is added to every container's groups. dockyard stores
    it and does not change volume ownership."""
    fs_group_change_policy: str | None = None
    """OnRootMismatch or Always: when volume ownership is changed to fsGroup; stored, not applied.
    """
    supplemental_groups: list[int] | None = None
    """Extra group ids for the first process of every container; stored, not applied."""
    supplemental_groups_policy: str | None = None
    """Merge (the default: add the image's groups) or Strict; stored, not applied."""
    sysctls: list[Sysctl] | None = None
    """Kernel parameters for the pod's namespaces; stored, not applied."""
    se_linux_options: SELinuxOptions | None = None
    """The SELinux label of every container; stored, not applied."""
    se_linux_change_policy: str | None = None
    """MountOption or Recursive: how volumes get the SELinux label; stored, not applied."""
    seccomp_profile: SeccompProfile | None = None
    """The seccomp filter of every container; stored, not applied."""
    app_armor_profile: AppArmorProfile | None = None
    """The AppArmor profile of every container; stored, not applied."""
    windows_options: WindowsSecurityContextOptions | None = None
    """Windows-only settings; stored, not applied."""
