"""Fixtures for change-detection tests: one warehouse per engine, reopenable to simulate a crash."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from segprof.warehouses import Connector, connect


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def open_wh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Connector]]:
    """A factory opening a fresh connection to the same test warehouse (DuckDB file or PG database)."""
    opened: list[Connector] = []
    if request.param == "duckdb":
        settings: dict[str, object] = {"path": "wh.duckdb", "threads": 2}
        kind = "duckdb"
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        settings = {"dsn": dsn}
        kind = "postgres"

    def _open() -> Connector:
        con = connect(kind, settings, tmp_path, address="source.warehouse", create=True)
        opened.append(con)
        return con

    yield _open
    for con in opened:
        con.close()
