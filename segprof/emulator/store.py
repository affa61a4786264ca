"""SQLite storage of the emulated workspace and of received Tracking API messages.

Owns: the database file under a data folder (WAL, busy timeout, `BEGIN IMMEDIATE` for every write so
several processes can share one folder), the schema, and row-level reads and writes of resources,
syncs and messages. Must never hold a secret in clear: callers store masked settings only.
Must never do HTTP work; the app modules shape requests and responses.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from segprof.emulator import ids
from segprof.emulator.dedup import SeenMessages

DB_NAME = "emulator.sqlite3"
BUSY_TIMEOUT_MS = 30_000
SQL_PARAM_CHUNK = 500
LOOKUP_INDEXES = {
    "messages_profile": "CREATE INDEX IF NOT EXISTS messages_profile ON messages (profile_id)",
    "messages_group": "CREATE INDEX IF NOT EXISTS messages_group ON messages (group_id) WHERE type = 'group'",
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS resources (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    parent TEXT,
    body TEXT NOT NULL,
    UNIQUE (kind, id)
);
CREATE INDEX IF NOT EXISTS resources_parent ON resources (kind, parent, seq);
CREATE TABLE IF NOT EXISTS syncs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS syncs_mapping ON syncs (model_id, subscription_id, seq);
-- One row per Tracking API request holding its processed messages as one JSON array, and one
-- small row per message pointing into it: one serialisation per request keeps ingestion fast.
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    type TEXT,
    profile_id TEXT,
    group_id TEXT,
    outcome TEXT NOT NULL,
    note TEXT
);
-- Digests of accepted messageIds, written in bulk (dedup.py), replace the per-message table of
-- earlier versions.
CREATE TABLE IF NOT EXISTS seen (digest BLOB PRIMARY KEY) WITHOUT ROWID;
DROP TABLE IF EXISTS seen_messages;
"""


