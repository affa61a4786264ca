"""The file system as an adversary: symlink loops, paths leaving the project, outputs into places
that cannot be written, and warehouse files that are not there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.hostile.conftest import assert_clean_failure


def _use_query_file(project: Path, name: str) -> None:
    config = project / "segprof.yaml"
    config.write_text(
        config.read_text().replace("query: SELECT user_id, email, plan FROM users", f"query_file: {name}")
    )


def test_query_file_symlink_loop_is_located(project: Path, cli) -> None:
    (project / "models").mkdir()
    os.symlink("b.sql", project / "models" / "a.sql")
    os.symlink("a.sql", project / "models" / "b.sql")
    _use_query_file(project, "models/a.sql")
    for command in ("validate", "plan"):
        assert_clean_failure(
            cli(command, "-C", str(project)), "segprof.yaml:9:", "symbolic link loop", "model.users"
        )


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_query_file_outside_the_project_is_refused(project: Path, tmp_path: Path, cli, how: str) -> None:
    secret = tmp_path / "runner-secrets.sql"
    secret.write_text("SELECT 'ghp_runner_credential' AS user_id, 'x' AS email, 'y' AS plan")
    name = {"dotdot": "../runner-secrets.sql", "absolute": str(secret), "symlink": "models/link.sql"}[how]
    if how == "symlink":
        (project / "models").mkdir()
        os.symlink(secret, project / "models" / "link.sql")
    _use_query_file(project, name)
    for command in ("validate", "plan"):
        outcome = cli(command, "-C", str(project))
        assert_clean_failure(outcome, "segprof.yaml:9:", "outside the project folder", "SEGPROF_ALLOWED_DIRS")
        assert "ghp_runner_credential" not in outcome.text
    assert not (project / ".segprof").exists() or not list((project / ".segprof").rglob("state.json"))


def test_a_folder_the_runner_allows_may_hold_query_files(project: Path, tmp_path: Path, cli) -> None:
    shared = tmp_path / "shared-sql"
    shared.mkdir()
    (shared / "users.sql").write_text("SELECT user_id, email, plan FROM users")
    _use_query_file(project, "../shared-sql/users.sql")
    assert cli("validate", "-C", str(project)).code == 1
    outcome = cli("validate", "-C", str(project), env={"SEGPROF_ALLOWED_DIRS": str(shared)})
    assert outcome.code == 0, outcome.text


def test_symlinked_yaml_file_from_outside_is_not_read(project: Path, tmp_path: Path, cli) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("models:\n  stolen: {source: warehouse, identifier: a, query: SELECT 1 AS a}\n")
    os.symlink(outside, project / "more.yaml")
    assert_clean_failure(cli("validate", "-C", str(project)), "more.yaml", "outside the project folder")


@pytest.mark.parametrize("command", [("plan", "--out"), ("introspect", "--out")])
def test_out_under_a_file_is_a_clear_error_and_writes_nothing(project: Path, cli, command) -> None:
    (project / "afile").write_text("keep me\n")
    target = project / "afile" / "out.json"
    outcome = cli(*command, str(target), "-C", str(project))
    assert_clean_failure(outcome, f"cannot write the {'plan' if command[0] == 'plan' else 'schema snapshot'}")
    assert "not a folder" in outcome.text
    assert outcome.stdout == ""  # nothing printed as if it had worked
    assert (project / "afile").read_text() == "keep me\n"


def test_out_onto_a_folder_or_read_only_place_is_a_clear_error(project: Path, cli) -> None:
    (project / "plans").mkdir()
    assert_clean_failure(cli("plan", "--out", str(project / "plans"), "-C", str(project)), "is a folder")
    locked = project / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        # root ignores permissions; /proc refuses everyone
        target = Path("/proc/segprof-plan.json") if os.access(locked, os.W_OK) else locked / "plan.json"
        outcome = cli("plan", "--out", str(target), "-C", str(project))
        assert_clean_failure(outcome, f"cannot write the plan to {target}")
        assert not list(locked.iterdir())
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize("command", [("introspect",), ("generate",), ("sync", "--all")])
def test_missing_duckdb_file_is_named_and_not_created(project: Path, cli, command) -> None:
    (project / "warehouse.duckdb").unlink()
    if command[0] == "sync":  # the mapping must exist in the workspace first; apply never opens the warehouse
        assert cli("apply", "--auto-approve", "-C", str(project)).code == 0
    outcome = cli(*command, "-C", str(project))
    assert_clean_failure(outcome, "warehouse.duckdb", "does not exist")
    assert not (project / "warehouse.duckdb").exists()


def test_introspect_opens_the_warehouse_read_only(project: Path, cli) -> None:
    import subprocess
    import sys

    # Another process holds the file read-only: DuckDB then lets others in only read-only, so a
    # writable open (what introspect did) would fail on the lock.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"c = duckdb.connect({str(project / 'warehouse.duckdb')!r}, read_only=True)\n"
            "print('ready', flush=True)\ntime.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        outcome = cli("introspect", "-C", str(project))
    finally:
        holder.kill()
        holder.wait()
    assert outcome.code == 0, outcome.text
    assert "users" in (project / "schema.json").read_text()
