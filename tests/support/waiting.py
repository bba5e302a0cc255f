"""Waiting for a cluster to get somewhere, and saying why when it does not."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(what: str, check: Callable, explain: Callable[[], str] | None = None, timeout: float = 60,
             every: float = 0.3):
    """Poll ``check`` until it returns something truthy and return that; on time-out fail with
    what was awaited, the last value seen and ``explain()`` (a describe, the process logs)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    detail = f"\n{explain()}" if explain else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last saw {last!r}{detail}")
