"""State kept in a warehouse, so that every checkout (CI runs) shares it: one document per key.

Owns the tables `__segprof.state_documents` (per key: the state as JSON text, its lineage and
serial, when and by whom it was last written) and `__segprof.state_locks` (per key: at most one
lock row naming its holder), the compare-and-set write, and the lock protocol: insert a row if
none exists, then read back — the lock is ours only when ours is the one row for the key (two
racers that both inserted, on a warehouse that does not enforce keys, both back off and retry).
Must never store a secret (callers pass state already redacted), never overwrite a state written
since it was read, and never keep a connection open between operations: a DuckDB file admits one
writing process at a time, and the sync engine must be able to open it.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from segprof.errors import SegprofError
from segprof.redaction import scrub
from segprof.state.store import (
    LOCK_HINT,
    LocalStateStore,
    State,
    describe_holder,
    holder_of,
)
from segprof.warehouses.base import Connector
from segprof.warehouses.dialects import to_dialect
from segprof.warehouses.managed_schema import SCHEMA, STATE_DOCUMENTS, STATE_LOCKS, state_ddl

DOCUMENTS, LOCKS = STATE_DOCUMENTS, STATE_LOCKS
# Dialects whose PRIMARY KEY is enforced: there a racing insert fails instead of doubling the row.
_ENFORCED_KEYS = {"duckdb", "postgres", "tsql"}
_READ_BUSY_SECONDS = 30.0
_LOCK_COLUMNS = ("lock_id", "operation", "holder_user", "host", "pid", "since")


class WarehouseStateStore:
    """The state of one key in the managed schema of a source's warehouse."""

    def __init__(
        self,
        connect: Callable[[], Connector],
        *,
        key: str,
        source_name: str,
        local: LocalStateStore | None = None,
        poll_interval: float = 0.5,
    ) -> None:
        self._connect = connect
        self.key = key
        self.source_name = source_name
        self.local = local  # the project's state file, checked so that switching never hides it
        self.poll_interval = poll_interval

    def describe(self) -> str:
        return f"the warehouse of source `{self.source_name}` ({SCHEMA}.state_documents, key `{self.key}`)"

    # ---- connections and SQL -------------------------------------------------------------------

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connector]:
        con = self._connect()
        try:
            yield con
        finally:
            con.close()

    @staticmethod
    def _sql(con: Connector, sql: str) -> str:
        text = to_dialect(sql, con.dialect)
        # segprof's SQL has no literal `?` or `%s`: every value is a parameter
        if con.placeholder == "%s":
            return text.replace("?", "%s")
        return text.replace("%s", "?")

    def _rows(self, con: Connector, sql: str, params: Sequence[Any]) -> list[tuple]:
        return con.query_rows(self._sql(con, sql), list(params))

    def _run(self, con: Connector, sql: str, params: Sequence[Any]) -> None:
        con.execute(self._sql(con, sql), list(params))

    def _has_tables(self, con: Connector) -> bool:
        rows = con.query_rows(
            to_dialect(
                "SELECT count(*) FROM information_schema.tables "
                f"WHERE table_schema = '{SCHEMA}' AND table_name IN ('state_documents', 'state_locks')",
                con.dialect,
            )
        )
        return bool(rows and int(rows[0][0]) == 2)

    def _ensure_tables(self, con: Connector) -> None:
        # Two first runs may create at once; PostgreSQL's IF NOT EXISTS can then still fail on its
        # catalog's unique index, so a failure is retried while the other creator finishes.
        for attempt in range(5):
            if self._has_tables(con):
                return
            try:
                for statement in state_ddl(con.dialect in _ENFORCED_KEYS):
                    con.execute(to_dialect(statement, con.dialect))
                return
            except SegprofError:
                if attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))

    # ---- reading and writing -------------------------------------------------------------------

    def read_stored(self) -> State | None:
        """The state stored for the key, or None when the warehouse holds none (no table, no row).

        Takes no lock. A DuckDB file that another process has open cannot be opened at all, so
        that one case is retried for a short while (writers hold it only for one statement)."""
        deadline = time.monotonic() + _READ_BUSY_SECONDS
        while True:
            try:
                return self._read_stored_once()
            except SegprofError as err:
                if not _busy(err) or time.monotonic() >= deadline:
                    raise
                time.sleep(self.poll_interval * random.uniform(0.2, 0.6))

    def _read_stored_once(self) -> State | None:
        with self._connection() as con:
            if not self._has_tables(con):
                return None
            rows = self._rows(
                con, f"SELECT document, serial FROM {DOCUMENTS} WHERE state_key = ?", [self.key]
            )
        if not rows:
            return None
        if len(rows) > 1:
            raise SegprofError(
                f"{self.describe()} holds {len(rows)} documents for one key",
                address="state",
                hint="a warehouse that does not enforce keys let two first writes through; "
                "delete all but one row, then run again",
            )
        document, serial = rows[0]
        try:
            data = json.loads(document)
        except (TypeError, RecursionError, json.JSONDecodeError) as err:
            raise SegprofError(f"{self.describe()}: the stored state is not JSON ({err})") from None
        state = State.from_json(data, self.describe())
        state.serial = int(serial)  # the column is what compare-and-set compares
        return state

    def read(self) -> State:
        stored = self.read_stored()
        if stored is not None:
            return stored
        self._refuse_hidden_local_state()
        return State()

    def _refuse_hidden_local_state(self) -> None:
        if self.local is None or not self.local.path.exists():
            return
        local = self.local.read()
        if not local.resources:
            return
        raise SegprofError(
            f"`state.backend` is warehouse, but {self.describe()} holds no state while "
            f"{self.local.path} records {len(local.resources)} resource(s)",
            address="state",
            hint="move it into the warehouse with `segprof state push` (or remove the file if it is "
            "obsolete); reading on without it would create every resource a second time",
        )

    def write(self, state: State) -> None:
        """Store `state` only if the stored serial is still the one it was read with (compare and
        set), then advance its serial; a conflicting write fails and overwrites nothing."""
        expected = state.serial
        written = State(lineage=state.lineage, serial=expected + 1, resources=state.resources)
        document = scrub(json.dumps(written.to_json(), sort_keys=True))
        write_id = uuid.uuid4().hex
        holder = holder_of("write")
        by = f"{holder['user']}@{holder['host']} (pid {holder['pid']})"
        with self._connection() as con:
            self._ensure_tables(con)
            failure: SegprofError | None = None
            try:
                with con.transaction():
                    if expected == 0:
                        self._run(
                            con,
                            f"INSERT INTO {DOCUMENTS} (state_key, lineage, serial, document, write_id, "
                            "updated_at, updated_by) SELECT ?, ?, ?, ?, ?, CURRENT_TIMESTAMP, ? "
                            f"WHERE NOT EXISTS (SELECT 1 FROM {DOCUMENTS} WHERE state_key = ?)",
                            [self.key, state.lineage, expected + 1, document, write_id, by, self.key],
                        )
                    else:
                        self._run(
                            con,
                            f"UPDATE {DOCUMENTS} SET lineage = ?, serial = ?, document = ?, write_id = ?, "
                            "updated_at = CURRENT_TIMESTAMP, updated_by = ? WHERE state_key = ? AND serial = ?",
                            [state.lineage, expected + 1, document, write_id, by, self.key, expected],
                        )
                    rows = self._rows(
                        con,
                        f"SELECT write_id, serial, updated_by, updated_at FROM {DOCUMENTS} WHERE state_key = ?",
                        [self.key],
                    )
            except SegprofError as err:  # e.g. a racing first write hit the primary key
                failure = err
                rows = self._rows(
                    con,
                    f"SELECT write_id, serial, updated_by, updated_at FROM {DOCUMENTS} WHERE state_key = ?",
                    [self.key],
                )
        if len(rows) == 1 and rows[0][0] == write_id:
            state.serial = expected + 1
            return
        others = [r for r in rows if r[0] != write_id]
        if failure is not None and not others:
            raise failure
        current = others[0] if others else rows[0]
        raise SegprofError(
            f"the state in {self.describe()} changed since it was read: serial {expected} was read, "
            f"serial {current[1]} was written by {current[2]} at {current[3]}; nothing was overwritten",
            address="state",
            hint="another run wrote it (was the lock broken with `segprof state unlock`?); run the "
            "command again to work from the current state",
        )

    # ---- the lock ------------------------------------------------------------------------------

    def _holders(self, con: Connector) -> list[dict[str, Any]]:
        rows = self._rows(
            con, f"SELECT {', '.join(_LOCK_COLUMNS)} FROM {LOCKS} WHERE state_key = ?", [self.key]
        )
        return [dict(zip(_LOCK_COLUMNS, row, strict=True)) for row in rows]

    def _try_acquire(self, con: Connector, lock_id: str, holder: dict[str, Any]) -> dict[str, Any] | None:
        """None when the lock is ours; else the holder that has it (or {} after a tie: retry)."""
        held = self._holders(con)
        if held:
            return held[0]
        failure: SegprofError | None = None
        try:
            self._run(
                con,
                f"INSERT INTO {LOCKS} (state_key, {', '.join(_LOCK_COLUMNS)}) "
                f"SELECT ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM {LOCKS} WHERE state_key = ?)",
                [
                    self.key,
                    lock_id,
                    holder["operation"],
                    holder["user"],
                    holder["host"],
                    holder["pid"],
                    holder["since"],
                    self.key,
                ],
            )
        except SegprofError as err:  # a racer's row won the primary key
            failure = err
        held = self._holders(con)
        mine = [h for h in held if h["lock_id"] == lock_id]
        others = [h for h in held if h["lock_id"] != lock_id]
        if mine and not others:
            return None
        if mine:  # both inserted (keys not enforced): both back off
            self._release(con, lock_id)
            return {}
        if not others and failure is not None:
            raise failure
        return others[0] if others else {}

    def _release(self, con: Connector, lock_id: str) -> None:
        self._run(con, f"DELETE FROM {LOCKS} WHERE state_key = ? AND lock_id = ?", [self.key, lock_id])

    def _refusal(self, holder: dict[str, Any]) -> SegprofError:
        lock_id = holder.get("lock_id")
        described = describe_holder({**holder, "user": holder.get("holder_user")} if holder else {})
        if not lock_id:
            return SegprofError(f"the state is locked by {described}", hint=LOCK_HINT)
        return SegprofError(
            f"the state is locked by {described}, lock id {lock_id}",
            hint=f"{LOCK_HINT}; if that run died, release its lock with `segprof state unlock {lock_id}`",
        )

    @contextlib.contextmanager
    def lock(self, operation: str, timeout: float = 0.0) -> Iterator[None]:
        lock_id = uuid.uuid4().hex
        holder = holder_of(operation)
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            try:
                with self._connection() as con:
                    self._ensure_tables(con)
                    held = self._try_acquire(con, lock_id, holder)
            except SegprofError as err:
                # a DuckDB file another process has open cannot be opened: wait like for a lock
                if not _busy(err) or time.monotonic() >= deadline:
                    raise
                held = {}
            if held is None:
                break
            if time.monotonic() >= deadline:
                raise self._refusal(held)
            time.sleep(self.poll_interval * random.uniform(0.5, 1.0))
        completed = False
        try:
            yield
            completed = True
        finally:
            try:
                with self._connection() as con:
                    self._release(con, lock_id)
            except SegprofError as err:
                if completed:  # the work is done; the lock row is left for `state unlock`
                    raise SegprofError(
                        f"the work is done, but the state lock could not be released: {err.message}",
                        hint=f"release it with `segprof state unlock {lock_id}`",
                    ) from None

    def holder(self) -> dict[str, Any] | None:
        """The current lock row (for `segprof state show`), or None."""
        with self._connection() as con:
            if not self._has_tables(con):
                return None
            held = self._holders(con)
        return held[0] if held else None

    def unlock(self, lock_id: str) -> str:
        """Break the lock `lock_id` left by a run that died; returns who held it."""
        with self._connection() as con:
            held = self._holders(con) if self._has_tables(con) else []
            match = [h for h in held if h["lock_id"] == lock_id]
            if not match:
                current = (
                    f"it is held by {describe_holder({**held[0], 'user': held[0]['holder_user']})}, "
                    f"lock id {held[0]['lock_id']}"
                    if held
                    else "the state is not locked"
                )
                raise SegprofError(
                    f"no state lock with id {lock_id} ({current})",
                    address="state",
                    hint="name the lock id exactly as the refusal printed it",
                )
            self._release(con, lock_id)
        h = match[0]
        return describe_holder({**h, "user": h["holder_user"]})


def _busy(err: SegprofError) -> bool:
    text = err.message.lower()
    return "duckdb" in text and "lock" in text
