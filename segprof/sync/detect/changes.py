"""Change detection for one mapping, inside the warehouse, with bookkeeping that never loses a change.

Owns: the run lifecycle of a mapping's diff — `begin` (recover, expire old failures, check
identifiers, diff the model against the snapshot into a run-scoped changes table, guard against
mass deletes), `stream` (the changed rows as Arrow batches), `ack` / `fail` (per delivered or failed
batch, transactional), `finish` (advance the snapshot, write run history) — and the maintenance
operations `dry_run`, `full_resync` and `rebaseline`; built on `bookkeeping`, `queries` and
`statements`, with its values in `runs`. Must never hold the model in Python memory,
never advance the snapshot for a record that was not acknowledged, and never guess which row of a
duplicated identifier is the real one.

How the snapshot advances: `ack` appends the acknowledged changes (id, checksum, kind) to the
mapping's acknowledgement log in one transaction; the log is folded into the snapshot set-wise by
`finish` and, after a crash, by the next `begin`. The effective snapshot is therefore always
"snapshot ⊕ acknowledged log", advanced batch by batch.

On an engine without row-level changes (Spark's own file tables), every DELETE and UPDATE of the
bookkeeping goes through `_delete` / `_update`, which empty the table (TRUNCATE) or rewrite it into
`<table>_next` and swap it in; a swap a crash cut short is settled by the next run, before anything
reads the table. Elsewhere the statements are the plain DELETE and UPDATE.

How a change keeps its message id: the diff records each change with its *origin*, the run that
first recorded it (`ids.message_id` derives the id from it). A change the run did not get
acknowledged — failed, cancelled, beyond the run's record limit, or cut off by a crash — is carried
into the pending table with its origin by `finish` (or by the next `begin` after a crash), and the
next diff that finds the same change (same kind and checksum) takes the origin from there, so every
retry goes out under the same id; any other change gets the new run's id. A record whose change
a crash cut off (it may have reached Segment) is sent again when its value differs from that change,
even when the value is back to the snapshot's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from segprof.errors import SegprofError
from segprof.sync.detect.bookkeeping import Bookkeeping
from segprof.sync.detect.checksum import CHECKSUM_VERSION, canonical_columns, checksummed_sql, quote
from segprof.sync.detect.runs import (
    KINDS,
    PREVIEW_ORIGIN,
    DryRun,
    MassDeleteRefused,
    Run,
    RunRecord,
    new_run_id,
)
from segprof.sync.detect.statements import MODEL, NO_PENDING, NO_ROWS, lit, ts
from segprof.warehouses.base import insert_arrow
from segprof.warehouses.managed_schema import (
    CHECKPOINTS,
    CHECKSUM_COLUMN,
    ID_COLUMN,
    KIND_COLUMN,
    ORIGIN_COLUMN,
    RUN_COUNTERS,
    RUNS,
)

if TYPE_CHECKING:
    import pyarrow


class ChangeTracker(Bookkeeping):
    """Change detection and bookkeeping for one mapping on one warehouse connection.

    Built in layers: `TrackerStatements` (statements on the managed tables), `DiffQueries` (the
    diff's SQL), `Bookkeeping` (how the tables advance); this class runs the lifecycle."""

    # ---- the run lifecycle --------------------------------------------------------------------

    def begin(self, *, allow_mass_delete: bool = False) -> Run:
        """Diff the model against the snapshot into this run's changes table and return the counts.

        Raises `SegprofError` (and changes nothing but run history) when the run would delete more
        than `max_delete_share` of the snapshot, unless `allow_mass_delete`.
        """
        self._ensure()
        now = self.clock()
        run = Run(
            run_id=new_run_id(now),
            mapping_id=self.spec.mapping_id,
            started_at=now,
            max_records=self.max_records,
        )
        self._acquire()
        try:
            self._recover(now)
            self._exec(
                f"INSERT INTO {RUNS} (run_id, mapping_id, started_at, status) VALUES "
                f"({lit(run.run_id)}, {lit(run.mapping_id)}, {ts(now)}, 'running')"
            )
        except BaseException:
            self._release()
            raise
        try:
            self._begin(run, now, allow_mass_delete)
        except BaseException as err:
            run.status = "refused" if isinstance(err, MassDeleteRefused) else "failed"
            run.error = getattr(err, "message", None) or type(err).__name__
            run.finished_at = self.clock()
            # best effort: the original error matters more than a failed cleanup
            with contextlib.suppress(Exception):
                self._drop_work_tables()
                self._write_run(run)
            with contextlib.suppress(Exception):
                self._release()
            with contextlib.suppress(AttributeError):
                err.run_id = run.run_id  # type: ignore[attr-defined]  # so callers can name the run
            raise
        return run

    def record_failed_run(self, error: str) -> str:
        """Record a run that failed before it could begin (a model that cannot be described, …);
        returns its run id, the one `segprof syncs show` knows it by."""
        self._ensure()
        now = self.clock()
        run = Run(run_id=new_run_id(now), mapping_id=self.spec.mapping_id, started_at=now)
        run.status, run.error, run.finished_at = "failed", error, now
        self._exec(
            f"INSERT INTO {RUNS} (run_id, mapping_id, started_at, status) VALUES "
            f"({lit(run.run_id)}, {lit(run.mapping_id)}, {ts(now)}, 'failed')"
        )
        self._write_run(run)
        return run.run_id

    def _lock_name(self) -> str:
        return f"segprof:{self.spec.mapping_id}"

    def _acquire(self) -> None:
        try_lock = getattr(self.con, "try_lock", None)
        if try_lock is not None and not try_lock(self._lock_name()):
            raise SegprofError(
                "another sync of this mapping is running; try again when it has finished",
                address=self.spec.address,
            )

    def _release(self) -> None:
        unlock = getattr(self.con, "unlock", None)
        if unlock is not None:
            unlock(self._lock_name())

    def _begin(self, run: Run, now: datetime, allow_mass_delete: bool) -> None:
        t = self.tables
        run.dropped = self._expire_pending(run.run_id, now)
        cols, ident, pairs = self._resolve_columns()
        run.model_columns = tuple(cols)
        run.identifier_column = ident
        run.mapped_columns = tuple(canonical_columns(n for n, _ in pairs))
        model_fp, columns_fp = self._fingerprints(cols, pairs)
        old_model_fp, old_columns_fp = self._checkpoint()
        run.model_changed = old_model_fp is not None and old_model_fp != model_fp
        run.columns_changed = old_columns_fp is not None and old_columns_fp != columns_fp

        self._exec(f"CREATE TABLE {t.keystats} AS {self._keystats_select(ident)}")
        run.extracted, run.keys = self._read_keystats(self._rows(self._key_report_select(t.keystats)))
        dups = f"(SELECT k.id FROM {t.keystats} AS k WHERE k.total = 0 AND k.id IS NOT NULL)"
        diff = self._diff_select(ident, pairs, t.snapshot, dups, t.pending, origin=run.run_id)
        self._exec(
            f"INSERT INTO {t.changes} ({ID_COLUMN}, {KIND_COLUMN}, {CHECKSUM_COLUMN}, {ORIGIN_COLUMN}) {diff}"
        )
        run.counts = self._count_kinds(
            self._rows(f"SELECT {KIND_COLUMN}, count(*) FROM {t.changes} GROUP BY {KIND_COLUMN}")
        )
        run.snapshot_size = self._scalar(f"SELECT count(*) FROM {t.snapshot}")

        deleted = run.counts.deleted
        if (
            not allow_mass_delete
            and run.snapshot_size
            and deleted > self.max_delete_share * run.snapshot_size
        ):
            raise MassDeleteRefused(
                f"refusing to sync: {deleted} of {run.snapshot_size} synced records "
                f"({deleted / run.snapshot_size:.0%}) are gone from the model, more than the allowed "
                f"{self.max_delete_share:.0%}; nothing was changed",
                address=self.spec.address,
                hint="check the model; if the deletions are real, run again allowing mass deletes",
            )

        skip = [k for k in KINDS if k not in self.spec.triggers]
        with self.con.transaction():
            # A failure whose record no longer differs from the snapshot has nothing left to send.
            self._delete(
                t.pending,
                f"id IN (SELECT p.id FROM {t.pending} AS p WHERE NOT EXISTS "
                f"(SELECT 1 FROM {t.changes} AS c WHERE c.{ID_COLUMN} = p.id))",
            )
            if skip:
                kinds = ", ".join(lit(k) for k in skip)
                self._exec(
                    f"INSERT INTO {t.acks} (run_id, id, checksum, kind, outcome) SELECT {lit(run.run_id)}, "
                    f"c.{ID_COLUMN}, c.{CHECKSUM_COLUMN}, c.{KIND_COLUMN}, 'skipped' FROM {t.changes} AS c "
                    f"WHERE c.{KIND_COLUMN} IN ({kinds})"
                )
                self._delete(t.pending, f"kind IN ({kinds})")
        run.skipped = sum(run.counts.of(k) for k in skip)
        run.model_fingerprint, run.columns_fingerprint = model_fp, columns_fp
        self._write_run(run)

    def stream(
        self, run: Run, batch_rows: int = 10_000, extra: Sequence[str] = ()
    ) -> Iterator[pyarrow.RecordBatch]:
        """The changed rows the mapping triggers on, as Arrow batches.

        Columns: `__segprof_id` (identifier as text), `__segprof_kind` (new/updated/deleted),
        `__segprof_checksum`, `__segprof_origin`, then every model column (all null for deleted
        records), then the `extra` expressions (over `c`, the change, and `m`, the model row). At
        most the run's record limit; the changes past it stay for the next runs.
        """
        self._check_run(run)
        kinds = [k for k in KINDS if k in self.spec.triggers]
        select = self._stream_select(run.model_columns, run.identifier_column, kinds, extra)
        if run.remaining:
            select += f" LIMIT {int(run.to_send)}"
        sql = self._sql(select)
        return self.con.stream_arrow(sql, batch_rows)

    def _check_run(self, run: Run) -> None:
        if run.status != "running" or run.mapping_id != self.spec.mapping_id:
            raise SegprofError(f"run {run.run_id} is not running for this mapping", address=self.spec.address)

    def _load_ids(self, identifiers: Iterable[object]) -> list[str]:
        ids = list(dict.fromkeys(str(i) for i in identifiers if i is not None))
        self._delete(self.tables.idbuf)
        self.con.insert_rows(self.tables.idbuf, ["id"], [(i,) for i in ids])
        return ids

    def ack(self, run: Run, identifiers: Iterable[object]) -> int:
        """Mark these records delivered; returns how many were changes of this run not yet acknowledged."""
        self._check_run(run)
        t = self.tables
        fresh = (
            f"FROM {t.changes} AS c WHERE c.{ID_COLUMN} IN (SELECT b.id FROM {t.idbuf} AS b) "
            f"AND NOT EXISTS (SELECT 1 FROM {t.acks} AS a WHERE a.id = c.{ID_COLUMN})"
        )
        with self.con.transaction():
            self._load_ids(identifiers)
            n = self._scalar(f"SELECT count(*) {fresh}")
            self._exec(
                f"INSERT INTO {t.acks} (run_id, id, checksum, kind, outcome) SELECT {lit(run.run_id)}, "
                f"c.{ID_COLUMN}, c.{CHECKSUM_COLUMN}, c.{KIND_COLUMN}, 'delivered' {fresh}"
            )
            self._delete(t.pending, f"id IN (SELECT b.id FROM {t.idbuf} AS b)")
            self._delete(t.idbuf)
        run.delivered += n
        return n

    def ack_changes(
        self,
        run: Run,
        rows: Sequence[tuple[str, str, str]],
        tables: Sequence[pyarrow.Table | pyarrow.RecordBatch] = (),
    ) -> int:
        """Mark these changes of this run delivered, each given once: as (record id, checksum,
        kind) rows, or as Arrow tables of `id, checksum, kind` columns. Unlike `ack`, it never reads
        the run's changes table, so its cost is the batch's, not the run's (a sync of millions of
        records acknowledges in constant time per write)."""
        self._check_run(run)
        t = self.tables
        count = len(rows) + sum(table.num_rows for table in tables)
        with self.con.transaction():
            self._delete(t.ackbuf)
            self.con.insert_rows(t.ackbuf, ["id", "checksum", "kind"], list(rows))
            for table in tables:
                insert_arrow(self.con, t.ackbuf, table)
            self._exec(
                f"INSERT INTO {t.acks} (run_id, id, checksum, kind, outcome) SELECT {lit(run.run_id)}, "
                f"b.id, b.checksum, b.kind, 'delivered' FROM {t.ackbuf} AS b"
            )
            self._delete(t.pending, f"id IN (SELECT b.id FROM {t.ackbuf} AS b)")
            self._delete(t.ackbuf)
        run.delivered += count
        return count

    def fail(self, run: Run, identifiers: Iterable[object], error: str) -> int:
        """Record these records as failed this run; they are retried on later runs."""
        self._check_run(run)
        t = self.tables
        now = ts(self.clock())
        err = lit((error or "")[:1000])
        rid = lit(run.run_id)
        # the given ids that are changes of this run and not acknowledged already
        failing = (
            f"(SELECT b.id FROM {t.idbuf} AS b WHERE NOT EXISTS (SELECT 1 FROM {t.acks} AS a "
            f"WHERE a.id = b.id) AND EXISTS (SELECT 1 FROM {t.changes} AS c WHERE c.{ID_COLUMN} = b.id))"
        )
        with self.con.transaction():
            self._load_ids(identifiers)
            # a record counts once per run, however often it is reported failed
            self._delete(t.idbuf, f"id IN (SELECT p.id FROM {t.pending} AS p WHERE p.last_run_id = {rid})")
            n = self._scalar(f"SELECT count(*) FROM {failing} AS f")
            # new pending rows carry the attempt count forward; then the old rows go
            self._exec(
                f"INSERT INTO {t.pending} (id, checksum, kind, attempts, first_failed_at, last_failed_at, "
                f"last_run_id, last_error, origin, outcome) SELECT c.{ID_COLUMN}, c.{CHECKSUM_COLUMN}, "
                f"c.{KIND_COLUMN}, coalesce(p.attempts, 0) + 1, coalesce(p.first_failed_at, {now}), {now}, "
                f"{rid}, {err}, c.{ORIGIN_COLUMN}, 'failed' "
                f"FROM {t.changes} AS c JOIN {failing} AS f ON f.id = c.{ID_COLUMN} "
                f"LEFT JOIN {t.pending} AS p ON p.id = c.{ID_COLUMN}"
            )
            self._delete(t.pending, f"id IN (SELECT f.id FROM {failing} AS f) AND last_run_id <> {rid}")
            self._delete(t.idbuf)
        run.failed += n
        return n

    def finish(self, run: Run, *, error: str | None = None, cancelled: bool = False) -> Run:
        """Advance the snapshot for everything acknowledged, write run history, drop work tables.

        `cancelled`: the run was stopped (Ctrl-C, SIGTERM, a cancel request); what was acknowledged
        is committed as usual and the run is recorded as `cancelled`.
        """
        self._check_run(run)
        try:
            return self._finish(run, error, cancelled)
        finally:
            self._release()

    def _finish(self, run: Run, error: str | None, cancelled: bool = False) -> Run:
        self._settle("unsent", "not delivered: the run ended before sending it")
        run.finished_at = self.clock()
        run.error = error
        unresolved = run.to_send - run.delivered - run.failed
        if cancelled:
            run.status = "cancelled"
        elif error or (run.failed and not run.delivered):
            run.status = "failed"  # an error, or every record it tried failed
        elif run.failed or unresolved > 0:
            run.status = "partial"
        else:
            run.status = "success"
        with self.con.transaction():
            self._write_run(run)
            self._delete(CHECKPOINTS, f"mapping_id = {lit(run.mapping_id)}")
            self._exec(
                f"INSERT INTO {CHECKPOINTS} (mapping_id, run_id, checkpoint, model_fingerprint, "
                f"columns_fingerprint, checksum_version) VALUES ({lit(run.mapping_id)}, {lit(run.run_id)}, "
                f"{ts(run.finished_at)}, {lit(run.model_fingerprint)}, {lit(run.columns_fingerprint)}, "
                f"{lit(CHECKSUM_VERSION)})"
            )
        self._drop_work_tables()
        return run

    # ---- operations ---------------------------------------------------------------------------

    def dry_run(self, *, from_scratch: bool = False) -> DryRun:
        """Counts of new / updated / deleted records and identifier problems; writes nothing.

        `from_scratch`: as if the mapping had no sync state (a new or replaced mapping): every
        record with a clean identifier counts as new.
        """
        _cols, ident, pairs = self._resolve_columns()
        stats = f"({self._keystats_select(ident)})"
        extracted, keys = self._read_keystats(self._rows(self._key_report_select(stats)))
        relations = self._effective_relations(ident, from_scratch=from_scratch)
        diff = self._diff_select(ident, pairs, *relations, origin=PREVIEW_ORIGIN)
        counts = self._count_kinds(
            self._rows(f"SELECT x.{KIND_COLUMN}, count(*) FROM ({diff}) AS x GROUP BY x.{KIND_COLUMN}")
        )
        snapshot = relations[0]
        size = self._scalar(f"SELECT count(*) FROM {snapshot} AS z") if snapshot != NO_ROWS else 0
        return DryRun(counts=counts, keys=keys, extracted=extracted, snapshot_size=size)

    def preview(self, limit: int | None = None, batch_rows: int = 1_000) -> Iterator[pyarrow.RecordBatch]:
        """The rows a run would stream now (same columns as `stream`), computed without writing.

        Ordered by identifier; at most `limit` rows when given. Their origin is a placeholder: the
        run that sends a change fixes its message id.
        """
        cols, ident, pairs = self._resolve_columns()
        diff = self._diff_select(ident, pairs, *self._effective_relations(ident), origin=PREVIEW_ORIGIN)
        kinds = ", ".join(lit(k) for k in KINDS if k in self.spec.triggers)
        model_cols = ", ".join(f"m.{quote(c.name)}" for c in cols)
        sql = (
            f"SELECT c.{ID_COLUMN}, c.{KIND_COLUMN}, c.{CHECKSUM_COLUMN}, c.{ORIGIN_COLUMN}, {model_cols} "
            f"FROM ({diff}) AS c LEFT JOIN "
            f"(SELECT q.*, CAST(q.{quote(ident)} AS VARCHAR) AS {ID_COLUMN} FROM {MODEL} AS q "
            f"WHERE q.{quote(ident)} IS NOT NULL) AS m "
            f"ON m.{ID_COLUMN} = c.{ID_COLUMN} AND c.{KIND_COLUMN} <> 'deleted' "
            f"WHERE c.{KIND_COLUMN} IN ({kinds}) ORDER BY c.{ID_COLUMN}"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self.con.stream_arrow(self._sql(sql), batch_rows)

    def _effective_relations(self, ident: str, *, from_scratch: bool = False) -> tuple[str, str, str]:
        """(snapshot ⊕ acknowledged log, duplicated identifiers, pending changes) as read-only
        relations; `from_scratch`: as if the mapping had no sync state."""
        t = self.tables
        if not from_scratch and self._managed_exists():
            snapshot = (
                f"(SELECT s0.id, s0.checksum FROM {t.snapshot} AS s0 WHERE NOT EXISTS "
                f"(SELECT 1 FROM {t.acks} AS a0 WHERE a0.id = s0.id) UNION ALL SELECT a1.id, a1.checksum "
                f"FROM {t.acks} AS a1 WHERE a1.kind <> 'deleted')"
            )
            # origins are not read here (a table made by an older version may not have them yet)
            pending = (
                f"(SELECT p0.id, p0.kind, p0.checksum, CAST(NULL AS VARCHAR) AS origin, "
                f"CAST(NULL AS VARCHAR) AS outcome FROM {t.pending} AS p0)"
            )
        else:
            snapshot = NO_ROWS
            pending = NO_PENDING
        dups = (
            f"(SELECT CAST(q.{quote(ident)} AS VARCHAR) AS id FROM {MODEL} AS q "
            f"WHERE q.{quote(ident)} IS NOT NULL GROUP BY CAST(q.{quote(ident)} AS VARCHAR) "
            "HAVING count(*) > 1)"
        )
        return snapshot, dups, pending

    def full_resync(self) -> None:
        """Forget what was synced: the next run sends every record as new.

        Deletions that happened before the reset can no longer be detected (the snapshot that
        would reveal them is gone), and pending failures are dropped with it.
        """
        self._ensure()
        self._acquire()
        try:
            self._recover(self.clock())
            t = self.tables
            with self.con.transaction():
                self._delete(t.snapshot)
                self._delete(t.pending)
                self._delete(t.acks)
        finally:
            self._release()

    def rebaseline(self) -> int:
        """Accept the model as it is now as synced (nothing sent); returns the records recorded.

        Rows with a null or duplicated identifier are left out, as in a run.
        """
        self._ensure()
        self._acquire()
        try:
            return self._rebaseline()
        finally:
            self._release()

    def _rebaseline(self) -> int:
        self._recover(self.clock())
        _cols, ident, pairs = self._resolve_columns()
        t = self.tables
        q_ident = f"q.{quote(ident)}"
        unique = (
            f"{q_ident} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM (SELECT CAST(r.{quote(ident)} AS VARCHAR) AS id FROM {MODEL} AS r "
            f"WHERE r.{quote(ident)} IS NOT NULL GROUP BY CAST(r.{quote(ident)} AS VARCHAR) "
            f"HAVING count(*) > 1) AS d WHERE d.id = CAST({q_ident} AS VARCHAR))"
        )
        select = checksummed_sql(pairs, f"CAST({q_ident} AS VARCHAR)", MODEL, unique)
        with self.con.transaction():
            self._delete(t.snapshot)
            self._delete(t.pending)
            self._exec(f"INSERT INTO {t.snapshot} (id, checksum) {select}")
        return self._scalar(f"SELECT count(*) FROM {t.snapshot}")

    def pending(self) -> list[tuple[str, str, str, int]]:
        """Failed records awaiting retry: (identifier, checksum, kind, attempts)."""
        if not self._managed_exists():
            return []
        return [
            (str(i), str(c), str(k), int(a))
            for i, c, k, a in self._rows(
                f"SELECT id, checksum, kind, attempts FROM {self.tables.pending} ORDER BY id"
            )
        ]

    def history(self, limit: int = 20) -> list[RunRecord]:
        """The mapping's most recent runs, newest first."""
        if not self._managed_exists():
            return []
        cols = ", ".join(RUN_COUNTERS)
        rows = self._rows(
            f"SELECT run_id, mapping_id, started_at, finished_at, status, {cols}, error FROM {RUNS} "
            f"WHERE mapping_id = {lit(self.spec.mapping_id)} ORDER BY started_at DESC, run_id DESC "
            f"LIMIT {int(limit)}"
        )
        out = []
        for row in rows:
            counters = {k: int(v or 0) for k, v in zip(RUN_COUNTERS, row[5:-1], strict=True)}
            out.append(RunRecord(row[0], row[1], row[2], row[3], row[4], counters, row[-1]))
        return out
