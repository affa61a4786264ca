"""The bookkeeping of change detection: folding acknowledgements, carrying changes over, run rows.

Owns `Bookkeeping`: how acknowledged changes advance the snapshot, how unacknowledged ones keep
their origin in the pending table (after a finish or a crash), expiry of old failures, the
checkpoint and fingerprints of a mapping, and the run row. Must never send anything nor decide a
run's outcome.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from segprof.sync.detect.checksum import CHECKSUM_VERSION, canonical_columns
from segprof.sync.detect.queries import DiffQueries
from segprof.sync.detect.runs import Run
from segprof.sync.detect.statements import lit, ts
from segprof.warehouses.base import ColumnInfo
from segprof.warehouses.managed_schema import (
    CHECKPOINTS,
    CHECKSUM_COLUMN,
    ID_COLUMN,
    KIND_COLUMN,
    ORIGIN_COLUMN,
    RUNS,
)


class Bookkeeping(DiffQueries):
    """The tables that remember what was sent, and how they move between runs."""

    # ---- bookkeeping --------------------------------------------------------------------------

    def _fold(self) -> None:
        """Move acknowledged changes from the log into the snapshot, atomically."""
        t = self.tables
        with self.con.transaction():
            self._delete(t.snapshot, f"id IN (SELECT a.id FROM {t.acks} AS a)")
            self._exec(
                f"INSERT INTO {t.snapshot} (id, checksum) SELECT a.id, a.checksum FROM {t.acks} AS a "
                "WHERE a.kind <> 'deleted'"
            )
            self._delete(t.acks)

    def _settle(self, outcome: str, note: str) -> None:
        """Carry the unacknowledged changes over, then fold the acknowledged ones. One look first:
        a run that had nothing to send (the common case) leaves both tables empty, and each step
        skipped spares the warehouse a transaction (on Spark, a table rewrite)."""
        t = self.tables
        probe = ", ".join(
            f"(SELECT count(*) FROM (SELECT 1 AS one FROM {name} LIMIT 1) AS x)"
            for name in (t.changes, t.acks)
        )
        rows = self._rows(f"SELECT {probe}")
        changes, acks = rows[0] if rows else (1, 1)  # no answer: take both steps, as before
        if changes:
            self._carry_over(outcome, note)
        if acks:
            self._fold()

    def _drop_work_tables(self) -> None:
        # the changes table stays (empty), so that a run can always read what the last one left
        self._delete(self.tables.changes)
        self._exec(f"DROP TABLE IF EXISTS {self.tables.keystats}")

    def _carry_over(self, outcome: str, note: str) -> None:
        """Keep the changes of the current (or an interrupted) run that were not acknowledged in the
        pending table with their origin, so the next run sends each under the id it had.

        `outcome`: `unsent`, or `unknown` after a crash. A record's older pending change is replaced
        by its newer one; one the pending table already holds (a failure `fail` recorded) stays.
        """
        t = self.tables
        now = ts(self.clock())
        unsent = (
            f"FROM {t.changes} AS c WHERE NOT EXISTS (SELECT 1 FROM {t.acks} AS a WHERE a.id = c.{ID_COLUMN}) "
            f"AND NOT EXISTS (SELECT 1 FROM {t.pending} AS p WHERE p.id = c.{ID_COLUMN} "
            f"AND p.kind = c.{KIND_COLUMN} AND p.checksum = c.{CHECKSUM_COLUMN})"
        )
        with self.con.transaction():
            self._delete(t.pending, f"id IN (SELECT c.{ID_COLUMN} {unsent})")
            self._exec(
                f"INSERT INTO {t.pending} (id, checksum, kind, attempts, first_failed_at, last_failed_at, "
                f"last_run_id, last_error, origin, outcome) SELECT c.{ID_COLUMN}, c.{CHECKSUM_COLUMN}, "
                f"c.{KIND_COLUMN}, 0, {now}, {now}, NULL, {lit(note)}, c.{ORIGIN_COLUMN}, {lit(outcome)} "
                f"{unsent}"
            )

    def _recover(self, now: datetime) -> None:
        """Repair what an interrupted run left: keep its unsent changes, fold its acks, close its
        history row, drop work tables."""
        self._settle("unknown", "the run was interrupted; the change may have been delivered")
        self._update(
            RUNS,
            {"status": "'interrupted'", "finished_at": ts(now)},
            f"mapping_id = {lit(self.spec.mapping_id)} AND status = 'running'",
        )
        self._drop_work_tables()

    def _expire_pending(self, run_id: str, now: datetime) -> int:
        """Give up on failures retried too often or for too long: accept them as they were."""
        t = self.tables
        cond = f"attempts >= {int(self.max_attempts)} OR first_failed_at <= {ts(now - self.retry_window)}"
        dropped = self._scalar(f"SELECT count(*) FROM {t.pending} WHERE {cond}")
        if dropped:
            with self.con.transaction():
                self._exec(
                    f"INSERT INTO {t.acks} (run_id, id, checksum, kind, outcome) SELECT {lit(run_id)}, "
                    f"id, checksum, kind, 'dropped' FROM {t.pending} WHERE {cond}"
                )
                self._delete(t.pending, cond)
            self._fold()
        return dropped

    def _checkpoint(self) -> tuple[str | None, str | None]:
        rows = self._rows(
            f"SELECT model_fingerprint, columns_fingerprint FROM {CHECKPOINTS} "
            f"WHERE mapping_id = {lit(self.spec.mapping_id)}"
        )
        return (rows[0][0], rows[0][1]) if rows else (None, None)

    def _fingerprints(self, cols: list[ColumnInfo], pairs: list[tuple[str, str]]) -> tuple[str, str]:
        model = "\n".join([self._model_sql, *(f"{c.name}:{c.type}" for c in cols)])
        mapped = "\n".join([CHECKSUM_VERSION, *canonical_columns(n for n, _ in pairs)])
        return (
            hashlib.md5(model.encode("utf-8")).hexdigest(),
            hashlib.md5(mapped.encode("utf-8")).hexdigest(),
        )

    def _write_run(self, run: Run) -> None:
        counters = {
            "extracted": run.extracted,
            "new_count": run.counts.new,
            "updated_count": run.counts.updated,
            "deleted_count": run.counts.deleted,
            "delivered": run.delivered,
            "failed": run.failed,
            "dropped": run.dropped,
            "skipped": run.skipped,
            "duplicate_ids": run.keys.duplicate_ids,
            "duplicate_rows": run.keys.duplicate_rows,
            "null_ids": run.keys.null_ids,
        }
        finished = ts(run.finished_at) if run.finished_at else "NULL"
        error = run.error[:1000] if run.error else None
        sets = {"status": lit(run.status), "finished_at": finished}
        sets |= {k: str(int(v)) for k, v in counters.items()}
        sets["error"] = lit(error)
        self._update(RUNS, sets, f"run_id = {lit(run.run_id)}")
