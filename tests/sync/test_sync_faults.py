"""Delivery under injected faults, and kill -9 of a self-hosted sync at several points."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from sync_project import Project, serve

from segprof.sync.deliver.delivery_config import DeliveryConfig
from segprof.sync.engine import SyncEngine
from segprof.sync.spec import SyncJob, triggers_of
from segprof.warehouses import connect

ROOT = Path(__file__).resolve().parents[2]


def _job() -> SyncJob:
    return SyncJob(
        mapping_id="sub_faults",
        action="send_identify",
        settings={
            "user_id": {"@path": "$.__segment_id"},
            "traits": {"email": {"@path": "$.properties.email"}, "plan": {"@path": "$.properties.plan"}},
        },
        triggers=triggers_of('event = "new" or event = "updated" or event = "deleted"'),
        model_sql="SELECT * FROM users",
        identifier="user_id",
        address="mapping.identify_users",
    )


def test_every_record_is_delivered_under_20_percent_faults(tmp_path: Path, warehouse, emulator):
    project = Project(tmp_path / "p", warehouse, emulator.tracking)
    project.seed(400)
    emulator.set_faults(
        error_rate=0.08, rate_429=0.08, timeout_rate=0.04, hang_seconds=1.0, seed=7, apis=("tracking",)
    )
    config = DeliveryConfig(
        write_key="k",
        tracking_base=emulator.tracking,
        max_batch_count=10,
        request_timeout=0.3,
        backoff_base=0.01,
        backoff_cap=0.05,
        max_attempts=12,
        max_rps=None,
    )
    settings = {k: v for k, v in warehouse.items() if k != "type"}
    con = connect(warehouse["type"], settings, project.root)
    try:
        summary = SyncEngine(con, _job(), batch_rows=50).run(config)
    finally:
        con.close()
    assert summary.status == "success", summary.errors
    assert summary.delivered == 400 and summary.failed == 0
    emulator.set_faults()
    received = emulator.messages()
    accepted = {m["message"]["userId"] for m in received if m["outcome"] == "accepted"}
    assert accepted == {str(i) for i in range(1, 401)}
    # resends after a timeout reuse the messageId: one id per record
    ids = defaultdict(set)
    for m in received:
        ids[m["message"]["userId"]].add(m["message"]["messageId"])
    assert all(len(v) == 1 for v in ids.values())


@pytest.mark.slow
def test_kill_9_then_following_runs_complete_with_the_same_message_ids(tmp_path: Path, warehouse):
    emulator, stop = serve(tmp_path / "emu", faults=None)
    try:
        # slow answers so that the process is caught mid-delivery
        emulator.set_faults(latency_ms=150, apis=("tracking",))
        project = Project(tmp_path / "p", warehouse, emulator.tracking)
        # big messages make many batches (about 20 per request)
        project.traits = {"email": "email", "plan": "plan", "bio": "bio"}
        project.write()
        project.seed(400)
        project.sql("ALTER TABLE users ADD COLUMN bio VARCHAR(30000)")
        project.sql(f"UPDATE users SET bio = '{'x' * 20000}'")
        cmd = [
            sys.executable,
            "-m",
            "segprof",
            "sync",
            "identify_users",
            "--self-hosted",
            "-C",
            str(project.root),
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        seen: list[int] = []
        # kill points: while starting / diffing, after the first deliveries, half-way through
        for threshold in (None, 1, 200):
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            deadline = time.monotonic() + 60
            if threshold is None:
                time.sleep(0.3)
            else:
                while emulator.count() < threshold and proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            seen.append(
                len({m["message"]["userId"] for m in emulator.messages() if m["outcome"] == "accepted"})
            )
        # the kills landed mid-delivery: some records were through, not all
        assert 0 < seen[-1] < 400, seen
        emulator.set_faults()
        for _ in range(3):
            done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
            if done.returncode == 0:
                break
        assert done.returncode == 0, done.stderr
        received = emulator.messages()
        accepted = {m["message"]["userId"] for m in received if m["outcome"] == "accepted"}
        assert accepted == {str(i) for i in range(1, 401)}
        ids = defaultdict(set)
        for m in received:
            ids[m["message"]["userId"]].add(m["message"]["messageId"])
        assert all(len(v) == 1 for v in ids.values()), "a record was resent under another messageId"
        # and a further run has nothing left
        again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert "0 new, 0 updated, 0 deleted" in again.stdout
    finally:
        stop()
