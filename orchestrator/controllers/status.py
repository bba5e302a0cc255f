"""Writing a controller's ``status`` while others write too.

Users scale, kubectl patches, other controllers annotate: between a controller's read and its
status write the object may have moved on. :func:`write_status` recomputes the status from the
fresh object and tries again a few times, skips the write when nothing changed (a no-op write
would wake every watcher), and gives up quietly when the object is gone or was re-created under
the same name — the new one's own pass writes its status.
"""

from __future__ import annotations

from collections.abc import Callable

from orchestrator.api import errors
from orchestrator.api.registry import ResourceKind
from orchestrator.client.protocol import Client

ATTEMPTS = 3


def write_status(client: Client, rk: ResourceKind, obj: dict, compute: Callable[[dict], dict]) -> dict | None:
    """Set ``status = compute(obj)``; the object as written (or unchanged), None if it is gone."""
    meta = obj["metadata"]
    for attempt in range(ATTEMPTS):
        status = compute(obj)
        if status == (obj.get("status") or {}):
            return obj
        try:
            return client.update(rk, meta.get("namespace"), meta["name"], {**obj, "status": status},
                                 subresource="status")
        except errors.ApiError as error:
            if error.code == 404:
                return None
            if error.reason is not errors.StatusReason.CONFLICT or attempt == ATTEMPTS - 1:
                raise
        fresh = errors.or_none(lambda: client.get(rk, meta.get("namespace"), meta["name"]))
        if fresh is None or fresh["metadata"]["uid"] != meta["uid"]:
            return None
        obj = fresh
    return obj
