"""A real kill -9 in the middle of a sync: the next run yields exactly the unacknowledged changes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from segprof.sync.detect.changes import ChangeTracker
from segprof.sync.detect.runs import MappingSpec
from segprof.warehouses import connect
from segprof.warehouses.managed_schema import CHECKSUM_COLUMN, ID_COLUMN, KIND_COLUMN

REPO = Path(__file__).resolve().parents[2]

CHILD = """
import json, os, signal, sys
from pathlib import Path
from segprof.sync.detect.changes import ChangeTracker
from segprof.sync.detect.runs import MappingSpec
from segprof.warehouses.managed_schema import ID_COLUMN, KIND_COLUMN, CHECKSUM_COLUMN
from segprof.warehouses import connect
kind, settings, project = sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3])
con = connect(kind, settings, project)
tracker = ChangeTracker(con, MappingSpec("sub_k", "SELECT * FROM users", "user_id", ["plan"]))
run = tracker.begin()
everything, acked = {}, []
for i, batch in enumerate(tracker.stream(run, batch_rows=10)):
    rows = batch.to_pylist()
    for r in rows:
        everything[r[ID_COLUMN]] = [r[KIND_COLUMN], r[CHECKSUM_COLUMN]]
    if i < 2:
        tracker.ack(run, [r[ID_COLUMN] for r in rows])
        acked += [r[ID_COLUMN] for r in rows]
print(json.dumps({"all": everything, "acked": acked}), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_kill_minus_nine_mid_sync(kind: str, tmp_path: Path, request: pytest.FixtureRequest):
    settings = {"path": "wh.duckdb"} if kind == "duckdb" else {"dsn": request.getfixturevalue("postgres_dsn")}
    con = connect(kind, settings, tmp_path, create=True)
    con.execute("CREATE TABLE users (user_id INTEGER, plan VARCHAR(20))")
    con.insert_rows("users", ["user_id", "plan"], [(i, "free") for i in range(1, 61)])
    spec = MappingSpec("sub_k", "SELECT * FROM users", "user_id", ["plan"])
    tracker = ChangeTracker(con, spec)
    run = tracker.begin()
    first = {r[ID_COLUMN]: r for b in tracker.stream(run) for r in b.to_pylist()}
    tracker.ack(run, first)
    tracker.finish(run)
    con.execute("UPDATE users SET plan = 'pro' WHERE user_id <= 40")
    con.execute("DELETE FROM users WHERE user_id > 55")
    con.close()

    done = subprocess.run(
        [sys.executable, "-c", CHILD, kind, json.dumps(settings), str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    acked = set(report["acked"])
    assert len(acked) == 20
    unacked = {k: tuple(v) for k, v in report["all"].items() if k not in acked}

    con = connect(kind, settings, tmp_path)
    tracker = ChangeTracker(con, spec)
    run = tracker.begin()
    again = {
        r[ID_COLUMN]: (r[KIND_COLUMN], r[CHECKSUM_COLUMN]) for b in tracker.stream(run) for r in b.to_pylist()
    }
    expected_ids = {str(i) for i in range(1, 41)} | {str(i) for i in range(56, 61)}
    assert set(report["all"]) == expected_ids
    assert again == unacked  # same ids, kinds and checksums: the same message ids follow
    for ident, (k, checksum) in again.items():
        if k == "deleted":
            assert checksum == first[ident][CHECKSUM_COLUMN]
    assert tracker.history()[1].status == "interrupted"
    con.close()
