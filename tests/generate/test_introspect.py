"""`segprof introspect` on real DuckDB and PostgreSQL, and validate reading its snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

PROJECT = """\
version: 1
sources:
  wh:
{source}
models:
  everyone:
    identifier: user_id
    query: |
      SELECT * FROM users
  picked:
    identifier: user_id
    query: |
      SELECT user_id, emial FROM users
destinations:
  profiles:
    type: segment_profiles
mappings:
  identify_everyone:
    model: everyone
    destination: profiles
    action: send_identify
    on: [new, updated]
    fields:
      user_id: prefs
      traits:
        email: email
        missing: nowhere
  identify_whole:
    model: everyone
    destination: profiles
    action: send_identify
    on: [new]
    fields:
      user_id: user_id
      traits: prefs
  identify_wrong_object:
    model: everyone
    destination: profiles
    action: send_identify
    on: [new]
    fields:
      user_id: user_id
      traits: email
"""


def _duckdb_project(tmp_path: Path) -> Path:
    import duckdb

    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute(
        "CREATE TABLE users (user_id VARCHAR PRIMARY KEY, email VARCHAR NOT NULL UNIQUE, "
        "plan VARCHAR, prefs STRUCT(theme VARCHAR), created_at TIMESTAMP)"
    )
    con.execute("CREATE SCHEMA sales")
    con.execute("CREATE TABLE sales.accounts (id INTEGER PRIMARY KEY, name VARCHAR)")
    con.execute("CREATE VIEW active AS SELECT user_id, email FROM users")
    con.close()
    (tmp_path / "segprof.yaml").write_text(PROJECT.format(source="    type: duckdb\n    path: wh.duckdb"))
    return tmp_path


def test_duckdb_snapshot_is_complete_and_deterministic(tmp_path: Path, run_cli) -> None:
    project = _duckdb_project(tmp_path)
    result = run_cli("introspect", "-C", str(project))
    assert result.exit_code == 0, result.output
    first = (project / "schema.json").read_bytes()
    doc = json.loads(first)
    assert doc["dialect"] == "duckdb"
    assert list(doc["tables"]) == ["main.active", "main.users", "sales.accounts"]
    users = doc["tables"]["main.users"]
    assert list(users["columns"]) == ["user_id", "email", "plan", "prefs", "created_at"]
    assert users["columns"]["prefs"].startswith("STRUCT")
    assert users["primary_key"] == ["user_id"]
    assert users["unique_keys"] == [["email"]]
    assert set(users["not_null"]) == {"user_id", "email"}
    assert doc["tables"]["main.active"]["kind"] == "view"

    result = run_cli("introspect", "-C", str(project), "--out", str(tmp_path / "again.json"))
    assert result.exit_code == 0
    assert (tmp_path / "again.json").read_bytes() == first

    only = tmp_path / "sales.json"
    assert run_cli("introspect", "-C", str(project), "--schemas", "sales", "--out", str(only)).exit_code == 0
    assert list(json.loads(only.read_text())["tables"]) == ["sales.accounts"]


def test_validate_picks_up_schema_json(tmp_path: Path, run_cli) -> None:
    project = _duckdb_project(tmp_path)
    before = run_cli("validate", "-C", str(project), "--format", "json")
    # without a snapshot, `SELECT *` hides the columns and `emial` cannot be judged
    assert "emial" not in before.output
    assert run_cli("introspect", "-C", str(project)).exit_code == 0
    after = run_cli("validate", "-C", str(project), "--format", "json")
    assert after.exit_code == 1
    diagnostics = json.loads(after.output)
    found = diagnostics
    by_message = {d["message"]: d for d in found}
    unknown = [d for d in found if "emial" in d["message"]]
    assert (
        unknown
        and (unknown[0]["line"], unknown[0]["col"]) == (14, 23)
        and unknown[0]["code"] == "sql.unknown_column"
    )
    # SELECT * expanded: the unknown trait column is reported, the known ones are not
    assert any("`nowhere`" in m for m in by_message)
    assert not any("`email` is not" in m for m in by_message)
    typed = [d for d in found if d["code"] == "columns.type"]
    assert {d["address"] for d in typed} == {"mapping.identify_everyone", "mapping.identify_wrong_object"}
    assert any("prefs" in d["message"] and "user_id" in d["message"] for d in typed)


@pytest.mark.postgres
def test_postgres_snapshot(tmp_path: Path, postgres_dsn: str, run_cli) -> None:
    import psycopg

    with psycopg.connect(postgres_dsn, autocommit=True) as con:
        con.execute(
            "CREATE TABLE users (user_id text PRIMARY KEY, email text NOT NULL UNIQUE, plan text, "
            "prefs jsonb, tags text[], created_at timestamptz)"
        )
        con.execute("CREATE VIEW active AS SELECT user_id, email FROM users")
    params = dict(part.split("=", 1) for part in postgres_dsn.split())
    source = (
        f"    type: postgres\n    host: {params['host']}\n    port: {params['port']}\n"
        f"    database: {params['dbname']}\n    user: {params['user']}"
    )
    (tmp_path / "segprof.yaml").write_text(PROJECT.format(source=source))
    result = run_cli("introspect", "-C", str(tmp_path))
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "schema.json").read_text())
    assert doc["dialect"] == "postgres"
    users = doc["tables"]["public.users"]
    assert list(users["columns"])[:3] == ["user_id", "email", "plan"]
    assert users["primary_key"] == ["user_id"]
    assert users["unique_keys"] == [["email"]]
    assert doc["tables"]["public.active"]["kind"] == "view"
    report = run_cli("validate", "-C", str(tmp_path), "--format", "json")
    assert "emial" in report.output


def test_a_foreign_schema_json_only_warns(tmp_path: Path, run_cli) -> None:
    project = _duckdb_project(tmp_path)
    (project / "schema.json").write_text('{"$schema": "http://json-schema.org/draft-07/schema#"}')
    report = run_cli("validate", "-C", str(project), "--format", "json")
    found = json.loads(report.output)
    foreign = [d for d in found if d["code"] == "snapshot.invalid"]
    assert foreign and all(d["severity"] == "warning" for d in foreign)
    # the project's own errors are still there; the snapshot's are not invented
    assert not any(d["code"] == "columns.type" for d in found)
