"""Redshift through redshift_connector, against the test PostgreSQL server behind a relay.

The relay (redshift_standin.py) only renames the driver's Redshift-only startup parameters and
reports Redshift's server version; the rest is the driver's own protocol against a real server.
PostgreSQL is not Redshift: this checks the calls segprof makes through the driver (connection
settings, parameter binding, result paging, transactions). The engine's Redshift SQL uses
Redshift-only text (`VARCHAR(MAX)` in the managed tables), which PostgreSQL refuses; it is checked
as text in test_cloud_sql.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict

from segprof.warehouses import WarehouseError, connect
from tests.warehouses.redshift_standin import relay

pytestmark = pytest.mark.postgres
PASSWORD = "rs_planted_27d4c9"


@pytest.fixture()
def redshift_source(postgres_dsn: str) -> Iterator[dict[str, Any]]:
    pytest.importorskip("redshift_connector")
    parts = conninfo_to_dict(postgres_dsn)
    with relay(parts["host"], int(parts["port"])) as port:
        yield {
            "type": "redshift",
            "host": "127.0.0.1",
            "port": port,
            "database": parts["dbname"],
            "user": parts["user"],
            "password": PASSWORD,  # trust auth: never checked, never to be printed
            "sslmode": "disable",
        }


def test_binding_paging_and_describe(redshift_source, tmp_path: Path):
    settings = {k: v for k, v in redshift_source.items() if k != "type"}
    con = connect("redshift", settings, tmp_path, "source.rs")
    try:
        con.execute("CREATE TABLE t (id INTEGER, name VARCHAR(20), at TIMESTAMP)")
        con.insert_rows("t", ["id", "name"], [(i, f"n'{i}") for i in range(1, 26)])  # executemany, %s
        assert con.query_rows("SELECT name FROM t WHERE id = %s", [7]) == [("n'7",)]
        batches = list(con.stream_arrow("SELECT id, name FROM t ORDER BY id", batch_rows=10))
        assert [b.num_rows for b in batches] == [10, 10, 5]  # fetchmany pages of batch_rows
        assert batches[0].column("name").to_pylist()[:2] == ["n'1", "n'2"]
        assert [c.name for c in con.describe("SELECT id, name AS label FROM t")] == ["id", "label"]
        (table,) = [t for t in con.introspect() if t.name == "t"]  # information_schema, Redshift's SQL
        assert [(c.name, c.type) for c in table.columns] == [
            ("id", "integer"),
            ("name", "character varying"),
            ("at", "timestamp without time zone"),
        ]
        with pytest.raises(RuntimeError), con.transaction():  # one transaction, rolled back whole
            con.execute("DELETE FROM t")
            raise RuntimeError("stop")
        with con.transaction():
            con.execute("DELETE FROM t WHERE id > %s", [20])
        assert con.query_rows("SELECT count(*) FROM t") == [(20,)]
        with pytest.raises(WarehouseError) as err:
            con.query_rows("SELECT * FROM missing_table")
        assert "source.rs" in str(err.value) and PASSWORD not in str(err.value)
    finally:
        con.close()


def test_a_statement_past_the_timeout_is_cancelled(redshift_source, tmp_path: Path, monkeypatch):
    import time

    monkeypatch.setenv("SEGPROF_WAREHOUSE_STATEMENT_TIMEOUT", "0.5")
    settings = {k: v for k, v in redshift_source.items() if k != "type"}
    con = connect("redshift", settings, tmp_path, "source.rs")
    try:
        assert con.query_rows("SHOW statement_timeout") == [("500ms",)]
        started = time.monotonic()
        with pytest.raises(WarehouseError, match="statement timeout") as err:
            con.query_rows("SELECT pg_sleep(20)")
        assert time.monotonic() - started < 10 and err.value.address == "source.rs"
        assert con.query_rows("SELECT 1") == [(1,)]  # the session goes on
    finally:
        con.close()
