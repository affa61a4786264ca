"""Fixtures for sync engine tests: a project on DuckDB or PostgreSQL, and the emulator on a real port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sync_project import Emulator, SyncPath, serve, source_block


@pytest.fixture()
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    emu, stop = serve(tmp_path / "emulator-data")
    try:
        yield emu
    finally:
        stop()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The source block of a test project (YAML keys) for each engine."""
    return source_block(request.param, request)


@pytest.fixture(params=["embedded", "served"])
def path(
    request: pytest.FixtureRequest, tmp_path: Path, warehouse: dict[str, Any], run_cli: Any
) -> Iterator[SyncPath]:
    """The embedded workspace (`backend: local`) or self-hosted syncs to a served emulator."""
    way = SyncPath(request.param, tmp_path, warehouse, run_cli)
    try:
        yield way
    finally:
        way.close()
