"""Fixtures for change-detection tests: one warehouse per engine, reopenable to simulate a crash."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from segprof.warehouses import Connector, connect
from segprof.warehouses.managed_schema import SCHEMA


class NoRowLevelChanges:
    """A real DuckDB connection that says it has no row-level changes and refuses DELETE and
    UPDATE, as Spark's own file tables do: the change tracker must rewrite its tables instead."""

    row_level_changes = False

    def __init__(self, con: Connector) -> None:
        self._con = con

    def execute(self, sql: str, params: Sequence | None = None) -> None:
        target = sql.split(" WHERE ")[0]  # the tests change their own tables freely
        if target.lstrip().upper().startswith(("DELETE", "UPDATE")) and SCHEMA in target:
            raise AssertionError(f"a row-level change on an engine without them: {sql[:80]}")
        self._con.execute(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


@pytest.fixture(params=["duckdb", "duckdb-rewrite", pytest.param("postgres", marks=pytest.mark.postgres)])
def open_wh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Connector]]:
    """A factory opening a fresh connection to the same test warehouse (DuckDB file or PG database;
    `duckdb-rewrite`: DuckDB without row-level changes, the path Spark takes)."""
    opened: list[Connector] = []
    if request.param.startswith("duckdb"):
        settings: dict[str, object] = {"path": "wh.duckdb", "threads": 2}
        kind = "duckdb"
    else:
        dsn = request.getfixturevalue("postgres_dsn")
        settings = {"dsn": dsn}
        kind = "postgres"

    def _open() -> Connector:
        con = connect(kind, settings, tmp_path, address="source.warehouse", create=True)
        opened.append(con)
        return NoRowLevelChanges(con) if request.param == "duckdb-rewrite" else con  # type: ignore[return-value]

    yield _open
    for con in opened:
        con.close()
