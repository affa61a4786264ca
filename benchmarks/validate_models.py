"""Benchmark: `segprof validate` on a generated project of 1,000 models (20–40 line SQL each, one
mapping per model), in-process and through the CLI. Prints models/s and the ratio to the bound of
150 models/s (target: ratio ≥ 1).

    python benchmarks/validate_models.py [--models 1000] [--dialect snowflake] [--profile]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BOUND = 150.0  # models per second
SOURCE = {
    "snowflake": "{type: snowflake, account: acme, user: retl, database: ANALYTICS}",
    "postgres": "{type: postgres, host: 127.0.0.1, database: analytics, user: retl}",
    "duckdb": "{type: duckdb, path: warehouse.duckdb}",
    "bigquery": "{type: bigquery, project: acme}",
}


def model_sql(i: int, rng: random.Random) -> str:
    extra = [f"o.metric_{k} AS metric_{k}" for k in range(rng.randint(2, 10))]
    lines = [
        "WITH orders_agg AS (",
        "  SELECT",
        "    customer_id,",
        "    COUNT(*) AS order_count,",
        "    SUM(amount) AS lifetime_value,",
        "    MAX(created_at) AS last_order_at",
        f"  FROM analytics.orders_{i % 17}",
        "  WHERE status <> 'cancelled'",
        "  GROUP BY customer_id",
        "), ranked AS (",
        "  SELECT",
        "    c.id AS user_id,",
        "    c.email,",
        "    c.plan,",
        "    c.updated_at,",
        "    ROW_NUMBER() OVER (PARTITION BY c.id ORDER BY c.updated_at DESC) AS rn",
        f"  FROM analytics.customers_{i % 23} AS c",
        ")",
        "SELECT",
        "  r.user_id,",
        "  r.email,",
        "  r.plan,",
        "  r.updated_at,",
        "  COALESCE(o.order_count, 0) AS order_count,",
        "  COALESCE(o.lifetime_value, 0) AS lifetime_value,",
        "  CASE WHEN o.lifetime_value > 1000 THEN 'gold' ELSE 'standard' END AS tier,",
        *[f"  {column}," for column in extra],
        "  o.last_order_at",
        "FROM ranked AS r",
        "LEFT JOIN orders_agg AS o ON o.customer_id = r.user_id",
        "WHERE r.rn = 1",
    ]
    return "\n".join(lines) + "\n"


def generate(root: Path, models: int, dialect: str) -> None:
    rng = random.Random(7)
    destinations = (models + 49) // 50
    (root / "segprof.yaml").write_text(
        "version: 1\nsources:\n  warehouse: "
        + SOURCE[dialect]
        + "\ndestinations:\n"
        + "".join(f"  profiles_{d}: {{write_key: wk}}\n" for d in range(destinations))
    )
    (root / "models").mkdir()
    for chunk in range(0, models, 100):
        model_yaml = ["models:"]
        mapping_yaml = ["mappings:"]
        for i in range(chunk, min(chunk + 100, models)):
            body = "".join("      " + line + "\n" for line in model_sql(i, rng).splitlines())
            if i % 2:
                (root / "models" / f"m{i}.sql").write_text(model_sql(i, rng))
                model_yaml.append(f"  model_{i}:\n    identifier: user_id\n    query_file: m{i}.sql")
            else:
                model_yaml.append(f"  model_{i}:\n    identifier: user_id\n    query: |\n{body.rstrip()}")
            mapping_yaml.append(
                f"  identify_{i}:\n    model: model_{i}\n    destination: profiles_{i // 50}\n"
                "    action: send_identify\n    schedule: {every: 1h}\n    fields:\n"
                "      user_id: user_id\n      timestamp: updated_at\n"
                "      traits: {email: email, plan: plan, tier: tier, ltv: lifetime_value}"
            )
        (root / "models" / f"models_{chunk}.yaml").write_text("\n".join(model_yaml) + "\n")
        (root / f"mappings_{chunk}.yaml").write_text("\n".join(mapping_yaml) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--dialect", default="snowflake", choices=sorted(SOURCE))
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    try:
        import sqlglot

        compiled = sqlglot.parser.__file__.endswith((".so", ".pyd"))
    except Exception:
        compiled = False
    with tempfile.TemporaryDirectory(prefix="segprof-bench-") as tmp:
        root = Path(tmp)
        generate(root, args.models, args.dialect)
        from segprof.validate import validate_project

        started = time.perf_counter()
        cpu_started = time.process_time()
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            report = profiler.runcall(validate_project, root, environ={})
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        else:
            report = validate_project(root, environ={})
        in_process = time.perf_counter() - started
        in_process_cpu = time.process_time() - cpu_started
        assert not report.errors, report.errors[:3]
        started = time.perf_counter()
        children = os.times()
        proc = subprocess.run(
            [sys.executable, "-m", "segprof", "validate", "-C", str(root), "--format", "json"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        cli = time.perf_counter() - started
        after = os.times()
        cli_cpu = (after.children_user - children.children_user) + (
            after.children_system - children.children_system
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    print(f"sqlglot compiled (sqlglotc): {compiled}; dialect {args.dialect}; {args.models} models + mappings")
    load = os.getloadavg()[0]
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} CPUs (wall figures suffer above 1)")
    rows = (
        ("in-process, wall", in_process),
        ("in-process, CPU", in_process_cpu),
        ("CLI start to exit, wall", cli),
        ("CLI start to exit, CPU", cli_cpu),
    )
    for label, seconds in rows:
        rate = args.models / seconds
        ratio = rate / BOUND
        print(f"{label:26s} {seconds:6.2f} s  {rate:7.1f} models/s, ratio to {BOUND:.0f}/s: {ratio:.2f}")


if __name__ == "__main__":
    main()
