"""Snowflake connector, through `snowflake-connector-python`'s own API.

Owns: connecting from the source's settings (including `host`/`port`/`protocol` for a private
endpoint or a local stand-in), statements in autocommit mode with explicit `BEGIN`/`COMMIT`
transactions, result streaming through the connector's Arrow result batches, describing a query
without running it (the connector's describe-only request), the type names Snowflake reports, and
introspection through the database's `information_schema`. Must never print the password, and never
fetch a whole result into Python when a stream is asked for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segprof.warehouses.base import ColumnInfo, TableInfo, as_subquery, qualified
from segprof.warehouses.duckdb_connector import assemble_tables
from segprof.warehouses.errors import WarehouseError, first_line, statement_timeout_s
from segprof.warehouses.introspection import introspection_sql

if TYPE_CHECKING:
    import pyarrow

# Keys of a source that go to `snowflake.connector.connect` unchanged.
_CONNECT_KEYS = ("account", "user", "password", "database", "schema", "warehouse", "role", "host", "protocol")

# The connector's type codes, as Snowflake names the types in DDL and in information_schema.
_TYPE_NAMES = {
    "FIXED": "NUMBER",
    "REAL": "FLOAT",
    "TEXT": "VARCHAR",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP_NTZ",
    "VARIANT": "VARIANT",
    "TIMESTAMP_LTZ": "TIMESTAMP_LTZ",
    "TIMESTAMP_TZ": "TIMESTAMP_TZ",
    "TIMESTAMP_NTZ": "TIMESTAMP_NTZ",
    "OBJECT": "OBJECT",
    "ARRAY": "ARRAY",
    "BINARY": "BINARY",
    "TIME": "TIME",
    "BOOLEAN": "BOOLEAN",
}


def connect_kwargs(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for `snowflake.connector.connect` from a source's YAML settings."""
    kwargs: dict[str, Any] = {k: settings[k] for k in _CONNECT_KEYS if settings.get(k) not in (None, "")}
    if settings.get("port") is not None:
        kwargs["port"] = int(settings["port"])
    kwargs["login_timeout"] = int(settings.get("connect_timeout", 30))
    kwargs["application"] = "segprof"
    # segprof talks to the account and nothing else: no out-of-band telemetry to Snowflake's hosts
    kwargs["session_parameters"] = {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False, "QUERY_TAG": "segprof"}
    timeout = statement_timeout_s()
    if timeout:
        # Snowflake cancels a statement that runs longer: a stuck query cannot hold a run
        kwargs["session_parameters"]["STATEMENT_TIMEOUT_IN_SECONDS"] = timeout
    return kwargs


def type_name(meta: Any) -> str:
    """The Snowflake type of one described column (`NUMBER(38,0)`, `VARCHAR`, `TIMESTAMP_TZ`, …)."""
    from snowflake.connector.constants import FIELD_ID_TO_NAME

    name = _TYPE_NAMES.get(FIELD_ID_TO_NAME.get(meta.type_code, ""), str(meta.type_code))
    if name == "NUMBER" and meta.precision is not None:
        return f"NUMBER({meta.precision},{meta.scale or 0})"
    return name


