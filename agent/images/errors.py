"""Errors of the offline image builder, each carrying a message meant for a person.

Every failure says what went wrong and what to do about it, because the usual reader is someone
running `python -m agent.images` (or a test run) on a fresh machine, not a developer with a
debugger.
"""

from __future__ import annotations


class ImageBuildError(Exception):
    """An offline image could not be built; str() is a complete, human explanation."""


class MissingHostTools(ImageBuildError):
    """Host packages a recipe needs (gcc, busybox-static, debootstrap…) are not installed."""

    def __init__(self, what: str, packages: list[str]) -> None:
        self.packages = packages
        names = " ".join(packages)
        super().__init__(
            f"{what} needs host package(s) that are not installed: {names}.\n"
            f"Install them with `python -m agent.images --install-deps` "
            f"(or `apt-get install -y {names}` as root), then run again."
        )


class HostCommandFailed(ImageBuildError):
    """A host command (apt-get, gcc, debootstrap, chroot, tar) exited non-zero."""
