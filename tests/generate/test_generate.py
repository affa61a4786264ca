"""`segprof generate` on a realistic schema in real DuckDB and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.generate.warehouse import schema_sql


def _duckdb(tmp_path: Path) -> Path:
    import duckdb

    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    for statement in schema_sql("JSON"):
        con.execute(statement)
    con.close()
    (tmp_path / "segprof.yaml").write_text(
        "version: 1\nsources:\n  warehouse:\n    type: duckdb\n    path: wh.duckdb\n"
    )
    return tmp_path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and (p.name == "generated.yaml" or p.suffix == ".sql")
    }


def _check_choices(project: Path, schema: str) -> None:
    doc = YAML(typ="safe").load((project / "generated.yaml").read_text())
    models, mappings = doc["models"], doc["mappings"]
    # one model per usable table; the keyless import and the unrecognisable log are skipped
    assert set(models) == {
        "users", "customer", "accounts", "orgs", "events", "orders", "email_subscriptions", "active_users",
    }  # fmt: skip
    text = (project / "generated.yaml").read_text()
    assert f"{schema}.contacts_import: read as user data, but it has no usable key" in text
    assert f"{schema}.audit_log:" in text
    # identifiers: primary key, then unique non-null column, then a column named like an id
    assert models["users"]["identifier"] == "user_id"
    assert models["customer"]["identifier"] == "customer_id"
    assert models["accounts"]["identifier"] == "id"
    assert models["orgs"]["identifier"] == "org_id"
    assert models["events"]["identifier"] == "event_id"
    assert models["orders"]["identifier"] == "order_id"
    assert models["active_users"]["identifier"] == "user_id"
    actions = {name: m["action"] for name, m in mappings.items()}
    assert actions == {
        "identify_users": "send_identify",
        "identify_customer": "send_identify",
        "identify_active_users": "send_identify",
        "group_accounts": "send_group",
        "group_orgs": "send_group",
        "track_events": "send_track",
        "track_orders": "send_track",
        "subscriptions_email_subscriptions": "send_subscription",
        "subscriptions_users": "send_subscription",
    }
    users = mappings["identify_users"]["fields"]
    assert users["user_id"] == "user_id" and users["timestamp"] == "updated_at"
    assert set(users["traits"]) == {
        "email",
        "first_name",
        "last_name",
        "plan",
        "newsletter_opt_in",
        "created_at",
    }
    # the people table's opt-in column also goes out as an email subscription status
    assert mappings["subscriptions_users"]["fields"] == {
        "user_id": "user_id", "email": "email", "email_subscription_status": "newsletter_opt_in",
        "timestamp": "updated_at",
    }  # fmt: skip
    assert "ssn" not in mappings["identify_customer"]["fields"]["traits"]
    group = mappings["group_accounts"]["fields"]
    assert (group["group_id"], group["user_id"]) == ("id", "owner_user_id")
    assert set(group["traits"]) == {"name", "industry", "employees", "created_at"}
    orgs = mappings["group_orgs"]["fields"]
    assert orgs["group_id"] == "org_id" and "api_token" not in orgs["traits"]
    track = mappings["track_events"]["fields"]
    assert (track["event_name"], track["timestamp"], track["user_id"]) == (
        "event_name",
        "occurred_at",
        "user_id",
    )
    assert mappings["track_events"]["on"] == ["new"]
    assert set(track["properties"]) == {"page_url", "context"}
    orders = mappings["track_orders"]["fields"]
    assert orders["event_name"] == {"value": "Order Completed"}
    assert (orders["user_id"], orders["timestamp"]) == ("customer_id", "ordered_at")
    subs = mappings["subscriptions_email_subscriptions"]["fields"]
    assert subs["email"] == "email" and subs["phone"] == "phone"
    assert subs["email_subscription_status"] == "email_opt_in"
    assert subs["sms_subscription_status"] == "sms_opt_in"
    # explicit column lists; secrets and free text are not even selected
    users_sql = (project / "models" / "users.sql").read_text()
    assert "*" not in users_sql and "password_hash" not in users_sql and "notes" not in users_sql
    assert users_sql.index("user_id") < users_sql.index("email") < users_sql.index("updated_at")
    assert f"FROM {schema}.users" in users_sql
    assert "Left out: password_hash (looks like a secret); notes (free text)." in text


def test_generate_duckdb(tmp_path: Path, run_cli) -> None:
    project = _duckdb(tmp_path)
    result = run_cli("generate", "-C", str(project), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "contacts_import" in result.output and "skipped" in result.output
    _check_choices(project, "main")
    first = _snapshot(project)

    # validates clean, also against a snapshot of the warehouse (every column exists)
    assert run_cli("introspect", "-C", str(project)).exit_code == 0
    report = run_cli("validate", "-C", str(project), "--format", "json")
    assert report.exit_code == 0, report.output
    assert [d for d in json.loads(report.output) if d["severity"] == "error"] == []

    # plans without edits
    plan = run_cli("plan", "-C", str(project), "--format", "json")
    assert plan.exit_code == 0, plan.output

    # existing files are not overwritten without --force; with it, the output is identical
    again = run_cli("generate", "-C", str(project))
    assert again.exit_code == 1 and "--force" in again.output
    assert _snapshot(project) == first
    forced = run_cli("generate", "-C", str(project), "--force")
    assert forced.exit_code == 0, forced.output
    assert _snapshot(project) == first


def test_generate_some_tables_into_a_folder(tmp_path: Path, run_cli) -> None:
    project = _duckdb(tmp_path)
    out = project / "gen"
    result = run_cli("generate", "-C", str(project), "--tables", "users,fct_orders", "--out", str(out))
    assert result.exit_code == 0, result.output
    doc = YAML(typ="safe").load((out / "generated.yaml").read_text())
    assert set(doc["models"]) == {"users", "orders"}
    # editors find the project's own schema copy from the subfolder, and it accepts the file
    first = (out / "generated.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../segprof.schema.json"
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(doc, json.loads((project / "segprof.schema.json").read_text()))
    assert (out / "models" / "orders.sql").is_file()
    assert run_cli("validate", "-C", str(project)).exit_code == 0
    missing = run_cli("generate", "-C", str(project), "--tables", "nope", "--out", str(tmp_path / "x"))
    assert missing.exit_code == 1 and "nope" in missing.output


def test_generate_keeps_clear_of_the_projects_names(tmp_path: Path, run_cli) -> None:
    project = _duckdb(tmp_path)
    with (project / "segprof.yaml").open("a") as handle:
        handle.write(
            "models:\n  users:\n    identifier: user_id\n    query: SELECT user_id FROM users\n"
            "destinations:\n  space:\n    type: segment_profiles\n"
            "mappings:\n  identify_customer:\n    model: users\n    destination: space\n"
            "    action: send_identify\n    fields: {user_id: user_id}\n"
        )
    result = run_cli("generate", "-C", str(project), "--tables", "users,dim_customer")
    assert result.exit_code == 0, result.output
    doc = YAML(typ="safe").load((project / "generated.yaml").read_text())
    assert set(doc["models"]) == {"main_users", "customer"}
    assert "identify_customer_2" in doc["mappings"] and "identify_customer" not in doc["mappings"]
    report = run_cli("validate", "-C", str(project))
    assert report.exit_code == 0, report.output


def test_generate_offline_from_a_snapshot(tmp_path: Path, run_cli) -> None:
    (tmp_path / "p").mkdir()
    project = _duckdb(tmp_path / "p")
    assert run_cli("introspect", "-C", str(project), "--out", str(tmp_path / "snap.json")).exit_code == 0
    # outside the project, so that the first output does not count as the project's own names
    online = tmp_path / "online"
    offline = tmp_path / "offline"
    assert run_cli("generate", "-C", str(project), "--out", str(online)).exit_code == 0
    (project / "wh.duckdb").unlink()  # no warehouse needed
    result = run_cli(
        "generate", "-C", str(project), "--snapshot", str(tmp_path / "snap.json"), "--out", str(offline)
    )
    assert result.exit_code == 0, result.output
    assert _snapshot(offline) == _snapshot(online)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    bad = run_cli("generate", "-C", str(project), "--snapshot", str(broken), "--out", str(tmp_path / "b"))
    assert bad.exit_code == 1 and "not a schema snapshot" in bad.output


def test_generate_uses_the_projects_destination(tmp_path: Path, run_cli) -> None:
    project = _duckdb(tmp_path)
    with (project / "segprof.yaml").open("a") as handle:
        handle.write("destinations:\n  space:\n    type: segment_profiles\n")
    assert run_cli("generate", "-C", str(project), "--tables", "users").exit_code == 0
    doc = YAML(typ="safe").load((project / "generated.yaml").read_text())
    assert "destinations" not in doc
    assert doc["mappings"]["identify_users"]["destination"] == "space"
    assert run_cli("validate", "-C", str(project)).exit_code == 0


@pytest.mark.postgres
def test_generate_postgres(tmp_path: Path, postgres_dsn: str, run_cli) -> None:
    import psycopg

    with psycopg.connect(postgres_dsn, autocommit=True) as con:
        for statement in schema_sql("JSONB"):
            con.execute(statement)
    params = dict(part.split("=", 1) for part in postgres_dsn.split())
    (tmp_path / "segprof.yaml").write_text(
        "version: 1\nsources:\n  warehouse:\n    type: postgres\n"
        f"    host: {params['host']}\n    port: {params['port']}\n"
        f"    database: {params['dbname']}\n    user: {params['user']}\n"
    )
    result = run_cli("generate", "-C", str(tmp_path))
    assert result.exit_code == 0, result.output
    _check_choices(tmp_path, "public")
    first = _snapshot(tmp_path)
    assert run_cli("introspect", "-C", str(tmp_path)).exit_code == 0
    report = run_cli("validate", "-C", str(tmp_path))
    assert report.exit_code == 0, report.output
    assert run_cli("generate", "-C", str(tmp_path), "--force").exit_code == 0
    assert _snapshot(tmp_path) == first
