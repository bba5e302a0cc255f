"""Assemble ``meta.k8s.io/v1`` Table objects from API objects of one kind."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from . import cluster, config, events, network, pods, workloads
from .columns import AGE, NAME, Cell, Column, KindPrinter
from .fields import Object, field, name_of
from orchestrator.api.timestamps import as_utc

from .humanize import since

TABLE_API_VERSION = "meta.k8s.io/v1"
PARTIAL_METADATA_KIND = "PartialObjectMetadata"

# The `includeObject` query parameter (metav1.IncludeObjectPolicy).
INCLUDE_NONE = "None"
INCLUDE_METADATA = "Metadata"
INCLUDE_OBJECT = "Object"
INCLUDE_OBJECT_POLICIES = frozenset({INCLUDE_NONE, INCLUDE_METADATA, INCLUDE_OBJECT})


def _generic_cells(obj: Object, now: datetime) -> list[Cell]:
    return [name_of(obj), since(field(obj, "metadata", "creationTimestamp"), now)]


GENERIC_COLUMNS: tuple[Column, ...] = (NAME, AGE)
# Kinds without a dedicated printer get NAME and AGE, like a CRD without printer columns.
GENERIC_PRINTER = KindPrinter(GENERIC_COLUMNS, _generic_cells)

PRINTERS: dict[str, KindPrinter] = {
    "Pod": pods.PRINTER,
    "ReplicaSet": workloads.REPLICA_SET_PRINTER,
    "Deployment": workloads.DEPLOYMENT_PRINTER,
    "Service": network.SERVICE_PRINTER,
    "Endpoints": network.ENDPOINTS_PRINTER,
    "EndpointSlice": network.ENDPOINT_SLICE_PRINTER,
    "Node": cluster.NODE_PRINTER,
    "Lease": cluster.LEASE_PRINTER,
    "Namespace": cluster.NAMESPACE_PRINTER,
    "Event": events.PRINTER,
    "ConfigMap": config.CONFIG_MAP_PRINTER,
    "Secret": config.SECRET_PRINTER,
}


def printer_for(kind: str) -> KindPrinter:
    """The printer for a kind (``"Pod"``), or the NAME/AGE fallback."""
    return PRINTERS.get(kind, GENERIC_PRINTER)


def render_table(
    kind: str,
    objects: Iterable[Object],
    *,
    now: datetime,
    include_object: str = INCLUDE_METADATA,
    resource_version: str = "",
    continue_token: str | None = None,
) -> dict[str, Any]:
    """Render objects of one kind as the Table kubectl asks for with ``Accept: ...;as=Table``.

    ``now`` is passed in (not read from the clock) so that every AGE in one response is computed
    against the same instant and tests are deterministic. ``include_object`` is the request's
    ``includeObject`` value; anything else raises ``ValueError`` (a 400 for the API server).
    """
    if include_object == "":
        include_object = INCLUDE_METADATA  # an empty ?includeObject= means the default
    if include_object not in INCLUDE_OBJECT_POLICIES:
        raise ValueError(
            f"includeObject must be one of {sorted(INCLUDE_OBJECT_POLICIES)}, got {include_object!r}"
        )
    printer = printer_for(kind)
    moment = as_utc(now)
    return {
        "kind": "Table",
        "apiVersion": TABLE_API_VERSION,
        "metadata": _list_metadata(resource_version, continue_token),
        "columnDefinitions": [column.definition() for column in printer.columns],
        "rows": [_row(printer, obj, moment, include_object) for obj in objects],
    }


def _list_metadata(resource_version: str, continue_token: str | None) -> dict[str, str]:
    metadata = {"resourceVersion": resource_version}
    if continue_token:  # ListMeta.continue is omitempty
        metadata["continue"] = continue_token
    return metadata


def _row(printer: KindPrinter, obj: Object, now: datetime, include_object: str) -> dict[str, Any]:
    row: dict[str, Any] = {"cells": printer.cells(obj, now)}
    if printer.conditions is not None:
        conditions = printer.conditions(obj)
        if conditions:
            row["conditions"] = conditions
    if include_object == INCLUDE_OBJECT:
        row["object"] = obj
    elif include_object == INCLUDE_METADATA:
        # Enough for kubectl to add NAMESPACE / label columns without shipping whole objects.
        row["object"] = {
            "kind": PARTIAL_METADATA_KIND,
            "apiVersion": TABLE_API_VERSION,
            "metadata": field(obj, "metadata") or {},
        }
    return row
