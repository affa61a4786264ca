"""segprof's Snowflake connector against fakesnow: types, streaming, schema, read-only, failures."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from segprof.warehouses import WarehouseError, connect


def settings_of(source: dict) -> dict:
    return {k: v for k, v in source.items() if k != "type"} | {"password": "sf_secret_81f2"}


def test_describe_stream_and_insert(snowflake_source, tmp_path: Path):
    con = connect("snowflake", settings_of(snowflake_source), tmp_path, "source.sf")
    try:
        con.execute(
            "CREATE TABLE t (id NUMBER(38,0), amount NUMBER(10,2), name VARCHAR, ok BOOLEAN, "
            "day DATE, seen_at TIMESTAMP_NTZ, seen_tz TIMESTAMP_TZ, ratio FLOAT)"
        )
        described = {c.name: c.type for c in con.describe("SELECT * FROM t")}
        assert described == {
            "ID": "NUMBER(38,0)",
            "AMOUNT": "NUMBER(10,2)",
            "NAME": "VARCHAR",
            "OK": "BOOLEAN",
            "DAY": "DATE",
            "SEEN_AT": "TIMESTAMP_NTZ",
            "SEEN_TZ": "TIMESTAMP_TZ",
            "RATIO": "FLOAT",
        }
        con.insert_rows("t", ["id", "name"], [(i, f"n{i}") for i in range(1, 26)])
        # a stream survives statements run on the same connection between its batches
        seen = []
        for batch in con.stream_arrow("SELECT id, name AS __segprof_kind FROM t ORDER BY id", batch_rows=10):
            assert batch.num_rows <= 10 and batch.schema.names == ["ID", "__segprof_kind"]
            seen += batch.column("ID").to_pylist()
            con.execute("INSERT INTO t (id) VALUES (%s)", [1000 + len(seen)])
        assert seen == list(range(1, 26))
        assert con.query_rows("SELECT count(*) FROM t") == [(28,)]
        assert list(con.stream_arrow("SELECT * FROM t WHERE 1 = 0")) == []
    finally:
        con.close()


def test_creating_a_schema_keeps_the_configured_one_current(snowflake_source, tmp_path: Path):
    # Snowflake makes a created schema the session's current one; model queries name tables
    # relative to the configured schema, so the connector restores it.
    con = connect("snowflake", settings_of(snowflake_source), tmp_path, "source.sf")
    try:
        con.execute("CREATE TABLE users (id INTEGER)")
        con.execute('CREATE SCHEMA IF NOT EXISTS "__segprof"')
        assert con.query_rows("SELECT CURRENT_SCHEMA()") == [("PUBLIC",)]
        assert con.query_rows("SELECT count(*) FROM users") == [(0,)]
    finally:
        con.close()


def test_transaction_rolls_back_on_error(snowflake_source, tmp_path: Path):
    con = connect("snowflake", settings_of(snowflake_source), tmp_path, "source.sf")
    try:
        con.execute("CREATE TABLE t (id INTEGER)")
        with pytest.raises(RuntimeError), con.transaction():
            con.execute("INSERT INTO t VALUES (1)")
            raise RuntimeError("stop")
        with con.transaction():
            con.execute("INSERT INTO t VALUES (2)")
        assert con.query_rows("SELECT id FROM t") == [(2,)]
    finally:
        con.close()


def test_read_only_connection_refuses_writes(snowflake_source, tmp_path: Path):
    con = connect("snowflake", settings_of(snowflake_source) | {"read_only": True}, tmp_path, "source.sf")
    try:
        assert con.query_rows("SELECT 1") == [(1,)]
        with pytest.raises(WarehouseError, match="read-only"):
            con.execute("CREATE TABLE t (id INTEGER)")
    finally:
        con.close()


def test_failures_name_the_source_and_never_the_password(snowflake_source, tmp_path: Path):
    con = connect("snowflake", settings_of(snowflake_source), tmp_path, "source.sf")
    try:
        with pytest.raises(WarehouseError) as err:
            con.query_rows("SELECT * FROM no_such_table")
        assert "source.sf" in str(err.value) and "NO_SUCH_TABLE" in str(err.value).upper()
    finally:
        con.close()
    closed = settings_of(snowflake_source) | {"port": 9, "connect_timeout": 5}
    started = time.monotonic()
    with pytest.raises(WarehouseError) as err:
        connect("snowflake", closed, tmp_path, "source.sf")
    assert time.monotonic() - started < 60
    text = str(err.value)
    assert "cannot connect to Snowflake 127.0.0.1" in text and "source.sf" in text
    assert "sf_secret_81f2" not in text


def test_the_statement_timeout_is_sent_as_a_session_parameter(snowflake_source, tmp_path: Path, monkeypatch):
    import json

    from snowflake.connector.network import SnowflakeRestful

    sent: list[dict] = []
    post = SnowflakeRestful._post_request

    def recording(self, url, headers, body, *args, **kwargs):  # type: ignore[no-untyped-def]
        if "login-request" in url:
            sent.append(json.loads(body)["data"]["SESSION_PARAMETERS"])
        return post(self, url, headers, body, *args, **kwargs)

    monkeypatch.setattr(SnowflakeRestful, "_post_request", recording)
    monkeypatch.setenv("SEGPROF_WAREHOUSE_STATEMENT_TIMEOUT", "2.5")
    con = connect("snowflake", settings_of(snowflake_source), tmp_path, "source.sf")
    try:
        assert con.query_rows("SELECT 1") == [(1,)]  # the server took the session
    finally:
        con.close()
    monkeypatch.delenv("SEGPROF_WAREHOUSE_STATEMENT_TIMEOUT")
    connect("snowflake", settings_of(snowflake_source), tmp_path, "source.sf").close()
    assert sent[0]["STATEMENT_TIMEOUT_IN_SECONDS"] == 3  # whole seconds, rounded up
    assert sent[0]["QUERY_TAG"] == "segprof"
    assert len(sent) == 2 and "STATEMENT_TIMEOUT_IN_SECONDS" not in sent[1]
