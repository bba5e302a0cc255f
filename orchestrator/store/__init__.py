"""Durable state of the cluster: see :mod:`orchestrator.store.base` for the contract."""

from orchestrator.store.base import (
    EventType,
    Key,
    KeyExists,
    KeyNotFound,
    ListResult,
    RevisionCompacted,
    RevisionConflict,
    Store,
    StoredEvent,
    StoreError,
    Watcher,
)
from orchestrator.store.memory import MemoryStore
from orchestrator.store.sqlite import SQLiteStore

__all__ = [
    "EventType", "Key", "KeyExists", "KeyNotFound", "ListResult", "MemoryStore", "RevisionCompacted",
    "RevisionConflict", "SQLiteStore", "Store", "StoreError", "StoredEvent", "Watcher",
]
