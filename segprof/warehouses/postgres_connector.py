"""PostgreSQL connector (psycopg 3); Redshift speaks the same protocol and reuses it.

Owns: connecting from the source's settings, statement execution in autocommit mode with explicit
transactions, streaming through a server-side cursor on a second connection (so writes made
between batches commit on their own), Arrow conversion by column type, and introspection. Must
never echo the password: messages name host, port and database only.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segprof.redaction import redact
from segprof.warehouses.base import ColumnInfo, TableInfo, as_subquery
from segprof.warehouses.duckdb_connector import assemble_tables
from segprof.warehouses.errors import WarehouseError, first_line, statement_timeout_ms

if TYPE_CHECKING:
    import pyarrow

_CURSOR_IDS = itertools.count(1)


def conninfo_from_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """psycopg keyword arguments from a source's YAML settings (`dsn` is accepted as a base)."""
    params: dict[str, Any] = {}
    if settings.get("dsn"):
        from psycopg.conninfo import conninfo_to_dict

        params.update(conninfo_to_dict(str(settings["dsn"])))
    for key, target in (
        ("host", "host"),
        ("port", "port"),
        ("database", "dbname"),
        ("dbname", "dbname"),
        ("user", "user"),
        ("password", "password"),
        ("sslmode", "sslmode"),
    ):
        if settings.get(key) not in (None, ""):
            params[target] = str(settings[key])
    params.setdefault("connect_timeout", str(settings.get("connect_timeout", 10)))
    params["application_name"] = "segprof"
    return params


class PostgresConnector:
    dialect = "postgres"
    placeholder = "%s"

    def __init__(self, settings: Mapping[str, Any], project_dir: Path, address: str = "source") -> None:
        try:
            import psycopg
        except ImportError:
            raise WarehouseError(
                "the PostgreSQL driver is not installed",
                address=address,
                hint="install segprof[postgres] (psycopg 3)",
            ) from None
        self.address = address
        self._params = conninfo_from_settings(settings)
        self._secret = self._params.get("password")
        self.schema = settings.get("schema")
        self.read_only = bool(settings.get("read_only"))  # every session refuses writes (plan --preview)
        self._locks: set[str] = set()
        self.statement_timeout_ms = statement_timeout_ms()
        self._con = self._connect()
        _ = psycopg

    def _where(self) -> str:
        host = self._params.get("host", "localhost")
        port = self._params.get("port", "5432")
        return f"{host}:{port}/{self._params.get('dbname', '')}"

    def _scrub(self, text: str) -> str:
        return redact(text, [self._secret])

    def _connect(self) -> Any:
        import psycopg

        try:
            con = psycopg.connect(**self._params, autocommit=True)
        except psycopg.Error as err:
            raise WarehouseError(
                f"cannot connect to PostgreSQL at {self._where()}: {self._scrub(first_line(err))}",
                address=self.address,
            ) from None
        if self.schema:
            with con.cursor() as cur:
                cur.execute("SELECT set_config('search_path', %s, false)", [f'"{self.schema}", public'])
        if self.statement_timeout_ms:
            # The server cancels a statement that runs too long: a stuck query cannot hold a run.
            with con.cursor() as cur:
                cur.execute(
                    "SELECT set_config('statement_timeout', %s, false)", [str(self.statement_timeout_ms)]
                )
        if self.read_only:
            # a SET rather than a startup option: connection poolers pass it through
            with con.cursor() as cur:
                cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        return con

    @property
    def raw(self) -> Any:
        return self._con

    def _fail(self, err: Exception, what: str = "query failed") -> WarehouseError:
        return WarehouseError(f"{what}: {self._scrub(first_line(err))}", address=self.address)

    def execute(self, sql: str, params: Sequence | None = None) -> None:
        import psycopg

        try:
            with self._con.cursor() as cur:
                cur.execute(sql, params)
        except psycopg.Error as err:
            raise self._fail(err) from None

    def query_rows(self, sql: str, params: Sequence | None = None) -> list[tuple]:
        import psycopg

        try:
            with self._con.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        except psycopg.Error as err:
            raise self._fail(err) from None

    def stream_arrow(self, sql: str, batch_rows: int = 10_000) -> Iterator[pyarrow.RecordBatch]:
        import psycopg
        import pyarrow as pa

        # A connection of its own: its read transaction stays open while the caller writes.
        con = self._connect()
        try:
            con.autocommit = False
            with con.cursor(name=f"segprof_stream_{next(_CURSOR_IDS)}") as cur:
                cur.itersize = batch_rows
                try:
                    cur.execute(sql)
                    schema = _arrow_schema(cur.description)
                    while True:
                        rows = cur.fetchmany(batch_rows)
                        if not rows:
                            break
                        columns = list(zip(*rows, strict=True))
                        arrays = [
                            pa.array(_coerce(col, f.type), type=f.type)
                            for col, f in zip(columns, schema, strict=True)
                        ]
                        yield pa.RecordBatch.from_arrays(arrays, schema=schema)
                except psycopg.Error as err:
                    raise self._fail(err) from None
        finally:
            with contextlib.suppress(Exception):
                con.rollback()
            con.close()

    def describe(self, sql: str) -> list[ColumnInfo]:
        import psycopg

        try:
            with self._con.cursor() as cur:
                cur.execute(f"SELECT * FROM {as_subquery(sql)} AS __segprof_q LIMIT 0")
                return [ColumnInfo(d.name, _type_name(d)) for d in cur.description or ()]
        except psycopg.Error as err:
            raise self._fail(err, "cannot describe query") from None

    def introspect(self, schemas: Sequence[str] | None = None) -> list[TableInfo]:

        if schemas:
            where, params = "table_schema = ANY(%s)", [list(schemas)]
        else:
            where = "table_schema NOT IN ('information_schema', 'pg_catalog', '__segprof') "
            where += "AND table_schema NOT LIKE 'pg_toast%%' AND table_schema NOT LIKE 'pg_temp%%'"
            params = []
        tables = self.query_rows(
            f"SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE {where} "
            "ORDER BY 1, 2",
            params,
        )
        cols = self.query_rows(
            "SELECT table_schema, table_name, column_name, data_type, is_nullable FROM "
            f"information_schema.columns WHERE {where} ORDER BY table_schema, table_name, ordinal_position",
            params,
        )
        keys = self.query_rows(
            "SELECT tc.table_schema, tc.table_name, tc.constraint_type, "
            "array_agg(kcu.column_name::text ORDER BY kcu.ordinal_position) "
            "FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu "
            "ON tc.constraint_schema = kcu.constraint_schema AND tc.constraint_name = kcu.constraint_name "
            "AND tc.table_name = kcu.table_name "
            "WHERE tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE') "
            "GROUP BY tc.table_schema, tc.table_name, tc.constraint_type, tc.constraint_name"
        )
        return assemble_tables(tables, cols, keys)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
        if not rows:
            return
        import psycopg

        try:
            with self._con.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
        except psycopg.Error as err:
            raise self._fail(err) from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        import psycopg

        try:
            with self._con.transaction():
                yield
        except psycopg.Error as err:
            raise self._fail(err) from None

    def try_lock(self, name: str) -> bool:
        """A session-level advisory lock (released at disconnect, so a crash never leaves it held)."""
        if name in self._locks:
            return True
        got = bool(self.query_rows("SELECT pg_try_advisory_lock(hashtext(%s))", [name])[0][0])
        if got:
            self._locks.add(name)
        return got

    def unlock(self, name: str) -> None:
        if name in self._locks:
            self._locks.discard(name)
            self.query_rows("SELECT pg_advisory_unlock(hashtext(%s))", [name])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._con.close()

    def __repr__(self) -> str:
        return f"PostgresConnector({self.address}, {self._where()})"


