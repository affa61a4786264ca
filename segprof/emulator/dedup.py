"""Which messageIds the emulated Tracking API has already accepted (dedup by `messageId`).

Owns `SeenMessages`, one process's index of the accepted messageIds of a data folder. The
`messages` table is the record: every accepted message has its row there, appended in `seq` order.
The index holds a 16-byte digest of each accepted id and catches up on the rows other processes
appended since it last looked, always under the folder's write lock, so several processes sharing a
folder still apply each messageId once. A dedup table keyed by the id itself cost a random B-tree
insert per message (messageIds are random) and megabytes of WAL per request; appending to
`messages` writes each page once.

Must never: decide outside the write transaction whose rows it reads and writes; keep a claim of a
transaction that rolled back (`forget` drops the index, the next claim rebuilds it); survive a
`clear` of the messages made by any process (the epoch in `meta` changes with each clear).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Sequence

EPOCH_KEY = "messages_epoch"


def _digest(message_id: str) -> bytes:
    # 128 bits: a false duplicate, i.e. a lost message, is out of reach at any workspace's size.
    return hashlib.blake2b(message_id.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class SeenMessages:
    """The accepted messageIds of one data folder, as this process last read them."""

    def __init__(self) -> None:
        self._digests: set[bytes] = set()
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
        digests = self._digests
        fresh: list[bool] = []
        for message_id in message_ids:
            digest = _digest(message_id)
            if digest in digests:
                fresh.append(False)
            else:
                digests.add(digest)
                fresh.append(True)
        return fresh

    def appended(self, conn: sqlite3.Connection) -> None:
        """The rows this transaction appended are known already: the next catch-up starts after them."""
        row = conn.execute("SELECT max(seq) FROM messages").fetchone()
        self._last_seq = int(row[0] or 0)

    def forget(self) -> None:
        """The transaction rolled back: what was claimed in it must not count as seen."""
        self._valid = False

    @staticmethod
    def clear(conn: sqlite3.Connection) -> None:
        """Every process's index starts again (call in the transaction that deletes the messages)."""
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (EPOCH_KEY, secrets.token_hex(8)),
        )

    def _catch_up(self, conn: sqlite3.Connection) -> None:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (EPOCH_KEY,)).fetchone()
        epoch = None if row is None else str(row[0])
        if not self._valid or epoch != self._epoch:
            self._digests, self._last_seq, self._epoch, self._valid = set(), 0, epoch, True
        rows = conn.execute(
            "SELECT seq, message_id FROM messages WHERE seq > ? AND outcome = 'accepted' ORDER BY seq",
            (self._last_seq,),
        )
        for seq, message_id in rows:
            self._digests.add(_digest(message_id))
            self._last_seq = seq
