"""Cloud warehouses: lazy drivers and the exact SQL change detection would send (checked as text)."""

from __future__ import annotations

import contextlib
import importlib.util
from pathlib import Path

import pytest
import sqlglot

from segprof.sync.detect.changes import ChangeTracker
from segprof.sync.detect.runs import MappingSpec
from segprof.warehouses import ColumnInfo, WarehouseError, connect, dialect_for
from segprof.warehouses.introspection import introspection_sql
from segprof.warehouses.managed_schema import MappingTables, ddl_for, mapping_key


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@pytest.mark.parametrize("kind", ["snowflake", "bigquery", "redshift", "databricks", "azure"])
def test_missing_driver_says_which_extra_to_install(kind: str, tmp_path: Path):
    info = dialect_for(kind)
    if _installed(info.driver):
        pytest.skip(f"{info.driver} is installed here")
    with pytest.raises(WarehouseError) as err:
        connect(kind, {"host": "h", "password": "p4ss-secret", "token": "t0ken-secret"}, tmp_path, "source.x")
    text = str(err.value)
    assert f"segprof[{info.extra}]" in text and "source.x" in text
    assert "p4ss-secret" not in text and "t0ken-secret" not in text


class RecordingConnector:
    """Stands in for a cloud warehouse we cannot reach: records every statement, answers nothing."""

    placeholder = "%s"
    address = "source.cloud"

    def __init__(self, dialect: str, columns: list[ColumnInfo]) -> None:
        self.dialect = dialect
        self.columns = columns
        self.statements: list[str] = []

    def execute(self, sql, params=None):
        self.statements.append(sql)

    def query_rows(self, sql, params=None):
        self.statements.append(sql)
        return []

    def describe(self, sql):
        return self.columns

    def stream_arrow(self, sql, batch_rows=10_000):
        self.statements.append(sql)
        return iter(())

    def insert_rows(self, table, columns, rows):
        self.statements.append(f"INSERT INTO {table} {len(rows)} rows")

    @contextlib.contextmanager
    def transaction(self):
        yield

    def introspect(self, schemas=None):
        return []

    def close(self):
        pass


MODEL_SF = "SELECT user_id, email, updated_at FROM analytics.users QUALIFY ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY updated_at DESC) = 1"


@pytest.mark.parametrize(
    ("dialect", "md5", "quote"),
    [
        ("snowflake", "MD5(CONCAT(", '"__segprof"'),
        ("bigquery", "TO_HEX(MD5(CONCAT(", "`__segprof`"),
        ("redshift", "MD5(", '"__segprof"'),
        ("databricks", "MD5(CONCAT(", "`__segprof`"),
        ("tsql", "LOWER(CONVERT(VARCHAR(32), HASHBYTES('MD5', CONCAT(", "[__segprof]"),
    ],
)
def test_change_detection_sql_per_dialect(dialect: str, md5: str, quote: str):
    model = MODEL_SF if dialect == "snowflake" else "SELECT user_id, email, updated_at FROM analytics.users"
    cols = [
        ColumnInfo("USER_ID", "NUMBER"),
        ColumnInfo("EMAIL", "VARCHAR"),
        ColumnInfo("UPDATED_AT", "TIMESTAMP_TZ"),
    ]
    con = RecordingConnector(dialect, cols)
    tracker = ChangeTracker(con, MappingSpec("sub_9", model, "user_id", ["email", "updated_at"]))
    run = tracker.begin()
    list(tracker.stream(run))
    tracker.ack(run, ["1", "2"])
    tracker.finish(run)
    diff = next(s for s in con.statements if "changes_" in s and "FULL OUTER JOIN" in s)
    assert md5 in diff
    assert f"(\n{model}\n)" in diff  # the model runs verbatim, in its own dialect
    assert f"{quote}." in diff
    # the identifier and mapped columns are found despite the warehouse folding names to upper case
    q, end = {"`": ("`", "`"), "[": ("[", "]")}.get(quote[0], ('"', '"'))
    assert f"{q}USER_ID{end}" in diff and f"{q}EMAIL{end}" in diff and f"{q}UPDATED_AT{end}" in diff
    for stmt in con.statements:
        if stmt.startswith("INSERT INTO") and "rows" in stmt:
            continue
        sqlglot.parse_one(stmt, read=dialect)  # every statement is valid in the target dialect
    if dialect == "snowflake":
        assert "CONVERT_TIMEZONE('UTC'" in diff  # TIMESTAMP_TZ canonicalised to UTC


def test_managed_schema_ddl_per_dialect():
    tables = MappingTables(mapping_key("mapping.identify_users"))
    sf = ddl_for(tables, "snowflake")
    assert sf[0] == 'CREATE SCHEMA IF NOT EXISTS "__segprof"'
    assert any('"snapshot_mapping_identify_users_' in s and "(id VARCHAR, checksum VARCHAR)" in s for s in sf)
    bq = ddl_for(tables, "bigquery")
    assert any("`__segprof`.`runs`" in s and "INT64" in s and "STRING" in s for s in bq)


def test_introspection_sql_per_dialect():
    sql = introspection_sql("bigquery", ["analytics"])
    assert "information_schema.columns" in sql.columns.lower() and "'analytics'" in sql.columns
    sqlglot.parse_one(introspection_sql("snowflake").tables, read="snowflake")


def test_databricks_sql_sessions_carry_the_statement_timeout(monkeypatch):
    # databricks-sql-connector is optional: the call segprof makes into it is read from a recorder
    from types import SimpleNamespace

    from segprof.warehouses.dbapi_connector import _open

    calls: list[dict] = []
    module = SimpleNamespace(connect=lambda **kw: calls.append(kw))
    settings = {"host": "dbc.example.com", "http_path": "/sql/1.0/warehouses/w1", "token": "t"}
    monkeypatch.setenv("SEGPROF_WAREHOUSE_STATEMENT_TIMEOUT", "90.2")
    _open("databricks", module, settings)
    monkeypatch.delenv("SEGPROF_WAREHOUSE_STATEMENT_TIMEOUT")
    _open("databricks", module, settings)
    assert calls[0]["session_configuration"] == {"STATEMENT_TIMEOUT": "91"}  # whole seconds, rounded up
    assert calls[1]["session_configuration"] is None
