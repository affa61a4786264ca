"""The path on Spark, reached through Spark Connect as a Databricks cluster is (Databricks Connect).

introspect, generate, validate and plan/apply run here against real Spark. The sync engine's SQL
does not run on open-source Spark yet; `test_sync_runs_inside_spark` names each statement and why.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sync.sync_project import Project


def spark_project(root: Path, source: dict) -> Project:
    project = Project(root, source, tracking=None)
    project.sql(
        "CREATE TABLE users (user_id BIGINT, email STRING, plan STRING, updated_at TIMESTAMP) USING parquet",
        "INSERT INTO users VALUES (1, 'ann@example.com', 'free', TIMESTAMP '2024-01-02 03:04:05.123456'), "
        "(2, 'bob@example.com', 'pro', NULL), (3, 'cyd@example.com', 'free', TIMESTAMP '2024-03-04 05:06:07')",
    )
    return project


def test_introspect_generate_validate_plan_apply(tmp_path: Path, spark_source, run_cli):
    project = spark_project(tmp_path / "p", spark_source)
    project.sql("CREATE TABLE accounts (account_id STRING, name STRING, seats INT) USING parquet")
    root = str(project.root)

    introspected = run_cli("introspect", "-C", root)
    assert introspected.exit_code == 0, introspected.stdout + introspected.stderr
    snapshot = json.loads((project.root / "schema.json").read_text())
    assert snapshot["dialect"] == "databricks"
    schema = spark_source["schema"]
    assert snapshot["tables"][f"{schema}.users"]["columns"] == {
        "user_id": "bigint",
        "email": "string",
        "plan": "string",
        "updated_at": "timestamp",
    }

    valid = run_cli("validate", "-C", root)
    assert valid.exit_code == 0, valid.stdout + valid.stderr
    applied = run_cli("apply", "-C", root, "--auto-approve")
    assert applied.exit_code == 0, applied.stdout + applied.stderr
    assert "Apply complete! 4 added" in applied.stdout

    generated = run_cli("generate", "-C", root, "--out", str(tmp_path / "proposal"))
    assert generated.exit_code == 0, generated.stdout + generated.stderr
    text = (tmp_path / "proposal" / "generated.yaml").read_text()
    assert "identifier: user_id" in text and "group_id: account_id" in text


@pytest.mark.xfail(
    strict=True,
    reason="the sync engine's SQL does not run on open-source Spark: (1) the snapshot fold's "
    "`DELETE FROM __segprof.snapshot_…` (and every DELETE/UPDATE of the bookkeeping tables) needs a "
    "table format with row-level changes — Delta, Databricks' default, whose jars come only from "
    "Maven; Spark's own parquet tables refuse it (UNSUPPORTED_FEATURE.TABLE_OPERATION); "
    "(2) `sync --dry-run` and `preview` read `information_schema.tables`, which Unity Catalog has "
    "and Spark's session catalog does not; (3) the identifier check's "
    "`… GROUP BY ROLLUP (k.id) HAVING count(*) > 1 OR k.id IS NULL` is refused by Spark's analyzer "
    "(UNRESOLVED_COLUMN: `k`.`id` in HAVING after ROLLUP)",
)
def test_sync_runs_inside_spark(tmp_path: Path, spark_source, run_cli):
    project = spark_project(tmp_path / "p", spark_source)
    root = str(project.root)
    assert run_cli("apply", "-C", root, "--auto-approve").exit_code == 0
    result = run_cli("sync", "--all", "-C", root, "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    (run,) = json.loads(result.stdout)["runs"]
    assert (run["status"], run["new"], run["delivered"]) == ("success", 3, 3)
