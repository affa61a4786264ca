"""analyze_query without a schema, for every dialect: columns, statements, read-only, stars, names."""

from __future__ import annotations

import time

import pytest
from sql_helpers import DIALECTS, codes, names, only, pos

from segprof.sql.analyze import MAX_QUERY_CHARS, analyze_query

# (dialect, query, expected output names) — unquoted names fold as the warehouse returns them.
VALID = [
    (
        "duckdb",
        'select user_id, Email, lower(plan) as Plan_Name, "MixedCase" from users',
        ["user_id", "Email", "Plan_Name", "MixedCase"],
    ),
    (
        "postgres",
        'select user_id, Email, lower(plan) as Plan_Name, "MixedCase" from public.users',
        ["user_id", "email", "plan_name", "MixedCase"],
    ),
    (
        "snowflake",
        'select user_id, "user_id" as "raw_id", Email, iff(x, 1, 2) as n from analytics.public.users',
        ["USER_ID", "raw_id", "EMAIL", "N"],
    ),
    (
        "bigquery",
        "select user_id, Email, `MixedCase`, safe_cast(x as int64) as N from `proj.ds.users`",
        ["user_id", "Email", "MixedCase", "N"],
    ),
    (
        "redshift",
        "select user_id, Email, nvl(plan, 'free') as Plan_Name, \"MixedCase\" from users",
        ["user_id", "email", "plan_name", "MixedCase"],
    ),
    (
        "databricks",
        "select user_id, Email, `MixedCase`, nvl(plan, 'free') as plan from main.crm.users",
        ["user_id", "Email", "MixedCase", "plan"],
    ),
    (
        "tsql",
        "select top 100 user_id, Email, [MixedCase], isnull(plan, 'free') as plan from dbo.users",
        ["user_id", "Email", "MixedCase", "plan"],
    ),
]


@pytest.mark.parametrize(("dialect", "sql", "expected"), VALID)
def test_valid_query_output_columns(dialect: str, sql: str, expected: list[str]) -> None:
    analysis = analyze_query(sql, dialect)
    assert analysis.problems == []
    assert names(analysis) == expected
    assert analysis.has_star is False
    assert len(analysis.tables) == 1


