"""Host packages the recipes need, installing them with apt, and the artifacts made from them.

The images are built from Debian packages installed on the host (Debian's package archive is
reachable where container registries are not):

- gcc + libc6-dev compile `pause.c` into a static binary;
- busybox-static provides a static /bin/busybox for the echo-hostname image;
- debootstrap builds the Debian root filesystem behind nginx and the debug image (`rootfs.py`).

Whether a package is "installed" is decided by probing for what the build actually uses (a
static busybox binary, a static libc, the debootstrap program), not by asking dpkg: a dynamic
busybox from Debian's `busybox` package sits at the same path and would not run in a scratch
image.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path

from .errors import HostCommandFailed, ImageBuildError, MissingHostTools
from .recipes import PAUSE_CFLAGS, Artifact, DockerfileRecipe, ImportRecipe, OfflineImage

Log = Callable[[str], None]


class HostPackage(str, Enum):
    GCC = "gcc"
    LIBC6_DEV = "libc6-dev"
    BUSYBOX_STATIC = "busybox-static"
    DEBOOTSTRAP = "debootstrap"


_ARTIFACT_PACKAGES = {
    Artifact.PAUSE_BINARY: (HostPackage.GCC, HostPackage.LIBC6_DEV),
    Artifact.STATIC_BUSYBOX: (HostPackage.BUSYBOX_STATIC,),
}

_BUSYBOX_PATHS = ("/bin/busybox", "/usr/bin/busybox")


def packages_for(image: OfflineImage) -> list[HostPackage]:
    recipe = image.recipe
    if isinstance(recipe, DockerfileRecipe):
        return [pkg for a in recipe.artifacts for pkg in _ARTIFACT_PACKAGES[a]]
    assert isinstance(recipe, ImportRecipe)
    return [HostPackage.DEBOOTSTRAP]


def missing_tools(images: Iterable[OfflineImage] | None = None) -> list[str]:
    """Debian packages the given images (default: all) need and this host lacks, sorted."""
    needed = {pkg for image in (images if images is not None else OfflineImage)
              for pkg in packages_for(image)}
    return sorted(pkg.value for pkg in needed if not _present(pkg))


def require_tools(image: OfflineImage) -> None:
    missing = missing_tools([image])
    if missing:
        raise MissingHostTools(f"building {image.tags[0]}", missing)


def install_packages(packages: list[str], *, log: Log = print) -> None:
    """`apt-get update` then `apt-get install` the packages (as root, non-interactively)."""
    if not packages:
        return
    names = " ".join(packages)
    if os.geteuid() != 0:
        raise ImageBuildError(
            f"installing {names} needs root. Run `sudo apt-get install -y {names}` "
            "(or this command as root), then run again."
        )
    if shutil.which("apt-get") is None:
        raise ImageBuildError(
            f"apt-get not found: this builder expects a Debian or Ubuntu host. "
            f"Install the equivalents of {names} by hand."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log(f"apt-get update (to install {names})")
    run(["apt-get", "update"], what="apt-get update", env=env,
        advice="Check that the Debian mirror in /etc/apt/sources.list* is reachable.")
    log(f"apt-get install {names}")
    run(["apt-get", "install", "-y", "--no-install-recommends", *packages],
        what=f"apt-get install {names}", env=env,
        advice="Read apt's message above; the package names are Debian 12 (bookworm) ones.")
    still = [p for p in packages if not _present(HostPackage(p))]
    if still:
        raise ImageBuildError(f"apt-get installed {names}, but these still look missing: "
                              f"{' '.join(still)}. Is another busybox/gcc shadowing them?")


def provide_artifact(artifact: Artifact, recipe_dir: Path, context: Path) -> None:
    """Put the artifact into the build context under its file name."""
    dest = context / artifact.value
    if artifact is Artifact.PAUSE_BINARY:
        run(["gcc", *PAUSE_CFLAGS, "-o", str(dest), str(recipe_dir / "pause.c")],
            what="compiling pause.c with gcc -static",
            advice="A static link needs libc6-dev (libc.a): apt-get install -y libc6-dev.")
    elif artifact is Artifact.STATIC_BUSYBOX:
        source = _static_busybox()
        if source is None:
            raise MissingHostTools("the echo-hostname image", [HostPackage.BUSYBOX_STATIC.value])
        shutil.copyfile(source, dest)
        dest.chmod(0o755)
    else:  # pragma: no cover - every Artifact is handled above
        raise AssertionError(artifact)


def run(cmd: list[str], *, what: str, advice: str, env: dict[str, str] | None = None,
        output: Path | None = None) -> None:
    """Run a host command; on failure raise HostCommandFailed with its last output lines.

    With `output`, the full output goes to that file (and stays there for the reader).
    """
    try:
        if output is not None:
            with output.open("wb") as sink:
                proc = subprocess.run(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env)
            text = output.read_text(errors="replace")
        else:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
            text = proc.stdout.decode(errors="replace")
    except FileNotFoundError as exc:
        raise HostCommandFailed(f"{what}: {cmd[0]} not found ({exc}). {advice}") from exc
    if proc.returncode != 0:
        tail = "\n".join("    " + line for line in text.strip().splitlines()[-15:])
        where = f"\n(full output: {output})" if output is not None else ""
        raise HostCommandFailed(
            f"{what} failed (exit {proc.returncode}):\n{tail}{where}\n{advice}"
        )


def _present(pkg: HostPackage) -> bool:
    if pkg is HostPackage.GCC:
        return shutil.which("gcc") is not None
    if pkg is HostPackage.LIBC6_DEV:
        return _static_libc_present()
    if pkg is HostPackage.BUSYBOX_STATIC:
        return _static_busybox() is not None
    if pkg is HostPackage.DEBOOTSTRAP:
        return _debootstrap() is not None
    raise AssertionError(pkg)  # pragma: no cover


def debootstrap_path() -> str:
    found = _debootstrap()
    if found is None:
        raise MissingHostTools("building the Debian rootfs", [HostPackage.DEBOOTSTRAP.value])
    return found


def _debootstrap() -> str | None:
    # /usr/sbin is often missing from a non-root PATH.
    found = shutil.which("debootstrap")
    if found:
        return found
    return "/usr/sbin/debootstrap" if os.access("/usr/sbin/debootstrap", os.X_OK) else None


def _static_libc_present() -> bool:
    if shutil.which("gcc"):
        proc = subprocess.run(["gcc", "-print-file-name=libc.a"], capture_output=True, text=True)
        path = proc.stdout.strip()
        return os.path.isabs(path) and os.path.exists(path)
    return bool(glob.glob("/usr/lib/*/libc.a") or glob.glob("/usr/lib/libc.a"))


def _static_busybox() -> str | None:
    for path in _BUSYBOX_PATHS:
        if os.path.isfile(path) and _is_static_elf(Path(path)):
            return path
    return None


def _is_static_elf(path: Path) -> bool:
    """True for a 64-bit little-endian ELF without a PT_INTERP (dynamic loader) header."""
    with path.open("rb") as f:
        header = f.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
            return False
        phoff = int.from_bytes(header[0x20:0x28], "little")
        phentsize = int.from_bytes(header[0x36:0x38], "little")
        phnum = int.from_bytes(header[0x38:0x3A], "little")
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    pt_interp = 3
    return all(
        int.from_bytes(table[i * phentsize:i * phentsize + 4], "little") != pt_interp
        for i in range(phnum)
    )
