"""A warehouse query cannot hold a run: PostgreSQL enforces SEGPROF_WAREHOUSE_STATEMENT_TIMEOUT."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from segprof.errors import SegprofError
from segprof.warehouses import WarehouseError, connect


@pytest.mark.postgres
def test_a_statement_past_the_timeout_is_cancelled(postgres_dsn: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SEGPROF_WAREHOUSE_STATEMENT_TIMEOUT", "0.5")
    con = connect("postgres", {"dsn": postgres_dsn}, tmp_path, address="source.pg")
    try:
        started = time.monotonic()
        with pytest.raises(WarehouseError, match="statement timeout") as info:
            con.query_rows("SELECT pg_sleep(20)")
        assert time.monotonic() - started < 10
        assert info.value.address == "source.pg"
        assert con.query_rows("SELECT 1") == [(1,)]  # the session goes on
    finally:
        con.close()


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_bad_statement_timeout_is_named(tmp_path: Path, monkeypatch, value: str) -> None:
    monkeypatch.setenv("SEGPROF_WAREHOUSE_STATEMENT_TIMEOUT", value)
    with pytest.raises(SegprofError, match="SEGPROF_WAREHOUSE_STATEMENT_TIMEOUT must be a positive number"):
        connect("postgres", {"dsn": "host=127.0.0.1 port=9 dbname=x user=x"}, tmp_path)
