"""The agent's own files for each pod, under ``<agent state dir>/pods/<pod uid>/``.

One file so far: the pod's ``resolv.conf`` (rendered by :mod:`agent.network.resolvconf`), which
every app container of the pod gets bind-mounted at ``/etc/resolv.conf``, as the kubelet gives
each sandbox its own. Docker refuses to create a container whose bind source is missing, so the
worker writes the file before every container it creates (a no-op when the content is already
there), which also heals a state directory that lost it. The directory goes with the pod's
containers and volumes.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

RESOLV_CONF = "resolv.conf"
_UID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")


class PodFiles:
    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "pods"

    def directory(self, pod_uid: str) -> Path:
        if not _UID.match(pod_uid):  # the uid names a directory: never let it climb out of root
            raise ValueError(f"pod uid {pod_uid!r} cannot name a directory")
        return self.root / pod_uid

    def write_resolv_conf(self, pod_uid: str, text: str) -> Path:
        """The pod's resolv.conf with ``text``; its path. Replaced atomically when it changes, so
        a container being created never mounts half a file."""
        path = self.directory(pod_uid) / RESOLV_CONF
        try:
            if path.read_text() == text:
                return path
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{RESOLV_CONF}.{os.getpid()}")
        partial.write_text(text)
        partial.chmod(0o644)  # read by the pod's processes, whatever user they run as
        partial.replace(path)
        return path

    def remove(self, pod_uid: str) -> None:
        shutil.rmtree(self.directory(pod_uid), ignore_errors=True)

    def pod_uids(self) -> set[str]:
        """Pods that still have files here."""
        if not self.root.is_dir():
            return set()
        return {entry.name for entry in self.root.iterdir() if entry.is_dir() and _UID.match(entry.name)}
