"""Change detection for one mapping, inside the warehouse, with bookkeeping that never loses a change.

Owns: the run lifecycle of a mapping's diff — `begin` (recover, expire old failures, check
identifiers, diff the model against the snapshot into a run-scoped changes table, guard against
mass deletes), `stream` (the changed rows as Arrow batches), `ack` / `fail` (per delivered or failed
batch, transactional), `finish` (advance the snapshot, write run history) — and the maintenance
operations `dry_run`, `full_resync` and `rebaseline`. Must never hold the model in Python memory,
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
import hashlib
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from segprof.errors import SegprofError
from segprof.sync.detect.checksum import CHECKSUM_VERSION, canonical_columns, checksum_sql, quote
from segprof.warehouses.base import ColumnInfo, Connector, as_subquery, row_level_changes, table_exists
from segprof.warehouses.dialects import to_dialect
from segprof.warehouses.managed_schema import (
    CHECKPOINTS,
    CHECKSUM_COLUMN,
    ID_COLUMN,
    KIND_COLUMN,
    ORIGIN_COLUMN,
    RUN_COUNTERS,
    RUNS,
    SCHEMA,
    MappingTables,
    ddl_for,
    mapping_key,
)

if TYPE_CHECKING:
    import pyarrow

RESERVED = (ID_COLUMN, KIND_COLUMN, CHECKSUM_COLUMN, ORIGIN_COLUMN)
KINDS = ("new", "updated", "deleted")
MODEL = "__segprof_model__"  # placeholder replaced by the model's own SQL after translation
PREVIEW_ORIGIN = "preview"  # what dry runs and previews record as a change's origin (nothing is sent)
_NO_ROWS = "(SELECT CAST(NULL AS VARCHAR) AS id, CAST(NULL AS VARCHAR) AS checksum WHERE 1 = 0)"
_NO_PENDING = (
    "(SELECT CAST(NULL AS VARCHAR) AS id, CAST(NULL AS VARCHAR) AS kind, CAST(NULL AS VARCHAR) AS checksum, "
    "CAST(NULL AS VARCHAR) AS origin, CAST(NULL AS VARCHAR) AS outcome WHERE 1 = 0)"
)

# A run that would delete more than half of the synced records is far more often a broken or
# half-loaded model (empty upstream table, failed join) than real churn; past that share we stop
# and ask. The guard applies whatever the mapping's triggers: an accepted mass delete also resets
# the snapshot, so the records would come back later as a mass "new".
DEFAULT_MAX_DELETE_SHARE = 0.5
DEFAULT_MAX_ATTEMPTS = 5  # Segment retries failed records for up to 5 syncs …
DEFAULT_RETRY_WINDOW = timedelta(days=14)  # … or 14 days
# Segment extracts at most 150 million records in one sync and leaves the rest to the next ones.
DEFAULT_MAX_RECORDS = 150_000_000
EXAMPLES = 5


@dataclass(frozen=True)
class MappingSpec:
    """What change detection needs to know about one mapping."""

    mapping_id: str  # stable key: the live subscription id or the mapping address
    model_sql: str  # in the source's dialect
    identifier: str  # the model's unique identifier column
    columns: Sequence[str]  # the model columns the mapping uses (the checksum covers these)
    triggers: frozenset[str] = frozenset(KINDS)
    address: str | None = None  # e.g. "mapping.identify_users", for messages


class MassDeleteRefused(SegprofError):
    """A run would delete more of the snapshot than allowed; nothing was changed."""


@dataclass(frozen=True)
class KeyReport:
    """Identifier problems found in the model; such rows are left out of the sync."""

    duplicate_ids: int = 0
    duplicate_rows: int = 0
    null_ids: int = 0
    duplicate_examples: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return not (self.duplicate_ids or self.null_ids)

    def describe(self) -> str:
        parts = []
        if self.duplicate_ids:
            shown = ", ".join(repr(e) for e in self.duplicate_examples)
            parts.append(
                f"{self.duplicate_ids} duplicate identifier(s) on {self.duplicate_rows} rows skipped "
                f"(e.g. {shown})"
            )
        if self.null_ids:
            parts.append(f"{self.null_ids} row(s) with a null identifier skipped")
        return "; ".join(parts)


@dataclass(frozen=True)
class ChangeCounts:
    new: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def total(self) -> int:
        return self.new + self.updated + self.deleted

    def of(self, kind: str) -> int:
        return int(getattr(self, kind))


@dataclass(frozen=True)
class DryRun:
    """What a run would find now, computed without writing anything."""

    counts: ChangeCounts
    keys: KeyReport
    extracted: int
    snapshot_size: int


@dataclass
class Run:
    """One sync run of one mapping, from `begin` to `finish`."""

    run_id: str
    mapping_id: str
    started_at: datetime
    counts: ChangeCounts = field(default_factory=ChangeCounts)
    keys: KeyReport = field(default_factory=KeyReport)
    extracted: int = 0
    snapshot_size: int = 0
    dropped: int = 0  # failed records given up on (too many attempts or too old)
    skipped: int = 0  # changes of kinds the mapping does not trigger on (accepted, not sent)
    delivered: int = 0
    failed: int = 0
    model_columns: tuple[ColumnInfo, ...] = ()
    identifier_column: str = ""  # the model's identifier column, as the warehouse names it
    model_fingerprint: str = ""
    columns_fingerprint: str = ""
    mapped_columns: tuple[str, ...] = ()
    columns_changed: bool = False  # mapped columns or checksum encoding differ from the last run
    model_changed: bool = False  # model SQL or its output columns differ from the last run
    status: str = "running"
    error: str | None = None
    finished_at: datetime | None = None

    max_records: int | None = None  # the most changes one run extracts (None: no limit)

    @property
    def triggered(self) -> int:
        """Changes that the mapping triggers on."""
        return self.counts.total - self.skipped

    @property
    def to_send(self) -> int:
        """The triggered changes this run extracts (what `stream` yields)."""
        return self.triggered if self.max_records is None else min(self.triggered, self.max_records)

    @property
    def remaining(self) -> int:
        """Triggered changes past the run's record limit, left for the next runs."""
        return self.triggered - self.to_send


