"""The path on Spark, reached through Spark Connect as a Databricks cluster is (Databricks Connect).

introspect, generate, validate, plan/apply and sync run here against real Spark: change detection
runs in Spark, on Spark's own parquet tables, which have no row-level DELETE or UPDATE.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from segprof.operations.workspaces import embedded_transport
from segprof.warehouses.managed_schema import mapping_key, table
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


def embedded_messages(root: Path) -> list[dict]:
    """What the embedded workspace's Tracking API received, in arrival order."""
    transport = embedded_transport(root)
    try:
        with httpx.Client(transport=transport, base_url="http://emulator.local") as client:
            return client.get("/emulator/v1/messages", params={"limit": 1000}).json()["data"]["messages"]
    finally:
        transport.close()


def sync(run_cli, root: str, *extra: str) -> dict:
    result = run_cli("sync", "--all", "-C", root, "--format", "json", *extra)
    assert result.exit_code == 0, result.stdout + result.stderr
    (run,) = json.loads(result.stdout)["runs"]
    return run


def test_sync_runs_inside_spark(tmp_path: Path, spark_source, run_cli):
    """First and incremental syncs, dry run, history and a crash between a rewrite's DROP and
    RENAME, with change detection running in Spark on its own parquet tables (no row-level
    DELETE/UPDATE: the bookkeeping rewrites its tables)."""
    project = spark_project(tmp_path / "p", spark_source)
    root = str(project.root)
    applied = run_cli("apply", "-C", root, "--auto-approve")
    assert applied.exit_code == 0, applied.stdout + applied.stderr

    first = sync(run_cli, root)
    assert (first["status"], first["new"], first["delivered"]) == ("success", 3, 3)
    got = {m["message"]["userId"]: m["message"] for m in embedded_messages(project.root)}
    assert set(got) == {"1", "2", "3"}
    assert got["2"]["traits"] == {"email": "bob@example.com", "plan": "pro"}

    # Spark's parquet tables take no UPDATE/DELETE either: the model's table is written anew
    project.sql(
        "DROP TABLE users",
        "CREATE TABLE users (user_id BIGINT, email STRING, plan STRING, updated_at TIMESTAMP) USING parquet",
        "INSERT INTO users VALUES (1, 'ann@example.com', 'pro', NULL), "
        "(2, 'bob@example.com', 'pro', NULL), (4, 'dee@example.com', 'free', NULL)",
    )
    dry = sync(run_cli, root, "--dry-run")
    assert (dry["status"], dry["new"], dry["updated"], dry["deleted"]) == ("dry_run", 1, 1, 1)
    assert len(embedded_messages(project.root)) == 3
    second = sync(run_cli, root)
    assert (second["status"], second["new"], second["updated"], second["deleted"]) == ("success", 1, 1, 1)
    assert second["delivered"] == 3
    later = {m["message"]["userId"]: m["message"] for m in embedded_messages(project.root)[3:]}
    assert set(later) == {"1", "3", "4"}
    assert later["1"]["traits"]["plan"] == "pro"
    assert later["3"]["traits"] == {"email": None, "plan": None}  # deleted: mapped columns null
    assert later["4"]["traits"] == {"email": "dee@example.com", "plan": "free"}

    # a crash after a rewrite's DROP leaves only `<table>_next`: the next run renames it into place
    # (and drops a `_next` left before the DROP); with nothing changed, it sends nothing
    snapshot = table("snapshot_" + mapping_key(second["mapping_id"])).replace('"', "`")
    project.sql(
        f"ALTER TABLE {snapshot} RENAME TO {snapshot[:-1]}_next`",
        f"CREATE TABLE {table('runs_next').replace(chr(34), '`')} AS SELECT 1 AS junk",
    )
    third = sync(run_cli, root)
    assert (third["status"], third["new"] + third["updated"] + third["deleted"], third["delivered"]) == (
        "success",
        0,
        0,
    )
    ids = [m["message"]["messageId"] for m in embedded_messages(project.root)]
    assert len(ids) == len(set(ids)) == 6

    # run history is read through the session catalog (no information_schema in Spark)
    history = run_cli("syncs", "-C", root, "--format", "json")
    assert history.exit_code == 0, history.stdout + history.stderr
    assert [r["status"] for r in json.loads(history.stdout)["runs"]] == ["success"] * 3

    # `plan --preview`: sample records read in Spark through the old and the new settings
    project.traits = {"email": "email", "plan": {"template": "tier-{{plan}}"}}
    project.write()
    planned = run_cli("plan", "-C", root, "--format", "json", "--preview", "2")
    assert planned.exit_code == 0, planned.stdout + planned.stderr
    (change,) = [
        c for c in json.loads(planned.stdout)["resource_changes"] if c["address"] == "mapping.identify_users"
    ]
    preview = change["preview"]
    assert preview["available"] and preview["has_before"], preview
    assert [r["id"] for r in preview["records"]] == ["1", "2"]
    assert [(c["path"], c["before"], c["after"]) for c in preview["records"][0]["changes"]] == [
        ("traits.plan", "pro", "tier-pro")
    ]
