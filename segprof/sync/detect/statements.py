"""How change detection's SQL reaches the warehouse: dialect translation, the model in place,
and row-level changes — or table rewrites on engines without them.

Owns `TrackerStatements` (the connection, the mapping's managed tables and the statements run on
them: translate, execute, read; DELETE and UPDATE, or TRUNCATE and rewrite-and-swap where the
engine has no row-level changes, with the settling of a swap a crash cut short) and the literal
helpers every statement uses. Must never decide what a run does: the tracker does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from segprof.errors import SegprofError
from segprof.sync.detect.checksum import quote
from segprof.sync.detect.runs import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_DELETE_SHARE,
    DEFAULT_MAX_RECORDS,
    DEFAULT_RETRY_WINDOW,
    KINDS,
    MappingSpec,
)
from segprof.warehouses.base import Connector, as_subquery, row_level_changes, table_exists
from segprof.warehouses.dialects import to_dialect
from segprof.warehouses.managed_schema import CHECKPOINTS, RUNS, SCHEMA, MappingTables, ddl_for, mapping_key

MODEL = "__segprof_model__"  # placeholder replaced by the model's own SQL after translation
NO_ROWS = "(SELECT CAST(NULL AS VARCHAR) AS id, CAST(NULL AS VARCHAR) AS checksum WHERE 1 = 0)"
NO_PENDING = (
    "(SELECT CAST(NULL AS VARCHAR) AS id, CAST(NULL AS VARCHAR) AS kind, CAST(NULL AS VARCHAR) AS checksum, "
    "CAST(NULL AS VARCHAR) AS origin, CAST(NULL AS VARCHAR) AS outcome WHERE 1 = 0)"
)


def lit(value: str | None) -> str:
    if value is None:
        return "NULL"
    return "'" + value.replace("'", "''") + "'"


def ts(value: datetime) -> str:
    naive = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return f"TIMESTAMP '{naive.isoformat(sep=' ', timespec='microseconds')}'"


def bare_name(table: str) -> str:
    """The unquoted table name of a quoted, qualified managed table."""
    return table.split(".")[-1].strip('"')


def staged_name(table: str) -> str:
    """Where a rewrite of a managed table puts its new rows before the swap."""
    return f'{table[:-1]}_next"'


def strip_sql(sql: str) -> str:
    text = sql.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text


class TrackerStatements:
    """A mapping's managed tables on one warehouse connection, and the statements run on them."""

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
        self._model_sql = strip_sql(spec.model_sql)
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
        return table_exists(self.con, SCHEMA, bare_name(self.tables.snapshot))

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
        staged = staged_name(table)
        self._exec(f"CREATE TABLE {staged} AS {select}")
        self._exec(f"DROP TABLE {table}")
        self._exec(f"ALTER TABLE {staged} RENAME TO {quote(bare_name(table))}")  # within its schema

    def _settle_rewrites(self) -> None:
        """Finish or undo the table rewrites a crash interrupted (see `_rewrite`)."""
        for table in (*self.tables.all(), RUNS, CHECKPOINTS):
            staged = staged_name(table)
            if not table_exists(self.con, SCHEMA, bare_name(staged)):
                continue
            if table_exists(self.con, SCHEMA, bare_name(table)):
                self._exec(f"DROP TABLE {staged}")
            else:
                self._exec(f"ALTER TABLE {staged} RENAME TO {quote(bare_name(table))}")
