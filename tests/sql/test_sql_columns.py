"""Matching mapped names against output columns."""

from __future__ import annotations

from segprof.sql.analyze import analyze_query
from segprof.sql.columns import find_column


def test_exact_match_on_snowflake_result_names() -> None:
    columns = analyze_query('select user_id, email as "email" from users', "snowflake").columns
    assert find_column(columns, "USER_ID").exact is True
    assert find_column(columns, "email").exact is True
    case_only = find_column(columns, "user_id")
    assert case_only.exact is False
    assert case_only.column is not None and case_only.column.name == "USER_ID"
    assert case_only.hint and "USER_ID" in case_only.hint
    assert find_column(columns, "EMAIL").column is not None
    assert find_column(columns, "plan").column is None


def test_ambiguous_case_only_match_is_not_guessed() -> None:
    columns = analyze_query('select "id", "ID" from t', "postgres").columns
    assert find_column(columns, "Id").column is None
    assert find_column(columns, "ID").exact is True
