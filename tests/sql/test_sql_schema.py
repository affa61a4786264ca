"""analyze_query with a schema snapshot: tables, columns, star expansion, unreliable constructs."""

from __future__ import annotations

import pytest
from sql_helpers import DIALECTS, codes, names, only, pos

from segprof.sql.analyze import analyze_query

SCHEMA = {
    "crm.users": {"user_id": "varchar", "email": "varchar", "plan": "varchar"},
    "shop.orders": {"order_id": "bigint", "user_id": "varchar", "amount": "decimal(12,2)"},
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_star_is_expanded_from_the_schema(dialect: str) -> None:
    analysis = analyze_query("select *, 1 as one from crm.users", dialect, SCHEMA)
    assert analysis.has_star is True
    assert "sql.star" not in codes(analysis)
    assert analysis.problems == []
    assert [n.lower() for n in names(analysis)] == ["user_id", "email", "plan", "one"]
    if dialect == "snowflake":
        assert names(analysis) == ["USER_ID", "EMAIL", "PLAN", "ONE"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_qualified_star_expands_only_its_table(dialect: str) -> None:
    sql = "select o.*, u.email from shop.orders o join crm.users u on u.user_id = o.user_id"
    analysis = analyze_query(sql, dialect, SCHEMA)
    assert analysis.problems == []
    assert [n.lower() for n in names(analysis)] == ["order_id", "user_id", "amount", "email"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_unknown_table_is_named_at_the_table_token(dialect: str) -> None:
    sql = "select u.user_id\nfrom crm.users u\njoin shop.order_lines l on l.user_id = u.user_id"
    analysis = analyze_query(sql, dialect, SCHEMA)
    problem = only(analysis, "sql.unknown_table")
    assert problem.severity == "error"
    assert (problem.line, problem.col) == pos(sql, "shop.order_lines")
    assert "shop.order_lines" in problem.message
    # An unknown table is not misreported as an unknown column.
    assert "sql.unknown_column" not in codes(analysis)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_unknown_column_is_named_and_positioned(dialect: str) -> None:
    sql = "select user_id,\n       emial\nfrom crm.users"
    analysis = analyze_query(sql, dialect, SCHEMA)
    problem = only(analysis, "sql.unknown_column")
    assert problem.severity == "error"
    assert (problem.line, problem.col) == pos(sql, "emial")
    assert "emial" in problem.message.lower()
    assert "sql.unknown_table" not in codes(analysis)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_unknown_qualified_column(dialect: str) -> None:
    sql = "select u.user_id, u.emial from crm.users u"
    problem = only(analyze_query(sql, dialect, SCHEMA), "sql.unknown_column")
    assert (problem.line, problem.col) == pos(sql, "emial")
    assert "emial" in problem.message.lower()


def test_every_unknown_column_is_reported() -> None:
    sql = "select nope1, user_id from crm.users where nope2 > 1"
    analysis = analyze_query(sql, "postgres", SCHEMA)
    found = [p for p in analysis.problems if p.code == "sql.unknown_column"]
    assert [(p.line, p.col) for p in found] == [pos(sql, "nope1"), pos(sql, "nope2")]


def test_unknown_column_of_a_cte() -> None:
    sql = (
        "with totals as (select user_id, sum(amount) as total from shop.orders group by user_id)\n"
        "select t.user_id, t.totl from totals t"
    )
    problem = only(analyze_query(sql, "duckdb", SCHEMA), "sql.unknown_column")
    assert (problem.line, problem.col) == pos(sql, "totl")


def test_ambiguous_column_says_so() -> None:
    sql = "select user_id from crm.users u join shop.orders o on o.user_id = u.user_id"
    problem = only(analyze_query(sql, "postgres", SCHEMA), "sql.unknown_column")
    assert "ambiguous" in problem.message
    assert (problem.line, problem.col) == pos(sql, "user_id")


def test_table_names_match_by_suffix_and_fold_per_dialect() -> None:
    # Unqualified in the query, qualified in the snapshot.
    assert analyze_query("select email from users", "postgres", SCHEMA).problems == []
    # More qualified in the query than in the snapshot.
    assert analyze_query("select email from analytics.crm.users", "snowflake", SCHEMA).problems == []
    # Case folds like any identifier.
    assert analyze_query("select EMAIL from CRM.USERS", "postgres", SCHEMA).problems == []
    # A different schema is a different table.
    assert codes(analyze_query("select email from sales.users", "postgres", SCHEMA)) == ["sql.unknown_table"]


def test_quoted_names_in_the_schema_keep_their_case() -> None:
    schema = {'"Analytics".users': {'"createdAt"': "timestamp", "user_id": "varchar"}}
    ok = analyze_query('select user_id, "createdAt" from "Analytics".users', "postgres", schema)
    assert ok.problems == []
    assert [(c.name, c.type) for c in ok.columns] == [("user_id", "VARCHAR"), ("createdAt", "TIMESTAMP")]
    bad = analyze_query("select createdat from analytics.users", "postgres", schema)
    assert "sql.unknown_table" in codes(bad)
    bad = analyze_query('select createdat from "Analytics".users', "postgres", schema)
    assert codes(bad) == ["sql.unknown_column"]


def test_correlated_subquery_is_not_an_unknown_column() -> None:
    sql = (
        "select u.user_id, (select count(*) from shop.orders o where o.user_id = u.user_id) as n "
        "from crm.users u"
    )
    analysis = analyze_query(sql, "postgres", SCHEMA)
    assert analysis.problems == []
    assert [(c.name, c.type) for c in analysis.columns] == [("user_id", "VARCHAR"), ("n", "BIGINT")]


def test_duplicate_created_by_star_expansion() -> None:
    sql = "select u.*, o.* from crm.users u join shop.orders o on o.user_id = u.user_id"
    problem = only(analyze_query(sql, "postgres", SCHEMA), "sql.duplicate_column")
    assert "user_id" in problem.message
    assert (problem.line, problem.col) == pos(sql, "o.*")


def test_bigquery_unnest_column_problems_are_warnings() -> None:
    schema = {"ds.events": {"user_id": "string", "tags": "array<string>"}}
    sql = "select e.user_id, tag, e.nope from ds.events e, unnest(e.tags) as tag"
    analysis = analyze_query(sql, "bigquery", schema)
    problems = [p for p in analysis.problems if p.code == "sql.unknown_column"]
    assert problems and all(p.severity == "warning" for p in problems)
    assert problems[0].hint and "UNNEST" in problems[0].hint


def test_snowflake_lateral_flatten_column_problems_are_warnings() -> None:
    schema = {"raw.events": {"user_id": "varchar", "payload": "variant"}}
    sql = (
        "select e.user_id, f.value:name::string as name, e.nope "
        "from raw.events e, lateral flatten(input => e.payload) f"
    )
    analysis = analyze_query(sql, "snowflake", schema)
    assert analysis.ok
    problem = only(analysis, "sql.unknown_column")
    assert problem.severity == "warning"
    assert "nope" in problem.message
    assert problem.hint and "FLATTEN" in problem.hint


def test_snowflake_quoted_lowercase_is_a_warning() -> None:
    schema = {"raw.events": {"USER_ID": "varchar"}}
    analysis = analyze_query('select "user_id" from raw.events', "snowflake", schema)
    problem = only(analysis, "sql.unknown_column")
    assert problem.severity == "warning"


def test_same_schema_object_is_reused_across_calls() -> None:
    big = {f"s.t{i}": {f"c{j}": "int" for j in range(20)} for i in range(500)}
    first = analyze_query("select c1 from s.t7", "postgres", big)
    second = analyze_query("select c2, c99 from s.t8", "postgres", big)
    assert first.problems == []
    assert codes(second) == ["sql.unknown_column"]


def test_snowflake_quoted_lowercase_alias_does_not_soften_real_errors() -> None:
    analysis = analyze_query('select x as "userId", nope from t', "snowflake", {"t": {"x": "int"}})
    assert only(analysis, "sql.unknown_column").severity == "error"


def test_alias_used_twice_is_an_error_at_the_second() -> None:
    sql = "select u.user_id from crm.users u\njoin shop.orders u on u.user_id = u.user_id"
    problem = only(analyze_query(sql, "postgres", SCHEMA), "sql.duplicate_alias")
    assert problem.severity == "error"
    assert (problem.line, problem.col) == pos(sql, "u on")


def test_what_sqlglot_cannot_follow_is_a_warning_not_an_error() -> None:
    sql = "select user_id from crm.users u join shop.orders o using (missing_key)"
    analysis = analyze_query(sql, "postgres", SCHEMA)
    assert analysis.ok
    assert codes(analysis) == ["sql.unchecked"]


def test_large_snapshot_costs_only_the_tables_a_query_reads() -> None:
    import time

    big = {
        f"s{i % 10}.t{i}": {f"c{j}": "varchar(20)" if j % 2 else "bigint" for j in range(50)}
        for i in range(2000)
    }
    analyze_query("select 1 as warm_up", "snowflake")
    started = time.perf_counter()
    first = analyze_query("select c1, c2 from s7.t7", "snowflake", big)
    # Building types for all 100,000 columns took seconds; only t7's 50 are needed.
    assert time.perf_counter() - started < 1.5
    assert [(c.name, c.type) for c in first.columns] == [("C1", "VARCHAR(20)"), ("C2", "BIGINT")]


def test_very_long_operator_chain_skips_column_checks_quickly() -> None:
    import time

    sql = "select user_id from crm.users where " + " or ".join(f"plan = 'p{i}'" for i in range(3000))
    started = time.perf_counter()
    analysis = analyze_query(sql, "postgres", SCHEMA)
    assert time.perf_counter() - started < 2.0
    assert codes(analysis) == ["sql.unchecked"]
    assert analysis.ok
    # A table that does not exist is still reported.
    bad = analyze_query(sql.replace("crm.users", "crm.userz"), "postgres", SCHEMA)
    assert codes(bad) == ["sql.unknown_table"]


def test_star_over_a_table_function_stays_unknown_with_schema() -> None:
    analysis = analyze_query("select * from read_csv('users.csv')", "duckdb", SCHEMA)
    assert analysis.has_star is True
    assert analysis.columns == []
    assert codes(analysis) == ["sql.star"]
    assert analysis.tables == []