@dataclass(frozen=True)
class RunRecord:
    """One row of run history."""

    run_id: str
    mapping_id: str
    started_at: datetime | None
    finished_at: datetime | None
    status: str
    counters: dict[str, int]
    error: str | None


def new_run_id(now: datetime) -> str:
    """A run's id: when it started, and enough randomness to be unique."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def _lit(value: str | None) -> str:
    if value is None:
        return "NULL"
    return "'" + value.replace("'", "''") + "'"


def _ts(value: datetime) -> str:
    naive = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return f"TIMESTAMP '{naive.isoformat(sep=' ', timespec='microseconds')}'"


def _bare(table: str) -> str:
    """The unquoted table name of a quoted, qualified managed table."""
    return table.split(".")[-1].strip('"')


def _staged(table: str) -> str:
    """Where a rewrite of a managed table puts its new rows before the swap."""
    return f'{table[:-1]}_next"'


def _strip_sql(sql: str) -> str:
    text = sql.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text


class ChangeTracker:
    """Change detection and bookkeeping for one mapping on one warehouse connection."""

    def __init__(
        self,
        connector: Connector,
        spec: MappingSpec,
        *,
        max_delete_share: float = DEFAULT_MAX_DELETE_SHARE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry_window: timedelta = DEFAULT_RETRY_WINDOW,
        max_records: int | None = DEFAULT_MAX_RECORDS,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if max_records is not None and max_records < 1:
            raise SegprofError("the record limit of a sync must be at least 1", address=spec.address)
        unknown = set(spec.triggers) - set(KINDS)
        if unknown or not spec.triggers:
            raise SegprofError(
                f"triggers must be a non-empty subset of {', '.join(KINDS)}", address=spec.address
            )
        self.con = connector
        self.spec = spec
        self.dialect = connector.dialect
        self.tables = MappingTables(mapping_key(spec.mapping_id))
        self.max_delete_share = max_delete_share
        self.max_attempts = max_attempts
        self.retry_window = retry_window
        self.max_records = max_records
        self.clock = clock or (lambda: datetime.now(UTC))
        self._model_sql = _strip_sql(spec.model_sql)
        self._ensured = False
        self._row_level = row_level_changes(connector)

    # ---- SQL plumbing -------------------------------------------------------------------------

    def _sql(self, neutral: str) -> str:
        """Translate segprof's SQL to the warehouse's dialect, then put the model query in place."""
        return to_dialect(neutral, self.dialect).replace(MODEL, as_subquery(self._model_sql))

    def _exec(self, neutral: str) -> None:
        self.con.execute(self._sql(neutral))

    def _rows(self, neutral: str) -> list[tuple]:
        return self.con.query_rows(self._sql(neutral))

    def _scalar(self, neutral: str) -> int:
        rows = self._rows(neutral)
        return int(rows[0][0] or 0) if rows else 0

    def _ensure(self) -> None:
        if self._ensured:
            return
        create_schema, *tables = ddl_for(self.tables, self.dialect)
        self.con.execute(create_schema)
        if not self._row_level:
            # before CREATE TABLE IF NOT EXISTS, which would make an empty table in place of a
            # rewritten one that a crash left under its `_next` name
            self._settle_rewrites()
        for stmt in tables:
            self.con.execute(stmt)
        self._ensured = True

    def _managed_exists(self) -> bool:
        return table_exists(self.con, SCHEMA, _bare(self.tables.snapshot))

    # ---- row-level changes, or table rewrites where the engine has none ------------------------

    def _delete(self, table: str, where: str | None = None) -> None:
        """`DELETE FROM table [WHERE where]` (`where` over the table's unqualified columns).

        Without row-level changes (Spark's own file tables): the table is emptied by TRUNCATE, or
        rewritten without the matching rows, and left alone when no row matches."""
        if self._row_level:
            self._exec(f"DELETE FROM {table}" + (f" WHERE {where}" if where else ""))
        elif where is None:
            self._exec(f"TRUNCATE TABLE {table}")
        elif self._any(table, where):
            # a row where the condition is null stays, as DELETE keeps it
            self._rewrite(table, f"SELECT * FROM {table} WHERE NOT coalesce(({where}), false)")

    def _update(self, table: str, sets: dict[str, str], where: str) -> None:
        """`UPDATE table SET column = expression, … WHERE where`; a table rewrite where the engine
        has no row-level changes."""
        if self._row_level:
            assignments = ", ".join(f"{column} = {value}" for column, value in sets.items())
            self._exec(f"UPDATE {table} SET {assignments} WHERE {where}")
        elif self._any(table, where):
            columns = [c.name for c in self.con.describe(self._sql(f"SELECT * FROM {table}"))]
            hit = f"coalesce(({where}), false)"
            select = ", ".join(
                f"CASE WHEN {hit} THEN {sets[c]} ELSE {quote(c)} END AS {quote(c)}" if c in sets else quote(c)
                for c in columns
            )
            self._rewrite(table, f"SELECT {select} FROM {table}")

    def _any(self, table: str, where: str) -> bool:
        return bool(self._rows(f"SELECT 1 FROM {table} WHERE {where} LIMIT 1"))

    def _rewrite(self, table: str, select: str) -> None:
        """Replace a table's rows by a query over it: the new rows go to `<table>_next` (an engine
        refuses to overwrite a table it reads in the same statement), then swap by DROP + RENAME.

        Crash safety: until the DROP, the old table stands (a leftover `_next` is dropped by the
        next run, as if the statement had not run); after it, `_next` holds every row and the next
        run renames it into place (`_settle_rewrites`). CREATE fails rather than overwrite a
        `_next` that is there, so a rewrite never destroys the only copy of a table."""
        staged = _staged(table)
        self._exec(f"CREATE TABLE {staged} AS {select}")
        self._exec(f"DROP TABLE {table}")
        self._exec(f"ALTER TABLE {staged} RENAME TO {quote(_bare(table))}")  # within its schema

    def _settle_rewrites(self) -> None:
        """Finish or undo the table rewrites a crash interrupted (see `_rewrite`)."""
        for table in (*self.tables.all(), RUNS, CHECKPOINTS):
            staged = _staged(table)
            if not table_exists(self.con, SCHEMA, _bare(staged)):
                continue
            if table_exists(self.con, SCHEMA, _bare(table)):
                self._exec(f"DROP TABLE {staged}")
            else:
                self._exec(f"ALTER TABLE {staged} RENAME TO {quote(_bare(table))}")

    # ---- model shape --------------------------------------------------------------------------

    def _resolve_columns(self) -> tuple[list[ColumnInfo], str, list[tuple[str, str]]]:
        """Describe the model; find the identifier and mapped columns in it (exact, then case-insensitive)."""
        cols = self.con.describe(self._model_sql)
        names = [c.name for c in cols]
        seen: set[str] = set()
        for n in names:
            if n in seen:
                raise SegprofError(
                    f"the model returns the column {n!r} more than once; give each column a distinct name",
                    address=self.spec.address,
                )
            seen.add(n)
            if n in RESERVED:
                raise SegprofError(f"the model column name {n!r} is reserved", address=self.spec.address)
        by_name = {c.name: c for c in cols}

        def find(name: str, role: str) -> ColumnInfo:
            if name in by_name:
                return by_name[name]
            folded = [c for c in cols if c.name.lower() == name.lower()]
            if len(folded) == 1:
                return folded[0]
            raise SegprofError(
                f"{role} column {name!r} is not returned by the model (columns: {', '.join(names)})",
                address=self.spec.address,
            )

        ident = find(self.spec.identifier, "identifier")
        mapped = [find(c, "mapped") for c in self.spec.columns]
        pairs = [(c.name, c.type) for c in {c.name: c for c in mapped}.values()]
        return cols, ident.name, pairs

    # ---- SQL builders (DuckDB dialect; translated by _sql) ----------------------------------

    def _keystats_select(self, ident: str) -> str:
        # One pass: the total row count (ROLLUP's grand total), null identifiers and duplicates.
        # Filtered outside the aggregate: Spark cannot resolve `k.id` in a HAVING after ROLLUP.
        return (
            "SELECT r.id, r.total, r.n FROM (SELECT k.id AS id, GROUPING(k.id) AS total, count(*) AS n "
            f"FROM (SELECT CAST(q.{quote(ident)} AS VARCHAR) AS id FROM {MODEL} AS q) AS k "
            "GROUP BY ROLLUP (k.id)) AS r WHERE r.n > 1 OR r.id IS NULL"
        )

    def _diff_select(
        self, ident: str, pairs: list, snapshot: str, dups: str, pending: str, *, origin: str
    ) -> str:
        """Changed identifiers with their kind, checksum and origin; narrow on purpose (carrying every
        model column through a join of the whole model against the whole snapshot costs several
        times the join itself), the columns are joined back for the few changed rows when streaming.

        `origin` is this run's id: a change takes it unless the pending table holds the same change
        (same kind and checksum), whose origin it keeps.
        """
        kind = (
            f"CASE WHEN s.id IS NULL THEN 'new' WHEN m.{ID_COLUMN} IS NULL THEN 'deleted' ELSE 'updated' END"
        )
        checksum = f"CASE WHEN m.{ID_COLUMN} IS NULL THEN s.checksum ELSE m.{CHECKSUM_COLUMN} END"
        return (
            f"SELECT coalesce(m.{ID_COLUMN}, s.id) AS {ID_COLUMN}, {kind} AS {KIND_COLUMN}, "
            f"{checksum} AS {CHECKSUM_COLUMN}, "
            f"CASE WHEN p.id IS NOT NULL AND p.kind = {kind} AND p.checksum = {checksum} THEN p.origin "
            f"ELSE {_lit(origin)} END AS {ORIGIN_COLUMN} FROM "
            f"(SELECT CAST(q.{quote(ident)} AS VARCHAR) AS {ID_COLUMN}, "
            f"{checksum_sql(pairs, 'q')} AS {CHECKSUM_COLUMN} FROM {MODEL} AS q "
            f"WHERE q.{quote(ident)} IS NOT NULL) AS m "
            f"FULL OUTER JOIN {snapshot} AS s ON m.{ID_COLUMN} = s.id "
            f"LEFT JOIN {pending} AS p ON p.id = coalesce(m.{ID_COLUMN}, s.id) "
            f"WHERE (s.id IS NULL OR m.{ID_COLUMN} IS NULL OR m.{CHECKSUM_COLUMN} <> s.checksum "
            f"OR (p.outcome = 'unknown' AND m.{ID_COLUMN} IS NOT NULL "
            f"AND (p.kind = 'deleted' OR p.checksum <> m.{CHECKSUM_COLUMN}))) "
            f"AND NOT EXISTS (SELECT 1 FROM {dups} AS d WHERE d.id = coalesce(m.{ID_COLUMN}, s.id))"
        )

    def _stream_select(
        self, cols: Sequence[ColumnInfo], ident: str, kinds: Sequence[str], extra: Sequence[str] = ()
    ) -> str:
        """The changed rows with every model column, read back from the model by identifier.

        Deleted records get nulls. A new or updated record that vanished from the model since the
        diff is left out (not acknowledged, so the next run derives it again, as deleted).
        """
        model_cols = ", ".join([*(f"m.{quote(c.name)}" for c in cols), *extra])
        wanted = ", ".join(_lit(k) for k in kinds)
        return (
            f"SELECT c.{ID_COLUMN}, c.{KIND_COLUMN}, c.{CHECKSUM_COLUMN}, c.{ORIGIN_COLUMN}, {model_cols} "
            f"FROM {self.tables.changes} AS c LEFT JOIN "
            f"(SELECT q.*, CAST(q.{quote(ident)} AS VARCHAR) AS {ID_COLUMN} FROM {MODEL} AS q "
            f"WHERE q.{quote(ident)} IS NOT NULL) AS m "
            f"ON m.{ID_COLUMN} = c.{ID_COLUMN} AND c.{KIND_COLUMN} <> 'deleted' "
            f"WHERE c.{KIND_COLUMN} IN ({wanted}) "
            f"AND (c.{KIND_COLUMN} = 'deleted' OR m.{ID_COLUMN} IS NOT NULL)"
        )

    def _key_report_select(self, source: str) -> str:
        """Summarise a keystats relation in a few rows (never all duplicates: there may be millions):
        the total, the null row, and the first duplicates, each carrying the duplicate totals."""
        is_null = "CASE WHEN k2.id IS NULL THEN 1 ELSE 0 END"
        return (
            "SELECT z.id, z.total, z.n, z.groups, z.grows FROM (SELECT k2.id, k2.total, k2.n, "
            f"count(*) OVER (PARTITION BY k2.total, {is_null}) AS groups, "
            f"sum(k2.n) OVER (PARTITION BY k2.total, {is_null}) AS grows FROM {source} AS k2) AS z "
            f"ORDER BY z.total DESC, CASE WHEN z.id IS NULL THEN 0 ELSE 1 END, z.id LIMIT {EXAMPLES + 2}"
        )

    def _read_keystats(self, rows: list[tuple]) -> tuple[int, KeyReport]:
        extracted = nulls = dup_ids = dup_rows = 0
        examples: list[str] = []
        for ident, total, n, groups, grows in rows:
            if int(total) == 1:
                extracted = int(n)
            elif ident is None:
                nulls = int(n)
            else:
                dup_ids, dup_rows = int(groups), int(grows)
                examples.append(str(ident))
        return extracted, KeyReport(dup_ids, dup_rows, nulls, tuple(examples[:EXAMPLES]))

    def _count_kinds(self, rows: list[tuple]) -> ChangeCounts:
        got = {str(k): int(n) for k, n in rows}
        return ChangeCounts(got.get("new", 0), got.get("updated", 0), got.get("deleted", 0))

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
        now = _ts(self.clock())
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
                f"c.{KIND_COLUMN}, 0, {now}, {now}, NULL, {_lit(note)}, c.{ORIGIN_COLUMN}, {_lit(outcome)} "
                f"{unsent}"
            )

    def _recover(self, now: datetime) -> None:
        """Repair what an interrupted run left: keep its unsent changes, fold its acks, close its
        history row, drop work tables."""
        self._carry_over("unknown", "the run was interrupted; the change may have been delivered")
        self._fold()
        self._update(
            RUNS,
            {"status": "'interrupted'", "finished_at": _ts(now)},
            f"mapping_id = {_lit(self.spec.mapping_id)} AND status = 'running'",
        )
        self._drop_work_tables()

    def _expire_pending(self, run_id: str, now: datetime) -> int:
        """Give up on failures retried too often or for too long: accept them as they were."""
        t = self.tables
        cond = f"attempts >= {int(self.max_attempts)} OR first_failed_at <= {_ts(now - self.retry_window)}"
        dropped = self._scalar(f"SELECT count(*) FROM {t.pending} WHERE {cond}")
        if dropped:
            with self.con.transaction():
                self._exec(
                    f"INSERT INTO {t.acks} (run_id, id, checksum, kind, outcome) SELECT {_lit(run_id)}, "
                    f"id, checksum, kind, 'dropped' FROM {t.pending} WHERE {cond}"
                )
                self._delete(t.pending, cond)
            self._fold()
        return dropped

    def _checkpoint(self) -> tuple[str | None, str | None]:
        rows = self._rows(
            f"SELECT model_fingerprint, columns_fingerprint FROM {CHECKPOINTS} "
            f"WHERE mapping_id = {_lit(self.spec.mapping_id)}"
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
        finished = _ts(run.finished_at) if run.finished_at else "NULL"
        error = run.error[:1000] if run.error else None
        sets = {"status": _lit(run.status), "finished_at": finished}
        sets |= {k: str(int(v)) for k, v in counters.items()}
        sets["error"] = _lit(error)
        self._update(RUNS, sets, f"run_id = {_lit(run.run_id)}")

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
                f"({_lit(run.run_id)}, {_lit(run.mapping_id)}, {_ts(now)}, 'running')"
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
            f"({_lit(run.run_id)}, {_lit(run.mapping_id)}, {_ts(now)}, 'failed')"
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
                kinds = ", ".join(_lit(k) for k in skip)
                self._exec(
                    f"INSERT INTO {t.acks} (run_id, id, checksum, kind, outcome) SELECT {_lit(run.run_id)}, "
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
                f"INSERT INTO {t.acks} (run_id, id, checksum, kind, outcome) SELECT {_lit(run.run_id)}, "
                f"c.{ID_COLUMN}, c.{CHECKSUM_COLUMN}, c.{KIND_COLUMN}, 'delivered' {fresh}"
            )
            self._delete(t.pending, f"id IN (SELECT b.id FROM {t.idbuf} AS b)")
            self._delete(t.idbuf)
        run.delivered += n
        return n

    def ack_changes(self, run: Run, changes: Sequence[tuple[str, str, str]]) -> int:
        """Mark these changes of this run delivered: (record id, checksum, kind) as streamed, each
        once. Unlike `ack`, it never reads the run's changes table, so its cost is the batch's, not
        the run's (a sync of millions of records acknowledges in constant time per write)."""
        self._check_run(run)
        t = self.tables
        with self.con.transaction():
            self._delete(t.ackbuf)
            self.con.insert_rows(t.ackbuf, ["id", "checksum", "kind"], list(changes))
            self._exec(
                f"INSERT INTO {t.acks} (run_id, id, checksum, kind, outcome) SELECT {_lit(run.run_id)}, "
                f"b.id, b.checksum, b.kind, 'delivered' FROM {t.ackbuf} AS b"
            )
            self._delete(t.pending, f"id IN (SELECT b.id FROM {t.ackbuf} AS b)")
            self._delete(t.ackbuf)
        run.delivered += len(changes)
        return len(changes)

    def fail(self, run: Run, identifiers: Iterable[object], error: str) -> int:
        """Record these records as failed this run; they are retried on later runs."""
        self._check_run(run)
        t = self.tables
        now = _ts(self.clock())
        err = _lit((error or "")[:1000])
        rid = _lit(run.run_id)
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
        self._carry_over("unsent", "not delivered: the run ended before sending it")
        self._fold()
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
            self._delete(CHECKPOINTS, f"mapping_id = {_lit(run.mapping_id)}")
            self._exec(
                f"INSERT INTO {CHECKPOINTS} (mapping_id, run_id, checkpoint, model_fingerprint, "
                f"columns_fingerprint, checksum_version) VALUES ({_lit(run.mapping_id)}, {_lit(run.run_id)}, "
                f"{_ts(run.finished_at)}, {_lit(run.model_fingerprint)}, {_lit(run.columns_fingerprint)}, "
                f"{_lit(CHECKSUM_VERSION)})"
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
        size = self._scalar(f"SELECT count(*) FROM {snapshot} AS z") if snapshot != _NO_ROWS else 0
        return DryRun(counts=counts, keys=keys, extracted=extracted, snapshot_size=size)

    def preview(self, limit: int | None = None, batch_rows: int = 1_000) -> Iterator[pyarrow.RecordBatch]:
        """The rows a run would stream now (same columns as `stream`), computed without writing.

        Ordered by identifier; at most `limit` rows when given. Their origin is a placeholder: the
        run that sends a change fixes its message id.
        """
        cols, ident, pairs = self._resolve_columns()
        diff = self._diff_select(ident, pairs, *self._effective_relations(ident), origin=PREVIEW_ORIGIN)
        kinds = ", ".join(_lit(k) for k in KINDS if k in self.spec.triggers)
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
            snapshot = _NO_ROWS
            pending = _NO_PENDING
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
        select = (
            f"SELECT CAST({q_ident} AS VARCHAR) AS id, {checksum_sql(pairs, 'q')} AS checksum "
            f"FROM {MODEL} AS q WHERE {q_ident} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM (SELECT CAST(r.{quote(ident)} AS VARCHAR) AS id FROM {MODEL} AS r "
            f"WHERE r.{quote(ident)} IS NOT NULL GROUP BY CAST(r.{quote(ident)} AS VARCHAR) "
            f"HAVING count(*) > 1) AS d WHERE d.id = CAST({q_ident} AS VARCHAR))"
        )
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
            f"WHERE mapping_id = {_lit(self.spec.mapping_id)} ORDER BY started_at DESC, run_id DESC "
            f"LIMIT {int(limit)}"
        )
        out = []
        for row in rows:
            counters = {k: int(v or 0) for k, v in zip(RUN_COUNTERS, row[5:-1], strict=True)}
            out.append(RunRecord(row[0], row[1], row[2], row[3], row[4], counters, row[-1]))
        return out
