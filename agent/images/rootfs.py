"""The Debian root filesystem behind nginx:latest and the debug image, cached as a tarball.

debootstrap is the slow step (tens of seconds, ~200 MB), so its result is kept in the image cache
(`$DOCKYARD_IMAGE_CACHE`, default `~/.cache/dockyard/images`) as `rootfs-SUITE-DIGEST.tar`, keyed
by the rootfs recipe's digest. Rebuilding an image whose own recipe changed but whose rootfs did
not (say, only its CMD) re-imports the cached tarball and never re-runs debootstrap. The
downloaded .deb files are kept too (`debs/`), so a changed `customize.sh` rebuilds without
downloading again.

Steps, all on the host as root: debootstrap into a scratch directory inside the cache, run
`customize.sh` chrooted inside it, `tar` it (without /dev, /proc and /sys contents, which Docker
provides), rename the tarball into place atomically, delete the scratch directory. debootstrap
mounts /proc and /sys inside the target and unmounts them when it finishes; if it dies halfway
they may stay mounted, so we unmount them before deleting anything, and refuse to delete a tree
that still has a mount below it.

debootstrap downloads from the Debian mirror apt already uses (read from /etc/apt/sources.list
and sources.list.d), since on these machines Debian's archive is the only registry reachable.
`$DOCKYARD_DEBIAN_MIRROR` overrides it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import HostCommandFailed, ImageBuildError
from .host_tools import debootstrap_path, run
from .recipes import RootfsRecipe

Log = Callable[[str], None]

DEFAULT_MIRROR = "http://deb.debian.org/debian"
_RECIPE_IN_ROOTFS = "/tmp/dockyard-rootfs"


def cache_dir() -> Path:
    configured = os.environ.get("DOCKYARD_IMAGE_CACHE")
    path = Path(configured) if configured else Path.home() / ".cache" / "dockyard" / "images"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cached_tarball(recipe: RootfsRecipe) -> Path | None:
    tarball = _tarball_path(recipe)
    return tarball if tarball.exists() else None


def _tarball_path(recipe: RootfsRecipe) -> Path:
    return cache_dir() / f"rootfs-{recipe.suite}-{recipe.digest()[:16]}.tar"


def rootfs_tarball(recipe: RootfsRecipe, *, log: Log = print) -> Path:
    """The path of the recipe's rootfs tarball, building it first if it is not cached."""
    cache = cache_dir()
    tarball = _tarball_path(recipe)
    if tarball.exists():
        log(f"  reusing cached Debian {recipe.suite} rootfs {tarball}")
        return tarball
    if os.geteuid() != 0:
        raise ImageBuildError(
            "building the Debian rootfs (for nginx:latest and alicek106/ubuntu:curl) needs root: "
            "debootstrap creates files owned by other users and runs chroot. Run "
            "`sudo -E .venv/bin/python -m agent.images` once; later runs reuse the cached rootfs."
        )
    debootstrap = debootstrap_path()
    mirror = debian_mirror(recipe.suite)
    work = Path(tempfile.mkdtemp(prefix="rootfs-build-", dir=cache))
    root = work / "rootfs"
    try:
        started = time.monotonic()
        log(f"  debootstrap {recipe.suite} ({recipe.variant} + {', '.join(recipe.include)}) "
            f"from {mirror} — takes a minute or so")
        debs = cache / "debs"
        debs.mkdir(exist_ok=True)
        log_file = cache / "debootstrap.log"
        try:
            run(
                [debootstrap, f"--variant={recipe.variant}",
                 f"--include={','.join(recipe.include)}", f"--cache-dir={debs}",
                 recipe.suite, str(root), mirror],
                what=f"debootstrap of Debian {recipe.suite} from {mirror}",
                output=log_file,
                advice=(
                    f"Check that the mirror answers (`curl -sI {mirror}/dists/{recipe.suite}"
                    "/Release`) and set DOCKYARD_DEBIAN_MIRROR to another Debian mirror if not. "
                    "Then run `python -m agent.images --only nginx:latest` again."
                ),
            )
        except HostCommandFailed as exc:
            detail = root / "debootstrap" / "debootstrap.log"
            if detail.exists():  # the scratch tree is deleted below; keep its log
                kept = cache / "debootstrap-detail.log"
                shutil.copyfile(detail, kept)
                raise HostCommandFailed(f"{exc}\nPer-package detail: {kept}") from exc
            raise
        log(f"  debootstrap done in {time.monotonic() - started:.0f} s; customizing")
        _customize(root, recipe)
        _pack(root, tarball)
        _prune_old_tarballs(cache, keep=tarball)
        size_mb = tarball.stat().st_size / 1e6
        log(f"  rootfs cached: {tarball} ({size_mb:.0f} MB, {time.monotonic() - started:.0f} s)")
        return tarball
    finally:
        _remove_tree(work)


