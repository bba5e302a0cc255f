"""How Events are named: ``<object name>.<hex nanoseconds>``, as Kubernetes' recorders do.

Listing Events returns them by name, and ``kubectl describe`` sorts by timestamps with one second
of resolution, keeping list order for ties: with time in the name, events of one second still
come out in the order they happened, whichever component (kubelet, scheduler, controllers)
recorded them. A random suffix would shuffle them.
"""

from __future__ import annotations

import threading
import time


class EventNamer:
    """Names for one recorder, strictly increasing even for two events in the same nanosecond."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def name(self, object_name: str) -> str:
        with self._lock:
            self._last = max(time.time_ns(), self._last + 1)
            return f"{object_name}.{self._last:x}"
