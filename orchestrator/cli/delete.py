"""``dockyard delete -f FILE`` / ``dockyard delete KIND NAME…``: kubectl's wording and waiting.

Like kubectl, a delete waits until the object is really gone (graceful pods, finalizers, the
garbage collector's foreground deletions), polling the object until it answers 404, unless
``--wait=false`` is given.
"""

from __future__ import annotations

import argparse
import time
from typing import TextIO

from orchestrator.cli.client import ApiClient, ApiResource, ClientError
from orchestrator.cli.manifests import load_manifests


def _delete_one(client: ApiClient, resource: ApiResource, namespace: str | None, name: str, args: argparse.Namespace,
                out: TextIO, err: TextIO) -> bool:
    body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": args.cascade_policy}
    if args.grace_period is not None:
        body["gracePeriodSeconds"] = args.grace_period
    try:
        client.request("DELETE", resource.path(namespace, name), body=body)
    except ClientError as error:
        if error.code == 404 and args.ignore_not_found:
            return True
        err.write(f"{error}\n")
        return False
    out.write(f'{resource.qualified} "{name}" deleted\n')
    if args.wait:
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            if client.get_or_none(resource.path(namespace, name)) is None:
                return True
            time.sleep(0.2)
        err.write(f'error: timed out waiting for {resource.qualified} "{name}" to be deleted\n')
        return False
    return True


def run_delete(client: ApiClient, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    targets: list[tuple[ApiResource, str | None, str]] = []
    if args.filename:
        for manifest in load_manifests(args.filename):
            resource = client.resource_for_kind(manifest.object["apiVersion"], manifest.kind)
            namespace = (manifest.object.get("metadata") or {}).get("namespace") or args.namespace or "default"
            targets.append((resource, namespace if resource.namespaced else None, manifest.name))
    else:
        if not args.type or not args.names:
            err.write("error: resource(s) were provided, but no name was specified; "
                      "use `dockyard delete KIND NAME` or `-f FILE`\n")
            return 1
        resource = client.resource(args.type)
        for name in args.names:
            targets.append((resource, (args.namespace or "default") if resource.namespaced else None, name))
    ok = True
    for resource, namespace, name in targets:
        ok = _delete_one(client, resource, namespace, name, args, out, err) and ok
    return 0 if ok else 1
