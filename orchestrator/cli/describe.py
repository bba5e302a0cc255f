"""``dockyard describe``: an object in kubectl's describe layout, followed by its Events.

The header block (Name, Namespace, Labels, Annotations, CreationTimestamp) and the Events table
follow kubectl's layout; the body is the object's spec and status as an indented tree, which is
complete for every kind rather than curated for a few. Events are found the way kubectl finds
them: a field selector on ``involvedObject.name/namespace/kind/uid``.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from typing import TextIO

from orchestrator.apiserver.tables import human_duration
from orchestrator.cli.client import ApiClient, ApiResource

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _map_lines(label: str, values: dict | None) -> list[str]:
    if not values:
        return [f"{label + ':':<18}<none>"]
    items = sorted(values.items())
    lines = [f"{label + ':':<18}{items[0][0]}={items[0][1]}"]
    lines += [f"{'':<18}{key}={value}" for key, value in items[1:]]
    return lines


def _tree(value: object, indent: int) -> list[str]:
    pad = "  " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:")
                lines.extend(_tree(item, indent + 1))
            else:
                lines.append(f"{pad}{key}:\t{_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                sub = _tree(item, indent + 1)
                lines.append(f"{pad}- {sub[0].strip()}" if sub else f"{pad}-")
                lines.extend(sub[1:])
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    return lines


def _scalar(value: object) -> str:
    if value in (None, "", [], {}):
        return "<none>"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _events(client: ApiClient, obj: dict, namespace: str | None) -> list[str]:
    meta = obj["metadata"]
    selector = f"involvedObject.name={meta['name']},involvedObject.kind={obj['kind']}"
    if meta.get("uid"):
        selector += f",involvedObject.uid={meta['uid']}"
    path = f"/api/v1/namespaces/{namespace}/events" if namespace else "/api/v1/events"
    events = client.request("GET", path, params={"fieldSelector": selector}).get("items", [])
    if not events:
        return ["Events:            <none>"]
    now = datetime.now(timezone.utc)
    rows = [("Type", "Reason", "Age", "From", "Message"), ("----", "------", "----", "----", "-------")]
    for event in sorted(events, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or ""):
        stamp = event.get("lastTimestamp") or event.get("eventTime") or event["metadata"].get("creationTimestamp")
        age = "<unknown>"
        if stamp:
            seen = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            age = human_duration(now - seen)
            if (event.get("count") or 1) > 1 and event.get("firstTimestamp"):
                first = datetime.fromisoformat(event["firstTimestamp"].replace("Z", "+00:00"))
                age = f"{age} (x{event['count']} over {human_duration(now - first)})"
        source = (event.get("source") or {}).get("component") or event.get("reportingComponent") or ""
        rows.append((event.get("type", ""), event.get("reason", ""), age, source, event.get("message", "")))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["Events:"]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths)]
        lines.append("  " + "  ".join(cells) + "  " + row[4])
    return lines


def describe_object(client: ApiClient, resource: ApiResource, obj: dict) -> str:
    meta = obj["metadata"]
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    lines = [f"{'Name:':<18}{meta['name']}"]
    if resource.namespaced:
        lines.append(f"{'Namespace:':<18}{meta.get('namespace', '')}")
    lines += _map_lines("Labels", meta.get("labels"))
    lines += _map_lines("Annotations", annotations)
    lines.append(f"{'CreationTimestamp:':<18}{meta.get('creationTimestamp', '<unknown>')}")
    if meta.get("deletionTimestamp"):
        lines.append(f"{'Terminating since:':<18}{meta['deletionTimestamp']}")
    if meta.get("ownerReferences"):
        owner = meta["ownerReferences"][0]
        lines.append(f"{'Controlled By:':<18}{owner['kind']}/{owner['name']}")
    for section in ("spec", "status", "data", "subsets"):
        if obj.get(section):
            lines.append(f"{section.capitalize()}:")
            lines.extend(_tree(obj[section], 1))
    lines.extend(_events(client, obj, meta.get("namespace")))
    return "\n".join(lines) + "\n"


def run_describe(client: ApiClient, args: argparse.Namespace, out: TextIO) -> int:
    resource = client.resource(args.type)
    namespace = (args.namespace or "default") if resource.namespaced else None
    if args.names:
        objects = [client.request("GET", resource.path(namespace, name)) for name in args.names]
    else:
        params = {"labelSelector": args.selector} if args.selector else None
        objects = client.request("GET", resource.path(namespace), params=params).get("items", [])
    out.write("\n\n".join(describe_object(client, resource, obj).rstrip("\n") for obj in objects) + "\n")
    return 0