def test_snowflake_folds_unquoted_to_upper_and_keeps_quoted() -> None:
    assert names(analyze_query("select user_id from t", "snowflake")) == ["USER_ID"]
    assert names(analyze_query('select "user_id" from t', "snowflake")) == ["user_id"]
    assert names(analyze_query('select x as "user_id" from t', "snowflake")) == ["user_id"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_realistic_model_with_ctes_joins_window_and_case(dialect: str) -> None:
    sql = """
with orders_agg as (
    select user_id, count(*) as order_count, sum(amount) as total_amount
    from shop.orders
    group by user_id
),
ranked as (
    select user_id, plan,
           row_number() over (partition by user_id order by updated_at desc) as rn
    from crm.subscriptions
)
select u.user_id,
       u.email,
       case when o.total_amount > 1000 then 'gold' else 'standard' end as tier,
       coalesce(o.order_count, 0) as order_count,
       r.plan
from crm.users u
left join orders_agg o on o.user_id = u.user_id
left join ranked r on r.user_id = u.user_id and r.rn = 1
"""
    analysis = analyze_query(sql, dialect)
    assert analysis.problems == []
    folded = [n.lower() for n in names(analysis)]
    assert folded == ["user_id", "email", "tier", "order_count", "plan"]
    # CTE names are not tables; the real tables are named as written.
    assert analysis.tables == ["shop.orders", "crm.subscriptions", "crm.users"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_union_takes_names_from_first_branch(dialect: str) -> None:
    sql = "select a as id, b as kind from t1 union all select c, d from t2"
    analysis = analyze_query(sql, dialect)
    assert [n.lower() for n in names(analysis)] == ["id", "kind"]
    assert analysis.tables == ["t1", "t2"]


@pytest.mark.parametrize(
    ("dialect", "sql", "keyword"),
    [
        ("postgres", "insert into t select 1", "INSERT"),
        ("duckdb", "update t set a = 1", "UPDATE"),
        ("snowflake", "delete from t where a = 1", "DELETE"),
        ("bigquery", "create table d.t as select 1 as a", "CREATE"),
        ("redshift", "drop table t", "DROP"),
        ("databricks", "alter table t add column c int", "ALTER"),
        ("tsql", "merge into t using s on t.id = s.id when matched then delete;", "MERGE"),
        ("postgres", "grant select on t to bob", "GRANT"),
        ("postgres", "copy t from '/tmp/x.csv'", "COPY"),
        ("snowflake", "call my_proc()", "CALL"),
        ("snowflake", "use database analytics", "USE"),
        ("postgres", "set search_path = x", "SET"),
        ("duckdb", "  \n  truncate table t", "TRUNCATE"),
    ],
)
def test_statements_that_are_not_queries_are_refused(dialect: str, sql: str, keyword: str) -> None:
    analysis = analyze_query(sql, dialect)
    problem = only(analysis, "sql.not_select")
    assert problem.severity == "error"
    # At the statement start (after leading whitespace).
    stripped = sql.lstrip()
    assert (problem.line, problem.col) == pos(sql, stripped[:6])
    assert keyword in problem.message
    assert analysis.columns == []


@pytest.mark.parametrize("dialect", DIALECTS)
def test_dml_statement_refused_in_every_dialect(dialect: str) -> None:
    analysis = analyze_query("delete from users where id = 1", dialect)
    assert "sql.not_select" in codes(analysis)


def test_data_modifying_cte_is_not_read_only() -> None:
    sql = "with gone as (\n  delete from users where id = 1 returning id\n)\nselect id from gone"
    problem = only(analyze_query(sql, "postgres"), "sql.not_select")
    assert (problem.line, problem.col) == pos(sql, "delete")
    assert "DELETE" in problem.message


def test_select_into_creates_a_table() -> None:
    sql = "select id into new_table from users"
    problem = only(analyze_query(sql, "postgres"), "sql.not_select")
    assert (problem.line, problem.col) == pos(sql, "into")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_two_statements_are_refused_at_the_second(dialect: str) -> None:
    sql = "select a from t;\n  select b from u"
    analysis = analyze_query(sql, dialect)
    problem = only(analysis, "sql.multiple_statements")
    assert problem.severity == "error"
    assert (problem.line, problem.col) == (2, 3)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_trailing_semicolon_is_an_error_with_a_hint(dialect: str) -> None:
    sql = "select a from t\n;\n"
    analysis = analyze_query(sql, dialect)
    problem = only(analysis, "sql.trailing_semicolon")
    assert problem.severity == "error"
    assert (problem.line, problem.col) == (2, 1)
    assert problem.hint and "remove" in problem.hint
    # The statement itself is still analysed.
    assert [n.lower() for n in names(analysis)] == ["a"]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("sql", ["", "   \n\t ", "-- just a comment\n", "/* nothing */", ";"])
def test_empty_query(dialect: str, sql: str) -> None:
    analysis = analyze_query(sql, dialect)
    assert codes(analysis) == ["sql.empty"]
    assert analysis.problems[0].line >= 1 and analysis.problems[0].col >= 1


@pytest.mark.parametrize("dialect", DIALECTS)
def test_duplicate_output_column_reported_at_the_second(dialect: str) -> None:
    sql = "select user_id,\n  email,\n  other as USER_ID\nfrom t"
    analysis = analyze_query(sql, dialect)
    problem = only(analysis, "sql.duplicate_column")
    assert problem.severity == "error"
    assert (problem.line, problem.col) == pos(sql, "USER_ID")
    assert "user_id" in problem.message.lower()


def test_quoted_names_differing_in_case_are_distinct_where_the_warehouse_keeps_case() -> None:
    sql = 'select "id", "ID" from t'
    assert "sql.duplicate_column" not in codes(analyze_query(sql, "postgres"))
    assert "sql.duplicate_column" not in codes(analyze_query(sql, "snowflake"))
    # BigQuery compares column names case-insensitively even when quoted.
    assert "sql.duplicate_column" in codes(analyze_query("select `id`, `ID` from t", "bigquery"))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_star_without_schema_warns(dialect: str) -> None:
    sql = "select u.*,\n  o.amount as amount\nfrom users u join orders o on o.user_id = u.user_id"
    analysis = analyze_query(sql, dialect)
    assert analysis.has_star is True
    problem = only(analysis, "sql.star")
    assert problem.severity == "warning"
    assert (problem.line, problem.col) == pos(sql, "u.*")
    assert [n.lower() for n in names(analysis)] == ["amount"]


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        ("postgres", ["upper", "?column?", "case", "x"]),
        ("redshift", ["upper", "?column?", "case", "x"]),
        ("bigquery", ["f0_", "f1_", "f2_", "f3_"]),
        ("snowflake", ["UPPER(NAME)", "A + 1", "CASE WHEN A THEN 1 END", "X::INT"]),
        ("tsql", ["", "", "", ""]),
    ],
)
def test_unnamed_expressions_warn_and_name_what_the_warehouse_invents(
    dialect: str, expected: list[str]
) -> None:
    cast = "cast(x as int)" if dialect in ("bigquery", "tsql") else "x::int"
    sql = f"select upper(name), a + 1, case when a then 1 end, {cast} from t"
    analysis = analyze_query(sql, dialect)
    unnamed = [p for p in analysis.problems if p.code == "sql.unnamed_column"]
    assert len(unnamed) == 4
    assert all(p.severity == "warning" for p in unnamed)
    assert [(p.line, p.col) for p in unnamed] == [
        pos(sql, "upper"),
        pos(sql, "a + 1"),
        pos(sql, "case"),
        pos(sql, cast),
    ]
    assert names(analysis) == expected
    for problem, name in zip(unnamed, expected, strict=True):
        if name:
            assert f"'{name}'" in problem.message