def debian_mirror(suite: str) -> str:
    """The mirror apt uses for `suite` (main), else deb.debian.org.

    `$DOCKYARD_DEBIAN_MIRROR` overrides it.
    """
    override = os.environ.get("DOCKYARD_DEBIAN_MIRROR")
    if override:
        return override
    for uri, suites, components in _apt_sources():
        if suite in suites and "main" in components and uri.startswith(("http://", "https://")):
            return uri.rstrip("/")
    return DEFAULT_MIRROR


def _apt_sources() -> Iterator[tuple[str, list[str], list[str]]]:
    """(uri, suites, components) of each `deb` source, one-line and deb822 formats."""
    etc = Path("/etc/apt")
    one_line = [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]
    for path in one_line:
        for line in _read(path).splitlines():
            words = line.split("#", 1)[0].split()
            if words[:1] != ["deb"]:
                continue
            words = words[1:]
            if words and words[0].startswith("["):  # options such as [signed-by=...]
                while words and not words[0].endswith("]"):
                    words.pop(0)
                words = words[1:]
            if len(words) >= 2:
                yield words[0], [words[1]], words[2:]
    for path in sorted((etc / "sources.list.d").glob("*.sources")):
        for stanza in _read(path).split("\n\n"):
            fields = _deb822_fields(stanza)
            if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
                for uri in fields.get("uris", "").split():
                    suites = fields.get("suites", "").split()
                    yield uri, suites, fields.get("components", "").split()


def _deb822_fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = None
    for line in stanza.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line[0].isspace() and key:
            fields[key] += " " + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            fields[key] = value.strip()
    return fields


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _customize(root: Path, recipe: RootfsRecipe) -> None:
    inside = root / _RECIPE_IN_ROOTFS.lstrip("/")
    shutil.copytree(recipe.directory, inside, ignore=shutil.ignore_patterns("__pycache__"))
    try:
        run(
            ["chroot", str(root), "/bin/sh", "-eu", f"{_RECIPE_IN_ROOTFS}/customize.sh"],
            what="customize.sh inside the Debian rootfs",
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "RECIPE": _RECIPE_IN_ROOTFS,
                 "LC_ALL": "C"},
            advice=f"Fix {recipe.directory / 'customize.sh'} and run again.",
        )
    finally:
        shutil.rmtree(inside, ignore_errors=True)


def _pack(root: Path, tarball: Path) -> None:
    partial = tarball.with_name(tarball.name + ".partial")
    run(
        ["tar", "--numeric-owner", "-C", str(root),
         "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*",
         "--exclude=./debootstrap", "-cf", str(partial), "."],
        what="packing the Debian rootfs with tar",
        advice=f"Check free space in {tarball.parent} (about 250 MB needed).",
    )
    partial.rename(tarball)


def _prune_old_tarballs(cache: Path, keep: Path) -> None:
    for old in cache.glob("rootfs-*.tar*"):
        if old != keep and old.is_file():
            old.unlink()


def _mounts_below(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    points = []
    for line in _read(Path("/proc/self/mounts")).splitlines():
        fields = line.split()
        if len(fields) > 1:
            point = fields[1].encode().decode("unicode_escape")  # \040 for spaces, etc.
            if point.startswith(prefix):
                points.append(point)
    return sorted(points, key=len, reverse=True)


def _remove_tree(path: Path) -> None:
    for point in _mounts_below(path):
        subprocess.run(["umount", "-l", point], capture_output=True)
    left = _mounts_below(path)
    if left:
        raise HostCommandFailed(
            f"left {path} in place: still mounted below it: {', '.join(left)}. "
            f"Unmount them (`umount -l ...`), then delete {path}."
        )
    shutil.rmtree(path, ignore_errors=True)