# PostgreSQL type OIDs we convert to a fixed Arrow type; anything else travels as text.
_OID_ARROW = {
    16: "bool_",
    20: "int64",
    21: "int16",
    23: "int32",
    26: "int64",
    700: "float32",
    701: "float64",
    25: "string",
    1043: "string",
    1042: "string",
    19: "string",
    1082: "date32",
    1114: "timestamp_us",
    1184: "timestamp_us_utc",
    1083: "time64_us",
}


def _type_name(desc: Any) -> str:
    import psycopg

    info = psycopg.adapters.types.get(desc.type_code)
    name = info.name if info else str(desc.type_code)
    if desc.type_code == 1700 and desc.precision is not None:
        return f"numeric({desc.precision},{desc.scale or 0})"
    return name


def _arrow_schema(description: Any) -> pyarrow.Schema:
    import pyarrow as pa

    fields = []
    for d in description:
        kind = _OID_ARROW.get(d.type_code)
        if kind == "timestamp_us":
            t = pa.timestamp("us")
        elif kind == "timestamp_us_utc":
            t = pa.timestamp("us", tz="UTC")
        elif kind == "time64_us":
            t = pa.time64("us")
        elif kind:
            t = getattr(pa, kind)()
        elif d.type_code == 1700:
            # numeric with a declared scale keeps exact digits; unconstrained numeric stays text
            t = pa.decimal128(38, d.scale) if d.scale is not None else pa.string()
        else:
            t = pa.string()
        fields.append(pa.field(d.name, t))
    return pa.schema(fields)


def _coerce(values: Sequence[Any], arrow_type: pyarrow.DataType) -> list[Any]:
    import json

    import pyarrow as pa

    if not pa.types.is_string(arrow_type):
        return list(values)
    out: list[Any] = []
    for v in values:
        if v is None or isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict | list):
            out.append(json.dumps(v, separators=(",", ":"), default=str))
        elif isinstance(v, Decimal):
            out.append(format(v, "f"))
        else:
            out.append(str(v))
    return out
