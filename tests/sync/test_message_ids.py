"""Every change reaches the profile under a messageId of its own, and every retry reuses it.

Driven through the embedded workspace (`backend: local`, the workspace runs the sync) and through a
served emulator (`--self-hosted` to its Tracking API). The judges are the profile the workspace
holds and the messages its Tracking API accepted or dropped as duplicates, never our counters.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from sync_project import Project, SyncPath, serve

REPO = Path(__file__).resolve().parents[2]


def outcomes(messages: list[dict[str, Any]]) -> dict[str, int]:
    counted: dict[str, int] = defaultdict(int)
    for m in messages:
        counted[m["outcome"]] += 1
    return dict(counted)


def test_a_value_flipped_back_to_an_earlier_one_reaches_the_profile(path: SyncPath):
    path.project.seed(3)
    assert path.sync()["delivered"] == 3
    for plan in ("pro", "free", "pro", "free"):
        path.project.sql(f"UPDATE users SET plan = '{plan}' WHERE user_id = 2")
        run = path.sync()
        assert (run["updated"], run["delivered"], run["duplicate_messages"]) == (1, 1, 0)
        assert path.plan_of("2") == plan
    got = path.messages()
    assert outcomes(got) == {"accepted": 7}
    assert len({m["message"]["messageId"] for m in got}) == 7


def test_full_resync_after_a_mapping_change_sends_every_record_anew(path: SyncPath):
    path.project.seed(4)
    path.sync()
    # the trait is renamed; the mapped columns (and so the checksums) stay the same
    path.project.traits = {"email": "email", "tier": "plan"}
    path.project.write()
    if path.kind == "embedded":
        applied = path.run_cli("apply", "-C", str(path.project.root), "--auto-approve")
        assert applied.exit_code == 0, applied.stdout + applied.stderr
    run = path.sync("--full-resync")
    assert (run["new"], run["delivered"], run["duplicate_messages"]) == (4, 4, 0)
    got = path.messages()
    assert outcomes(got) == {"accepted": 8}
    assert all("tier" in m["message"]["traits"] for m in got[4:])


def test_rebaseline_then_changes_and_a_record_deleted_and_created_again(path: SyncPath):
    path.project.seed(3)
    path.sync()
    path.project.sql("UPDATE users SET plan = 'pro'")
    if path.kind == "served":
        # accept the model as synced, then change it back: ids from before must not come back
        path.sync("--rebaseline")
        path.project.sql("UPDATE users SET plan = 'free'")
        assert path.sync()["delivered"] == 3
    path.project.sql("DELETE FROM users WHERE user_id = 3")
    assert path.sync()["deleted"] == 1
    path.project.sql("INSERT INTO users VALUES (3, 'u3@example.com', 'free')")
    run = path.sync()
    assert (run["new"], run["delivered"], run["duplicate_messages"]) == (1, 1, 0)
    assert path.plan_of("3") == "free"
    got = path.messages()
    assert "duplicate" not in outcomes(got)
    assert len({m["message"]["messageId"] for m in got}) == len(got)


CHILD = """
import os, signal, sys
from pathlib import Path
from segprof.config.loader import load_project_or_raise
from segprof.sync.deliver.delivery_config import DeliveryConfig
from segprof.operations.sync_runs import engine_for
root = Path(sys.argv[1])
project = load_project_or_raise(root)
engine, con = engine_for(project, root, "identify_users")
engine.ack_records = 1  # acknowledge each request as it is answered
acks = []
ack = engine.tracker.ack_changes
def ack_then_die(run, *changes):
    acks.append(1)
    if len(acks) == 3:  # the third batch reached the Tracking API; die before recording that
        os.kill(os.getpid(), signal.SIGKILL)
    return ack(run, *changes)
engine.tracker.ack_changes = ack_then_die
config = DeliveryConfig(write_key="test-space-key", tracking_base=sys.argv[2], concurrency=1,
                        max_batch_count=20, max_rps=None)
engine.run(config)
"""


def test_kill_minus_nine_between_sending_and_acknowledging(
    tmp_path: Path, warehouse: dict[str, Any], run_cli: Any
):
    """The run is killed while batches are on the wire; the next run resends only what was not
    acknowledged, each change under its first id, and says how many the workspace dropped."""
    emulator, stop = serve(tmp_path / "emulator-data")
    try:
        project = Project(tmp_path / "p", warehouse, emulator.tracking)
        project.seed(400)
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(project.root), emulator.tracking],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert child.returncode == -signal.SIGKILL, child.stderr
        assert emulator.count() == 60  # three batches of 20 received, two acknowledged
        # a change made after the crash, back and forth, must reach the profile too
        project.sql("UPDATE users SET plan = 'pro' WHERE user_id IN (1, 399)")

        result = run_cli("sync", "identify_users", "-C", str(project.root), "--self-hosted")
        assert result.exit_code == 0, result.stdout + result.stderr
        got = emulator.messages()
        dropped = [m for m in got if m["outcome"] == "duplicate"]
        # the batch that arrived but was never acknowledged went again, under the same ids; the
        # run says what the workspace dropped
        assert len(dropped) == 20
        assert "delivered 361, failed 0" in result.stdout  # 360 new, user 1 updated
        assert "the workspace dropped 20 message(s) as duplicates" in result.stdout
        # 0 lost: every user's profile holds the warehouse's value
        for user_id, plan in ((1, "pro"), (2, "free"), (200, "free"), (399, "pro"), (400, "free")):
            shown = run_cli("profiles", "show", str(user_id), "--url", emulator.url, "--format", "json")
            assert json.loads(shown.stdout)["traits"]["plan"] == plan
        accepted_users = {m["message"]["userId"] for m in got if m["outcome"] == "accepted"}
        assert len(accepted_users) == 400
        # 0 changes under two ids: one id per (record, value), however often it was sent
        ids: dict[tuple[str, str], set[str]] = defaultdict(set)
        for m in got:
            ids[(m["message"]["userId"], m["message"]["traits"]["plan"])].add(m["message"]["messageId"])
        assert all(len(v) == 1 for v in ids.values())
        # and no two changes under one id
        assert len({m["message"]["messageId"] for m in got}) == len(ids)
    finally:
        stop()
