"""Fixtures for Snowflake tests: one fakesnow server per test run, one fresh database per test.

segprof reaches the server only through `snowflake-connector-python` (host, port and protocol set
as for a private endpoint); without the connector the tests are skipped locally and fail in CI.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.snowflake.fakesnow_server import serve

_DATABASES = itertools.count(1)


def _need(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is not installed; .ci/run installs it")
        pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="session")
def fakesnow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """fakesnow's server on loopback for the whole run: connection settings without a database."""
    _need("snowflake.connector", "snowflake-connector-python (segprof[snowflake])")
    with serve(tmp_path_factory.mktemp("fakesnow") / "server.log") as settings:
        yield settings


@pytest.fixture()
def snowflake_source(fakesnow: dict[str, object]) -> dict[str, Any]:
    """The YAML keys of a Snowflake source whose database is new and empty (fakesnow's databases are
    shared by every connection to the server, so each test gets its own)."""
    import snowflake.connector

    database = f"SEGPROF_T{os.getpid()}_{next(_DATABASES)}"
    con = snowflake.connector.connect(user="loader", password="unused", **fakesnow)
    try:
        con.cursor().execute(f"CREATE DATABASE {database}")
    finally:
        con.close()
    return {
        "type": "snowflake",
        **fakesnow,
        "database": database,
        "schema": "PUBLIC",
        "warehouse": "TRANSFORMING",
        "user": "segprof",
        "password": "${SNOWFLAKE_PASSWORD}",
    }
