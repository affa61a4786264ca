"""Golden output schemas of realistic models (pinned sqlglot behaviour).

Output names and inferred types can change between sqlglot minor versions (issue #7919 renamed
output columns in one). These tests pin what this version infers; when a sqlglot upgrade changes
one, review the difference before updating the expectation.
"""

from __future__ import annotations

import pytest

from segprof.sql.analyze import analyze_query

MODEL = """
with orders_agg as (
    select user_id, count(*) as order_count, sum(amount) as total_amount, max(ordered_at) as last_order_at
    from shop.orders
    group by user_id
),
ranked as (
    select user_id, plan,
           row_number() over (partition by user_id order by updated_at desc) as rn
    from crm.subscriptions
)
select u.user_id,
       lower(u.email) as email,
       case when o.total_amount > 1000 then 'gold' else 'standard' end as tier,
       coalesce(o.order_count, 0) as order_count,
       o.total_amount,
       o.last_order_at,
       r.plan as current_plan,
       u.ltv * 1.1 as ltv_adjusted,
       cast(u.created_at as date) as signup_date
from crm.users u
left join orders_agg o on o.user_id = u.user_id
left join ranked r on r.user_id = u.user_id and r.rn = 1
where u.email is not null
"""

# Column types as each warehouse's introspection would report them.
TYPES = {
    "duckdb": dict(s="varchar", t="timestamp", d="double", n="decimal(12,2)", i="bigint"),
    "postgres": dict(s="text", t="timestamptz", d="double precision", n="numeric(12,2)", i="bigint"),
    "snowflake": dict(s="varchar", t="timestamp_ntz", d="float", n="number(12,2)", i="number(38,0)"),
    "bigquery": dict(s="string", t="timestamp", d="float64", n="numeric", i="int64"),
    "redshift": dict(s="varchar(256)", t="timestamp", d="double precision", n="decimal(12,2)", i="bigint"),
    "databricks": dict(s="string", t="timestamp", d="double", n="decimal(12,2)", i="bigint"),
    "tsql": dict(s="nvarchar(200)", t="datetime2", d="float", n="decimal(12,2)", i="bigint"),
}

EXPECTED = {
    "duckdb": [
        ("user_id", "TEXT"),
        ("email", "TEXT"),
        ("tier", "TEXT"),
        ("order_count", "BIGINT"),
        ("total_amount", "DECIMAL(12, 2)"),
        ("last_order_at", "TIMESTAMP"),
        ("current_plan", "TEXT"),
        ("ltv_adjusted", "DOUBLE"),
        ("signup_date", "DATE"),
    ],
    "postgres": [
        ("user_id", "TEXT"),
        ("email", "VARCHAR"),
        ("tier", "VARCHAR"),
        ("order_count", "BIGINT"),
        ("total_amount", "DECIMAL(12, 2)"),
        ("last_order_at", "TIMESTAMPTZ"),
        ("current_plan", "TEXT"),
        ("ltv_adjusted", "DOUBLE PRECISION"),
        ("signup_date", "DATE"),
    ],
    "snowflake": [
        ("USER_ID", "VARCHAR"),
        ("EMAIL", "VARCHAR"),
        ("TIER", "VARCHAR"),
        ("ORDER_COUNT", "BIGINT"),
        ("TOTAL_AMOUNT", "DECIMAL(12, 2)"),
        ("LAST_ORDER_AT", "TIMESTAMPNTZ"),
        ("CURRENT_PLAN", "VARCHAR"),
        ("LTV_ADJUSTED", "DOUBLE"),
        ("SIGNUP_DATE", "DATE"),
    ],
    "bigquery": [
        ("user_id", "STRING"),
        ("email", "STRING"),
        ("tier", "STRING"),
        ("order_count", "INT64"),
        ("total_amount", "NUMERIC"),
        ("last_order_at", "TIMESTAMP"),
        ("current_plan", "STRING"),
        ("ltv_adjusted", "FLOAT64"),
        ("signup_date", "DATE"),
    ],
    "redshift": [
        ("user_id", "VARCHAR(256)"),
        ("email", "VARCHAR"),
        ("tier", "VARCHAR"),
        ("order_count", "BIGINT"),
        ("total_amount", "DECIMAL(12, 2)"),
        ("last_order_at", "TIMESTAMP"),
        ("current_plan", "VARCHAR(256)"),
        ("ltv_adjusted", "DOUBLE PRECISION"),
        ("signup_date", "DATE"),
    ],
    "databricks": [
        ("user_id", "STRING"),
        ("email", "STRING"),
        ("tier", "STRING"),
        ("order_count", "BIGINT"),
        ("total_amount", "DECIMAL(12, 2)"),
        ("last_order_at", "TIMESTAMP"),
        ("current_plan", "STRING"),
        ("ltv_adjusted", "DOUBLE"),
        ("signup_date", "DATE"),
    ],
    "tsql": [
        ("user_id", "NVARCHAR(200)"),
        ("email", "VARCHAR"),
        ("tier", "VARCHAR"),
        ("order_count", "INTEGER"),
        ("total_amount", "NUMERIC(12, 2)"),
        ("last_order_at", "DATETIME2"),
        ("current_plan", "NVARCHAR(200)"),
        ("ltv_adjusted", "FLOAT"),
        ("signup_date", "DATE"),
    ],
}


def _schema(dialect: str) -> dict[str, dict[str, str]]:
    t = TYPES[dialect]
    return {
        "crm.users": {
            "user_id": t["s"],
            "email": t["s"],
            "plan": t["s"],
            "created_at": t["t"],
            "ltv": t["d"],
        },
        "shop.orders": {"order_id": t["i"], "user_id": t["s"], "amount": t["n"], "ordered_at": t["t"]},
        "crm.subscriptions": {"user_id": t["s"], "plan": t["s"], "updated_at": t["t"]},
    }


@pytest.mark.parametrize("dialect", sorted(EXPECTED))
def test_inferred_output_schema(dialect: str) -> None:
    analysis = analyze_query(MODEL, dialect, _schema(dialect))
    assert analysis.problems == []
    assert [(c.name, c.type) for c in analysis.columns] == EXPECTED[dialect]


STAR_MODEL = """
select s.*, u.email
from crm.subscriptions s
join crm.users u on u.user_id = s.user_id
where s.updated_at > current_date - 30
"""


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (
            "snowflake",
            [
                ("USER_ID", "VARCHAR"),
                ("PLAN", "VARCHAR"),
                ("UPDATED_AT", "TIMESTAMPNTZ"),
                ("EMAIL", "VARCHAR"),
            ],
        ),
        (
            "bigquery",
            [("user_id", "STRING"), ("plan", "STRING"), ("updated_at", "TIMESTAMP"), ("email", "STRING")],
        ),
        (
            "postgres",
            [("user_id", "TEXT"), ("plan", "TEXT"), ("updated_at", "TIMESTAMPTZ"), ("email", "TEXT")],
        ),
    ],
)
def test_inferred_schema_through_star(dialect: str, expected: list[tuple[str, str]]) -> None:
    analysis = analyze_query(STAR_MODEL, dialect, _schema(dialect))
    assert analysis.has_star is True
    assert [(c.name, c.type) for c in analysis.columns] == expected
