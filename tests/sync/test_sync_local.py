"""The embedded workspace runs manual syncs with the engine: `segprof sync` after `segprof apply`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import httpx
from sync_project import WRITE_KEY, Project

from segprof.cli.plan import load_valid_project
from segprof.operations.sync_runs import SyncOptions, run_syncs
from segprof.operations.workspaces import embedded_transport, open_workspace
from segprof.state import state_folder
from segprof.state.store import LocalStateStore


def embedded_messages(root: Path) -> list[dict]:
    transport = embedded_transport(root)
    try:
        with httpx.Client(transport=transport, base_url="http://emulator.local") as client:
            return client.get("/emulator/v1/messages", params={"limit": 1000}).json()["data"]["messages"]
    finally:
        transport.close()


def test_local_backend_sync_runs_in_the_workspace(tmp_path: Path, warehouse, run_cli):
    project = Project(tmp_path / "p", warehouse, tracking=None)
    project.seed(4)
    root = str(project.root)
    applied = run_cli("apply", "-C", root, "--auto-approve")
    assert applied.exit_code == 0, applied.stderr

    result = run_cli("sync", "--all", "-C", root, "--format", "json")
    assert result.exit_code == 0, result.stderr
    (run,) = json.loads(result.stdout)["runs"]
    assert run["new"] == 4 and run["delivered"] == 4 and run["status"] == "success"
    state = LocalStateStore(state_folder(project.root)).read()
    subscription_id = state.id_of("mapping.identify_users")
    model_id = state.id_of("model.users")
    # bookkeeping is keyed by the live subscription, as Segment keys its records table
    assert run["mapping_id"] == subscription_id

    got = embedded_messages(project.root)
    assert sorted(m["message"]["userId"] for m in got) == ["1", "2", "3", "4"]
    assert WRITE_KEY not in json.dumps(got)

    # the workspace's sync status carries the counts
    with open_workspace("local", project_dir=project.root) as client:
        statuses = client.run(lambda c: c.list_syncs(model_id, subscription_id))
    assert statuses[0].sync_status == "SUCCESS"
    assert statuses[0].extract_phase.added_count == 4
    assert statuses[0].load_phase.deliver_success_count == 4

    project.sql("UPDATE users SET plan = 'pro' WHERE user_id = 3")
    again = json.loads(run_cli("sync", "identify_users", "-C", root, "--format", "json").stdout)["runs"][0]
    assert (again["updated"], again["delivered"]) == (1, 1)
    assert len(embedded_messages(project.root)) == 5

    # a self-hosted run of the same mapping shares its bookkeeping (same mapping id): nothing new
    project.tracking = "http://127.0.0.1:9/v1"  # never reached: nothing to send
    project.write()
    hosted = run_cli("sync", "identify_users", "-C", root, "--self-hosted", "--format", "json")
    assert json.loads(hosted.stdout)["runs"][0]["delivered"] == 0


def test_sync_before_apply_is_a_clear_error(tmp_path: Path, run_cli):
    project = Project(tmp_path / "p", {"type": "duckdb", "path": "wh.duckdb"}, tracking=None)
    project.seed(1)
    result = run_cli("sync", "identify_users", "-C", str(project.root))
    assert result.exit_code == 1
    assert "not in the workspace yet" in result.stderr and "segprof apply" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    unknown = run_cli("sync", "nope", "-C", str(project.root))
    assert unknown.exit_code == 1 and "no mapping 'nope'" in unknown.stderr


def test_quickstart_readme_sequence(tmp_path: Path, run_cli):
    demo = tmp_path / "demo"
    assert run_cli("init", str(demo)).exit_code == 0
    # a smaller warehouse keeps the test quick; the commands are the README's
    con = duckdb.connect(str(demo / "warehouse.duckdb"))
    con.execute("DELETE FROM users WHERE user_id > 'usr_000040'")
    con.execute("DELETE FROM events WHERE user_id > 'usr_000040'")
    con.execute("DELETE FROM subscriptions WHERE user_id > 'usr_000040'")
    users = con.execute("SELECT count(*) FROM users").fetchall()[0][0]
    con.close()
    for args in (
        ("validate", "-C", str(demo)),
        ("plan", "-C", str(demo)),
        ("apply", "-C", str(demo), "--auto-approve"),
    ):
        result = run_cli(*args)
        assert result.exit_code in (0, 2), (args, result.stdout, result.stderr)
    synced = run_cli("sync", "-C", str(demo), "--all", "--format", "json")
    assert synced.exit_code == 0, synced.stdout + synced.stderr
    runs = {r["mapping"]: r for r in json.loads(synced.stdout)["runs"]}
    assert runs["mapping.identify_users"]["delivered"] == users
    assert all(r["status"] == "success" and r["failed"] == 0 for r in runs.values())
    shown = run_cli("profiles", "show", "usr_000001", "-C", str(demo), "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    profile = json.loads(shown.stdout)
    assert "email" in json.dumps(profile) and "usr_000001" in json.dumps(profile)


def test_apply_sync_runs_the_mappings_it_created_or_changed(tmp_path: Path, run_cli):
    project = Project(tmp_path / "p", {"type": "duckdb", "path": "wh.duckdb"}, tracking=None)
    project.seed(3)
    root = str(project.root)
    first = run_cli("apply", "-C", root, "--auto-approve", "--sync")
    assert first.exit_code == 0, first.stderr
    assert "mapping.identify_users  success" in first.stdout
    assert len(embedded_messages(project.root)) == 3

    # unchanged config: nothing applied, nothing synced
    run_cli("apply", "-C", root, "--auto-approve", "--sync")
    assert len(embedded_messages(project.root)) == 3

    project.traits = {"email": "email"}  # the mapping changes: every record goes again
    project.write()
    changed = run_cli("apply", "-C", root, "--auto-approve", "--sync")
    assert changed.exit_code == 0, changed.stderr
    later = embedded_messages(project.root)[3:]
    assert len(later) == 3 and all(
        m["message"]["traits"] == {"email": m["message"]["traits"]["email"]} for m in later
    )


def test_the_embedded_run_is_seen_to_end_at_once_whatever_the_poll_interval(tmp_path: Path, run_cli):
    """The workspace's run is a thread of this process: its end is seen when it happens, not at the
    next status poll (here one every 30 s, which a run of a few records never waits for)."""
    project = Project(tmp_path / "p", {"type": "duckdb", "path": "wh.duckdb"}, tracking=None)
    project.seed(3)
    assert run_cli("apply", "-C", str(project.root), "--auto-approve").exit_code == 0
    started = time.monotonic()
    (run,) = run_syncs(
        project.root, load_valid_project(project.root), SyncOptions(all=True, poll_interval=30.0)
    )
    assert time.monotonic() - started < 15
    assert (run.status, run.new, run.delivered) == ("success", 3, 3)
