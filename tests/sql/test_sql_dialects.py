"""Dialect names per source type and identifier folding."""

from __future__ import annotations

import subprocess
import sys

import pytest

from segprof.errors import SegprofError
from segprof.sql.dialects import dialect_for, normalize_identifier


@pytest.mark.parametrize(
    ("source_type", "dialect"),
    [
        ("duckdb", "duckdb"),
        ("postgres", "postgres"),
        ("snowflake", "snowflake"),
        ("bigquery", "bigquery"),
        ("redshift", "redshift"),
        ("databricks", "databricks"),
        ("azure", "tsql"),
    ],
)
def test_dialect_for_each_source_type(source_type: str, dialect: str) -> None:
    assert dialect_for(source_type) == dialect


def test_unknown_source_type_is_a_user_error() -> None:
    with pytest.raises(SegprofError, match="oracle"):
        dialect_for("oracle")


@pytest.mark.parametrize(
    ("dialect", "folded"),
    [
        ("snowflake", "USER_ID"),
        ("postgres", "user_id"),
        ("redshift", "user_id"),
        ("duckdb", "user_id"),
        ("bigquery", "user_id"),
        ("databricks", "user_id"),
        ("tsql", "user_id"),
    ],
)
def test_normalize_identifier(dialect: str, folded: str) -> None:
    assert normalize_identifier("User_Id", dialect) == folded
    # Folding is idempotent, so both sides of a comparison can be folded blindly.
    assert normalize_identifier(folded, dialect) == folded


def test_normalize_identifier_refuses_unknown_dialect() -> None:
    with pytest.raises(SegprofError):
        normalize_identifier("x", "oracle")


def test_importing_the_package_does_not_import_sqlglot() -> None:
    code = (
        "import sys, segprof.sql, segprof.sql.analyze, segprof.sql.dialects;print('sqlglot' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
