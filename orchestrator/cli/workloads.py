"""``dockyard scale`` and ``dockyard set image``: the two everyday edits of a workload's spec.

Same requests as kubectl 1.32: ``scale`` merge-patches the ``/scale`` subresource (an
``autoscaling/v1`` Scale), so it works for Deployments and ReplicaSets alike and never races
with other spec edits; ``set image`` sends a strategic merge patch naming only the containers it
changes (containers merge by name, so the others are left alone). ``set image`` checks the
container names against the object first, as kubectl does, so a typo is an error rather than a
new container.
"""

from __future__ import annotations

import argparse
from typing import TextIO

from orchestrator.cli.client import ApiClient, ApiResource, ClientError

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"


def add_workload_parsers(verbs: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    scale = verbs.add_parser("scale", help="set the replicas of a Deployment or ReplicaSet (kubectl scale)")
    scale.add_argument("target", nargs="+", help="deployment/NAME, or deployment NAME")
    scale.add_argument("--replicas", type=int, required=True)
    set_ = verbs.add_parser("set", help="change part of an object (kubectl set)")
    what = set_.add_subparsers(dest="what", required=True)
    image = what.add_parser("image", help="change container images: set image deploy/NAME CONTAINER=IMAGE …")
    image.add_argument("words", nargs="+", help="TYPE/NAME (or TYPE NAME) then CONTAINER=IMAGE pairs")
    return [scale, image]


def _split_target(client: ApiClient, words: list[str]) -> tuple[ApiResource, str, list[str]]:
    if words and "/" in words[0]:
        typed, name = words[0].split("/", 1)
        rest = words[1:]
    elif len(words) >= 2:
        typed, name, rest = words[0], words[1], words[2:]
    else:
        raise ClientError("error: specify the object as TYPE/NAME (e.g. deployment/web) or TYPE NAME")
    return client.resource(typed), name, rest


def parse_images(pairs: list[str]) -> dict[str, str]:
    """``["nginx=nginx:1.9", "*=busybox"]`` → ``{"nginx": "nginx:1.9", "*": "busybox"}``."""
    images = {}
    for pair in pairs:
        container, sep, image = pair.partition("=")
        if not sep or not container or not image:
            raise ClientError(f"error: {pair!r} is not CONTAINER=IMAGE (e.g. nginx=nginx:1.9.1)")
        images[container] = image
    if not images:
        raise ClientError("error: at least one CONTAINER=IMAGE is required")
    return images


def image_patch(obj: dict, images: dict[str, str]) -> dict:
    """The strategic merge patch for ``images`` (``*`` means every container); refuses unknown names."""
    spec = obj.get("spec") or {}
    pod_spec = (spec.get("template") or {}).get("spec") if "template" in spec else spec
    patch: dict[str, list] = {}
    for field in ("initContainers", "containers"):
        names = [c["name"] for c in (pod_spec or {}).get(field) or []]
        changed = [{"name": n, "image": images.get(n, images.get("*"))} for n in names if n in images or "*" in images]
        if changed:
            patch[field] = changed
    known = {c["name"] for f in ("initContainers", "containers") for c in (pod_spec or {}).get(f) or []}
    for name in images:
        if name != "*" and name not in known:
            raise ClientError(f'error: unable to find container named "{name}"')
    return {"spec": {"template": {"spec": patch}}} if "template" in spec else {"spec": patch}


def run_scale(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    resource, name, rest = _split_target(client, args.target)
    if rest:
        raise ClientError(f"error: unexpected arguments {rest}: scale one object at a time")
    namespace = args.namespace or "default"
    client.request("PATCH", resource.path(namespace, name, "scale"), body={"spec": {"replicas": args.replicas}},
                   content_type=MERGE)
    out.write(f"{resource.qualified}/{name} scaled\n")
    return 0


def run_set_image(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    resource, name, pairs = _split_target(client, args.words)
    namespace = args.namespace or "default"
    path = resource.path(namespace, name)
    patch = image_patch(client.request("GET", path), parse_images(pairs))
    client.request("PATCH", path, body=patch, content_type=STRATEGIC)
    out.write(f"{resource.qualified}/{name} image updated\n")
    return 0
