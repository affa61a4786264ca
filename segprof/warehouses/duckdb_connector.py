"""DuckDB connector: an embedded database file (or memory) inside the project.

Owns: opening the file relative to the project folder (never creating a missing one unless the
caller asks: a typo in `path` must not become an empty warehouse), session settings (threads, memory limit,
spill directory), streaming results as Arrow through the relation API, and introspection. Must
never copy a whole result into Python when a stream is asked for (`con.execute().arrow()` makes a
full copy; the relation API does not).
"""

from __future__ import annotations

import contextlib
from array import array
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segprof.warehouses.base import ColumnInfo, TableInfo, as_subquery, qualified
from segprof.warehouses.errors import WarehouseError, first_line

if TYPE_CHECKING:
    import pyarrow


_LOCKS: set[tuple[str, str]] = set()
# segprof's connection, unless the source sets `memory_limit`: a 10M-row diff peaks at 0.65 GB
# instead of 1.7 GB, for 0-15 % more time (measured), and a sync's memory stops growing with the model.
DEFAULT_MEMORY_LIMIT = "512MB"
_SETTING_HINTS = {
    "memory_limit": "memory_limit takes a size such as 512MB or 2GB",
    "temp_directory": "temp_directory is a folder DuckDB can create and write",
}


def _in_project(raw: str, project_dir: Path) -> str:
    """A path the source gives: `~` expanded, and a relative one read against the project folder."""
    return str(Path(project_dir) / Path(raw).expanduser())


class DuckDBConnector:
    dialect = "duckdb"
    placeholder = "?"

    def __init__(
        self, settings: Mapping[str, Any], project_dir: Path, address: str = "source", *, create: bool = False
    ) -> None:
        import duckdb

        self.address = address
        self._locks: set[tuple[str, str]] = set()
        raw = str(settings.get("path") or ":memory:")
        target = raw if raw == ":memory:" else _in_project(raw, project_dir)
        self.path = target
        if target != ":memory:" and not create and not Path(target).exists():
            # duckdb would create an empty database, and a sync would then report missing tables
            raise WarehouseError(
                f"the DuckDB database file {raw!r} does not exist (looked for {target})",
                address=address,
                hint="check the source's `path` (relative to the project folder), or build the warehouse first",
            )
        config: dict[str, Any] = {}
        if settings.get("read_only"):
            config["access_mode"] = "READ_ONLY"
        try:
            self._con = duckdb.connect(target, config=config)
        except duckdb.Error as err:
            raise WarehouseError(
                f"cannot open DuckDB database {raw!r}: {first_line(err)}", address=address
            ) from None
        # DuckDB's own default budget is 80 % of the machine's memory, and a diff of millions of
        # rows takes what it is given (1.7 GB at 10M rows); under a budget it spills its joins to
        # `temp_directory` (beside the file by default).
        wanted = {
            "memory_limit": DEFAULT_MEMORY_LIMIT,
            **{k: v for k, v in settings.items() if v is not None},
        }
        if wanted.get("temp_directory") is not None:  # relative to the project, as `path` is
            wanted["temp_directory"] = _in_project(str(wanted["temp_directory"]), project_dir)
        for key, sql in (
            ("threads", "SET threads = {}"),
            ("memory_limit", "SET memory_limit = '{}'"),
            ("temp_directory", "SET temp_directory = '{}'"),
        ):
            if wanted.get(key) is not None:
                self._set(key, sql.format(str(wanted[key]).replace("'", "''")))
        self.execute("SET preserve_insertion_order = false")

    def _set(self, key: str, sql: str) -> None:
        import duckdb

        try:
            self._con.execute(sql)
        except duckdb.Error as err:
            self._con.close()
            raise WarehouseError(
                f"the source's {key} is not a value DuckDB accepts: {first_line(err)}",
                address=self.address,
                hint=_SETTING_HINTS.get(key),
            ) from None

    @property
    def raw(self) -> Any:
        """The underlying `duckdb.DuckDBPyConnection` (for callers needing DuckDB specifics)."""
        return self._con

    def _fail(self, err: Exception, what: str = "query failed") -> WarehouseError:
        return WarehouseError(f"{what}: {first_line(err)}", address=self.address)

    def execute(self, sql: str, params: Sequence | None = None) -> None:
        import duckdb

        try:
            self._con.execute(sql, list(params) if params is not None else None)
        except duckdb.Error as err:
            raise self._fail(err) from None

    def query_rows(self, sql: str, params: Sequence | None = None) -> list[tuple]:
        import duckdb

        try:
            return self._con.execute(sql, list(params) if params is not None else None).fetchall()
        except duckdb.Error as err:
            raise self._fail(err) from None

    def stream_arrow(self, sql: str, batch_rows: int = 10_000) -> Iterator[pyarrow.RecordBatch]:
        import duckdb

        # A cursor of its own, so statements run between batches (acks) do not end the stream.
        cursor = self._con.cursor()
        try:
            reader = cursor.sql(sql).to_arrow_reader(batch_rows)
        except duckdb.Error as err:
            cursor.close()
            raise self._fail(err) from None
        try:
            yield from _read_all(reader, self._fail)
        finally:
            cursor.close()

    def describe(self, sql: str) -> list[ColumnInfo]:
        import duckdb

        try:
            rel = self._con.sql(f"SELECT * FROM {as_subquery(sql)} AS __segprof_q LIMIT 0")
        except duckdb.Error as err:
            raise self._fail(err, "cannot describe query") from None
        return [ColumnInfo(name, str(t)) for name, t in zip(rel.columns, rel.types, strict=True)]

    def introspect(self, schemas: Sequence[str] | None = None) -> list[TableInfo]:
        where = "table_schema NOT IN ('information_schema', 'pg_catalog', '__segprof')"
        params: list[Any] = []
        if schemas:
            where = f"table_schema IN ({', '.join('?' for _ in schemas)})"
            params = list(schemas)
        tables = self.query_rows(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables "
            f"WHERE {where} ORDER BY 1, 2",
            params,
        )
        cols = self.query_rows(
            "SELECT table_schema, table_name, column_name, data_type, is_nullable "
            f"FROM information_schema.columns WHERE {where} "
            "ORDER BY table_schema, table_name, ordinal_position",
            params,
        )
        keys = self.query_rows(
            "SELECT schema_name, table_name, constraint_type, constraint_column_names "
            "FROM duckdb_constraints() WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
        )
        return assemble_tables(tables, cols, keys)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
        if not rows:
            return
        import pyarrow as pa

        self.insert_arrow(
            table, pa.table({c: _arrow_column([r[i] for r in rows]) for i, c in enumerate(columns)})
        )

    def insert_arrow(self, table: str, data: pyarrow.Table | pyarrow.RecordBatch) -> None:
        """Insert an Arrow table's rows into the columns of the same names; DuckDB reads them in place."""
        view = "__segprof_insert_rows"
        self._con.register(view, data)
        try:
            self.execute(f"INSERT INTO {table} ({', '.join(data.column_names)}) SELECT * FROM {view}")
        finally:
            self._con.unregister(view)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                self._con.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    def try_lock(self, name: str) -> bool:
        """Locks within this process (DuckDB itself lets only one process write a file); like a
        database session lock, the connection holding it may take it again."""
        key = (self.path, name)
        if key in _LOCKS and key not in self._locks and self.path != ":memory:":
            return False
        _LOCKS.add(key)
        self._locks.add(key)
        return True

    def unlock(self, name: str) -> None:
        key = (self.path, name)
        _LOCKS.discard(key)
        self._locks.discard(key)

    def close(self) -> None:
        for key in list(self._locks):
            _LOCKS.discard(key)
        self._locks.clear()
        with contextlib.suppress(Exception):
            self._con.close()

    def __repr__(self) -> str:
        return f"DuckDBConnector({self.address}, path={self.path!r})"


