"""What each offline image is: its tags, what it stands in for, and how it is made.

Recipes are plain data; `build.py` turns them into images and `host_tools.py` / `rootfs.py` make
the pieces that come from the host. Two kinds exist:

- `DockerfileRecipe`: a directory holding a Dockerfile (always `FROM scratch`) and its files,
  plus *artifacts* the host produces into the build context (a statically compiled `pause`,
  Debian's static busybox). Multi-stage builds would need a base image, which we cannot pull.
- `ImportRecipe`: a Debian root filesystem made by debootstrap (`RootfsRecipe`, built once and
  cached as a tarball), imported once with `docker import` as an untagged base image, plus a few
  Dockerfile instructions (CMD, EXPOSE, STOPSIGNAL…) applied by a `FROM <base>` build. Several
  images share one rootfs and one base layer. (`docker import --change` cannot do it alone:
  Docker 20.10 rejects STOPSIGNAL there.)

Each recipe has a *digest*: a SHA-256 over its parameters and the bytes (and executable bits) of
every file in its directory. The builder stamps it on the image as the label `RECIPE_LABEL`; an
image carrying the digest of the current recipe is up to date and is never rebuilt. Editing any
recipe file therefore rebuilds exactly the images that use it. Host binaries (gcc's output, the
installed busybox) are deliberately not hashed: checking freshness must not need them, and must
stay fast (a handful of `docker inspect` calls).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

RECIPE_LABEL = "dockyard.image-recipe"
# On the untagged base image imported from a rootfs tarball: the rootfs recipe digest.
ROOTFS_LABEL = "dockyard.rootfs-recipe"

# Bump when the builder changes how it turns a recipe into an image, to rebuild every image.
_BUILDER_FORMAT = "dockyard-offline-image/2"

_HERE = Path(__file__).resolve().parent

# How `pause.c` is compiled: static (the image is FROM scratch), small, stripped.
PAUSE_CFLAGS: tuple[str, ...] = ("-static", "-Os", "-s", "-Wall", "-Wextra")

_DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Artifact(Enum):
    """A file the host makes and puts into a Dockerfile build context, under this file name."""

    PAUSE_BINARY = "pause"  # pause.c compiled with gcc PAUSE_CFLAGS
    STATIC_BUSYBOX = "busybox"  # /bin/busybox from Debian's busybox-static


@dataclass(frozen=True)
class DockerfileRecipe:
    directory: Path
    artifacts: tuple[Artifact, ...] = ()

    def digest(self) -> str:
        return _digest(
            "dockerfile",
            *(f"artifact {a.value}" for a in self.artifacts),
            f"cflags {' '.join(PAUSE_CFLAGS)}" if Artifact.PAUSE_BINARY in self.artifacts else "",
            *_files_fingerprint(self.directory),
        )


@dataclass(frozen=True)
class RootfsRecipe:
    """A Debian root filesystem: `debootstrap --variant=VARIANT --include=... SUITE`, then
    `customize.sh` from `directory` run chrooted inside it."""

    suite: str
    variant: str
    include: tuple[str, ...]
    directory: Path

    def digest(self) -> str:
        return _digest(
            f"rootfs {self.suite} {self.variant}",
            f"include {','.join(self.include)}",
            *_files_fingerprint(self.directory),
        )


@dataclass(frozen=True)
class ImportRecipe:
    rootfs: RootfsRecipe
    instructions: tuple[str, ...]  # Dockerfile lines applied on top of the imported rootfs

    def digest(self) -> str:
        return _digest("import", self.rootfs.digest(), *self.instructions)


Recipe = DockerfileRecipe | ImportRecipe


@dataclass(frozen=True)
class ImageSpec:
    short_name: str
    tags: tuple[str, ...]
    stands_in_for: str
    recipe: Recipe


DEBIAN_ROOTFS = RootfsRecipe(
    suite="bookworm",
    variant="minbase",
    include=(
        "nginx-light",
        "curl",
        "bash",
        "procps",
        "iproute2",
        "dnsutils",
        "ca-certificates",
    ),
    directory=_HERE / "rootfs",
)


class OfflineImage(Enum):
    """The images dockyard builds for itself, tagged with the names users' manifests use."""

    PAUSE = ImageSpec(
        short_name="pause",
        tags=("dockyard/pause:1.0",),
        stands_in_for="the pod sandbox holder (Kubernetes' registry.k8s.io/pause)",
        recipe=DockerfileRecipe(_HERE / "pause", artifacts=(Artifact.PAUSE_BINARY,)),
    )
    ECHO_HOSTNAME = ImageSpec(
        short_name="echo-hostname",
        tags=("alicek106/rr-test:echo-hostname",),
        stands_in_for="alicek106/rr-test:echo-hostname, a web page saying <p>Hello, POD</p>",
        recipe=DockerfileRecipe(_HERE / "echo_hostname", artifacts=(Artifact.STATIC_BUSYBOX,)),
    )
    NGINX = ImageSpec(
        short_name="nginx",
        tags=("nginx:latest",),
        stands_in_for="the official nginx image (Debian's nginx-light, same layout and logs)",
        recipe=ImportRecipe(
            DEBIAN_ROOTFS,
            instructions=(
                f"ENV {_DEFAULT_PATH}",
                "EXPOSE 80",
                "STOPSIGNAL SIGQUIT",
                'CMD ["nginx", "-g", "daemon off;"]',
            ),
        ),
    )
    DEBUG = ImageSpec(
        short_name="debug",
        tags=("alicek106/ubuntu:curl",),
        stands_in_for="alicek106/ubuntu:curl, a shell with curl, dig and nslookup for debugging",
        recipe=ImportRecipe(DEBIAN_ROOTFS, instructions=(f"ENV {_DEFAULT_PATH}", 'CMD ["bash"]')),
    )

    @property
    def tags(self) -> tuple[str, ...]:
        return self.value.tags

    @property
    def short_name(self) -> str:
        return self.value.short_name

    @property
    def recipe(self) -> Recipe:
        return self.value.recipe

    @property
    def stands_in_for(self) -> str:
        return self.value.stands_in_for

    def digest(self) -> str:
        return self.value.recipe.digest()

    @classmethod
    def select(cls, wanted: str | Iterable[str] | None = None) -> list[OfflineImage]:
        """The images named by `wanted` (tags or short names), in declaration order; all if None.

        Raises ValueError naming the known images when something is not one of them.
        """
        if wanted is None:
            return list(cls)
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        chosen: set[OfflineImage] = set()
        for name in names:
            match = [img for img in cls if name in img.tags or name == img.short_name]
            if not match:
                known = ", ".join(f"{img.short_name} ({' '.join(img.tags)})" for img in cls)
                raise ValueError(f"{name!r} is not an offline image; known: {known}")
            chosen.update(match)
        return [img for img in cls if img in chosen]


def _digest(*parts: str) -> str:
    h = hashlib.sha256(_BUILDER_FORMAT.encode())
    for part in parts:
        h.update(b"\0" + part.encode())
    return h.hexdigest()


def _files_fingerprint(directory: Path) -> Iterator[str]:
    """One line per file: path, executable bit, content hash. Other mode bits vary with umask."""
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory)
        if "__pycache__" in rel.parts:
            continue
        executable = "x" if path.stat().st_mode & 0o111 else "-"
        yield f"file {rel.as_posix()} {executable} {hashlib.sha256(path.read_bytes()).hexdigest()}"
