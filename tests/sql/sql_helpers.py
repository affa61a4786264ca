"""Test helpers: where a piece of text sits in SQL, counted independently of the code under test."""

from __future__ import annotations

from segprof.sql.analyze import QueryAnalysis, SqlProblem

DIALECTS = ["duckdb", "postgres", "snowflake", "bigquery", "redshift", "databricks", "tsql"]


def pos(sql: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """1-based (line, col) of the `nth` occurrence of `needle`; columns count characters."""
    at = -1
    for _ in range(nth + 1):
        at = sql.index(needle, at + 1)
    before = sql[:at].split("\n")
    return len(before), len(before[-1]) + 1


def codes(analysis: QueryAnalysis) -> list[str]:
    return [p.code for p in analysis.problems]


def only(analysis: QueryAnalysis, code: str) -> SqlProblem:
    found = [p for p in analysis.problems if p.code == code]
    assert len(found) == 1, analysis.problems
    return found[0]


def names(analysis: QueryAnalysis) -> list[str]:
    return [c.name for c in analysis.columns]