def _arrow_column(values: list[Any]) -> Any:
    """Python values as an Arrow array. Text (the identifiers of acknowledgements, the bulk of what
    is inserted) is laid into Arrow's buffers directly: Arrow's own conversion of Python objects
    imports pandas when it is installed, which costs a sync more than a second."""
    import pyarrow as pa

    if not all(type(v) is str for v in values):
        return values  # pa.table converts it
    encoded = [v.encode("utf-8") for v in values]
    offsets = [0]
    total = 0
    for item in encoded:
        total += len(item)
        offsets.append(total)
    if total >= 2**31:
        return values
    return pa.StringArray.from_buffers(
        len(encoded), pa.py_buffer(array("i", offsets).tobytes()), pa.py_buffer(b"".join(encoded))
    )


def _read_all(reader: Any, fail: Any) -> Iterator[pyarrow.RecordBatch]:
    import duckdb

    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except duckdb.Error as err:
            raise fail(err) from None
        if batch.num_rows:
            yield batch


def assemble_tables(tables: list[tuple], cols: list[tuple], keys: list[tuple]) -> list[TableInfo]:
    """Join rows from information_schema-like queries into TableInfo values."""
    by_table: dict[tuple[str, str], list[ColumnInfo]] = {}
    for schema, table, name, dtype, nullable in cols:
        by_table.setdefault((schema, table), []).append(
            ColumnInfo(name, str(dtype), str(nullable).upper() in ("YES", "TRUE", "1"))
        )
    pks: dict[tuple[str, str], tuple[str, ...]] = {}
    uniques: dict[tuple[str, str], list[tuple[str, ...]]] = {}
    for schema, table, ctype, names in keys:
        cols_t = tuple(names)
        if ctype == "PRIMARY KEY":
            pks[(schema, table)] = cols_t
        else:
            uniques.setdefault((schema, table), []).append(cols_t)
    out = []
    for schema, table, ttype in tables:
        kind = "view" if "VIEW" in str(ttype).upper() else "table"
        out.append(
            TableInfo(
                schema=schema,
                name=table,
                kind=kind,
                columns=tuple(by_table.get((schema, table), ())),
                primary_key=pks.get((schema, table), ()),
                unique_keys=tuple(uniques.get((schema, table), ())),
            )
        )
    return out


__all__ = ["DuckDBConnector", "qualified"]
