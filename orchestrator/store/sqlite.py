"""The durable store: one SQLite file, an append-only log plus a table of current objects.

Layout (the kine idea, simplified): ``log`` is the event history, one row per write, whose
``AUTOINCREMENT`` row id *is* the cluster revision, so revisions are monotonic across restarts and
never reused even after compaction. ``objects`` holds the latest state of each live key for fast
reads. Both change in one transaction, so a crash leaves either the whole write or none of it.

Durability: WAL journal with ``synchronous=FULL`` means a write the API acknowledged survives a
``kill -9`` of the server (and of the machine). The log is trimmed to the newest ``history``
events; a watch from an older revision gets :class:`RevisionCompacted` (HTTP 410).
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
from pathlib import Path

from orchestrator.store.base import (
    EventType,
    Key,
    KeyExists,
    KeyNotFound,
    ListResult,
    RevisionCompacted,
    RevisionConflict,
    StoredEvent,
    StoreError,
    Subscribers,
    stamp,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    rev INTEGER PRIMARY KEY AUTOINCREMENT,
    resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    type TEXT NOT NULL, object TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    rev INTEGER NOT NULL, object TEXT NOT NULL,
    PRIMARY KEY (resource, namespace, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS compaction (id INTEGER PRIMARY KEY CHECK (id = 1), oldest INTEGER NOT NULL);
"""

#: how many events the log keeps for watchers that resume from an old revision
DEFAULT_HISTORY = 50_000
#: trim the log every this many writes (trimming on every write would cost a query each time)
_COMPACT_EVERY = 1_000


class SQLiteStore:
    def __init__(self, path: str | Path, *, history: int = DEFAULT_HISTORY) -> None:
        self.path = str(path)
        self._history = history
        self._lock = threading.RLock()
        self._subscribers = Subscribers()
        self._writes_since_compaction = 0
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._db.execute("INSERT OR IGNORE INTO compaction (id, oldest) VALUES (1, 0)")

    # -- reads -----------------------------------------------------------------------------

    def get(self, key: Key) -> dict:
        with self._lock:
            row = self._db.execute(
                "SELECT object FROM objects WHERE resource=? AND namespace=? AND name=?",
                (key.resource, key.namespace, key.name),
            ).fetchone()
        if row is None:
            raise KeyNotFound(key)
        return json.loads(row[0])

    def list(self, resource: str, namespace: str | None = None, *, limit: int | None = None,
             after: tuple[str, str] | None = None) -> ListResult:
        query = "SELECT namespace, name, object FROM objects WHERE resource=?"
        args: list = [resource]
        if namespace is not None:
            query += " AND namespace=?"
            args.append(namespace)
        if after is not None:
            query += " AND (namespace, name) > (?, ?)"
            args.extend(after)
        query += " ORDER BY namespace, name"
        if limit:
            query += " LIMIT ?"
            args.append(limit + 1)
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
            revision = self._revision()
        next_after = None
        if limit and len(rows) > limit:
            rows = rows[:limit]
            next_after = (rows[-1][0], rows[-1][1])
        return ListResult([json.loads(row[2]) for row in rows], revision, next_after)

    def revision(self) -> int:
        with self._lock:
            return self._revision()

    def _revision(self) -> int:
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name='log'").fetchone()
        return row[0] if row else 0

    def events_since(self, revision: int) -> builtins.list[StoredEvent]:  # ``list`` is the method
        with self._lock:
            oldest = self._db.execute("SELECT oldest FROM compaction").fetchone()[0]
            if revision < oldest:
                raise RevisionCompacted(revision, oldest)
            rows = self._db.execute(
                "SELECT rev, resource, namespace, name, type, object FROM log WHERE rev > ? ORDER BY rev",
                (revision,),
            ).fetchall()
        return [
            StoredEvent(EventType(row[4]), Key(row[1], row[2], row[3]), json.loads(row[5]), row[0])
            for row in rows
        ]

    # -- writes ----------------------------------------------------------------------------

    def create(self, key: Key, obj: dict) -> dict:
        with self._lock:
            if self._current_revision(key) is not None:
                raise KeyExists(key)
            return self._write(key, obj, EventType.ADDED)

    def update(self, key: Key, obj: dict, *, expected_revision: int | None = None) -> dict:
        with self._lock:
            self._check(key, expected_revision)
            return self._write(key, obj, EventType.MODIFIED, previous=self.get(key))

    def delete(self, key: Key, *, expected_revision: int | None = None) -> dict:
        with self._lock:
            self._check(key, expected_revision)
            current = self.get(key)
            return self._write(key, current, EventType.DELETED, previous=current)

    def _current_revision(self, key: Key) -> int | None:
        row = self._db.execute(
            "SELECT rev FROM objects WHERE resource=? AND namespace=? AND name=?",
            (key.resource, key.namespace, key.name),
        ).fetchone()
        return row[0] if row else None

    def _check(self, key: Key, expected_revision: int | None) -> None:
        current = self._current_revision(key)
        if current is None:
            raise KeyNotFound(key)
        if expected_revision is not None and expected_revision != current:
            raise RevisionConflict(key)

    def _write(self, key: Key, obj: dict, event_type: EventType, previous: dict | None = None) -> dict:
        """Append to the log and move ``objects`` in one transaction; returns the stamped object."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            cursor = db.execute(
                "INSERT INTO log (resource, namespace, name, type, object) VALUES (?, ?, ?, ?, '')",
                (key.resource, key.namespace, key.name, event_type.value),
            )
            revision = cursor.lastrowid
            if revision is None:  # typed optional for other statements; an INSERT always sets it
                raise StoreError(key, f"SQLite numbered no log row for the write of {key}")
            stamped = stamp(obj, revision)
            text = json.dumps(stamped, separators=(",", ":"))
            db.execute("UPDATE log SET object=? WHERE rev=?", (text, revision))
            if event_type is EventType.DELETED:
                db.execute(
                    "DELETE FROM objects WHERE resource=? AND namespace=? AND name=?",
                    (key.resource, key.namespace, key.name),
                )
            else:
                db.execute(
                    "INSERT OR REPLACE INTO objects (resource, namespace, name, rev, object) VALUES (?, ?, ?, ?, ?)",
                    (key.resource, key.namespace, key.name, revision, text),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._maybe_compact(revision)
        self._subscribers.publish(StoredEvent(event_type, key, stamped, revision, previous))
        return stamped

    def _maybe_compact(self, revision: int) -> None:
        self._writes_since_compaction += 1
        if self._writes_since_compaction < _COMPACT_EVERY:
            return
        self._writes_since_compaction = 0
        oldest = max(0, revision - self._history)
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute("DELETE FROM log WHERE rev <= ?", (oldest,))
        self._db.execute("UPDATE compaction SET oldest=? WHERE id=1", (oldest,))
        self._db.execute("COMMIT")

    # -- the rest --------------------------------------------------------------------------

    def subscribe(self, callback):
        return self._subscribers.add(callback)

    def integrity_check(self) -> str:
        with self._lock:
            return self._db.execute("PRAGMA integrity_check").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
