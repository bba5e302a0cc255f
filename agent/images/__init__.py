"""The offline image builder: the container images dockyard needs, built on the machine itself.

Why this exists. dockyard runs the manifests of Kubernetes study notes unchanged on real Docker,
and those manifests name images on Docker Hub (`nginx:latest`, `alicek106/rr-test:echo-hostname`,
`alicek106/ubuntu:curl`), while every pod also needs a sandbox image. Where a registry is
reachable the agent simply pulls them. Where none is (our CI and lab machines, classrooms behind
a proxy) this package builds stand-ins from Debian packages only and tags them with the very
names the manifests use, so nothing in a manifest changes:

- `dockyard/pause:1.0` — the pod sandbox holder, like Kubernetes' pause image: a ~40-line C
  program (pause/pause.c) compiled statically on the host, in a `FROM scratch` image. It sleeps
  in pause(), exits 0 on SIGTERM/SIGINT and reaps zombies as PID 1.
- `alicek106/rr-test:echo-hostname` — a web page saying `<p>Hello, POD-NAME</p>` on port 80, to
  watch a Service spread requests over pods: Debian's static busybox `httpd` and a CGI, in a
  `FROM scratch` image (echo_hostname/).
- `nginx:latest` — a real nginx (Debian's nginx-light) laid out like the official image: default
  server in conf.d serving /usr/share/nginx/html, logs to stdout/stderr, STOPSIGNAL SIGQUIT.
- `alicek106/ubuntu:curl` — a debugging shell (bash, curl, dig, nslookup, ip, ps) for
  `kubectl run -i --tty --rm debug --image=alicek106/ubuntu:curl -- bash`. Debian, not Ubuntu.

The last two are one debootstrap root filesystem (rootfs/), built once, cached as a tarball and
imported twice with different `CMD`s.

Usage: `python -m agent.images [--only TAG ...] [--install-deps]`, or from Python::

    ensure_images(docker.from_env())          # {tag: image id}, builds only what is stale
    missing_tools()                           # Debian packages to install first, if any

Layout: `recipes.py` says what each image is (data and digests), `host_tools.py` deals with host
packages and artifacts (apt, gcc, busybox), `rootfs.py` with debootstrap and its cache,
`build.py` with Docker (the only module that calls it; `__main__` just connects).
"""

from .build import ensure_images
from .errors import ImageBuildError, MissingHostTools
from .host_tools import install_packages, missing_tools
from .recipes import RECIPE_LABEL, OfflineImage

__all__ = [
    "RECIPE_LABEL",
    "ImageBuildError",
    "MissingHostTools",
    "OfflineImage",
    "ensure_images",
    "install_packages",
    "missing_tools",
]
