"""Docker's failures, translated at the edge into errors that say what to do.

Callers match on the class (which names the Kubernetes reason it leads to), and show ``str()`` to
people: in Events, pod status messages and logs.
"""

from __future__ import annotations


class ContainerRuntimeError(Exception):
    """Base of every runtime failure; ``str()`` is a complete explanation for a person."""


class DockerUnavailable(ContainerRuntimeError):
    """The Docker engine cannot be reached at all."""


class ImageNotPresent(ContainerRuntimeError):
    """The image is not on this node and the pull policy forbids pulling (ErrImageNeverPull)."""


class ImagePullFailed(ContainerRuntimeError):
    """Pulling failed: no such image, no registry reachable, bad credentials (ErrImagePull)."""


class InvalidImageName(ContainerRuntimeError):
    """The reference cannot be parsed (InvalidImageName)."""


class CreateFailed(ContainerRuntimeError):
    """Docker refused to create the container (CreateContainerError): bad mount, bad config…"""


class StartFailed(ContainerRuntimeError):
    """Docker created the container but could not start it (RunContainerError): no such
    executable, port already allocated…"""


class SandboxFailed(ContainerRuntimeError):
    """The pause container could not be made or started (FailedCreatePodSandBox)."""


class LogsNotAvailable(ContainerRuntimeError):
    """No log to show: the container has no instance yet, or no previous one (``--previous``)."""


class ContainerNotRunning(ContainerRuntimeError):
    """Exec needs a running container and there is none (it is waiting, or has exited)."""


class SandboxNotRunning(ContainerRuntimeError):
    """Port-forward needs the pod's sandbox (its network namespace) and it is not running here."""


class AddressInUse(SandboxFailed):
    """Docker refused the pod IP asked for: another container on the network holds it."""


class SubnetOverlaps(ContainerRuntimeError):
    """Docker refused to create a network whose subnet overlaps another network's."""
