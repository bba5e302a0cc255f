"""Setting one condition in a status's ``conditions`` list, the way Kubernetes does.

``podutil.UpdatePodCondition`` and ``meta.SetStatusCondition`` share one rule that users see in
``kubectl describe``: ``lastTransitionTime`` records when the condition last *changed status*
(True ↔ False ↔ Unknown), so rewriting the same status with a new reason or message keeps the old
time. The other conditions keep their place in the list; a new one is appended.

Pure: the caller passes the clock reading, and gets a new list back.
"""

from __future__ import annotations

from enum import Enum

from orchestrator.api.meta import ConditionStatus


def set_condition(conditions: list[dict] | None, kind: Enum, status: ConditionStatus, now: str, *,
                  reason: Enum | None = None, message: str = "") -> list[dict]:
    """``conditions`` with the condition of type ``kind`` set; the input list is not modified.

    Example: a pod's ``PodScheduled`` goes False/Unschedulable at 10:00, is rewritten with a new
    message at 10:05 (``lastTransitionTime`` stays 10:00), and turns True at 10:07 (it becomes 10:07).
    """
    before = next((c for c in conditions or [] if c.get("type") == kind.value), None)
    kept = before is not None and before.get("status") == status.value and before.get("lastTransitionTime")
    condition = {"type": kind.value, "status": status.value,
                 "lastTransitionTime": before["lastTransitionTime"] if before is not None and kept else now}
    if reason is not None:
        condition["reason"] = reason.value
    if message:
        condition["message"] = message
    if before is None:
        return [*(conditions or []), condition]
    return [condition if c is before else c for c in conditions or []]
