"""Every run is recorded with its error under one run id: the one the sync prints and
`segprof syncs show` knows, even for a run that failed before it could extract anything."""

from __future__ import annotations

import json

from sync_project import SyncPath


def test_a_run_that_fails_before_extracting_is_recorded_under_the_id_it_printed(path: SyncPath):
    path.project.seed(2)
    if path.kind == "embedded":
        assert path.run_cli("apply", "-C", str(path.project.root), "--auto-approve").exit_code == 0
    path.project.sql("DROP TABLE users")  # the model can no longer be described
    args = ["sync", "identify_users", "-C", str(path.project.root), "--format", "json"]
    if path.kind == "served":
        # one mapping run here: the error itself, naming the run it recorded
        result = path.run_cli(*args, "--self-hosted")
        assert result.exit_code == 1 and "Traceback" not in result.stdout + result.stderr
        assert "users" in result.stderr
        run_id = result.stderr.split("the run is recorded as ")[1].split()[0]
    else:
        result = path.run_cli(*args)
        assert result.exit_code == 1
        run = json.loads(result.stdout)["runs"][0]
        assert run["status"] == "failed" and "users" in " ".join(run["errors"])
        run_id = run["run_id"]
    assert run_id and not run_id.isdigit()

    listed = path.run_cli("syncs", "-C", str(path.project.root), "--format", "json")
    assert listed.exit_code == 0, listed.stdout + listed.stderr
    runs = json.loads(listed.stdout)
    runs = runs["runs"] if isinstance(runs, dict) else runs
    assert [r for r in runs if r["run_id"] == run_id and r["status"] == "failed" and r["error"]]
    shown = path.run_cli("syncs", "show", run_id, "-C", str(path.project.root), "--format", "json")
    assert shown.exit_code == 0, shown.stdout + shown.stderr
    assert run_id in shown.stdout
