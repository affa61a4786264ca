"""Output column names and problems checked against real DuckDB and PostgreSQL.

The warehouse is the oracle: each query runs for real (`LIMIT 0`) and the result set's column
names must equal the names analyze_query predicted offline.
"""

from __future__ import annotations

import duckdb
import pytest

from segprof.sql.analyze import analyze_query

DDL = [
    'create table users (user_id varchar, "Email" varchar, plan varchar, ltv double precision, '
    "created_at timestamp)",
    "create table orders (order_id bigint, user_id varchar, amount numeric(12, 2))",
]

COMMON = [
    "select user_id, plan from users",
    'select USER_ID, "Email", Plan as Plan_Name, ltv * 2 as "LTV2" from users',
    "select u.user_id, sum(o.amount) as total from users u join orders o on o.user_id = u.user_id "
    "group by u.user_id",
    "with x as (select user_id as id from users) select id, 'k' as kind from x "
    "union all select order_id::varchar, 'o' from orders",
    "select * from users",
    "with final as (select user_id, Plan as PlanName, 1 as one from users) select * from final",
    "select o.*, u.plan from orders o left join users u using (user_id)",
]

POSTGRES_ONLY = [
    # Expressions without an alias: PostgreSQL's own naming rules.
    "select upper(plan), ltv + 1, case when ltv > 1 then 1 end, created_at::date, count(*) over () "
    "from users",
    "select 'a'::text, 1::int, coalesce(plan, 'free'), (select max(amount) from orders), "
    "exists (select 1 from orders) from users",
]

SCHEMA = {
    "users": {
        "user_id": "varchar",
        '"Email"': "varchar",
        "plan": "varchar",
        "ltv": "double",
        "created_at": "timestamp",
    },
    "orders": {"order_id": "bigint", "user_id": "varchar", "amount": "decimal(12,2)"},
}


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for ddl in DDL:
        con.execute(ddl)
    return con


def _duck_names(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    return [d[0] for d in con.execute(sql + " limit 0").description]


@pytest.mark.parametrize("sql", COMMON)
def test_duckdb_result_names_match(duck: duckdb.DuckDBPyConnection, sql: str) -> None:
    analysis = analyze_query(sql, "duckdb", SCHEMA)
    assert analysis.ok, analysis.problems
    assert [c.name for c in analysis.columns] == _duck_names(duck, sql)


@pytest.mark.parametrize("sql", [*COMMON[:4], COMMON[5]])
def test_duckdb_names_without_schema(duck: duckdb.DuckDBPyConnection, sql: str) -> None:
    # Offline, DuckDB's stored spelling of a bare column is unknown: names agree up to case.
    analysis = analyze_query(sql, "duckdb")
    assert [c.name.lower() for c in analysis.columns] == [n.lower() for n in _duck_names(duck, sql)]


def test_duckdb_rejects_what_we_reject(duck: duckdb.DuckDBPyConnection) -> None:
    # What we call an unknown column, DuckDB refuses as well (a binder error).
    sql = "select emial from users"
    assert [p.code for p in analyze_query(sql, "duckdb", SCHEMA).problems] == ["sql.unknown_column"]
    with pytest.raises(duckdb.BinderException):
        duck.execute(sql)
    sql = "select plan from userz"
    assert [p.code for p in analyze_query(sql, "duckdb", SCHEMA).problems] == ["sql.unknown_table"]
    with pytest.raises(duckdb.CatalogException):
        duck.execute(sql)


@pytest.mark.postgres
def test_postgres_result_names_match(postgres_dsn: str) -> None:
    import psycopg

    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        for ddl in DDL:
            conn.execute(ddl)
        for sql in COMMON + POSTGRES_ONLY:
            analysis = analyze_query(sql, "postgres", SCHEMA)
            assert not [p for p in analysis.problems if p.severity == "error"], (sql, analysis.problems)
            cur = conn.execute(sql + " limit 0")
            actual = [d.name for d in cur.description or []]
            assert [c.name for c in analysis.columns] == actual, sql


@pytest.mark.postgres
def test_postgres_rejects_trailing_semicolon_inside_a_cte(postgres_dsn: str) -> None:
    # Why a trailing ';' is an error: Segment wraps the model in a CTE.
    import psycopg

    sql = "select 1 as a;"
    assert [p.code for p in analyze_query(sql, "postgres").problems] == ["sql.trailing_semicolon"]
    with psycopg.connect(postgres_dsn, autocommit=True) as conn, pytest.raises(psycopg.errors.SyntaxError):
        conn.execute(f"with model as ({sql}) select * from model")
