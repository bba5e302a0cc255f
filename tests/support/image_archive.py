"""The offline images, saved once per test session, for machines whose engines start empty.

No registry is reachable here, so a machine's engine (:mod:`tests.support.machine_engine`) gets its
images the way one moves images between real machines without a registry: ``docker save`` on the
host's engine, ``docker load`` on the machine's. Saving costs seconds (the nginx and curl images
share a 170 MB base), so each *set* of images is saved once per session into the session's temp
directory, and every machine that needs that set loads the same tar.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

PAUSE = "dockyard/pause:1.0"
ECHO_HOSTNAME = "alicek106/rr-test:echo-hostname"
NGINX = "nginx:latest"
CURL = "alicek106/ubuntu:curl"


class ImageArchive:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def tar(self, images: tuple[str, ...]) -> Path:
        """A tar of ``images`` from the host's engine, made on first use."""
        names = sorted(set(images))
        path = self.directory / (hashlib.sha256("\n".join(names).encode()).hexdigest()[:16] + ".tar")
        if not path.exists():
            partial = path.with_suffix(".partial")
            done = subprocess.run(["docker", "save", "-o", str(partial), *names], capture_output=True, text=True,
                                  timeout=300)
            if done.returncode != 0:
                raise RuntimeError(f"docker save {' '.join(names)} failed: {done.stderr.strip()} "
                                   f"(`make images` builds the offline images)")
            partial.rename(path)
        return path
