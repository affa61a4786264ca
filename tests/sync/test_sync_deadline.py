"""A sync run has a deadline (`sync --timeout`, SEGPROF_SYNC_TIMEOUT): past it the run stops as a
cancelled one does, keeps what was acknowledged, is recorded as failed with the deadline as its
error, and the next run delivers the rest under the same messageIds."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sync_project import Project, serve

from segprof.errors import SegprofError
from segprof.operations.sync_runs import deadline_from, parse_deadline

RECORDS = 600


def test_a_run_past_its_deadline_stops_and_the_next_run_sends_the_rest(tmp_path: Path, run_cli: Any):
    emulator, stop = serve(tmp_path / "emu")
    try:
        # every Tracking API request takes 1 s: the run cannot finish within 1.5 s
        emulator.set_faults(latency_ms=1000, apis=("tracking",))
        project = Project(tmp_path / "p", {"type": "duckdb", "path": "wh.duckdb"}, emulator.tracking)
        project.traits = {"email": "email", "bio": "bio"}
        project.write()
        project.seed(RECORDS)
        # ~20 KB messages: about 23 per batch, so the run needs many batches
        project.sql("ALTER TABLE users ADD COLUMN bio VARCHAR", f"UPDATE users SET bio = '{'y' * 20000}'")
        args = ["sync", "identify_users", "--self-hosted", "-C", str(project.root), "--format", "json"]

        started = time.monotonic()
        result = run_cli(*args, "--timeout", "1.5s")
        took = time.monotonic() - started
        assert result.exit_code == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        run = json.loads(result.stdout)["runs"][0]
        assert run["status"] == "failed" and "deadline of 1.5 s exceeded" in run["errors"]
        assert 0 < run["delivered"] < RECORDS and run["failed"] == 0
        assert took < 15  # the deadline, then at most the grace given to requests in flight

        history = run_cli("syncs", "-C", str(project.root), "--format", "json")
        assert history.exit_code == 0, history.stdout + history.stderr
        (recorded,) = json.loads(history.stdout)["runs"]
        assert recorded["run_id"] == run["run_id"] and recorded["status"] == "failed"
        assert recorded["error"] == "deadline of 1.5 s exceeded"
        assert recorded["delivered"] == run["delivered"]
        received_then = {m["message"]["userId"] for m in emulator.messages()}
        assert len(received_then) < RECORDS  # the run did stop sending

        emulator.set_faults()
        rest = run_cli(*args)
        assert rest.exit_code == 0, rest.stdout + rest.stderr
        second = json.loads(rest.stdout)["runs"][0]
        assert second["status"] == "success"
        assert second["delivered"] == RECORDS - run["delivered"]
        ids: dict[str, set[str]] = defaultdict(set)
        for m in emulator.messages():
            ids[m["message"]["userId"]].add(m["message"]["messageId"])
        # every record reached the workspace, each under one messageId across both runs
        assert len(ids) == RECORDS and all(len(v) == 1 for v in ids.values())
    finally:
        stop()


def test_the_deadline_comes_from_the_flag_else_the_environment():
    assert parse_deadline("90") == 90 and parse_deadline("90s") == 90
    assert parse_deadline("30m") == 1800 and parse_deadline("2h") == 7200 and parse_deadline("1.5h") == 5400
    assert parse_deadline("") is None and parse_deadline(None) is None
    assert deadline_from(None, {}) is None
    assert deadline_from(None, {"SEGPROF_SYNC_TIMEOUT": "45m"}) == 2700
    assert deadline_from("10", {"SEGPROF_SYNC_TIMEOUT": "45m"}) == 10
    for bad in ("0", "-5", "soon", "5 minutes"):
        with pytest.raises(SegprofError, match="--timeout must be a positive duration"):
            parse_deadline(bad)
    with pytest.raises(SegprofError, match="SEGPROF_SYNC_TIMEOUT must be a positive duration"):
        deadline_from(None, {"SEGPROF_SYNC_TIMEOUT": "later"})


def test_a_bad_timeout_is_named_and_nothing_runs(tmp_path: Path, run_cli: Any):
    project = Project(tmp_path / "p", {"type": "duckdb", "path": "wh.duckdb"}, "http://127.0.0.1:9/v1")
    project.seed(3)
    result = run_cli("sync", "identify_users", "--self-hosted", "-C", str(project.root), "--timeout", "soon")
    assert result.exit_code == 1 and "Traceback" not in result.stdout + result.stderr
    assert "--timeout must be a positive duration, not 'soon'" in result.stderr
    history = run_cli("syncs", "-C", str(project.root), "--format", "json")
    assert json.loads(history.stdout)["runs"] == []


def test_the_embedded_workspace_keeps_the_deadline_too(tmp_path: Path, run_cli: Any):
    from sync_project import SyncPath

    way = SyncPath("embedded", tmp_path, {"type": "duckdb", "path": "wh.duckdb"}, run_cli)
    way.project.seed(5)
    args = ["sync", "identify_users", "-C", str(way.project.root), "--format", "json"]
    # a deadline the change detection alone uses up: the run sends nothing
    late = run_cli(*args, env={"SEGPROF_SYNC_TIMEOUT": "0.001"})
    assert late.exit_code == 1, late.stdout + late.stderr
    run = json.loads(late.stdout)["runs"][0]
    assert run["status"] == "failed" and run["errors"] == ["deadline of 0.001 s exceeded"]
    assert run["new"] == 5 and run["delivered"] == 0 and way.messages() == []
    rest = way.sync()
    assert rest["status"] == "success" and rest["delivered"] == 5
    ids = [m["message"]["messageId"] for m in way.messages()]
    assert len(ids) == 5 == len(set(ids))
