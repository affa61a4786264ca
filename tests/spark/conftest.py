"""Fixtures for Spark tests: one Spark Connect server per test run, one fresh schema per test."""

from __future__ import annotations

import importlib.util
import itertools
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.spark.spark_server import serve

_SCHEMAS = itertools.count(1)


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed; .ci/run installs it")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="session")
def spark_connect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a Spark Connect server (Spark in local mode) shared by the whole run."""
    if importlib.util.find_spec("pyspark") is None:
        _missing("pyspark (segprof[spark])")
    if shutil.which("java") is None:
        _missing("Java 17")
    with serve(tmp_path_factory.mktemp("spark")) as url:
        yield url


@pytest.fixture()
def spark_source(spark_connect: str) -> Iterator[dict[str, Any]]:
    """The YAML keys of a Databricks source reached through Spark Connect, on a schema of its own."""
    from pyspark.sql import SparkSession

    schema = f"segprof_t{os.getpid()}_{next(_SCHEMAS)}"
    spark = SparkSession.builder.remote(spark_connect).create()
    # as segprof's connector does: a reattachable execution leaves a release on the client's shared
    # thread pool, and a later session's close could wait on it forever
    spark.client.disable_reattachable_execute()
    try:
        spark.sql(f"CREATE SCHEMA {schema}").collect()
    finally:
        spark.stop()
    yield {"type": "databricks", "connect_url": spark_connect, "schema": schema}