class SnowflakeConnector:
    dialect = "snowflake"
    placeholder = "%s"  # the connector's default paramstyle, pyformat (bound client-side)

    def __init__(self, settings: Mapping[str, Any], project_dir: Path, address: str = "source") -> None:
        try:
            import snowflake.connector
        except ImportError:
            raise WarehouseError(
                "the snowflake driver (snowflake.connector) is not installed",
                address=address,
                hint="pip install 'segprof[snowflake]'",
            ) from None
        self.address = address
        self._secret = str(settings.get("password") or "")
        self._where = str(settings.get("host") or settings.get("account") or "")
        self.read_only = bool(settings.get("read_only"))
        try:
            self._con = snowflake.connector.connect(**connect_kwargs(settings))
        except snowflake.connector.Error as err:
            raise WarehouseError(
                f"cannot connect to Snowflake {self._where}: {self._scrub(first_line(err))}", address=address
            ) from None

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def _fail(self, err: Exception, what: str = "query failed") -> WarehouseError:
        return WarehouseError(f"{what}: {self._scrub(first_line(err))}", address=self.address)

    def _cursor(self, sql: str, params: Sequence | None = None) -> Any:
        import snowflake.connector

        if self.read_only and not _reads_only(sql):
            raise WarehouseError(
                "refused a statement that writes: this connection is read-only", address=self.address
            )
        cur = self._con.cursor()
        try:
            cur.execute(sql, list(params)) if params is not None else cur.execute(sql)
        except snowflake.connector.Error as err:
            cur.close()
            raise self._fail(err) from None
        return cur

    def execute(self, sql: str, params: Sequence | None = None) -> None:
        if _creates_schema(sql):
            self._keeping_schema(sql, params)
            return
        self._cursor(sql, params).close()

    def _keeping_schema(self, sql: str, params: Sequence | None) -> None:
        """Snowflake makes a schema it creates the session's current one; the model queries of this
        connection name their tables relative to the configured schema, so it is restored."""
        database, schema = self.query_rows("SELECT CURRENT_DATABASE(), CURRENT_SCHEMA()")[0]
        self._cursor(sql, params).close()
        if database and schema:
            self._cursor(f"USE SCHEMA {qualified(database, schema)}").close()

    def query_rows(self, sql: str, params: Sequence | None = None) -> list[tuple]:
        cur = self._cursor(sql, params)
        try:
            return [tuple(r) for r in cur.fetchall()] if cur.description else []
        finally:
            cur.close()

    def stream_arrow(self, sql: str, batch_rows: int = 10_000) -> Iterator[pyarrow.RecordBatch]:
        import snowflake.connector

        # The result is held by Snowflake once the query ran; its chunks are fetched one by one, so
        # statements run between batches (acknowledgements) on this connection do not disturb it.
        cur = self._cursor(sql)
        try:
            for table in cur.fetch_arrow_batches():
                table = table.rename_columns([_own_spelling(n) for n in table.column_names])
                for batch in table.to_batches(max_chunksize=batch_rows):
                    if batch.num_rows:
                        yield batch
        except snowflake.connector.Error as err:
            raise self._fail(err) from None
        finally:
            cur.close()

    def describe(self, sql: str) -> list[ColumnInfo]:
        import snowflake.connector

        cur = self._con.cursor()
        try:
            # a describe-only request: Snowflake compiles the query and runs nothing
            metas = cur.describe(f"SELECT * FROM {as_subquery(sql)} AS __segprof_q")
        except snowflake.connector.Error as err:
            raise self._fail(err, "cannot describe query") from None
        finally:
            cur.close()
        return [ColumnInfo(m.name, type_name(m), bool(m.is_nullable)) for m in metas or ()]

    def introspect(self, schemas: Sequence[str] | None = None) -> list[TableInfo]:

        # information_schema covers the connection's database; primary keys are not read (Snowflake
        # does not enforce them, and naming conventions find identifiers as well)
        sql = introspection_sql(self.dialect, schemas)
        return assemble_tables(self.query_rows(sql.tables), self.query_rows(sql.columns), [])

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
        if not rows:
            return
        import snowflake.connector

        marks = ", ".join("%s" for _ in columns)
        cur = self._con.cursor()
        try:
            # the connector folds a pyformat executemany of an INSERT into one multi-row statement
            cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", list(rows))
        except snowflake.connector.Error as err:
            raise self._fail(err) from None
        finally:
            cur.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.execute("BEGIN")
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                self._con.cursor().execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._con.close()

    def __repr__(self) -> str:
        return f"SnowflakeConnector({self.address}, {self._where})"


def _own_spelling(name: str) -> str:
    """segprof's bookkeeping columns (`__segprof_id`, …) are unquoted aliases in its SQL, which
    Snowflake folds to upper case; they are handed back spelled as segprof wrote them. Model columns
    keep Snowflake's spelling, as Segment sees them."""
    return name.lower() if name.startswith("__SEGPROF_") else name


def _creates_schema(sql: str) -> bool:
    return sql.lstrip()[:13].upper() == "CREATE SCHEMA"


def _reads_only(sql: str) -> bool:
    """Whether a statement only reads (a preview's connection refuses anything else)."""
    head = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
    return head in ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "(")
