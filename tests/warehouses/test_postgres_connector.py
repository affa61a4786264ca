"""The PostgreSQL connector against the throwaway server."""

from __future__ import annotations

import datetime as dt
import socket
from decimal import Decimal
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from segprof.warehouses import WarehouseError, connect

pytestmark = pytest.mark.postgres


def settings_of(dsn: str) -> dict[str, object]:
    p = conninfo_to_dict(dsn)
    return {"host": p["host"], "port": int(p["port"]), "database": p["dbname"], "user": p["user"]}


def test_yaml_settings_connect_and_introspect(postgres_dsn: str, tmp_path: Path):
    con = connect("postgres", settings_of(postgres_dsn), tmp_path)
    con.execute("CREATE SCHEMA crm")
    con.execute("CREATE TABLE crm.users (id BIGINT PRIMARY KEY, email TEXT UNIQUE NOT NULL, score REAL)")
    con.execute("CREATE VIEW crm.active AS SELECT id FROM crm.users")
    tables = {t.name: t for t in con.introspect(["crm"])}
    assert tables["users"].kind == "table" and tables["active"].kind == "view"
    assert [(c.name, c.type, c.nullable) for c in tables["users"].columns] == [
        ("id", "bigint", False),
        ("email", "text", False),
        ("score", "real", True),
    ]
    assert tables["users"].primary_key == ("id",)
    assert tables["users"].unique_keys == (("email",),)
    con.close()


def test_stream_arrow_types_and_batches(postgres_dsn: str, tmp_path: Path):
    con = connect("postgres", {"dsn": postgres_dsn}, tmp_path)
    con.execute(
        "CREATE TABLE t AS SELECT i AS id, 'u' || i AS name, (i / 4.0)::numeric(10,2) AS amount, "
        "i % 2 = 0 AS even, TIMESTAMP '2024-01-01 00:00:00' + i * INTERVAL '1 second' AS ts, "
        "TIMESTAMPTZ '2024-01-01 00:00:00+00' AS tstz, DATE '2024-02-29' AS day, "
        "jsonb_build_object('k', i) AS doc, 1.5::float8 AS f FROM generate_series(1, 2500) AS i"
    )
    batches = list(con.stream_arrow("SELECT * FROM t ORDER BY id", batch_rows=1000))
    assert [b.num_rows for b in batches] == [1000, 1000, 500]
    first = batches[0].slice(0, 1).to_pylist()[0]
    assert first["id"] == 1 and first["name"] == "u1" and first["amount"] == Decimal("0.25")
    assert first["even"] is False and first["ts"] == dt.datetime(2024, 1, 1, 0, 0, 1)
    assert first["tstz"] == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert first["day"] == dt.date(2024, 2, 29) and first["f"] == 1.5
    assert first["doc"] == '{"k":1}'
    con.close()


def test_writes_between_batches_commit_on_their_own(postgres_dsn: str, tmp_path: Path):
    con = connect("postgres", {"dsn": postgres_dsn}, tmp_path)
    con.execute("CREATE TABLE log (n INTEGER)")
    for batch in con.stream_arrow("SELECT generate_series(1, 300) AS i", batch_rows=100):
        with con.transaction():
            con.insert_rows("log", ["n"], [(batch.num_rows,)])
        other = connect("postgres", {"dsn": postgres_dsn}, tmp_path)
        seen = other.query_rows("SELECT coalesce(sum(n), 0) FROM log")[0][0]
        other.close()
        assert seen >= batch.num_rows
    assert con.query_rows("SELECT sum(n) FROM log") == [(300,)]


def test_transaction_rolls_back(postgres_dsn: str, tmp_path: Path):
    con = connect("postgres", {"dsn": postgres_dsn}, tmp_path)
    con.execute("CREATE TABLE t (a INTEGER)")
    with pytest.raises(WarehouseError), con.transaction():
        con.execute("INSERT INTO t VALUES (1)")
        con.execute("INSERT INTO missing VALUES (1)")
    assert con.query_rows("SELECT count(*) FROM t") == [(0,)]


def test_connection_failure_names_host_never_the_password(tmp_path: Path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    secret = "hunter2-very-secret"
    with pytest.raises(WarehouseError) as info:
        connect(
            "postgres",
            {"host": "127.0.0.1", "port": port, "database": "prod", "user": "me", "password": secret},
            tmp_path,
            address="source.pg",
        )
    text = str(info.value)
    assert "127.0.0.1" in text and f"{port}/prod" in text and info.value.address == "source.pg"
    assert secret not in text and info.value.__suppress_context__


def test_repr_hides_password(postgres_dsn: str, tmp_path: Path):
    con = connect("postgres", {**settings_of(postgres_dsn), "password": "pw-should-hide"}, tmp_path)
    assert "pw-should-hide" not in repr(con)
    con.close()
