"""Benchmark: offline analysis of realistic generated models, per dialect, with and without a schema.

Run from the repository root:

    python benchmarks/sql_analysis.py            # compiled sqlglot (sqlglotc) when installed
    python benchmarks/sql_analysis.py --pure     # also re-run with sqlglot's pure-Python modules

Prints models/s for `analyze_query`, its ratio to the 150 models/s bound, and, measured in the
same run on the same models, the rate of bare sqlglot (parse → qualify → annotate_types): the
peer that shows how much analysis costs on top of sqlglot itself. Each model is 20–40 lines:
two CTEs, joins, a window function and a CASE.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BOUND = 150.0
DIALECTS = ["duckdb", "postgres", "snowflake", "bigquery", "redshift", "databricks", "tsql"]

TYPES = {
    "tsql": {"s": "varchar(200)", "i": "bigint", "d": "float", "t": "datetime2", "n": "decimal(12,2)"},
    "bigquery": {"s": "string", "i": "int64", "d": "float64", "t": "timestamp", "n": "numeric"},
}
DEFAULT_TYPES = {"s": "varchar", "i": "bigint", "d": "double", "t": "timestamp", "n": "decimal(12,2)"}


def make_schema(dialect: str, tables: int = 40) -> dict[str, dict[str, str]]:
    types = TYPES.get(dialect, DEFAULT_TYPES)
    schema: dict[str, dict[str, str]] = {}
    for t in range(tables):
        cols = {"user_id": types["s"], "account_id": types["s"], "updated_at": types["t"]}
        for c in range(12):
            cols[f"attr_{c}"] = types["sid"[c % 3]] if c % 4 else types["n"]
        schema[f"analytics.table_{t}"] = cols
    return schema


def make_model(rng: random.Random, dialect: str) -> str:
    t1, t2, t3 = rng.sample(range(40), 3)
    a, b, c, d = rng.sample(range(12), 4)
    extra = "\n".join(f"       p.attr_{k} as extra_{k}," for k in rng.sample(range(12), rng.randint(0, 8)))
    return f"""with events as (
    select user_id,
           account_id,
           attr_{a},
           attr_{b},
           updated_at,
           row_number() over (partition by user_id order by updated_at desc) as rn
    from analytics.table_{t1}
    where attr_{c} is not null
),
accounts as (
    select account_id,
           max(attr_{d}) as top_value,
           count(*) as member_count
    from analytics.table_{t2}
    group by account_id
)
select e.user_id,
       e.account_id,
{extra}
       case
           when a.member_count > 100 then 'enterprise'
           when a.member_count > 10 then 'team'
           else 'solo'
       end as segment,
       a.top_value,
       coalesce(p.attr_{a}, e.attr_{a}) as preferred,
       e.updated_at
from events e
join accounts a on a.account_id = e.account_id
left join analytics.table_{t3} p on p.user_id = e.user_id
where e.rn = 1
"""


def bare_sqlglot(sql: str, dialect: str, schema: dict[str, dict[str, str]] | None) -> None:
    import sqlglot
    from sqlglot.optimizer.annotate_types import annotate_types
    from sqlglot.optimizer.qualify import qualify

    tree = sqlglot.parse_one(sql, dialect=dialect)
    if schema is not None:
        tree = qualify(tree, schema=schema, dialect=dialect)
        annotate_types(tree, schema=schema, dialect=dialect)


def rates(
    models: list[str], dialect: str, schema: object, bare_schema: object, rounds: int = 3
) -> tuple[float, float, float]:
    """(ours per wall second, ours per CPU second, bare sqlglot per CPU second), best of `rounds`.

    Ours and bare alternate model by model, so both see the same load on a shared machine and
    their ratio stays meaningful even when the absolute rates do not.
    """
    from segprof.sql.analyze import analyze_query

    analyze_query(models[0], dialect, schema)  # warm up the dialect and the snapshot's tables
    bare_sqlglot(models[0], dialect, bare_schema)
    best = (0.0, 0.0, 0.0)
    for _ in range(rounds):
        ours_wall = ours_cpu = bare_cpu = 0.0
        for sql in models:
            wall, cpu = time.perf_counter(), time.process_time()
            analyze_query(sql, dialect, schema)
            ours_wall += time.perf_counter() - wall
            ours_cpu += time.process_time() - cpu
            cpu = time.process_time()
            bare_sqlglot(sql, dialect, bare_schema)
            bare_cpu += time.process_time() - cpu
        n = len(models)
        best = tuple(
            max(b, n / max(t, 1e-9)) for b, t in zip(best, (ours_wall, ours_cpu, bare_cpu), strict=True)
        )
    return best


def run(n: int, label: str) -> None:
    import sqlglot
    from sqlglot.schema import MappingSchema

    from segprof.sql.analyze import analyze_query

    compiled = sqlglot.parser.__file__.endswith(".so")
    print(f"\n== {label}: sqlglot {sqlglot.__version__}, compiled modules: {compiled}; {n} models/dialect")
    print("(wall = models per elapsed second; cpu = per second of this process's CPU time, which")
    print(" is what one free core would give when other processes share the machine)")
    print(
        f"{'dialect':<11}{'schema':<7}{'wall/s':>7}{'cpu/s':>7}{'cpu÷150':>8}"
        f"{'bare cpu/s':>11}{'ours÷bare':>10}"
    )
    totals: list[float] = []
    for dialect in DIALECTS:
        rng = random.Random(7)
        models = [make_model(rng, dialect) for _ in range(n)]
        schema = make_schema(dialect)
        # Problems would mean the generator, not the analysis, is broken.
        probe = analyze_query(models[0], dialect, schema)
        assert probe.ok, probe.problems
        nested = {"analytics": {key.split(".")[1]: cols for key, cols in schema.items()}}
        bare_schema = MappingSchema(nested, dialect=dialect)
        for with_schema in (False, True):
            wall, ours, bare = rates(
                models, dialect, schema if with_schema else None, bare_schema if with_schema else None
            )
            totals.append(ours)
            print(
                f"{dialect:<11}{'yes' if with_schema else 'no':<7}{wall:>7.0f}{ours:>7.0f}"
                f"{ours / BOUND:>8.2f}{bare:>11.0f}{ours / bare:>10.2f}"
            )
    slowest = min(totals)
    print(f"slowest: {slowest:.0f} models per CPU second = {slowest / BOUND:.2f}× the {BOUND:.0f}/s bound")


def pure_python_copy() -> Path:
    """A copy of the sqlglot package without its compiled modules (what a plain install runs)."""
    import sqlglot

    source = Path(sqlglot.__file__).parent
    target = Path(tempfile.mkdtemp(prefix="sqlglot-pure-"))
    shutil.copytree(source, target / "sqlglot", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="models per dialect (default 200)")
    parser.add_argument("--pure", action="store_true", help="also measure pure-Python sqlglot")
    parser.add_argument("--label", default="as installed", help=argparse.SUPPRESS)
    args = parser.parse_args()
    run(args.n, args.label)
    if args.pure:
        copy = pure_python_copy()
        try:
            env = dict(os.environ, PYTHONPATH=f"{copy}{os.pathsep}{ROOT}")
            cmd = [sys.executable, __file__, "-n", str(args.n), "--label", "pure Python"]
            subprocess.run(cmd, env=env, check=True)
        finally:
            shutil.rmtree(copy, ignore_errors=True)


if __name__ == "__main__":
    main()
