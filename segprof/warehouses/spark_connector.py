"""Databricks clusters and Spark through Spark Connect: segprof's SQL runs on the cluster.

Owns: the Spark Connect URL of a source (Databricks Connect's form for `host` + `cluster_id`, or a
given `sc://` endpoint), one remote session per connector, statements through `spark.sql`, results
streamed back as Arrow batches partition by partition, describing a query by analysis only (no job
runs), and introspection through the session's catalog. Must never pull a whole result into this
process when a stream is asked for, and never print the token (it travels only inside the URL).

Spark Connect has no per-statement time limit a client can set (SEGPROF_WAREHOUSE_STATEMENT_TIMEOUT
does not apply here; a Databricks SQL warehouse, reached through `http_path`, does honour it); a
sync's run deadline still bounds the run.

Spark has no multi-statement transactions: `transaction()` groups statements without making them
atomic, as for the other cloud warehouses. Row-level DELETE and UPDATE need a table format that has
them (Delta, the default on Databricks; Iceberg); Spark's built-in file tables refuse them, so
`row_level_changes` says whether the session's default table format has them, and the sync engine
rewrites its tables where it does not. Whether a table exists is asked of the session catalog (it
has no `information_schema`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segprof.warehouses.base import ColumnInfo, TableInfo, as_subquery
from segprof.warehouses.dialects import to_dialect
from segprof.warehouses.errors import WarehouseError, first_line

if TYPE_CHECKING:
    import pyarrow

_HIDDEN_SCHEMAS = {"information_schema", "__segprof"}
_ROW_LEVEL_FORMATS = {"delta", "iceberg"}  # table formats with DELETE / UPDATE


def connect_url(settings: Mapping[str, Any]) -> str:
    """The Spark Connect URL of a source (with its token, when one is set)."""
    if settings.get("connect_url"):
        url = str(settings["connect_url"]).rstrip("/")
        params = []
    else:
        # Databricks Connect's own form: the workspace host on 443, the cluster as a header
        url = f"sc://{settings['host']}:443"
        params = ["use_ssl=true", f"x-databricks-cluster-id={settings['cluster_id']}"]
    if settings.get("token"):
        params.append(f"token={settings['token']}")
    return url + "/;" + ";".join(params) if params else url


class SparkConnectConnector:
    dialect = "databricks"
    placeholder = "?"  # spark.sql's positional parameters

    def __init__(self, settings: Mapping[str, Any], project_dir: Path, address: str = "source") -> None:
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise WarehouseError(
                "the Spark Connect client (pyspark) is not installed",
                address=address,
                hint="pip install 'segprof[spark]' (or databricks-connect for a Databricks cluster)",
            ) from None
        _quiet_client_logs()
        self.address = address
        self._secret = str(settings.get("token") or "")
        self._where = str(settings.get("connect_url") or settings.get("host") or "")
        self.read_only = bool(settings.get("read_only"))
        self._row_level: bool | None = None
        try:
            # create(), not getOrCreate(): each connector owns its session (closing one must not
            # end another's)
            self._spark = SparkSession.builder.remote(connect_url(settings)).create()
            # Reattachable execution releases finished results on a thread pool the client shares
            # between sessions; with several sessions in one process a release could wait forever.
            # segprof's statements are short and streamed batch by batch, so plain execution serves.
            self._spark.client.disable_reattachable_execute()
            if settings.get("catalog"):
                self._spark.catalog.setCurrentCatalog(str(settings["catalog"]))
            if settings.get("schema"):
                self._spark.catalog.setCurrentDatabase(str(settings["schema"]))
        except Exception as err:  # the client raises gRPC and Spark errors alike
            raise WarehouseError(
                f"cannot connect to Spark at {self._where}: {self._scrub(first_line(err))}", address=address
            ) from None

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def _fail(self, err: Exception, what: str = "query failed") -> WarehouseError:
        return WarehouseError(f"{what}: {self._scrub(first_line(err))}", address=self.address)

    def _df(self, sql: str, params: Sequence | None = None) -> Any:
        head = sql.lstrip()[:8].upper()
        if self.read_only and not head.startswith(("SELECT", "WITH", "SHOW", "DESCRIBE", "(")):
            raise WarehouseError(
                "refused a statement that writes: this connection is read-only", address=self.address
            )
        try:
            return self._spark.sql(sql, args=list(params)) if params else self._spark.sql(sql)
        except Exception as err:
            raise self._fail(err) from None

    def execute(self, sql: str, params: Sequence | None = None) -> None:
        df = self._df(sql, params)
        try:
            df.collect()  # commands run eagerly; a query is run to its end like a statement would be
        except Exception as err:
            raise self._fail(err) from None

    def query_rows(self, sql: str, params: Sequence | None = None) -> list[tuple]:
        df = self._df(sql, params)
        try:
            return [tuple(row) for row in df.collect()]
        except Exception as err:
            raise self._fail(err) from None

    def stream_arrow(self, sql: str, batch_rows: int = 10_000) -> Iterator[pyarrow.RecordBatch]:
        import pyarrow as pa

        df = self._df(sql)
        try:
            # The result arrives as the Arrow batches Spark sends, read as they come (what
            # `toLocalIterator` reads too, before it turns each value into a Python object).
            tables = (
                t
                for t in self._spark.client.to_table_as_iterator(df._plan.to_proto(self._spark.client), {})
                if isinstance(t, pa.Table)
            )
            buffer: list[pa.RecordBatch] = []
            held = 0
            for table in tables:
                for batch in _naive_utc(table).to_batches():
                    buffer.append(batch)
                    held += batch.num_rows
                    while held >= batch_rows:
                        joined = pa.Table.from_batches(buffer).combine_chunks()
                        yield joined.slice(0, batch_rows).to_batches()[0]
                        rest = joined.slice(batch_rows)
                        buffer, held = rest.to_batches(), rest.num_rows
            if held:
                yield pa.Table.from_batches(buffer).combine_chunks().to_batches()[0]
        except WarehouseError:
            raise
        except Exception as err:
            raise self._fail(err) from None

    def describe(self, sql: str) -> list[ColumnInfo]:
        try:
            # analysis only: Spark resolves the plan's schema without running a job
            schema = self._spark.sql(f"SELECT * FROM {as_subquery(sql)} AS __segprof_q").schema
        except Exception as err:
            raise self._fail(err, "cannot describe query") from None
        return [ColumnInfo(f.name, f.dataType.simpleString(), f.nullable) for f in schema.fields]

    def introspect(self, schemas: Sequence[str] | None = None) -> list[TableInfo]:
        catalog = self._spark.catalog
        try:
            names = list(schemas) if schemas else [d.name for d in catalog.listDatabases()]
            out = []
            for schema in sorted(n for n in names if schemas or n.lower() not in _HIDDEN_SCHEMAS):
                for table in sorted(catalog.listTables(schema), key=lambda t: t.name):
                    if table.isTemporary:
                        continue
                    columns = tuple(
                        ColumnInfo(c.name, c.dataType, c.nullable)
                        for c in catalog.listColumns(f"{_tick(schema)}.{_tick(table.name)}")
                    )
                    kind = "view" if (table.tableType or "").upper() == "VIEW" else "table"
                    out.append(TableInfo(schema=schema, name=table.name, kind=kind, columns=columns))
            return out
        except Exception as err:
            raise self._fail(err, "cannot read the catalog") from None

    @property
    def row_level_changes(self) -> bool:
        """Whether tables made without `USING` take DELETE and UPDATE (Delta and Iceberg do)."""
        if self._row_level is None:
            try:
                default = str(self._spark.conf.get("spark.sql.sources.default") or "")
            except Exception as err:
                raise self._fail(err, "cannot read the session's settings") from None
            self._row_level = default.lower() in _ROW_LEVEL_FORMATS
        return self._row_level

    def table_exists(self, schema: str, name: str) -> bool:
        try:
            return bool(self._spark.catalog.tableExists(f"{_tick(schema)}.{_tick(name)}"))
        except Exception as err:
            raise self._fail(err, "cannot read the catalog") from None

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
        if not rows:
            return
        import pyarrow as pa

        # the rows travel as one Arrow relation in the request, not as thousands of parameters
        data = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
        try:
            self._spark.createDataFrame(data).createOrReplaceTempView("__segprof_insert_rows")
        except Exception as err:
            raise self._fail(err) from None
        # the table name comes quoted the neutral way ("schema"."name"); Spark quotes with backticks
        names = ", ".join(columns)
        self.execute(
            to_dialect(
                f"INSERT INTO {table} ({names}) SELECT {names} FROM __segprof_insert_rows", self.dialect
            )
        )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._spark.stop()

    def __repr__(self) -> str:
        return f"SparkConnectConnector({self.address}, {self._where})"


def _naive_utc(table: pyarrow.Table) -> pyarrow.Table:
    """Timestamps as the other warehouses return them: UTC wall-clock time without a zone (Spark
    sends them zoned, in the session's time zone)."""
    import pyarrow as pa

    fields = [
        pa.field(f.name, pa.timestamp(f.type.unit), f.nullable)
        if pa.types.is_timestamp(f.type) and f.type.tz
        else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields)) if fields != list(table.schema) else table


def _tick(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _quiet_client_logs() -> None:
    """The client logs every failed query with the server's stack trace on stderr; segprof reports
    the failure once, as its own message."""
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True
