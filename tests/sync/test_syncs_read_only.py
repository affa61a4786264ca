"""`segprof syncs` only reads: it opens the warehouse read-only, so it takes no write lock, works
next to other readers, says clearly why when a writer holds the file, and never creates a
missing DuckDB file."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sync_project import SyncPath


@contextmanager
def held_open(path: Path, *, read_only: bool) -> Iterator[None]:
    """Another process with the DuckDB file open (DuckDB locks per process)."""
    code = (
        "import sys, duckdb\n"
        f"con = duckdb.connect({str(path)!r}, read_only={read_only!r})\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


def _synced(tmp_path: Path, run_cli: Any) -> tuple[SyncPath, str]:
    way = SyncPath("embedded", tmp_path, {"type": "duckdb", "path": "wh.duckdb"}, run_cli)
    way.project.seed(3)
    run = way.sync()
    assert run["status"] == "success"
    return way, run["run_id"]


def test_syncs_reads_next_to_another_reader(tmp_path: Path, run_cli: Any):
    way, run_id = _synced(tmp_path, run_cli)
    root = way.project.root
    with held_open(root / "wh.duckdb", read_only=True):
        # a read-write open would fail here: the other process holds a shared (reader) lock
        listed = run_cli("syncs", "-C", str(root), "--format", "json")
        assert listed.exit_code == 0, listed.stdout + listed.stderr
        assert [r["run_id"] for r in json.loads(listed.stdout)["runs"]] == [run_id]
        shown = run_cli("syncs", "show", run_id, "-C", str(root), "--format", "json")
        assert shown.exit_code == 0, shown.stdout + shown.stderr
        assert json.loads(shown.stdout)["run"]["run_id"] == run_id


def test_syncs_says_why_when_a_writer_holds_the_file(tmp_path: Path, run_cli: Any):
    way, _ = _synced(tmp_path, run_cli)
    root = way.project.root
    with held_open(root / "wh.duckdb", read_only=False):
        listed = run_cli("syncs", "-C", str(root))
    assert listed.exit_code == 1
    assert "Traceback" not in listed.stdout + listed.stderr
    assert "source.warehouse" in listed.stderr and "lock" in listed.stderr
    assert "open for writing" in listed.stderr


def test_syncs_reports_a_missing_warehouse_file_and_does_not_create_it(tmp_path: Path, run_cli: Any):
    way, _ = _synced(tmp_path, run_cli)
    root = way.project.root
    (root / "wh.duckdb").unlink()
    for args in (["syncs"], ["syncs", "show", "r-1"]):
        result = run_cli(*args, "-C", str(root))
        assert result.exit_code == 1, result.stdout
        assert "does not exist" in result.stderr and "source.warehouse" in result.stderr
        assert not (root / "wh.duckdb").exists()


def test_syncs_reads_while_this_process_has_the_file_open_for_writing(tmp_path: Path, run_cli: Any):
    import duckdb

    way, run_id = _synced(tmp_path, run_cli)
    root = way.project.root
    writer = duckdb.connect(str(root / "wh.duckdb"))  # DuckDB refuses a second, read-only, config
    try:
        listed = run_cli("syncs", "-C", str(root), "--format", "json")
        assert listed.exit_code == 0, listed.stdout + listed.stderr
        assert [r["run_id"] for r in json.loads(listed.stdout)["runs"]] == [run_id]
    finally:
        writer.close()
