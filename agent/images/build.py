"""Turning recipes into Docker images: the only module here that talks to Docker.

`ensure_images` is level-triggered, like the rest of dockyard: it looks at what the engine has,
and builds only images whose tag is missing or whose `dockyard.image-recipe` label is not the
digest of the current recipe. A run where everything is current costs one `inspect` per tag.

Builds happen under an exclusive file lock in the image cache, so two processes (two test
sessions, a test and the CLI) never build the same image at once; the one that waited re-checks
and usually finds the work done.

Dockerfile recipes are built from a temporary context directory (recipe files + host artifacts
+ a `LABEL` line carrying the digest) that is removed afterwards. Import recipes stream the cached
rootfs tarball to `POST /images/create` (`docker import`) once, as an untagged base image labelled
with the rootfs digest, then build each image `FROM` that base with the recipe's instructions and
the `LABEL` line: one 200 MB layer on disk for nginx and the debug image together.

When a rebuild moves a tag away from an older image, that older image is removed if nothing else
references it (no other tag, no container); any other image on the engine is left alone.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import docker
from docker.errors import APIError, BuildError, ImageNotFound
from docker.models.images import Image
from docker.utils import parse_repository_tag

from .errors import ImageBuildError
from .host_tools import provide_artifact, require_tools
from .recipes import (
    RECIPE_LABEL,
    ROOTFS_LABEL,
    DockerfileRecipe,
    ImportRecipe,
    OfflineImage,
    RootfsRecipe,
)
from .rootfs import cache_dir, cached_tarball, rootfs_tarball

Log = Callable[[str], None]


def ensure_images(
    client: docker.DockerClient,
    wanted: Iterable[str] | None = None,
    *,
    log: Log = print,
) -> dict[str, str]:
    """Make every wanted tag (default: all offline images) exist and match its recipe.

    `wanted` holds tags (`nginx:latest`) or short names (`nginx`). Returns tag -> image id for
    every tag of the selected images. Raises ImageBuildError (with a message for people) when a
    build fails, ValueError for an unknown name.
    """
    images = OfflineImage.select(wanted)
    ids: dict[str, str] = {}
    stale: list[OfflineImage] = []
    for image in images:
        current = _current_id(client, image)
        if current:
            log(f"{_names(image)}: up to date ({_short(current)})")
            ids.update(dict.fromkeys(image.tags, current))
        else:
            stale.append(image)
    if not stale:
        return ids
    # Quick Dockerfile builds first, while debootstrap (if needed) runs in the background.
    stale.sort(key=lambda image: isinstance(image.recipe, ImportRecipe))
    with _build_lock(log), ThreadPoolExecutor(1, thread_name_prefix="rootfs") as pool:
        rootfs = _RootfsPrefetch(client, pool, log)
        for image in stale:
            if isinstance(image.recipe, ImportRecipe):
                require_tools(image)
                rootfs.start(image.recipe.rootfs)
        for image in stale:
            current = _current_id(client, image)  # another process may have built it meanwhile
            if current:
                log(f"{_names(image)}: up to date ({_short(current)}, built by another process)")
            else:
                current = _build(client, image, rootfs, log)
            ids.update(dict.fromkeys(image.tags, current))
    return ids


class _RootfsPrefetch:
    """Rootfs tarballs, built in the background when neither a base image nor a cached tarball
    exists, since debootstrap is by far the slowest step of a first build."""

    def __init__(self, client: docker.DockerClient, pool: ThreadPoolExecutor, log: Log) -> None:
        self._client = client
        self._pool = pool
        self._log = log
        self._jobs: dict[RootfsRecipe, Future[Path]] = {}

    def start(self, recipe: RootfsRecipe) -> None:
        if recipe in self._jobs or _find_base(self._client, recipe) or cached_tarball(recipe):
            return
        self._jobs[recipe] = self._pool.submit(
            rootfs_tarball, recipe, log=lambda line: self._log(f"[background] {line.strip()}")
        )

    def tarball(self, recipe: RootfsRecipe) -> Path:
        job = self._jobs.pop(recipe, None)
        return job.result() if job else rootfs_tarball(recipe, log=self._log)


def _current_id(client: docker.DockerClient, image: OfflineImage) -> str | None:
    """The id of an image carrying the recipe's digest under one of the tags, else None.

    Tags of the same image that are missing or point elsewhere are moved onto it.
    """
    digest = image.digest()
    found: dict[str, Image] = {}
    for tag in image.tags:
        try:
            found[tag] = client.images.get(tag)
        except ImageNotFound:
            continue
    current = next((img for img in found.values() if _label(img) == digest), None)
    if current is None:
        return None
    for tag in image.tags:
        if tag not in found or found[tag].id != current.id:
            _tag(current, tag)
    return current.id


def _build(
    client: docker.DockerClient, image: OfflineImage, rootfs: _RootfsPrefetch, log: Log
) -> str:
    started = time.monotonic()
    digest = image.digest()
    replaced = set()
    for tag in image.tags:
        try:
            replaced.add(client.images.get(tag).id)
        except ImageNotFound:
            pass
    log(f"{_names(image)}: building ({image.stands_in_for})")
    require_tools(image)
    recipe = image.recipe
    if isinstance(recipe, DockerfileRecipe):
        built = _build_dockerfile(client, image, recipe, digest)
    else:
        assert isinstance(recipe, ImportRecipe)
        built = _build_on_rootfs(client, image, recipe, digest, rootfs, log)
    if _label(built) != digest:
        raise ImageBuildError(
            f"{image.tags[0]} was built as {_short(built.id)} but lacks the label "
            f"{RECIPE_LABEL}={digest[:12]}…; the Docker engine ignored the LABEL instruction."
        )
    for tag in image.tags[1:]:
        _tag(built, tag)
    for old in replaced - {built.id}:
        _remove_if_unreferenced(client, old, log)
    log(f"{_names(image)}: built {_short(built.id)} in {time.monotonic() - started:.1f} s")
    return built.id


def _build_dockerfile(
    client: docker.DockerClient, image: OfflineImage, recipe: DockerfileRecipe, digest: str
) -> Image:
    with tempfile.TemporaryDirectory(prefix="dockyard-image-") as tmp:
        context = Path(tmp) / "context"
        shutil.copytree(recipe.directory, context, ignore=shutil.ignore_patterns("__pycache__"))
        for artifact in recipe.artifacts:
            provide_artifact(artifact, recipe.directory, context)
        _make_scripts_executable(context)
        with (context / "Dockerfile").open("a") as dockerfile:
            dockerfile.write(f"\nLABEL {RECIPE_LABEL}={digest}\n")
        return _docker_build(client, image.tags[0], context, recipe.directory)


def _build_on_rootfs(
    client: docker.DockerClient,
    image: OfflineImage,
    recipe: ImportRecipe,
    digest: str,
    rootfs: _RootfsPrefetch,
    log: Log,
) -> Image:
    base = _rootfs_base(client, recipe.rootfs, rootfs, log)
    with tempfile.TemporaryDirectory(prefix="dockyard-image-") as tmp:
        context = Path(tmp)
        (context / "Dockerfile").write_text(
            "\n".join([f"FROM {base}", *recipe.instructions, f"LABEL {RECIPE_LABEL}={digest}"])
            + "\n"
        )
        return _docker_build(client, image.tags[0], context, recipe.rootfs.directory)


def _rootfs_base(
    client: docker.DockerClient, rootfs: RootfsRecipe, prefetch: _RootfsPrefetch, log: Log
) -> str:
    """Id of the untagged image imported from the rootfs tarball, importing it if needed.

    It is found again by its ROOTFS_LABEL. Images built on it inherit that label (the final ones
    and the builder's intermediate steps alike), so only an image without a parent qualifies.
    It stays alive as the ancestor of the images built on it and goes away with the last of them.
    """
    base = _find_base(client, rootfs)
    if base:
        return base
    digest = rootfs.digest()
    tarball = prefetch.tarball(rootfs)
    log(f"  docker import {tarball.name}")
    try:
        answer = client.api.import_image(
            src=str(tarball), changes=[f"LABEL {ROOTFS_LABEL}={digest}"]
        )
    except APIError as exc:
        raise ImageBuildError(
            f"docker import of {tarball} failed: {exc.explanation}. If the tarball is "
            "damaged, delete it and run again to rebuild it."
        ) from exc
    for message in _json_stream(answer):
        if "error" in message or "errorDetail" in message:
            raise ImageBuildError(f"docker import of {tarball} failed: {message.get('error')}")
        status = str(message.get("status", ""))
        if status.startswith("sha256:"):
            return status
    raise ImageBuildError(f"docker import of {tarball} gave no image id; the engine said: {answer}")


def _find_base(client: docker.DockerClient, rootfs: RootfsRecipe) -> str | None:
    labelled = client.images.list(all=True, filters={"label": f"{ROOTFS_LABEL}={rootfs.digest()}"})
    return next((image.id for image in labelled if not image.attrs.get("Parent")), None)


def _docker_build(client: docker.DockerClient, tag: str, context: Path, recipe_dir: Path) -> Image:
    try:
        built, _logs = client.images.build(
            path=str(context), tag=tag, rm=True, forcerm=True, pull=False
        )
    except BuildError as exc:
        lines = [str(chunk.get("stream") or chunk.get("error") or "").rstrip()
                 for chunk in exc.build_log]
        tail = "\n".join("    " + line for line in lines if line)[-3000:]
        raise ImageBuildError(
            f"docker build of {tag} failed: {exc.msg}\n{tail}\nThe recipe is in {recipe_dir}."
        ) from exc
    except APIError as exc:
        raise ImageBuildError(
            f"docker build of {tag} was refused by the engine: {exc.explanation}"
        ) from exc
    return built


def _json_stream(text: str) -> Iterator[dict]:
    decoder = json.JSONDecoder()
    position = 0
    text = text.strip() if isinstance(text, str) else ""
    while position < len(text):
        try:
            obj, position = decoder.raw_decode(text, position)
        except ValueError:
            return
        if isinstance(obj, dict):
            yield obj
        while position < len(text) and text[position].isspace():
            position += 1


def _make_scripts_executable(context: Path) -> None:
    """A git checkout may lose exec bits (core.fileMode=false); scripts must run in the image."""
    for path in context.rglob("*"):
        if path.is_file() and path.read_bytes()[:2] == b"#!":
            path.chmod(0o755)


def _remove_if_unreferenced(client: docker.DockerClient, image_id: str, log: Log) -> None:
    try:
        old = client.images.get(image_id)
        if old.tags:  # someone else's tag still names it; not ours to delete
            return
        client.images.remove(image_id)
        log(f"  removed the replaced image {_short(image_id)}")
    except ImageNotFound:
        pass
    except APIError as exc:  # typically 409: a container still uses it
        log(f"  kept the replaced image {_short(image_id)}: {exc.explanation}")


def _tag(image: Image, full_tag: str) -> None:
    repository, tag = parse_repository_tag(full_tag)
    image.tag(repository, tag or "latest")


def _label(image: Image) -> str | None:
    return (image.labels or {}).get(RECIPE_LABEL)


def _names(image: OfflineImage) -> str:
    return ", ".join(image.tags)


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


@contextmanager
def _build_lock(log: Log) -> Iterator[None]:
    path = cache_dir() / ".build.lock"
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another dockyard image build to finish (lock {path})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