@pytest.mark.parametrize("dialect", DIALECTS)
def test_too_long_is_refused_before_parsing(dialect: str) -> None:
    body = "select a from t where " + " or ".join(f"a = {i}" for i in range(20000))
    assert len(body) > MAX_QUERY_CHARS
    analysis = analyze_query(body, dialect)
    assert codes(analysis) == ["sql.too_long"]
    assert analysis.problems[0].severity == "error"
    at_limit = "select 1 as a --" + "x" * (MAX_QUERY_CHARS - 16)
    assert len(at_limit) == MAX_QUERY_CHARS
    assert "sql.too_long" not in codes(analyze_query(at_limit, dialect))


def test_five_megabyte_query_is_rejected_in_milliseconds() -> None:
    huge = "select a from t where x in (" + "1, " * 1_700_000 + "1)"
    assert len(huge) > 5_000_000
    started = time.perf_counter()
    analysis = analyze_query(huge, "snowflake")
    elapsed = time.perf_counter() - started
    assert codes(analysis) == ["sql.too_long"]
    assert elapsed < 0.05


@pytest.mark.parametrize("dialect", DIALECTS)
def test_literal_and_cast_types_without_schema(dialect: str) -> None:
    analysis = analyze_query("select 'a' as s, cast(x as date) as d, y from t", dialect)
    types = {c.name.lower(): c.type for c in analysis.columns}
    assert types["s"] is not None and types["d"] == "DATE"
    assert types["y"] is None


def test_values_is_a_read_only_query() -> None:
    analysis = analyze_query("values (1, 'a'), (2, 'b')", "postgres")
    assert analysis.problems == []
    assert names(analysis) == ["column1", "column2"]


def test_bad_dialect_is_a_user_error() -> None:
    from segprof.errors import SegprofError

    with pytest.raises(SegprofError):
        analyze_query("select 1", "mysql")


def test_duckdb_statement_pivot_is_a_query_with_unknown_columns() -> None:
    analysis = analyze_query("pivot sales on region using sum(amount)", "duckdb")
    assert analysis.has_star is True
    assert codes(analysis) == ["sql.star"]
    assert analysis.tables == ["sales"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_commands_sqlglot_cannot_parse_are_refused_quietly(
    dialect: str, capsys: pytest.CaptureFixture[str]
) -> None:
    analysis = analyze_query("explain select 1", dialect)
    assert "sql.not_select" in codes(analysis)
    # sqlglot's "falling back to parsing as a Command" log line must not reach the terminal.
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


MANGLED = [
    "select (a from t",
    "select a from t where b in (1, 2",
    "select 'a from t",
    "select a, from",
    "with x as (select 1) select",
    "select a from t join on",
    "select * from (select 1",
    "select a b c d from t",
    "select ((((((((((1",
    "select a from t order by",
    ")))",
    "select 1 as a; drop table t",
    "'",
    '"',
    "`",
    "select $$",
    "/*",
    "select a from t where x = 'it''s' and y = \"q\"\"x\"",
]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_mangled_sql_never_raises_and_every_problem_is_inside_the_text(dialect: str) -> None:
    for sql in MANGLED:
        analysis = analyze_query(sql, dialect, {"t": {"a": "int", "b": "int"}})
        lines = sql.replace("\r\n", "\n").split("\n")
        for problem in analysis.problems:
            assert 1 <= problem.line <= len(lines), (sql, problem)
            assert 1 <= problem.col <= len(lines[problem.line - 1]) + 1, (sql, problem)
            assert problem.severity in ("error", "warning")
            assert "\x1b" not in problem.message


@pytest.mark.parametrize("dialect", DIALECTS)
def test_star_over_ctes_is_expanded_without_schema(dialect: str) -> None:
    sql = (
        "with base as (select user_id, email from crm.users),\n"
        "final as (select b.*, 'x' as tag from base b)\n"
        "select * from final"
    )
    analysis = analyze_query(sql, dialect)
    assert analysis.has_star is True
    assert "sql.star" not in codes(analysis)
    assert [n.lower() for n in names(analysis)] == ["user_id", "email", "tag"]
    assert analysis.columns[2].type is not None


@pytest.mark.parametrize("dialect", DIALECTS)
def test_star_over_a_warehouse_table_stays_unknown_without_schema(dialect: str) -> None:
    sql = "with base as (select 1 as one) select base.*, u.* from base cross join crm.users u"
    analysis = analyze_query(sql, dialect)
    assert "sql.star" in codes(analysis)
    assert analysis.columns == []


def test_garbage_collection_is_left_as_it_was() -> None:
    import gc

    assert gc.isenabled()
    analyze_query("select a from t", "postgres")
    analyze_query("select (", "postgres")
    assert gc.isenabled()
    gc.disable()
    try:
        analyze_query("select a from t", "postgres")
        assert not gc.isenabled()
    finally:
        gc.enable()
