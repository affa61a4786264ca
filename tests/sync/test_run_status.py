"""A run's status says what happened to its records."""

from __future__ import annotations

import json

from sync_project import SyncPath


def test_a_run_that_delivered_nothing_and_failed_every_record_is_failed(path: SyncPath):
    path.project.user_id = "email"  # every email is null below: Segment rejects each record
    path.project.on = ["new", "updated"]  # a user id from a column cannot serve deletes
    path.project.write()
    path.project.seed(3)
    path.project.sql("UPDATE users SET email = NULL")
    if path.kind == "embedded":
        assert path.run_cli("apply", "-C", str(path.project.root), "--auto-approve").exit_code == 0
    args = ["sync", "identify_users", "-C", str(path.project.root), "--format", "json"]
    if path.kind == "served":
        args.append("--self-hosted")
    result = path.run_cli(*args)
    run = json.loads(result.stdout)["runs"][0]
    assert result.exit_code == 1
    assert (run["delivered"], run["failed"], run["status"]) == (0, 3, "failed")
    assert path.messages() == []

    # one record fixed: it is delivered, the others still fail: partial
    path.project.sql("UPDATE users SET email = 'one@example.com' WHERE user_id = 1")
    again = json.loads(path.run_cli(*args).stdout)["runs"][0]
    assert (again["delivered"], again["failed"], again["status"]) == (1, 2, "partial")
