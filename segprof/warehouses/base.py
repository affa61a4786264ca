"""The connector contract every warehouse implements, and the table/column descriptions it returns.

Owns: `Connector` (the protocol the sync engine and scaffolding talk to), `ColumnInfo`,
`TableInfo`, and identifier quoting shared by the connectors. Must never hold business logic of
the sync engine, and never put a credential into a message, repr or log line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pyarrow


@dataclass(frozen=True)
class ColumnInfo:
    """One column of a table, view or query result, with the warehouse's own type name."""

    name: str
    type: str
    nullable: bool = True


@dataclass(frozen=True)
class TableInfo:
    """A table or view: its schema, name, columns and declared primary/unique keys."""

    schema: str
    name: str
    kind: str  # "table" | "view"
    columns: tuple[ColumnInfo, ...] = ()
    primary_key: tuple[str, ...] = ()
    unique_keys: tuple[tuple[str, ...], ...] = field(default_factory=tuple)


@runtime_checkable
class Connector(Protocol):
    """A live connection to one warehouse.

    SQL given to a connector is already in its `dialect`. Parameters use the driver's own
    placeholder (`?` for DuckDB, `%s` for PostgreSQL); `placeholder` says which.
    """

    dialect: str
    placeholder: str
    address: str

    def execute(self, sql: str, params: Sequence | None = None) -> None: ...

    def query_rows(self, sql: str, params: Sequence | None = None) -> list[tuple]: ...

    def stream_arrow(self, sql: str, batch_rows: int = 10_000) -> Iterator[pyarrow.RecordBatch]: ...

    def describe(self, sql: str) -> list[ColumnInfo]: ...

    def introspect(self, schemas: Sequence[str] | None = None) -> list[TableInfo]: ...

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None: ...

    def transaction(self) -> contextlib.AbstractContextManager[None]: ...

    def close(self) -> None: ...


class TableAware(Protocol):
    """Optional: connectors that know better than `information_schema` whether a table exists
    (Spark's session catalog has no `information_schema`)."""

    def table_exists(self, schema: str, name: str) -> bool: ...


class Lockable(Protocol):
    """Optional: connectors that can hold a named lock for the length of a sync run."""

    def try_lock(self, name: str) -> bool: ...

    def unlock(self, name: str) -> None: ...


class ArrowInsert(Protocol):
    """Optional: connectors that insert an Arrow table without a Python object per value."""

    def insert_arrow(self, table: str, data: pyarrow.Table | pyarrow.RecordBatch) -> None: ...


def insert_arrow(con: Connector, table: str, data: pyarrow.Table | pyarrow.RecordBatch) -> None:
    """Insert `data`'s rows into the columns of the same names: the connector's own `insert_arrow`
    when it has one, else row by row through `insert_rows`."""
    own = getattr(con, "insert_arrow", None)
    if own is not None:
        own(table, data)
        return
    rows = list(zip(*(column.to_pylist() for column in data.columns), strict=True))
    con.insert_rows(table, data.column_names, rows)


def quote_ident(name: str, quote: str = '"') -> str:
    """Quote one identifier part, doubling embedded quote characters."""
    close = "]" if quote == "[" else ("`" if quote == "`" else quote)
    return f"{quote}{name.replace(close, close + close)}{close}"


def qualified(schema: str | None, name: str, quote: str = '"') -> str:
    """`"schema"."name"` (or just `"name"` without a schema)."""
    if schema:
        return f"{quote_ident(schema, quote)}.{quote_ident(name, quote)}"
    return quote_ident(name, quote)


def as_subquery(sql: str) -> str:
    """A model query wrapped for use in FROM: trailing `;` removed, and the closing parenthesis on
    its own line so that a trailing `-- comment` cannot swallow it."""
    text = sql.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return f"(\n{text}\n)"


def row_level_changes(con: Connector) -> bool:
    """Whether the engine runs DELETE and UPDATE on segprof's tables (a connector says no with a
    `row_level_changes` attribute; every SQL warehouse does)."""
    return bool(getattr(con, "row_level_changes", True))


def table_exists(con: Connector, schema: str, name: str) -> bool:
    """Whether `schema.name` exists: the connector's own `table_exists`, else `information_schema`."""
    own = getattr(con, "table_exists", None)
    if own is not None:
        return bool(own(schema, name))
    from segprof.warehouses.dialects import to_dialect

    def lit(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    rows = con.query_rows(
        to_dialect(
            "SELECT count(*) FROM information_schema.tables "
            f"WHERE table_schema = {lit(schema)} AND table_name = {lit(name)}",
            con.dialect,
        )
    )
    return bool(rows and rows[0][0])
