"""Positive and cross-cutting validate behaviour: clean projects pass, warnings do not fail,
schema snapshots, dialect case folding, and every problem reported in one run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from segprof.validate import validate_project

REPO = Path(__file__).resolve().parents[2]

GOOD = {
    "segprof.yaml": """\
# yaml-language-server: $schema=https://segprof.dev/schemas/segprof.schema.json
version: 1
workspace:
  backend: local
sources:
  warehouse:
    type: duckdb
    path: warehouse.duckdb
destinations:
  profiles:
    type: segment_profiles
    region: europe
    write_key: ${PROFILES_WRITE_KEY:-wk_demo_key_1234}
""",
    "models/users.yaml": """\
models:
  users:
    identifier: user_id
    description: Users with their plan
    query_file: users.sql
  accounts:
    identifier: account_id
    query: >
      SELECT account_id, name, industry, owner_id
      FROM accounts
""",
    "models/users.sql": """\
WITH latest AS (
  SELECT user_id, max(updated_at) AS updated_at FROM events GROUP BY user_id
)
SELECT u.user_id, u.email, u.phone, u.plan, l.updated_at, u.email_status, u.sms_status
FROM users AS u
JOIN latest AS l ON l.user_id = u.user_id
""",
    "mappings.yml": """\
mappings:
  identify_users:
    model: users
    destination: profiles
    action: send_identify
    on: [new, updated]
    schedule: {every: 1h}
    fields:
      user_id: user_id
      timestamp: updated_at
      traits: {email: email, plan: {column: plan, sync_nulls: false}, source: {value: warehouse}}
  group_accounts:
    model: accounts
    destination: profiles
    action: send_group
    schedule: {days: [mon, fri], hours: [6, 18], timezone: Europe/Berlin}
    fields:
      user_id: owner_id
      group_id: {identifier: true}
      traits: {name: name, industry: industry}
  track_plan:
    model: users
    destination: profiles
    action: send_track
    on: [updated]
    schedule: {cron: "0 */6 * * *"}
    fields:
      user_id: user_id
      event_name: {value: Plan Changed}
      properties: {plan: plan, label: {template: "plan-{{plan}}"}}
  subscriptions:
    model: users
    destination: profiles
    action: send_subscription
    fields:
      user_id: user_id
      email: email
      email_subscription_status: email_status
      phone: phone
      sms_subscription_status: {value: TRUE}
      subscription_groups: {newsletter: {value: " Subscribed "}, digest: email_status}
""",
}


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_correct_project_validates_with_exit_0(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    proc = subprocess.run(
        [sys.executable, "-m", "segprof", "validate", "-C", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "✓ valid" in proc.stdout
    assert "4 mapping(s)" in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "segprof", "validate", "-C", str(tmp_path), "--format", "json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and json.loads(proc.stdout) == []


def test_select_star_warns_without_snapshot_and_is_checked_with_one(tmp_path: Path) -> None:
    files = dict(GOOD)
    files["models/users.yaml"] = GOOD["models/users.yaml"].replace(
        "SELECT account_id, name, industry, owner_id\n      FROM accounts", "SELECT * FROM accounts"
    )
    write(tmp_path, files)
    report = validate_project(tmp_path, environ={})
    assert report.ok
    [star] = [d for d in report.diagnostics if d.address == "model.accounts"]
    assert star.severity == "warning"
    assert star.location is not None and star.location.file == "models/users.yaml"

    snapshot = tmp_path / "snapshot.json"
    tables = {
        "accounts": {
            "columns": {
                "account_id": "VARCHAR",
                "name": "VARCHAR",
                "industri": "VARCHAR",
                "owner_id": "VARCHAR",
            }
        },
        "users": {
            "columns": {
                c: "VARCHAR" for c in ("user_id", "email", "phone", "plan", "email_status", "sms_status")
            }
        },
        "events": {"columns": {"user_id": "VARCHAR", "updated_at": "TIMESTAMP"}},
    }
    snapshot.write_text(json.dumps({"dialect": "duckdb", "tables": tables}))
    report = validate_project(tmp_path, schema_snapshot=snapshot, environ={})
    codes = [(d.code, d.address) for d in report.diagnostics]
    assert ("columns.unknown", "mapping.group_accounts") in codes  # `industry` is not in the expanded star
    assert not any(d.code == "sql.star" for d in report.diagnostics)


def test_every_problem_is_reported_in_one_run(tmp_path: Path) -> None:
    files = dict(GOOD)
    files["mappings.yml"] = (
        GOOD["mappings.yml"]
        .replace("action: send_group", "action: send_grup")
        .replace("{every: 1h}", "{every: 2m}")
        .replace("      event_name: {value: Plan Changed}\n", "")
    )
    files["models/users.sql"] = GOOD["models/users.sql"].replace("u.email,", "u.emial,")
    write(tmp_path, files)
    report = validate_project(tmp_path, environ={})
    codes = {d.code for d in report.errors}
    assert {"schema.enum", "schedule.interval", "action.missing_event_name", "columns.unknown"} <= codes
    assert all(d.location is not None and not d.location.file.startswith("/") for d in report.diagnostics)


def test_columns_compare_as_the_dialect_folds_them(tmp_path: Path) -> None:
    def project(source: str, select: str, column: str) -> Path:
        root = tmp_path / f"p{len(list(tmp_path.iterdir()))}"
        write(
            root,
            {
                "segprof.yaml": f"""\
version: 1
sources: {{w: {source}}}
models: {{m: {{identifier: user_id, query: '{select}'}}}}
destinations: {{d: {{}}}}
mappings:
  x:
    model: m
    destination: d
    action: send_identify
    fields: {{user_id: user_id, traits: {{e: {column}}}}}
"""
            },
        )
        return root

    snowflake = "{type: snowflake, account: a, user: u}"
    postgres = "{type: postgres, host: h, database: d, user: u}"
    assert validate_project(project(snowflake, "SELECT user_id, Email FROM t", "email"), environ={}).ok
    assert validate_project(project(snowflake, "SELECT user_id, Email FROM t", "EMAIL"), environ={}).ok
    assert validate_project(project(postgres, "SELECT user_id, Email FROM t", "email"), environ={}).ok
    quoted = validate_project(project(postgres, 'SELECT user_id, "Email" FROM t', "email"), environ={})
    assert [d.code for d in quoted.errors] == ["columns.unknown"]


def test_report_exposes_model_output_columns(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    report = validate_project(tmp_path, environ={})
    dialect, columns = report.model_outputs["accounts"]
    assert dialect == "duckdb"
    assert columns == ["account_id", "name", "industry", "owner_id"]
    assert "email_status" in report.model_outputs["users"][1]


def test_segment_backend_warns_about_missing_write_key(tmp_path: Path) -> None:
    files = dict(GOOD)
    files["segprof.yaml"] = (
        GOOD["segprof.yaml"]
        .replace("backend: local", "backend: segment\n  token: ${SEGMENT_API_TOKEN}")
        .replace("wk_demo_key_1234", "")
    )
    write(tmp_path, files)
    report = validate_project(tmp_path, environ={"SEGMENT_API_TOKEN": "t"})
    assert report.ok
    [warn] = [d for d in report.diagnostics if d.code == "destination.missing_write_key"]
    assert warn.severity == "warning" and warn.address == "destination.profiles"
    report = validate_project(tmp_path, environ={"SEGMENT_API_TOKEN": "t", "PROFILES_WRITE_KEY": "wk"})
    assert report.diagnostics == []
