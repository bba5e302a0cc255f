"""Bearer tokens: issuing them, storing them safely, and turning one back into an identity.

Three kinds, told apart by a prefix so a human reading a config or a log knows what leaked
(the identities themselves are described in :mod:`orchestrator.cluster.identity`):

* ``dya_…`` **admin**, the token in the kubeconfig;
* ``dyn_…`` **node**, held by one node agent;
* ``dyj_…`` **join**, made by ``dockyard token create`` for a new machine. It can do one thing: be
  exchanged by :meth:`TokenBook.exchange_join` for a node token, once per node name, until it
  expires (24 hours by default).

``tokens.json`` (0600) stores only the SHA-256 of each token: reading the file does not let anyone
talk to the cluster. Tokens are 256 random bits, so a plain hash (no salt, no slow KDF) is enough:
there is no dictionary to attack. Lookups compare digests with :func:`hmac.compare_digest` over
all records, so response timing says nothing about how close a guess came.

Several processes share the file: the API server authenticates and exchanges join tokens while
``dockyard token create`` adds join tokens. Every change is a read-modify-write under an
``flock`` on ``tokens.json.lock`` ending in an atomic rename; readers notice a new file by its
(inode, mtime, size), which they check with one ``stat`` on every :meth:`TokenBook.authenticate`.
Checking on every call, not just on a miss, is what makes a revocation by another process take
effect at once instead of at the next server restart; a ``stat`` costs about a microsecond.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Callable, Iterable, TypeVar

from orchestrator.cluster.identity import (
    Identity, admin_identity, bootstrap_identity, check_node_name, node_identity,
)
from orchestrator.cluster.statedir import SECRET_MODE, StateDir, atomic_write

DEFAULT_JOIN_TTL = 86400
#: longer than any token we issue; bounds the work an absurd Authorization header can cause
_MAX_TOKEN_LENGTH = 256

T = TypeVar("T")


class TokenKind(str, Enum):
    ADMIN = "admin"
    NODE = "node"
    JOIN = "join"

    @property
    def prefix(self) -> str:
        return {"admin": "dya_", "node": "dyn_", "join": "dyj_"}[self.value]


@dataclass(frozen=True)
class TokenRecord:
    """What ``tokens.json`` keeps about one token. Never the token itself."""

    digest: str  # hex SHA-256 of the token
    kind: TokenKind
    identity: Identity
    created: float  # unix time
    expires: float | None = None  # unix time; join tokens only
    joined: tuple[str, ...] = field(default=())  # node names a join token was exchanged for

    @property
    def id(self) -> str:
        """A short, non-secret handle for listing and revoking (the start of the digest)."""
        return self.digest[:12]

    def expired(self, now: float) -> bool:
        return self.expires is not None and now >= self.expires

    def to_json(self) -> dict:
        return {
            "sha256": self.digest,
            "kind": self.kind.value,
            "user": self.identity.user,
            "groups": list(self.identity.groups),
            "node": self.identity.node_name,
            "created": _iso(self.created),
            "expires": _iso(self.expires) if self.expires is not None else None,
            "joined": list(self.joined),
        }

    @classmethod
    def from_json(cls, raw: dict) -> TokenRecord:
        return cls(
            digest=raw["sha256"],
            kind=TokenKind(raw["kind"]),
            identity=Identity(raw["user"], tuple(raw["groups"]), raw.get("node")),
            created=_unix(raw["created"]),
            expires=_unix(raw["expires"]) if raw.get("expires") else None,
            joined=tuple(raw.get("joined", ())),
        )


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenBook:
    """The cluster's tokens, persisted in ``path``; safe to share between threads and processes."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._clock = clock  # injectable so tests can expire join tokens without sleeping
        self._lock = threading.RLock()
        self._records: tuple[TokenRecord, ...] = ()
        self._stamp: tuple[int, int, int] | None = None

    @classmethod
    def for_state(cls, state: StateDir, *, clock: Callable[[], float] = time.time) -> TokenBook:
        return cls(state.tokens, clock=clock)

    # -- issuing ----------------------------------------------------------------------------

    def issue_admin(self) -> str:
        return self._issue(TokenKind.ADMIN, admin_identity())

    def issue_node(self, node_name: str) -> str:
        return self._issue(TokenKind.NODE, node_identity(node_name))

    def issue_join(self, ttl_seconds: int | None = DEFAULT_JOIN_TTL) -> str:
        """A join token valid for ``ttl_seconds`` (``None``: until revoked)."""
        token = _new_token(TokenKind.JOIN)
        digest = digest_of(token)
        now = self._clock()
        expires = now + ttl_seconds if ttl_seconds is not None else None
        record = TokenRecord(digest, TokenKind.JOIN, bootstrap_identity(digest[:12]), now, expires)
        self._mutate(lambda records: ([*records, record], None))
        return token

    def exchange_join(self, join_token: str, node_name: str) -> str | None:
        """Trade a live join token for a new node token for ``node_name``.

        ``None`` when the join token is unknown, expired, was already exchanged for this node
        name, or when ``node_name`` already has a node token: a join token must not let a new
        machine take over the identity of a node that is already registered. Raises ValueError
        for an invalid node name.
        """
        check_node_name(node_name)
        wanted = digest_of(join_token) if _plausible(join_token) else None
        if wanted is None:
            return None
        node_token = _new_token(TokenKind.NODE)
        now = self._clock()

        def exchange(records: list[TokenRecord]) -> tuple[list[TokenRecord], str | None]:
            join = _find(records, wanted)
            if join is None or join.kind is not TokenKind.JOIN or join.expired(now):
                return records, None
            if node_name in join.joined or any(
                r.kind is TokenKind.NODE and r.identity.node_name == node_name for r in records
            ):
                return records, None
            used = replace(join, joined=(*join.joined, node_name))
            fresh = TokenRecord(
                digest_of(node_token), TokenKind.NODE, node_identity(node_name), now
            )
            return [used if r is join else r for r in records] + [fresh], node_token

        return self._mutate(exchange)

    # -- checking and revoking ----------------------------------------------------------------

    def authenticate(self, token: str) -> Identity | None:
        if not _plausible(token):
            return None
        wanted = digest_of(token)
        with self._lock:
            self._refresh()
            record = _find(self._records, wanted)
        if record is None or record.expired(self._clock()):
            return None
        return record.identity

    def revoke(self, token: str) -> bool:
        """Forget ``token``; True if it was known."""
        if not _plausible(token):
            return False
        return self.revoke_id(digest_of(token), exact=True)

    def revoke_id(self, token_id: str, *, exact: bool = False) -> bool:
        """Forget the token whose :attr:`TokenRecord.id` (or, with ``exact``, digest) this is."""

        def drop(records: list[TokenRecord]) -> tuple[list[TokenRecord], bool]:
            keep = [r for r in records if (r.digest != token_id if exact else r.id != token_id)]
            return keep, len(keep) != len(records)

        return self._mutate(drop)

    def revoke_node(self, node_name: str) -> int:
        """Forget every token of ``node_name`` (when a node is removed); how many there were."""

        def drop(records: list[TokenRecord]) -> tuple[list[TokenRecord], int]:
            keep = [r for r in records
                    if r.kind is not TokenKind.NODE or r.identity.node_name != node_name]
            return keep, len(records) - len(keep)

        return self._mutate(drop)

    def records(self) -> list[TokenRecord]:
        """Every stored token, for ``dockyard token list``."""
        with self._lock:
            self._refresh()
            return list(self._records)

    # -- persistence --------------------------------------------------------------------------

    def _issue(self, kind: TokenKind, identity: Identity) -> str:
        token = _new_token(kind)
        record = TokenRecord(digest_of(token), kind, identity, self._clock())
        self._mutate(lambda records: ([*records, record], None))
        return token

    def _mutate(self, change: Callable[[list[TokenRecord]], tuple[list[TokenRecord], T]]) -> T:
        """Apply ``change`` to the newest records on disk and write the result back, holding the
        thread lock and the cross-process file lock throughout so no writer's update is lost."""
        with self._lock, _FileLock(self._lock_path):
            self._refresh()
            before = list(self._records)
            after, result = change(before)
            now = self._clock()
            # Expired join tokens can never be used again; dropping them keeps the file small.
            after = [r for r in after if not (r.kind is TokenKind.JOIN and r.expired(now))]
            if after != before:
                body = {"version": 1, "tokens": [r.to_json() for r in after]}
                atomic_write(self.path, json.dumps(body, indent=2) + "\n", SECRET_MODE)
                self._records, self._stamp = tuple(after), _stamp_of(self.path)
            return result

    def _refresh(self) -> None:
        stamp = _stamp_of(self.path)
        if stamp == self._stamp:
            return
        if stamp is None:
            self._records = ()
        else:
            raw = json.loads(self.path.read_text())
            self._records = tuple(TokenRecord.from_json(item) for item in raw.get("tokens", ()))
        self._stamp = stamp


class _FileLock:
    """An exclusive ``flock`` on a side file (the data file itself is replaced on every write,
    so locking it would lock an inode that the next writer no longer sees)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> _FileLock:
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, SECRET_MODE)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def _new_token(kind: TokenKind) -> str:
    return kind.prefix + secrets.token_urlsafe(32)


def _plausible(token: object) -> bool:
    return isinstance(token, str) and 0 < len(token) <= _MAX_TOKEN_LENGTH


def _find(records: Iterable[TokenRecord], digest: str) -> TokenRecord | None:
    # No early exit: every record is compared, so timing does not depend on where a match is.
    found = None
    for record in records:
        if hmac.compare_digest(record.digest, digest):
            found = record
    return found


def _stamp_of(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    # Every write is a rename onto a new inode, so st_ino tells writes apart even when the
    # file system's coarse mtime clock gives two of them the same time. (An inode number can be
    # reused, but then mtime and size would have to repeat too.)
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _iso(unix: float) -> str:
    return dt.datetime.fromtimestamp(unix, dt.timezone.utc).isoformat()


def _unix(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()
