"""``dockyard get``: the server's Table, printed as kubectl prints it; or the objects as YAML/JSON."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

import yaml

from orchestrator.apiserver.tables import print_table
from orchestrator.cli.client import TABLE_ACCEPT, ApiClient, ApiResource


def _params(args: argparse.Namespace) -> dict[str, str]:
    params = {}
    if args.selector:
        params["labelSelector"] = args.selector
    if getattr(args, "field_selector", None):
        params["fieldSelector"] = args.field_selector
    return params


def _namespace(args: argparse.Namespace, resource: ApiResource) -> str | None:
    if not resource.namespaced or args.all_namespaces:
        return None
    return args.namespace or "default"


def run_get(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    types = [t for t in args.type.split(",") if t]
    many_types = len(types) > 1
    for position, typed in enumerate(types):
        resource = client.resource(typed)
        namespace = _namespace(args, resource)
        names = args.names or [None]
        if args.output in ("yaml", "json", "name"):
            objects = [obj for name in names for obj in _fetch(client, resource, namespace, name, args)]
            _print_objects(objects, resource, args, out, single=bool(args.names) and len(names) == 1)
            continue
        for name in names:
            table = client.request("GET", resource.path(namespace, name), params=_params(args), accept=TABLE_ACCEPT)
            if not table.get("rows") and not name:
                where = f" in {namespace} namespace" if namespace else ""
                if not many_types:
                    out.write(f"No resources found{where}.\n")
                continue
            if position and many_types:
                out.write("\n")
            out.write(print_table(table, wide=args.output == "wide", show_namespace=args.all_namespaces,
                                  show_kind=resource.qualified if many_types else None))
        if args.watch:
            _watch(client, resource, namespace, args, out)
    return 0


def _fetch(client: ApiClient, resource: ApiResource, namespace: str | None, name: str | None,
           args: argparse.Namespace) -> list[dict]:
    """The named object, or every object the list returns."""
    if name:
        return [client.request("GET", resource.path(namespace, name))]
    return client.request("GET", resource.path(namespace), params=_params(args))["items"]


def _print_objects(items: list[dict], resource: ApiResource, args: argparse.Namespace, out: TextIO, *,
                   single: bool) -> None:
    if args.output == "name":
        for obj in items:
            out.write(f"{resource.qualified}/{obj['metadata']['name']}\n")
        return
    document = items[0] if single else {"apiVersion": "v1", "kind": "List", "items": items,
                                        "metadata": {"resourceVersion": ""}}
    if args.output == "json":
        out.write(json.dumps(document, indent=4) + "\n")
    else:
        out.write(yaml.safe_dump(document, sort_keys=False, default_flow_style=False))


def _watch(client: ApiClient, resource: ApiResource, namespace: str | None, args: argparse.Namespace,
           out: TextIO) -> None:
    params = {**_params(args), "watch": "true"}
    first = True
    for line in client.stream(resource.path(namespace), params, accept=TABLE_ACCEPT):
        if not line.strip():
            continue
        event = json.loads(line)
        table = event["object"]
        if event["type"] == "ERROR":
            out.write(f"error: {table.get('message')}\n")
            return
        if first:
            first = False  # the initial list was printed already; the replay repeats it
            continue
        out.write(print_table(table, wide=args.output == "wide", no_headers=True))
        out.flush()