def _chunks(items: Sequence[Any], size: int = SQL_PARAM_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Store:
    """One data folder's database; a connection per thread, shared schema, safe across processes."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / DB_NAME
        self._local = threading.local()
        self._indexed = False
        self.seen = SeenMessages()
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            row = conn.execute("SELECT value FROM meta WHERE key = 'workspace_id'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta (key, value) VALUES ('workspace_id', ?)", (ids.base58_id(),))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.workspace_id: str = self.meta("workspace_id") or ""

    # -- connections -------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            # An emulator's data need not outlive a crash of the machine, only of the process (which
            # WAL survives without syncing): skipping fsync at checkpoints keeps large syncs fast.
            conn.execute("PRAGMA synchronous = OFF")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (`BEGIN IMMEDIATE`: the lock is taken up front, so no upgrade deadlock)."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            self.seen.forget()
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except BaseException:
            self.seen.forget()
            raise

    def read(self) -> sqlite3.Connection:
        return self._conn()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def meta(self, key: str) -> str | None:
        row = self.read().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    # -- resources ---------------------------------------------------------------------------
    def get(self, kind: str, ident: str) -> dict[str, Any] | None:
        row = (
            self.read()
            .execute("SELECT body FROM resources WHERE kind = ? AND id = ?", (kind, ident))
            .fetchone()
        )
        return None if row is None else json.loads(row[0])

    def list(
        self, kind: str, *, parent: str | None = None, offset: int = 0, limit: int = -1
    ) -> tuple[list[dict[str, Any]], int]:
        where, args = "kind = ?", [kind]
        if parent is not None:
            where += " AND parent = ?"
            args.append(parent)
        conn = self.read()
        # One statement: the page and the total come from the same snapshot, in one round.
        rows = conn.execute(
            f"SELECT body, count(*) OVER () FROM resources WHERE {where} ORDER BY seq LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        if rows:
            total = rows[0][1]
        elif offset > 0:  # past the end: the window saw no row to count with
            total = conn.execute(f"SELECT count(*) FROM resources WHERE {where}", args).fetchone()[0]
        else:
            total = 0
        return [json.loads(r[0]) for r in rows], total

    def put(
        self, conn: sqlite3.Connection, kind: str, body: dict[str, Any], parent: str | None = None
    ) -> None:
        """Insert or replace a resource, keeping its position in listings."""
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        updated = conn.execute(
            "UPDATE resources SET body = ?, parent = ? WHERE kind = ? AND id = ?",
            (text, parent, kind, body["id"]),
        ).rowcount
        if not updated:
            conn.execute(
                "INSERT INTO resources (kind, id, parent, body) VALUES (?, ?, ?, ?)",
                (kind, body["id"], parent, text),
            )

    def delete(self, conn: sqlite3.Connection, kind: str, ident: str) -> bool:
        return conn.execute("DELETE FROM resources WHERE kind = ? AND id = ?", (kind, ident)).rowcount > 0

    def delete_children(self, conn: sqlite3.Connection, kind: str, parent: str) -> None:
        conn.execute("DELETE FROM resources WHERE kind = ? AND parent = ?", (kind, parent))

    def find(self, kind: str, key: str, value: Any) -> dict[str, Any] | None:
        row = (
            self.read()
            .execute(
                "SELECT body FROM resources WHERE kind = ? AND json_extract(body, ?) = ?",
                (kind, f"$.{key}", value),
            )
            .fetchone()
        )
        return None if row is None else json.loads(row[0])

    # -- syncs -------------------------------------------------------------------------------
    def insert_sync(
        self, conn: sqlite3.Connection, model_id: str, subscription_id: str, body: dict[str, Any]
    ) -> str:
        cur = conn.execute(
            "INSERT INTO syncs (model_id, subscription_id, body) VALUES (?, ?, '{}')",
            (model_id, subscription_id),
        )
        sync_id = str(cur.lastrowid)
        body = {**body, "syncId": sync_id}
        conn.execute("UPDATE syncs SET body = ? WHERE seq = ?", (json.dumps(body), cur.lastrowid))
        return sync_id

    def get_sync(self, sync_id: str) -> dict[str, Any] | None:
        if not sync_id.isdigit():
            return None
        row = self.read().execute("SELECT body FROM syncs WHERE seq = ?", (int(sync_id),)).fetchone()
        return None if row is None else json.loads(row[0])

    def update_sync(self, sync_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        with self.write() as conn:
            row = conn.execute("SELECT body FROM syncs WHERE seq = ?", (int(sync_id),)).fetchone()
            if row is None:
                return None
            body = {**json.loads(row[0]), **changes}
            conn.execute("UPDATE syncs SET body = ? WHERE seq = ?", (json.dumps(body), int(sync_id)))
            return body

    def list_syncs(
        self, model_id: str, subscription_id: str, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        conn = self.read()
        args = (model_id, subscription_id)
        total = conn.execute(
            "SELECT count(*) FROM syncs WHERE model_id = ? AND subscription_id = ?", args
        ).fetchone()[0]
        rows = conn.execute(
            "SELECT body FROM syncs WHERE model_id = ? AND subscription_id = ? "
            "ORDER BY seq DESC LIMIT ? OFFSET ?",
            (*args, limit, offset),
        ).fetchall()
        return [json.loads(r[0]) for r in rows], total

    # -- tracking ----------------------------------------------------------------------------
    def _ensure_lookup_indexes(self) -> None:
        """Profile lookups index messages on first use, so bulk ingestion without reads stays lean."""
        if self._indexed:
            return
        conn = self.read()
        present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        if not set(LOOKUP_INDEXES) <= present:
            with self.write() as conn:
                for statement in LOOKUP_INDEXES.values():
                    conn.execute(statement)
        self._indexed = True

    def insert_request(self, conn: sqlite3.Connection, received_at: str, body: str) -> int:
        cur = conn.execute("INSERT INTO requests (received_at, body) VALUES (?, ?)", (received_at, body))
        return int(cur.lastrowid or 0)

    def _bodies(self, rows: list[tuple[Any, ...]]) -> dict[int, list[Any]]:
        """The message arrays of the requests these rows point into (row[0] = request id)."""
        wanted = sorted({r[0] for r in rows})
        found: dict[int, list[Any]] = {}
        conn = self.read()
        for chunk in _chunks(wanted):
            marks = ",".join("?" * len(chunk))
            for ident, body in conn.execute(f"SELECT id, body FROM requests WHERE id IN ({marks})", chunk):
                found[ident] = json.loads(body)
        return found

    def accepted_messages(
        self, *, profile_id: str | None = None, group_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Accepted messages of one user (userId or anonymousId) or of one group, in arrival order."""
        if profile_id is not None:
            sql = (
                "SELECT request_id, idx FROM messages WHERE profile_id = ? AND outcome = 'accepted' "
                "ORDER BY seq"
            )
            arg = profile_id
        else:
            sql = (
                "SELECT request_id, idx FROM messages WHERE group_id = ? AND type = 'group' "
                "AND outcome = 'accepted' ORDER BY seq"
            )
            arg = group_id
        self._ensure_lookup_indexes()
        rows = self.read().execute(sql, (arg,)).fetchall()
        bodies = self._bodies(rows)
        return [bodies[request_id][idx] for request_id, idx in rows]

    def clear_messages(self) -> int:
        """Forget every received message and the dedup memory; returns how many messages were dropped."""
        with self.write() as conn:
            count = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
            for table in ("messages", "requests"):
                conn.execute(f"DELETE FROM {table}")
            SeenMessages.clear(conn)
        return int(count)

    def list_messages(self, after: int, limit: int) -> tuple[list[tuple[int, str, str | None, Any]], int]:
        """(seq, outcome, note, message) in arrival order after `after`, and the total count."""
        conn = self.read()
        total = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        rows = conn.execute(
            "SELECT request_id, idx, seq, outcome, note FROM messages WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        ).fetchall()
        bodies = self._bodies(rows)
        return [(seq, outcome, note, bodies[rid][idx]) for rid, idx, seq, outcome, note in rows], total
