"""The demo DuckDB warehouse of a starter project.

Owns: running a project's `warehouse/build.sql` into a new DuckDB file and counting what it made.
Must never write to an existing database file (callers build into a fresh path and move it into
place), and never add nondeterminism: the data is whatever the SQL says.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from segprof.errors import Location, SegprofError


@dataclass(frozen=True)
class WarehouseSummary:
    """What a build made: row counts per table (in name order) and how long it took."""

    tables: dict[str, int]
    seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.tables.values())


def build_warehouse(
    sql: str, db_path: Path, *, sql_file: str = "warehouse/build.sql", hint: str | None = None
) -> WarehouseSummary:
    """Run `sql` (DuckDB statements) into the new database file `db_path`.

    `sql_file` names the SQL in errors, `hint` says what to do about a failure. Raises
    SegprofError on a SQL failure; the caller owns cleaning up `db_path` then.
    """
    import duckdb

    if db_path.exists():
        raise SegprofError(f"{db_path} already exists; the warehouse is only built into a new file")
    started = time.perf_counter()
    try:
        con = duckdb.connect(str(db_path))
        try:
            con.execute(sql)
            tables = con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name"
            ).fetchall()
            counts = {
                name: con.execute(f'SELECT count(*) FROM main."{name}"').fetchall()[0][0]
                for (name,) in tables
            }
            con.execute("CHECKPOINT")
        finally:
            con.close()
    except duckdb.Error as err:
        message = " ".join(str(err).split())
        raise SegprofError(
            f"building the demo warehouse failed: {message}",
            location=Location(sql_file),
            hint=hint,
        ) from None
    if not counts:
        raise SegprofError("building the demo warehouse made no tables", location=Location(sql_file))
    return WarehouseSummary(tables=counts, seconds=time.perf_counter() - started)
