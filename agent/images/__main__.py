"""`python -m agent.images [--only TAG ...] [--install-deps] [--list]`

Builds the offline images that are missing or stale and prints what it does. Idempotent: when
everything is current it prints "up to date" lines and returns in well under two seconds.
Exit status 0 on success, 1 with a human explanation on stderr otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time

import docker
from docker.errors import DockerException

from .build import ensure_images
from .errors import ImageBuildError
from .host_tools import install_packages, missing_tools
from .recipes import OfflineImage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m agent.images",
        description="Build dockyard's images locally, without a container registry.",
    )
    parser.add_argument("--only", nargs="+", action="extend", metavar="TAG",
                        help="build only these images (tags such as nginx:latest, or short "
                             "names: " + ", ".join(i.short_name for i in OfflineImage) + ")")
    parser.add_argument("--install-deps", action="store_true",
                        help="apt-get install the host packages the builds need, if missing")
    parser.add_argument("--list", action="store_true", help="list the images and exit")
    args = parser.parse_args(argv)

    if args.list:
        for image in OfflineImage:
            print(f"{image.short_name:14} {' '.join(image.tags):34} {image.stands_in_for}")
        return 0
    started = time.monotonic()
    try:
        images = OfflineImage.select(args.only)
        if args.install_deps:
            install_packages(missing_tools(images))
        try:
            client = docker.from_env()
            client.ping()
        except DockerException as exc:
            print(f"error: cannot reach the Docker engine ({exc}). Is dockerd running, and may "
                  "this user use /var/run/docker.sock (root or the docker group)?",
                  file=sys.stderr)
            return 1
        ids = ensure_images(client, [tag for image in images for tag in image.tags])
    except (ImageBuildError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(ids)} image(s) ready in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
