"""``dockyard apply -f``: client-side apply, the same three-way merge kubectl performs.

New objects are created with the ``kubectl.kubernetes.io/last-applied-configuration``
annotation. Existing ones get a strategic merge patch computed from three versions: what was
applied last time (the annotation), what the file says now, and what the server has — so fields
removed from the file are removed from the object, while fields others set (controllers, the
scheduler, ``kubectl scale``) are left alone. Output lines match kubectl's:
``deployment.apps/web created | configured | unchanged``.
"""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from orchestrator.api.patch_diff import three_way_strategic_patch
from orchestrator.cli.client import ApiClient, ClientError
from orchestrator.cli.manifests import load_manifests

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _with_last_applied(obj: dict) -> dict:
    annotated = json.loads(json.dumps(obj))
    clean = json.loads(json.dumps(obj))
    (clean.get("metadata") or {}).get("annotations", {}).pop(LAST_APPLIED, None)
    if not (clean.get("metadata") or {}).get("annotations"):
        (clean.get("metadata") or {}).pop("annotations", None)
    text = json.dumps(clean, sort_keys=True, separators=(",", ":"))
    annotated.setdefault("metadata", {}).setdefault("annotations", {})[LAST_APPLIED] = text + "\n"
    return annotated


def run_apply(client: ApiClient, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    ok = True
    for manifest in load_manifests(args.filename):
        obj = manifest.object
        try:
            resource = client.resource_for_kind(obj["apiVersion"], obj["kind"])
            namespace = (obj.get("metadata") or {}).get("namespace") or args.namespace or "default"
            namespace = namespace if resource.namespaced else None
            name = manifest.name
            desired = _with_last_applied(obj)
            params = {"fieldValidation": "Strict"}
            current = client.get_or_none(resource.path(namespace, name))
            if current is None:
                client.request("POST", resource.path(namespace), body=desired, params=params)
                out.write(f"{resource.qualified}/{name} created\n")
                continue
            previous = json.loads(
                (current.get("metadata", {}).get("annotations") or {}).get(LAST_APPLIED) or "{}")
            patch = three_way_strategic_patch(previous, desired, current, obj["kind"])
            if not patch:
                out.write(f"{resource.qualified}/{name} unchanged\n")
                continue
            result = client.request("PATCH", resource.path(namespace, name), body=patch, params=params,
                                    content_type="application/strategic-merge-patch+json")
            changed = result["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"]
            out.write(f"{resource.qualified}/{name} {'configured' if changed else 'unchanged'}\n")
        except ClientError as error:
            ok = False
            err.write(f'{error} (from "{manifest.source}", {obj.get("kind")} "{manifest.name}")\n')
    return 0 if ok else 1
