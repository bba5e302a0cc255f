"""Fixtures the unit tests share."""

from __future__ import annotations

import pytest

from orchestrator.api.registry import kind_for
from orchestrator.apiserver.objects import ObjectAPI
from orchestrator.store import MemoryStore


@pytest.fixture
def api() -> ObjectAPI:
    """The object API over the in-memory store, with the ``default`` namespace, as controllers see it."""
    made = ObjectAPI(MemoryStore())
    made.create(kind_for("v1", "Namespace"), None, {"metadata": {"name": "default"}})
    return made
