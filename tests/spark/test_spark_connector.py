"""segprof's Spark Connect connector against a real Spark (local mode): the SQL runs in Spark."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from segprof.sync.detect.checksum import checksum_of, checksum_sql
from segprof.warehouses import WarehouseError, connect, to_dialect


def settings_of(source: dict) -> dict:
    return {k: v for k, v in source.items() if k != "type"}


def test_describe_stream_insert_and_introspect(spark_source, tmp_path: Path):
    con = connect("databricks", settings_of(spark_source), tmp_path, "source.lake")
    try:
        con.execute(
            "CREATE TABLE users (user_id BIGINT, email STRING, amount DECIMAL(10,2), ok BOOLEAN, "
            "day DATE, seen_at TIMESTAMP) USING parquet"
        )
        con.execute("CREATE VIEW paying AS SELECT user_id FROM users WHERE amount > 0")
        described = {c.name: c.type for c in con.describe("SELECT * FROM users")}
        assert described == {
            "user_id": "bigint",
            "email": "string",
            "amount": "decimal(10,2)",
            "ok": "boolean",
            "day": "date",
            "seen_at": "timestamp",
        }
        # the table name arrives quoted the neutral way and is requoted for Spark
        schema = spark_source["schema"]
        con.insert_rows(f'"{schema}"."users"', ["user_id", "email"], [(i, f"u{i}") for i in range(1, 26)])
        batches = list(con.stream_arrow("SELECT user_id, email FROM users ORDER BY user_id", batch_rows=10))
        assert [b.num_rows for b in batches] == [10, 10, 5]
        assert [v for b in batches for v in b.column("user_id").to_pylist()] == list(range(1, 26))
        assert con.query_rows("SELECT count(*) FROM users WHERE email LIKE ?", ["u1%"]) == [(11,)]
        # timestamps stream as the other warehouses give them: UTC wall-clock time, no zone
        (stamp,) = list(con.stream_arrow("SELECT TIMESTAMP '2024-01-02 03:04:05.123456' AS t"))
        assert str(stamp.schema.field("t").type) == "timestamp[us]"
        assert stamp.column("t").to_pylist() == [datetime(2024, 1, 2, 3, 4, 5, 123456)]

        tables = {t.name: t for t in con.introspect([schema])}
        assert tables["users"].kind == "table" and tables["paying"].kind == "view"
        assert [c.name for c in tables["users"].columns][:2] == ["user_id", "email"]
        assert all(t.schema == schema for t in con.introspect())  # __segprof and others' schemas apart
    finally:
        con.close()


def test_checksum_computed_in_spark_matches_the_reference(spark_source, tmp_path: Path):
    """The record checksum of change detection, computed by Spark, equals segprof's reference."""
    con = connect("databricks", settings_of(spark_source), tmp_path, "source.lake")
    try:
        con.execute(
            "CREATE TABLE t (id BIGINT, name STRING, amount DECIMAL(10,2), ok BOOLEAN, day DATE, "
            "seen_at TIMESTAMP) USING parquet"
        )
        con.execute(
            "INSERT INTO t VALUES (1, 'Zoë', 12.50, true, DATE '2024-02-29', "
            "TIMESTAMP '2024-01-02 03:04:05.123456'), (2, NULL, NULL, false, NULL, NULL), "
            "(3, '', 0.00, NULL, DATE '1999-12-31', TIMESTAMP '2024-06-01 00:00:00')"
        )
        columns = [(c.name, c.type) for c in con.describe("SELECT * FROM t") if c.name != "id"]
        sql = to_dialect(f"SELECT q.id, {checksum_sql(columns, 'q')} FROM t AS q ORDER BY q.id", "databricks")
        got = dict(con.query_rows(sql))
    finally:
        con.close()
    expected = {
        1: {
            "name": "Zoë",
            "amount": "12.50",
            "ok": "true",
            "day": "2024-02-29",
            "seen_at": "2024-01-02 03:04:05.123456",
        },
        2: {"name": None, "amount": None, "ok": "false", "day": None, "seen_at": None},
        3: {
            "name": "",
            "amount": "0.00",
            "ok": None,
            "day": "1999-12-31",
            "seen_at": "2024-06-01 00:00:00.000000",
        },
    }
    assert got == {i: checksum_of(texts) for i, texts in expected.items()}


def test_read_only_and_failures_are_clear(spark_source, tmp_path: Path):
    con = connect("databricks", settings_of(spark_source) | {"read_only": True}, tmp_path, "source.lake")
    try:
        assert con.query_rows("SELECT 1") == [(1,)]
        with pytest.raises(WarehouseError, match="read-only"):
            con.execute("CREATE TABLE t (id BIGINT) USING parquet")
        with pytest.raises(WarehouseError) as err:
            con.query_rows("SELECT * FROM no_such_table")
        assert "source.lake" in str(err.value) and "no_such_table" in str(err.value)
        assert "Traceback" not in str(err.value)
    finally:
        con.close()


def test_databricks_connect_url_from_host_and_cluster():
    from segprof.warehouses.spark_connector import connect_url

    url = connect_url({"host": "dbc-1.cloud.databricks.com", "cluster_id": "0123-abc", "token": "dapi_x"})
    assert (
        url
        == "sc://dbc-1.cloud.databricks.com:443/;use_ssl=true;x-databricks-cluster-id=0123-abc;token=dapi_x"
    )
    assert connect_url({"connect_url": "sc://127.0.0.1:15002"}) == "sc://127.0.0.1:15002"
