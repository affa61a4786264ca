"""`segprof plan --preview N` on real warehouses (DuckDB, PostgreSQL) and the embedded workspace.

Each test applies a small project, changes it, and checks the preview against the warehouse's
own values and against what a real `segprof sync` afterwards sends.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from segprof.operations.workspaces import embedded_transport
from segprof.plan.message_diff import VALUE_CHARS, diff_messages
from segprof.plan.model import Action, MappingPreview, Plan, RecordPreview, ResourceChange
from segprof.plan.render_markdown import MAX_CHARS, render_markdown
from segprof.project.resources import Kind
from segprof.warehouses import connect
from tests.sync.sync_project import run_sql, source_block

WRITE_KEY = "wk_preview_9c1d7e3a5b"


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The source block of the test project (YAML keys) for each engine."""
    return source_block(request.param, request)


class Project:
    """A project with a `users` table, one identify mapping, and the embedded workspace."""

    def __init__(self, root: Path, source: dict[str, Any], backend: dict[str, Any] | None = None) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.source = source
        self.workspace = backend or {"backend": "local"}
        self.models: dict[str, Any] = {
            "users": {"source": "warehouse", "identifier": "user_id", "query": "SELECT * FROM users"}
        }
        self.mapping: dict[str, Any] = {
            "model": "users",
            "destination": "profiles",
            "action": "send_identify",
            "on": ["new", "updated"],
            "fields": {"user_id": {"identifier": True}, "traits": {"email": "email", "plan": "plan"}},
        }
        self.write()

    def write(self) -> None:
        doc = {
            "version": 1,
            "workspace": self.workspace,
            "sources": {"warehouse": self.source},
            "models": self.models,
            "destinations": {"profiles": {"type": "segment_profiles", "write_key": WRITE_KEY}},
            "mappings": {"identify_users": self.mapping},
        }
        (self.root / "segprof.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))

    def sql(self, *statements: str) -> None:
        run_sql(self.source, self.root, *statements)

    def rows(self, sql: str) -> list[tuple]:
        settings = {k: v for k, v in self.source.items() if k != "type"}
        con = connect(self.source["type"], settings, self.root)
        try:
            return con.query_rows(sql)
        finally:
            con.close()

    def seed(self, n: int) -> None:
        plans = ["free", "pro", "team"]
        values = ", ".join(f"({i}, 'u{i}@example.com', '{plans[i % 3]}')" for i in range(1, n + 1))
        self.sql(
            "CREATE TABLE users (user_id INTEGER, email VARCHAR(200), plan VARCHAR(50))",
            f"INSERT INTO users VALUES {values}",
        )


def cli_ok(run_cli, *args: str, codes: tuple[int, ...] = (0,)) -> Any:
    result = run_cli(*args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in codes, result.stdout + result.stderr
    return result


def preview_json(run_cli, project: Project, n: int, *extra: str) -> tuple[dict[str, Any], str]:
    result = cli_ok(
        run_cli,
        "plan",
        "-C",
        str(project.root),
        "--format",
        "json",
        "--preview",
        str(n),
        *extra,
        codes=(0, 2),
    )
    plan = json.loads(result.stdout)
    (change,) = [c for c in plan["resource_changes"] if c["address"] == "mapping.identify_users"]
    return change, result.stdout + result.stderr


def apply(run_cli, project: Project) -> None:
    cli_ok(run_cli, "apply", "-C", str(project.root), "--auto-approve")


def sync(run_cli, project: Project) -> dict[str, Any]:
    result = cli_ok(run_cli, "sync", "identify_users", "-C", str(project.root), "--format", "json")
    return json.loads(result.stdout)["runs"][0]


def received(project: Project) -> list[dict[str, Any]]:
    transport = embedded_transport(project.root)
    try:
        with httpx.Client(transport=transport, base_url="http://emulator.local") as client:
            data = client.get("/emulator/v1/messages", params={"limit": 1000}).json()["data"]
            return data["messages"]
    finally:
        transport.close()


def ops(record: dict[str, Any]) -> list[tuple[str, str, Any, Any]]:
    return [(c["path"], c["op"], c["before"], c["after"]) for c in record["changes"]]


def test_changed_trait_shows_exactly_that_trait_on_n_records(tmp_path: Path, warehouse, run_cli) -> None:
    project = Project(tmp_path / "p", warehouse)
    project.seed(6)
    apply(run_cli, project)
    project.sql("UPDATE users SET plan = 'enterprise' WHERE user_id = 2")
    project.mapping["fields"]["traits"]["plan"] = {"template": "tier-{{plan}}"}
    project.write()

    change, output = preview_json(run_cli, project, 3)
    assert change["action"] == "update"
    preview = change["preview"]
    assert preview["available"] and preview["has_before"] and preview["order_by"] == "user_id"
    plans = dict(project.rows("SELECT user_id, plan FROM users"))
    assert [r["id"] for r in preview["records"]] == ["1", "2", "3"]
    for record in preview["records"]:
        plan = plans[int(record["id"])]
        assert record["status"] == "changed"
        assert ops(record) == [("traits.plan", "changed", plan, f"tier-{plan}")]
    assert preview["records"][1]["changes"][0]["after"] == "tier-enterprise"
    # segprof's engine keeps the sync state (backend local): the count is what the next sync
    # sends with the new settings; nothing was ever synced, so every record is new
    count = preview["send_count"]
    assert (count["basis"], count["known"], count["new"], count["total"]) == ("update", True, 6, 6)
    assert WRITE_KEY not in output

    text = cli_ok(run_cli, "plan", "-C", str(project.root), "--preview", "2", codes=(0,)).stdout
    assert 'record "1"' in text and 'record "2"' in text and 'record "3"' not in text
    assert '"tier-enterprise"' in text
    assert WRITE_KEY not in text


def test_unchanged_payloads_are_said_briefly(tmp_path: Path, run_cli) -> None:
    project = Project(tmp_path / "p", {"type": "duckdb", "path": "wh.duckdb"})
    project.seed(4)
    apply(run_cli, project)
    project.mapping["schedule"] = {"every": "2h"}  # a change that leaves every payload as it is
    project.write()
    change, _ = preview_json(run_cli, project, 4)
    assert [r["status"] for r in change["preview"]["records"]] == ["unchanged"] * 4
    assert change["preview"]["send_count"] is None
    text = cli_ok(run_cli, "plan", "-C", str(project.root), "--preview", "4").stdout
    assert "payloads unchanged on all 4 sample record(s)" in text


def test_created_mapping_shows_new_payloads_and_counts_every_record(
    tmp_path: Path, warehouse, run_cli
) -> None:
    project = Project(tmp_path / "p", warehouse)
    project.seed(5)
    project.sql("INSERT INTO users VALUES (NULL, 'nobody@example.com', 'free')")
    change, output = preview_json(run_cli, project, 2)
    assert change["action"] == "create"
    preview = change["preview"]
    assert not preview["has_before"]
    first = {c["path"]: c for c in preview["records"][0]["changes"]}
    assert {c["op"] for c in first.values()} == {"added"}
    assert first["userId"]["after"] == "1"
    assert first["type"]["after"] == "identify"
    assert first["traits.email"]["after"] == "u1@example.com"
    assert first["traits.plan"]["after"] == project.rows("SELECT plan FROM users WHERE user_id = 1")[0][0]
    count = preview["send_count"]
    assert (count["basis"], count["known"], count["new"], count["total"]) == ("create", True, 5, 5)
    assert "null identifier" in count["note"]
    assert WRITE_KEY not in output


def test_replace_counts_every_record_of_the_model(tmp_path: Path, warehouse, run_cli) -> None:
    project = Project(tmp_path / "p", warehouse)
    project.seed(7)
    apply(run_cli, project)
    assert sync(run_cli, project)["delivered"] == 7
    # pointing the mapping at another model cannot change in place: a replace
    project.models["members"] = {**project.models["users"], "query": "SELECT * FROM users WHERE user_id > 0"}
    project.mapping["model"] = "members"
    project.write()
    change, _ = preview_json(run_cli, project, 2)
    assert change["action"] == "replace"
    count = change["preview"]["send_count"]
    rows = project.rows("SELECT count(*) FROM users")[0][0]
    assert (count["basis"], count["known"], count["new"], count["updated"]) == ("replace", True, rows, 0)
    # the same payloads: same settings against the same rows
    assert all(r["status"] == "unchanged" for r in change["preview"]["records"])

    apply(run_cli, project)
    run = sync(run_cli, project)
    assert run["new"] == count["new"] and run["delivered"] == count["total"]


def test_trigger_change_counts_match_what_the_sync_sends(tmp_path: Path, warehouse, run_cli) -> None:
    project = Project(tmp_path / "p", warehouse)
    project.seed(5)
    apply(run_cli, project)
    assert sync(run_cli, project)["delivered"] == 5
    before = len(received(project))
    project.sql(
        "INSERT INTO users VALUES (6, 'u6@example.com', 'free')",
        "INSERT INTO users VALUES (7, 'u7@example.com', 'free')",
        "UPDATE users SET plan = 'enterprise' WHERE user_id = 2",
        "DELETE FROM users WHERE user_id = 4",
    )
    project.mapping["on"] = ["new", "updated", "deleted"]
    project.write()

    change, _ = preview_json(run_cli, project, 2)
    count = change["preview"]["send_count"]
    assert count["basis"] == "trigger" and count["known"]
    assert (count["new"], count["updated"], count["deleted"]) == (2, 1, 1)

    apply(run_cli, project)
    run = sync(run_cli, project)
    assert (run["new"], run["updated"], run["deleted"]) == (count["new"], count["updated"], count["deleted"])
    got = received(project)[before:]
    assert len(got) == count["total"] == run["delivered"]
    assert sorted(m["message"]["userId"] for m in got) == ["2", "4", "6", "7"]


def test_trigger_change_leaves_out_what_the_new_trigger_does_not_admit(tmp_path: Path, run_cli) -> None:
    project = Project(tmp_path / "p", {"type": "duckdb", "path": "wh.duckdb"})
    project.seed(3)
    apply(run_cli, project)
    sync(run_cli, project)
    project.sql("UPDATE users SET plan = 'x' WHERE user_id = 1", "INSERT INTO users VALUES (9, 'n', 'free')")
    project.mapping["on"] = ["new"]
    project.write()
    change, _ = preview_json(run_cli, project, 1)
    count = change["preview"]["send_count"]
    assert (count["new"], count["updated"], count["total"]) == (1, 0, 1)
    assert "1 updated" in count["note"]
    apply(run_cli, project)
    run = sync(run_cli, project)
    assert run["delivered"] == count["total"]


def test_nothing_is_written_to_the_warehouse(tmp_path: Path, warehouse, run_cli) -> None:
    project = Project(tmp_path / "p", warehouse)
    project.seed(4)
    apply(run_cli, project)  # applied, never synced: no bookkeeping yet
    project.mapping["on"] = ["new", "updated", "deleted"]
    project.mapping["fields"]["traits"]["plan"] = {"value": "x"}
    project.write()
    digest = None
    if warehouse["type"] == "duckdb":
        digest = hashlib.sha256((project.root / "wh.duckdb").read_bytes()).hexdigest()

    change, _ = preview_json(run_cli, project, 3)
    assert change["preview"]["send_count"]["new"] == 4  # no snapshot: every record is new
    for fmt in ("text", "markdown"):
        cli_ok(run_cli, "plan", "-C", str(project.root), "--format", fmt, "--preview", "3")

    schemas = project.rows("SELECT schema_name FROM information_schema.schemata")
    assert "__segprof" not in {s for (s,) in schemas}
    if digest is not None:
        assert hashlib.sha256((project.root / "wh.duckdb").read_bytes()).hexdigest() == digest
    assert received(project) == []


def test_unreachable_warehouse_is_a_warning_not_an_error(tmp_path: Path, run_cli, postgres_server) -> None:
    missing = Project(tmp_path / "missing", {"type": "duckdb", "path": "absent.duckdb"})
    plain = cli_ok(run_cli, "plan", "-C", str(missing.root), "--detailed-exitcode", codes=(2,))
    result = cli_ok(
        run_cli, "plan", "-C", str(missing.root), "--detailed-exitcode", "--preview", "2", codes=(2,)
    )
    assert plain.exit_code == result.exit_code
    assert "preview unavailable" in result.stdout and "absent.duckdb" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert not (missing.root / "absent.duckdb").exists()  # not created by looking

    wrong = dict(postgres_server)
    source = {
        "type": "postgres",
        "host": wrong["host"],
        "port": int(wrong["port"]),
        "database": "no_such_database",
        "user": wrong["user"],
        "password": "pw_never_shown_5e2",
    }
    project = Project(tmp_path / "pg", source)
    change, output = preview_json(run_cli, project, 2)
    assert change["preview"]["available"] is False
    assert "no_such_database" in change["preview"]["reason"]
    assert "pw_never_shown_5e2" not in output
    md = cli_ok(
        run_cli, "plan", "-C", str(project.root), "--format", "markdown", "--preview", "2", codes=(0,)
    )
    assert "> **Warning:** preview unavailable" in md.stdout


def test_write_key_never_appears_and_a_saved_plan_still_applies(tmp_path: Path, run_cli) -> None:
    project = Project(tmp_path / "p", {"type": "duckdb", "path": "wh.duckdb"})
    project.seed(3)
    # the write key is also a value in the warehouse: data, but still never shown
    project.sql(f"UPDATE users SET email = '{WRITE_KEY}' WHERE user_id = 2")
    apply(run_cli, project)
    project.mapping["fields"]["traits"] = {"mail": "email", "plan": {"value": "gold"}}
    project.write()
    saved = tmp_path / "plan.json"
    outputs = [
        cli_ok(run_cli, "plan", "-C", str(project.root), "--format", fmt, "--preview", "3", codes=(0,)).stdout
        for fmt in ("text", "json", "markdown")
    ]
    cli_ok(run_cli, "plan", "-C", str(project.root), "--preview", "3", "--out", str(saved))
    outputs.append(saved.read_text())
    for output in outputs:
        assert WRITE_KEY not in output
        assert "gold" in output
    (change,) = [c for c in json.loads(outputs[1])["resource_changes"] if c["kind"] == "mapping"]
    second = {c["path"]: c for c in change["preview"]["records"][1]["changes"]}
    assert second["traits.mail"]["after"] == second["traits.email"]["before"] == "(sensitive)"
    assert "preview" in json.loads(saved.read_text())["resource_changes"][-1]
    applied = cli_ok(run_cli, "apply", "-C", str(project.root), str(saved))
    assert "1 changed" in applied.stdout


def test_markdown_with_previews_stays_under_the_cap() -> None:
    message = {"traits": {f"t{i}": "v" * 500 for i in range(80)}}
    record = RecordPreview(id="x" * 300, changes=diff_messages({}, message))
    assert all(len(c.after) <= VALUE_CHARS for c in record.changes)  # values are cut
    changes = [
        ResourceChange(
            address=f"mapping.m{i}",
            kind=Kind.mapping,
            action=Action.create,
            name=f"m{i}",
            after={"name": f"m{i}"},
            preview=MappingPreview(sample_size=5, records=[record] * 5, order_by="id"),
        )
        for i in range(40)
    ]
    text = render_markdown(Plan(changes=changes))
    assert len(text) <= MAX_CHARS
    assert "more resource change(s) not shown" in text
    assert "…" in text


def test_a_record_the_new_settings_reject_shows_the_error(tmp_path: Path, run_cli) -> None:
    project = Project(tmp_path / "p", {"type": "duckdb", "path": "wh.duckdb"})
    project.seed(3)
    project.sql("UPDATE users SET email = NULL WHERE user_id = 2")
    project.mapping["fields"]["user_id"] = "email"  # no user id for a record without an email
    project.write()
    change, _ = preview_json(run_cli, project, 3)
    statuses = [(r["id"], r["status"]) for r in change["preview"]["records"]]
    assert statuses == [("1", "changed"), ("2", "error"), ("3", "changed")]
    assert "PAYLOAD_VALIDATION_FAILED" in change["preview"]["records"][1]["after_error"]
    text = cli_ok(run_cli, "plan", "-C", str(project.root), "--preview", "3", codes=(0,)).stdout
    assert "rejected by the new settings" in text


def test_segment_backend_says_what_is_knowable(tmp_path: Path, emulator_server) -> None:
    from tests.plan.conftest import TOKEN
    from tests.plan.test_plan_apply_emulator import segprof

    workspace = {"backend": "segment", "api_url": emulator_server.url, "token": TOKEN}
    project = Project(tmp_path / "p", {"type": "duckdb", "path": "wh.duckdb"}, backend=workspace)
    project.seed(4)

    def plan_change() -> dict[str, Any]:
        result = segprof("plan", "-C", str(project.root), "--format", "json", "--preview", "2")
        assert result.returncode == 0, result.stderr
        assert TOKEN not in result.stdout and WRITE_KEY not in result.stdout
        (change,) = [c for c in json.loads(result.stdout)["resource_changes"] if c["kind"] == "mapping"]
        return change

    created = plan_change()["preview"]["send_count"]
    assert (created["basis"], created["known"], created["new"]) == ("create", True, 4)
    assert "Segment keeps the sync state" in created["note"]
    assert segprof("apply", "-C", str(project.root), "--auto-approve").returncode == 0

    project.mapping["on"] = ["new", "updated", "deleted"]
    project.write()
    trigger = plan_change()["preview"]["send_count"]
    assert (trigger["basis"], trigger["known"], trigger["total"]) == ("trigger", False, None)
    assert "not knowable" in trigger["note"]


def test_preview_connections_refuse_writes(tmp_path: Path, warehouse) -> None:
    from segprof.warehouses import WarehouseError

    project = Project(tmp_path / "p", warehouse)
    project.seed(2)
    settings = {**{k: v for k, v in warehouse.items() if k != "type"}, "read_only": True}
    con = connect(warehouse["type"], settings, project.root)
    try:
        rows = [b.num_rows for b in con.stream_arrow("SELECT * FROM users ORDER BY user_id", 10)]
        assert sum(rows) == 2
        with pytest.raises(WarehouseError):
            con.execute('CREATE SCHEMA "__segprof"')
    finally:
        con.close()
    schemas = project.rows("SELECT schema_name FROM information_schema.schemata")
    assert "__segprof" not in {s for (s,) in schemas}


def test_a_model_query_change_previews_the_mappings_that_read_it(tmp_path: Path, warehouse, run_cli) -> None:
    project = Project(tmp_path / "p", warehouse)
    project.seed(5)
    apply(run_cli, project)
    assert sync(run_cli, project)["delivered"] == 5
    before = len(received(project))
    # the model now upper-cases the plan and leaves user 3 out; the mapping itself is unchanged
    project.models["users"]["query"] = (
        "SELECT user_id, email, UPPER(plan) AS plan FROM users WHERE user_id <> 3"
    )
    project.write()

    change, output = preview_json(run_cli, project, 4)
    assert change["action"] == "noop"
    preview = change["preview"]
    assert preview["available"] and preview["has_before"] and preview["model_changed"]
    plans = dict(project.rows("SELECT user_id, plan FROM users"))
    assert [r["id"] for r in preview["records"]] == ["1", "2", "4", "5"]
    for record in preview["records"]:
        plan = plans[int(record["id"])]
        assert ops(record) == [("traits.plan", "changed", plan, plan.upper())]
    count = preview["send_count"]
    assert count["basis"] == "model" and count["known"]
    assert (count["new"], count["updated"], count["deleted"]) == (0, 4, 0)  # `on` leaves deletes out
    assert WRITE_KEY not in output

    text = cli_ok(run_cli, "plan", "-C", str(project.root), "--preview", "1").stdout
    assert "mapping.identify_users is unchanged" in text and "live → new model query" in text
    markdown = cli_ok(
        run_cli, "plan", "-C", str(project.root), "--preview", "1", "--format", "markdown"
    ).stdout
    assert "mapping.identify_users" in markdown and "traits.plan" in markdown

    apply(run_cli, project)
    run = sync(run_cli, project)
    assert (run["new"], run["updated"]) == (count["new"], count["updated"])
    assert len(received(project)[before:]) == count["total"]


def test_a_live_model_query_that_no_longer_runs_is_said_on_the_old_side(tmp_path: Path, run_cli) -> None:
    project = Project(tmp_path / "p", {"type": "duckdb", "path": "wh.duckdb"})
    project.seed(2)
    project.sql("CREATE TABLE people AS SELECT * FROM users")
    project.models["users"]["query"] = "SELECT * FROM people"
    project.write()
    apply(run_cli, project)
    project.sql("DROP TABLE people")
    project.models["users"]["query"] = "SELECT * FROM users"
    project.write()
    change, _ = preview_json(run_cli, project, 2)
    preview = change["preview"]
    assert preview["available"] and preview["model_changed"]
    assert all("live model's query cannot run" in r["before_error"] for r in preview["records"])
    assert all(r["after_error"] is None for r in preview["records"])
