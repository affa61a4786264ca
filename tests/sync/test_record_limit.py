"""A sync extracts at most its record limit (Segment's is 150 million) and leaves the rest for the
next syncs, saying how many remain; nothing is lost or sent twice on the way."""

from __future__ import annotations

import json

from sync_project import SyncPath


def test_the_record_limit_spreads_a_large_change_over_several_syncs(path: SyncPath):
    path.project.seed(25)
    first = path.sync("--max-records", "10")
    assert (first["new"], first["delivered"], first["remaining"], first["status"]) == (25, 10, 15, "success")
    # a record that was sent changes meanwhile: it waits its turn with the others
    path.project.sql("UPDATE users SET plan = 'pro' WHERE user_id IN (SELECT user_id FROM users LIMIT 25)")
    second = path.sync("--max-records", "10")
    assert (second["delivered"], second["remaining"]) == (10, 15)
    third = path.sync("--max-records", "10")
    fourth = path.sync("--max-records", "10")
    assert (third["remaining"], fourth["delivered"], fourth["remaining"]) == (5, 5, 0)
    assert path.sync("--max-records", "10")["delivered"] == 0

    got = path.messages()
    assert {m["outcome"] for m in got} == {"accepted"}
    assert len({m["message"]["messageId"] for m in got}) == len(got) == 35
    for user_id in (1, 13, 25):
        assert path.plan_of(str(user_id)) == "pro"


def test_the_run_says_how_many_records_remain(path: SyncPath):
    path.project.seed(3)
    args = ["sync", "identify_users", "-C", str(path.project.root), "--max-records", "2"]
    if path.kind == "served":
        args.append("--self-hosted")
    shown = path.run_cli(*args)
    assert shown.exit_code == 0, shown.stdout + shown.stderr
    assert "delivered 2, failed 0" in shown.stdout
    assert "1 changed record(s) remain for the next sync" in shown.stdout
    refused = path.run_cli("sync", "identify_users", "-C", str(path.project.root), "--max-records", "0")
    assert refused.exit_code == 1 and "Traceback" not in refused.stdout + refused.stderr
    assert json.loads(path.run_cli(*args, "--format", "json").stdout)["runs"][0]["delivered"] == 1
