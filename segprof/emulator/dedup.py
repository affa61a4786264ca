"""Which messageIds the emulated Tracking API has already accepted (dedup by `messageId`).

Owns `SeenMessages`, one process's view of the accepted messageIds of a data folder, and the
`seen` table. An id is known by a 128-bit digest. The accepted ids live in two parts:

- `seen`, a table of digests, holds every accepted message up to the seq recorded in `meta`
  (`seen_through`);
- the accepted rows of `messages` after that seq are the recent part, which each process keeps in
  memory and catches up on (rows other processes appended), always under the folder's write lock.

Once the recent part holds `FLUSH_AFTER` ids it is written to `seen` in key order, in one
statement, so a flush writes each page of the index it touches once. So a process reads at most
about `FLUSH_AFTER` rows when it starts and keeps at most that many digests in memory. Writing each
id to an index as it arrived had cost a random B-tree insert per message (ids are random) and
megabytes of WAL per request; keeping every id in memory would cost each new process a read of the
whole history (0.3 s per 200,000 messages).

Must never: decide outside the write transaction whose rows it reads and writes; keep a claim of a
transaction that rolled back (`forget` drops the view, the next claim rebuilds it); outlive a
`clear` made by any process (the epoch in `meta` changes with each clear).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Iterable, Sequence

EPOCH_KEY = "messages_epoch"
SEEN_THROUGH_KEY = "seen_through"  # accepted messages up to this seq are in `seen`
FLUSH_AFTER = 50_000
LOOKUP_CHUNK = 400


def _digest(message_id: str) -> bytes:
    # 128 bits: a false duplicate, i.e. a lost message, is out of reach at any workspace's size.
    return hashlib.blake2b(message_id.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


class SeenMessages:
    """The accepted messageIds of one data folder, as this process last read them."""

    def __init__(self) -> None:
        self._recent: set[bytes] = set()  # accepted after `_through`, up to `_last_seq`
        self._through = 0
        self._last_seq = 0
        self._epoch: str | None = None
        self._valid = False

    def claim(self, conn: sqlite3.Connection, message_ids: Sequence[str]) -> list[bool]:
        """Whether each id is new, in order; the new ones are remembered as accepted.

        A second copy of an id within `message_ids` is not new. `conn` must hold the write lock,
        and the caller must append an accepted row to `messages` for each id claimed, then call
        `appended` in the same transaction.
        """
        self._catch_up(conn)
        digests = [_digest(message_id) for message_id in message_ids]
        recent = self._recent
        stored = self._stored(conn, digests) if self._through else set()
        fresh: list[bool] = []
        for digest in digests:
            if digest in recent or digest in stored:
                fresh.append(False)
            else:
                recent.add(digest)
                fresh.append(True)
        return fresh

    def appended(self, conn: sqlite3.Connection) -> None:
        """This transaction appended its messages (their ids were claimed): the next catch-up
        starts after them."""
        self._last_seq = int(conn.execute("SELECT max(seq) FROM messages").fetchone()[0] or 0)
        if len(self._recent) >= FLUSH_AFTER:
            self._flush(conn)

    def forget(self) -> None:
        """The transaction rolled back: what was claimed in it must not count as seen."""
        self._valid = False

    @staticmethod
    def clear(conn: sqlite3.Connection) -> None:
        """Every process's view starts again (call in the transaction that deletes the messages)."""
        conn.execute("DELETE FROM seen")
        conn.execute("DELETE FROM meta WHERE key = ?", (SEEN_THROUGH_KEY,))
        _set_meta(conn, EPOCH_KEY, secrets.token_hex(8))

    def _stored(self, conn: sqlite3.Connection, digests: list[bytes]) -> set[bytes]:
        """The digests among `digests` that `seen` holds."""
        found: set[bytes] = set()
        for start in range(0, len(digests), LOOKUP_CHUNK):
            chunk = digests[start : start + LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(
                r[0] for r in conn.execute(f"SELECT digest FROM seen WHERE digest IN ({marks})", chunk)
            )
        return found

    def _flush(self, conn: sqlite3.Connection) -> None:
        """Write the recent part to `seen`, sorted, and record how far `seen` now reaches."""
        conn.executemany(
            "INSERT OR IGNORE INTO seen (digest) VALUES (?)", [(d,) for d in sorted(self._recent)]
        )
        _set_meta(conn, SEEN_THROUGH_KEY, str(self._last_seq))
        self._recent, self._through = set(), self._last_seq

    def _catch_up(self, conn: sqlite3.Connection) -> None:
        meta = dict(
            conn.execute("SELECT key, value FROM meta WHERE key IN (?, ?)", (EPOCH_KEY, SEEN_THROUGH_KEY))
        )
        epoch = meta.get(EPOCH_KEY)
        through = int(meta.get(SEEN_THROUGH_KEY) or 0)
        if not self._valid or epoch != self._epoch or through != self._through:
            # first use, a clear, a rollback, or another process flushed: read the recent part anew
            self._recent, self._through, self._last_seq = set(), through, through
            self._epoch, self._valid = epoch, True
        rows = conn.execute(
            "SELECT seq, message_id FROM messages WHERE seq > ? AND outcome = 'accepted' ORDER BY seq",
            (self._last_seq,),
        )
        self._add(rows)
        if len(self._recent) >= FLUSH_AFTER:  # a folder filled before `seen` existed, say
            self._flush(conn)

    def _add(self, rows: Iterable[tuple[int, str]]) -> None:
        for seq, message_id in rows:
            self._recent.add(_digest(message_id))
            self._last_seq = seq
