"""What a node must remember across restarts, in SQLite (stdlib ``sqlite3``, WAL mode,
``secure_delete`` on): the nonces of signed requests it accepted, and every key release with
the access transaction that paid for it (one release per on-chain access entry: per
transaction and record, since a study's batched access writes many entries in one transaction)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS nonces (
    signer TEXT NOT NULL, nonce TEXT NOT NULL, deadline INTEGER NOT NULL,
    PRIMARY KEY (signer, nonce));
CREATE TABLE IF NOT EXISTS entry_releases (
    access_tx TEXT NOT NULL, record_id TEXT NOT NULL, requester TEXT NOT NULL,
    purpose INTEGER NOT NULL, released_at INTEGER NOT NULL,
    PRIMARY KEY (access_tx, record_id));
"""
#: a node.db written before study batches keyed releases by transaction alone: moved over once
MIGRATE = """
INSERT OR IGNORE INTO entry_releases SELECT access_tx, record_id, requester, purpose, released_at
    FROM releases;
DROP TABLE releases;
"""


class NodeState:
    """The node's SQLite file (``<workspace>/node.db``); safe to share between threads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._pruned = 0
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.executescript(SCHEMA)
            old = self._db.execute("SELECT name FROM sqlite_master WHERE type='table' AND "
                                   "name='releases'").fetchone()
            if old:
                self._db.executescript("BEGIN IMMEDIATE;" + MIGRATE + "COMMIT;")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def use_nonce(self, signer: str, nonce: bytes, deadline: int) -> bool:
        """Record ``nonce`` of ``signer``; False if it was used before (a replay).

        One transaction; nonces whose deadline passed an hour ago are pruned at most once a
        minute (a request past its deadline is refused before its nonce is looked at). Written
        with ``synchronous=NORMAL``: durable when the process dies (kill -9), not fsync'd on
        each commit; what must survive a power loss too, a release, is (``record_release``).
        """
        now = int(time.time())
        with self._lock:
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if now - self._pruned >= 60:
                    self._db.execute("DELETE FROM nonces WHERE deadline < ?", (now - 3600,))
                    self._pruned = now
                self._db.execute("INSERT INTO nonces VALUES (?, ?, ?)",
                                 (signer, nonce.hex(), deadline))
            except sqlite3.IntegrityError:
                self._db.execute("ROLLBACK")
                return False
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return True

    def record_release(self, access_tx: bytes, record_id: bytes, requester: str,
                       purpose: int) -> bool:
        """Record a release paid for by the entry of ``record_id`` in ``access_tx``; False if
        that entry already released one.
        Committed with ``synchronous=FULL`` (fsync) before the key leaves the node."""
        with self._lock:
            self._db.execute("PRAGMA synchronous=FULL")
            try:
                self._db.execute("INSERT INTO entry_releases VALUES (?, ?, ?, ?, ?)",
                                 ("0x" + access_tx.hex(), "0x" + record_id.hex(), requester,
                                  purpose, int(time.time())))
            except sqlite3.IntegrityError:
                return False
            return True

    def record_releases(self, access_tx: bytes, record_ids: list[bytes], requester: str,
                        purpose: int) -> bytes | None:
        """``record_release`` of many entries of one transaction in one commit (one fsync):
        all or none; returns the first record whose entry already released a key (then nothing
        is recorded), else None."""
        now = int(time.time())
        tx = "0x" + access_tx.hex()
        with self._lock:
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for rid in record_ids:
                    try:
                        self._db.execute("INSERT INTO entry_releases VALUES (?, ?, ?, ?, ?)",
                                         (tx, "0x" + rid.hex(), requester, purpose, now))
                    except sqlite3.IntegrityError:
                        self._db.execute("ROLLBACK")
                        return rid
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return None

    def forget_releases(self, access_tx: bytes, record_ids: list[bytes]) -> None:
        """Undo ``record_releases`` when the releases could not be completed."""
        with self._lock:
            self._db.executemany(
                "DELETE FROM entry_releases WHERE access_tx = ? AND record_id = ?",
                [("0x" + access_tx.hex(), "0x" + rid.hex()) for rid in record_ids])

    def forget_release(self, access_tx: bytes, record_id: bytes) -> None:
        """Undo ``record_release`` when the release could not be completed."""
        with self._lock:
            self._db.execute("DELETE FROM entry_releases WHERE access_tx = ? AND record_id = ?",
                             ("0x" + access_tx.hex(), "0x" + record_id.hex()))

    def releases(self) -> list[tuple[str, str, str, int]]:
        """Every release: ``(access_tx, record_id, requester, purpose)``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT access_tx, record_id, requester, purpose FROM entry_releases "
                "ORDER BY released_at, rowid").fetchall()
        return [(str(a), str(r), str(q), int(p)) for a, r, q, p in rows]
