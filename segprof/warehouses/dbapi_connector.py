"""Connectors for the cloud warehouses without a connector of their own (BigQuery, Redshift, Databricks
SQL warehouses, Azure SQL).

Owns: importing each optional driver lazily (a missing one is a clear "install segprof[<extra>]"
error), opening a DB-API connection from the source's settings, and the generic DB-API paths for
execute / query / batched Arrow streaming. Tests drive BigQuery's client against a stand-in of its
REST API and redshift_connector against PostgreSQL; their SQL is checked as text. Must never print a
password or token.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segprof.warehouses.base import ColumnInfo, TableInfo, as_subquery
from segprof.warehouses.dialects import dialect_for
from segprof.warehouses.duckdb_connector import assemble_tables
from segprof.warehouses.errors import WarehouseError, first_line, statement_timeout_ms, statement_timeout_s
from segprof.warehouses.introspection import introspection_sql

if TYPE_CHECKING:
    import pyarrow


def import_driver(source_type: str, address: str) -> Any:
    info = dialect_for(source_type)
    assert info.driver is not None
    try:
        return importlib.import_module(info.driver)
    except ImportError:
        raise WarehouseError(
            f"the {source_type} driver ({info.driver}) is not installed",
            address=address,
            hint=f"pip install 'segprof[{info.extra}]'",
        ) from None


def bigquery_client(s: Mapping[str, Any], **client_kwargs: Any) -> Any:
    """A BigQuery client for a source: its project and location, and a default job configuration
    that resolves unqualified tables in the source's `dataset`, labels every job as segprof's
    (so that its cost shows apart in billing exports) and gives it the statement time limit."""
    from google.cloud.bigquery import Client, DatasetReference, QueryJobConfig

    config = QueryJobConfig(labels={"tool": "segprof"})
    timeout_ms = statement_timeout_ms()
    if timeout_ms:
        config.job_timeout_ms = timeout_ms  # BigQuery cancels the job past it
    if s.get("dataset"):
        config.default_dataset = DatasetReference(str(s["project"]), str(s["dataset"]))
    kwargs: dict[str, Any] = {
        "project": s.get("project"),
        "location": s.get("location"),
        "default_query_job_config": config,
        **client_kwargs,
    }
    if s.get("credentials_file"):
        from google.oauth2 import service_account

        kwargs["credentials"] = service_account.Credentials.from_service_account_file(
            str(s["credentials_file"]), scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
    return Client(**kwargs)


def _open(source_type: str, module: Any, s: Mapping[str, Any]) -> Any:
    if source_type == "bigquery":
        from google.cloud.bigquery import dbapi

        return dbapi.connect(client=bigquery_client(s))
    if source_type == "redshift":
        sslmode = s.get("sslmode") or "require"
        tls = {"ssl": sslmode != "disable"}
        if sslmode.startswith("verify-"):
            tls["sslmode"] = sslmode
        return module.connect(
            host=s.get("host"),
            port=int(s.get("port") or 5439),
            database=s.get("database"),
            user=s.get("user"),
            password=s.get("password"),
            application_name="segprof",
            **tls,
        )
    if source_type == "databricks":
        if not s.get("host") or not s.get("http_path"):
            raise ValueError("set host and http_path (a SQL warehouse), cluster_id or connect_url")
        timeout = statement_timeout_s()
        return module.connect(
            server_hostname=s.get("host"),
            http_path=s.get("http_path"),
            access_token=s.get("token"),
            catalog=s.get("catalog"),
            schema=s.get("schema"),
            # a SQL warehouse cancels a statement past STATEMENT_TIMEOUT (seconds)
            session_configuration={"STATEMENT_TIMEOUT": str(timeout)} if timeout else None,
        )
    if source_type == "azure":
        parts = {
            "DRIVER": s.get("driver", "{ODBC Driver 18 for SQL Server}"),
            "SERVER": f"{s.get('host')},{s.get('port') or 1433}",
            "DATABASE": s.get("database"),
            "UID": s.get("user"),
            "PWD": s.get("password"),
            "Encrypt": "yes",
        }
        return module.connect(";".join(f"{k}={v}" for k, v in parts.items() if v), autocommit=True)
    raise WarehouseError(f"no DB-API connector for {source_type}")


class DbApiConnector:
    """A DB-API 2.0 connection to a cloud warehouse."""

    placeholder = "%s"

    def __init__(
        self,
        source_type: str,
        settings: Mapping[str, Any],
        project_dir: Path,
        address: str = "source",
        connection: Any = None,
    ) -> None:
        """`connection`: an open DB-API connection to use instead of opening one from `settings`
        (a client built with its own transport or credentials)."""
        self.source_type = source_type
        self.dialect = dialect_for(source_type).sqlglot
        self.address = address
        if source_type == "azure":
            self.placeholder = "?"
        secrets = [str(settings[k]) for k in ("password", "token") if settings.get(k)]
        self._secrets = secrets
        module = import_driver(source_type, address)
        where = settings.get("host") or settings.get("account") or settings.get("project") or ""
        statement_timeout_ms()  # a bad setting is named as such, not as a failed connection
        try:
            self._con = connection if connection is not None else _open(source_type, module, settings)
        except Exception as err:  # drivers raise their own exception trees
            raise WarehouseError(
                f"cannot connect to {source_type} {where}: {self._scrub(first_line(err))}",
                address=address,
            ) from None
        # redshift_connector opens a transaction implicitly and never commits it on its own: a
        # statement outside `transaction()` must stand alone, as on the other warehouses
        self._transactional = source_type == "redshift"
        if self._transactional:
            self._con.autocommit = True
            timeout_ms = statement_timeout_ms()
            if timeout_ms:
                # Redshift cancels a statement that runs longer: a stuck query cannot hold a run
                self.execute(f"SET statement_timeout TO {int(timeout_ms)}")

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _run(self, sql: str, params: Sequence | None = None) -> Any:
        cur = self._con.cursor()
        try:
            cur.execute(sql, params) if params is not None else cur.execute(sql)
        except Exception as err:
            cur.close()
            message = f"query failed: {self._scrub(first_line(err))}"
            raise WarehouseError(message, address=self.address) from None
        return cur

    def execute(self, sql: str, params: Sequence | None = None) -> None:
        self._run(sql, params).close()

    def query_rows(self, sql: str, params: Sequence | None = None) -> list[tuple]:
        cur = self._run(sql, params)
        try:
            return [tuple(r) for r in cur.fetchall()] if cur.description else []
        finally:
            cur.close()

    def stream_arrow(self, sql: str, batch_rows: int = 10_000) -> Iterator[pyarrow.RecordBatch]:
        import pyarrow as pa

        cur = self._run(sql)
        try:
            names = [d[0] for d in cur.description]
            while rows := cur.fetchmany(batch_rows):
                yield pa.RecordBatch.from_pylist([dict(zip(names, r, strict=True)) for r in rows])
        finally:
            cur.close()

    def describe(self, sql: str) -> list[ColumnInfo]:
        cur = self._run(f"SELECT * FROM {as_subquery(sql)} AS __segprof_q WHERE 1 = 0")
        try:
            return [ColumnInfo(d[0], str(d[1])) for d in cur.description]
        finally:
            cur.close()

    def introspect(self, schemas: Sequence[str] | None = None) -> list[TableInfo]:

        sql = introspection_sql(self.dialect, schemas)
        return assemble_tables(self.query_rows(sql.tables), self.query_rows(sql.columns), [])

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
        if not rows:
            return
        marks = ", ".join(self.placeholder for _ in columns)
        cur = self._con.cursor()
        try:
            cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", list(rows))
        finally:
            cur.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if self._transactional:  # Redshift: one real transaction, committed or rolled back whole
            self._con.autocommit = False
            try:
                yield
            except BaseException:
                with contextlib.suppress(Exception):
                    self._con.rollback()
                raise
            finally:
                if not self._con.autocommit:
                    with contextlib.suppress(Exception):
                        self._con.commit()
                    self._con.autocommit = True
            return
        # Other cloud drivers default to autocommit per statement; a failure mid-way is repaired by
        # the next run re-deriving state, so statements are grouped but not atomically.
        yield
        with contextlib.suppress(Exception):
            self._con.commit()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._con.close()

    def __repr__(self) -> str:
        return f"DbApiConnector({self.source_type}, {self.address})"
