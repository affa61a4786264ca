"""Self-hosted syncs through the CLI against the emulator on a real port, on DuckDB and PostgreSQL."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from sync_project import WRITE_KEY, Project


def sync(run_cli, project: Project, *extra: str) -> dict:
    result = run_cli(
        "sync", "identify_users", "-C", str(project.root), "--self-hosted", "--format", "json", *extra
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return json.loads(result.stdout)["runs"][0] | {"exit": result.exit_code}


def received(emulator, since: int = 0) -> list[dict]:
    return [m for m in emulator.messages() if m["seq"] > since]


def last_seq(emulator) -> int:
    items = emulator.messages()
    return items[-1]["seq"] if items else 0


def test_changes_are_delivered_once_each(tmp_path: Path, warehouse, emulator, run_cli):
    project = Project(tmp_path / "p", warehouse, emulator.tracking)
    project.seed(5)

    first = sync(run_cli, project)
    assert first["exit"] == 0 and first["status"] == "success"
    assert (first["new"], first["delivered"], first["failed"]) == (5, 5, 0)
    got = received(emulator)
    assert [m["outcome"] for m in got] == ["accepted"] * 5
    assert sorted(m["message"]["userId"] for m in got) == ["1", "2", "3", "4", "5"]
    by_user = {m["message"]["userId"]: m["message"] for m in got}
    assert by_user["3"]["type"] == "identify"
    assert by_user["3"]["traits"] == {"email": "u3@example.com", "plan": "free"}
    assert WRITE_KEY not in json.dumps(got)

    mark = last_seq(emulator)
    project.sql(
        "INSERT INTO users VALUES (6, 'u6@example.com', 'free')",
        "UPDATE users SET plan = 'pro' WHERE user_id = 2",
        "DELETE FROM users WHERE user_id = 4",
    )
    second = sync(run_cli, project)
    assert (second["new"], second["updated"], second["deleted"]) == (1, 1, 1)
    assert second["delivered"] == 3 and second["status"] == "success"
    got = {m["message"]["userId"]: m["message"] for m in received(emulator, mark)}
    assert set(got) == {"2", "4", "6"}
    assert got["2"]["traits"]["plan"] == "pro"
    # a deleted record carries its identifier and every mapped column as null
    assert got["4"]["traits"] == {"email": None, "plan": None}

    mark = last_seq(emulator)
    third = sync(run_cli, project)
    assert third["delivered"] == 0 and third["new"] + third["updated"] + third["deleted"] == 0
    assert received(emulator, mark) == []

    # no change was ever sent under two messageIds, and no messageId was sent twice
    everything = emulator.messages()
    ids = Counter(m["message"]["messageId"] for m in everything)
    assert max(ids.values()) == 1


def test_mapping_change_and_model_schema_change(tmp_path: Path, warehouse, emulator, run_cli):
    project = Project(tmp_path / "p", warehouse, emulator.tracking)
    project.seed(3)
    assert sync(run_cli, project)["delivered"] == 3

    # a column the mapping does not read appears: nothing to send
    project.sql("ALTER TABLE users ADD COLUMN country VARCHAR(10)", "UPDATE users SET country = 'FR'")
    mark = last_seq(emulator)
    run = sync(run_cli, project)
    assert run["updated"] == 0 and received(emulator, mark) == []

    # the mapping now reads it: every record is sent again with the new trait
    project.traits = {"email": "email", "plan": "plan", "country": "country"}
    project.write()
    run = sync(run_cli, project)
    assert run["updated"] == 3 and run["delivered"] == 3
    got = received(emulator, mark)
    assert sorted(m["message"]["traits"]["country"] for m in got) == ["FR", "FR", "FR"]


def test_duplicate_and_null_identifiers_are_left_out(tmp_path: Path, warehouse, emulator, run_cli):
    project = Project(tmp_path / "p", warehouse, emulator.tracking)
    project.seed(3)
    project.sql(
        "INSERT INTO users VALUES (3, 'other@example.com', 'pro')",
        "INSERT INTO users VALUES (NULL, 'nobody@example.com', 'free')",
    )
    run = sync(run_cli, project)
    assert run["delivered"] == 2 and run["duplicates"] == 2 and run["null_ids"] == 1
    assert any("duplicate" in e for e in run["errors"])
    assert sorted(m["message"]["userId"] for m in emulator.messages()) == ["1", "2"]


def test_invalid_record_fails_alone_and_is_named(tmp_path: Path, warehouse, emulator, run_cli):
    project = Project(tmp_path / "p", warehouse, emulator.tracking)
    project.user_id = "email"  # a null email leaves the message without userId
    project.on = ["new", "updated"]  # deletes need the identifier as user_id (validate refuses otherwise)
    project.write()
    project.seed(3)
    project.sql("UPDATE users SET email = NULL WHERE user_id = 2")
    run = sync(run_cli, project)
    assert run["exit"] == 1 and run["status"] == "partial"
    assert (run["delivered"], run["failed"]) == (2, 1)
    assert any("User ID" in e for e in run["errors"])
    assert sorted(m["message"]["userId"] for m in emulator.messages()) == ["u1@example.com", "u3@example.com"]

    history = run_cli("syncs", "identify_users", "-C", str(project.root), "--format", "json")
    runs = json.loads(history.stdout)["runs"]
    assert runs[0]["run_id"] == run["run_id"] and runs[0]["status"] == "partial" and runs[0]["failed"] == 1

    shown = run_cli("syncs", "show", run["run_id"], "-C", str(project.root), "--format", "json")
    failures = json.loads(shown.stdout)["failures"]
    assert [f["record_id"] for f in failures] == ["2"]
    assert "User ID" in failures[0]["reason"]

    # fixed in the warehouse: the next run delivers it, and only it
    project.sql("UPDATE users SET email = 'back@example.com' WHERE user_id = 2")
    mark = last_seq(emulator)
    again = sync(run_cli, project)
    assert again["status"] == "success" and again["delivered"] == 1
    assert [m["message"]["userId"] for m in received(emulator, mark)] == ["back@example.com"]


def test_dry_run_and_preview_send_and_commit_nothing(tmp_path: Path, warehouse, emulator, run_cli):
    project = Project(tmp_path / "p", warehouse, emulator.tracking)
    project.seed(4)
    run = sync(run_cli, project, "--dry-run")
    assert run["status"] == "dry_run" and run["new"] == 4 and len(run["samples"]) == 3
    # no messageId yet: the run that first records a change fixes it
    assert run["samples"][0]["type"] == "identify" and "messageId" not in run["samples"][0]
    preview = run_cli("preview", "identify_users", "-C", str(project.root), "--limit", "2")
    lines = [json.loads(line) for line in preview.stdout.splitlines()]
    assert [m["userId"] for m in lines] == ["1", "2"]
    assert emulator.messages() == []
    real = sync(run_cli, project)
    assert real["new"] == 4 and real["delivered"] == 4
    # what the preview showed is exactly what was sent
    sent = {m["message"]["userId"]: m["message"] for m in emulator.messages()}
    assert "messageId" not in lines[0] and sent["1"]["messageId"].startswith("segprof-")
    assert {k: v for k, v in sent["1"].items() if k in lines[0]} == lines[0]


def test_full_resync_and_rebaseline(tmp_path: Path, warehouse, emulator, run_cli):
    project = Project(tmp_path / "p", warehouse, emulator.tracking)
    project.seed(3)
    assert sync(run_cli, project)["delivered"] == 3
    base = sync(run_cli, project, "--rebaseline")
    assert base["status"] == "rebaselined"
    project.sql("UPDATE users SET plan = 'pro'")
    assert sync(run_cli, project, "--rebaseline")["exit"] == 0
    mark = last_seq(emulator)
    assert sync(run_cli, project)["delivered"] == 0
    resync = sync(run_cli, project, "--full-resync")
    assert resync["new"] == 3 and resync["delivered"] == 3
    # the records were sent before with plan free under other ids; now they go again as new
    assert len(received(emulator, mark)) == 3


def test_mass_delete_is_refused_unless_allowed(tmp_path: Path, warehouse, emulator, run_cli):
    project = Project(tmp_path / "p", warehouse, emulator.tracking)
    project.seed(4)
    assert sync(run_cli, project)["delivered"] == 4
    project.sql("DELETE FROM users WHERE user_id > 1")
    refused = run_cli("sync", "identify_users", "-C", str(project.root), "--self-hosted")
    assert refused.exit_code == 1 and "refusing to sync" in refused.stderr
    mark = last_seq(emulator)
    allowed = sync(run_cli, project, "--allow-mass-delete")
    assert allowed["deleted"] == 3 and allowed["delivered"] == 3
    assert len(received(emulator, mark)) == 3


def test_oversized_message_fails_alone(tmp_path: Path, warehouse, emulator, run_cli):
    project = Project(tmp_path / "p", warehouse, emulator.tracking)
    project.traits = {"email": "email", "bio": "bio"}
    project.write()
    project.seed(3)
    project.sql(
        "ALTER TABLE users ADD COLUMN bio VARCHAR(50000)",
        f"UPDATE users SET bio = '{'z' * 40000}' WHERE user_id = 3",
    )
    run = sync(run_cli, project)
    assert (run["delivered"], run["failed"], run["status"]) == (2, 1, "partial")
    assert any("32,768" in e for e in run["errors"])
    assert sorted(m["message"]["userId"] for m in emulator.messages()) == ["1", "2"]
    shown = run_cli("syncs", "show", run["run_id"], "-C", str(project.root), "--format", "json")
    (failure,) = json.loads(shown.stdout)["failures"]
    assert failure["record_id"] == "3" and failure["payload"]["userId"] == "3"


def test_unmarked_self_hosted_sync_is_warned_and_marked_one_is_not(
    tmp_path: Path, warehouse, emulator, run_cli
):
    project = Project(tmp_path / "p", warehouse, emulator.tracking)
    project.seed(2)
    unmarked = run_cli("sync", "identify_users", "-C", str(project.root), "--self-hosted")
    assert unmarked.exit_code == 0, unmarked.stderr
    assert "mapping.identify_users is synced self-hosted but not marked" in unmarked.stderr
    project.mapping_extra = {"self_hosted": True, "enabled": False}
    project.write()
    marked = run_cli("sync", "identify_users", "-C", str(project.root), "--self-hosted")
    assert marked.exit_code == 0, marked.stderr
    assert "not marked" not in marked.stderr
