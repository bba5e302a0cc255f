"""Connecting to the Docker engine, in one place.

Every user of the engine (the runtime, the log and exec streams, ``dockyard down``'s cleanup)
connects the same way: ``docker_host`` when given (``--docker-host``), else the environment
(``$DOCKER_HOST``, then the local socket), checked with a ping so that a missing or forbidden
engine is reported at once, in words that say what to check, rather than on the first real call.
"""

from __future__ import annotations

import docker
from docker.errors import DockerException

from agent.runtime.errors import DockerUnavailable


def connect(docker_host: str | None = None) -> docker.DockerClient:
    try:
        client = docker.DockerClient(base_url=docker_host) if docker_host else docker.from_env()
        client.ping()
        return client
    except DockerException as error:
        where = docker_host or "the default socket ($DOCKER_HOST or /var/run/docker.sock)"
        raise DockerUnavailable(
            f"cannot reach the Docker engine at {where}: {error}. Is dockerd running, and may this "
            "user use it (root, or the docker group)?") from None
