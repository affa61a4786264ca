"""A `{dbt: …}` model synced end to end: the profile the embedded workspace holds is built from
the relation dbt built."""

from __future__ import annotations

import json


def test_sync_a_dbt_model_into_profiles(segprof_project, run_cli):
    folder = segprof_project()
    applied = run_cli("apply", "-C", str(folder), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    synced = run_cli("sync", "--all", "-C", str(folder), "--format", "json")
    assert synced.exit_code == 0, synced.output
    (run,) = json.loads(synced.stdout)["runs"]
    # dim_users leaves out the deleted user: three of the four raw users
    assert (run["new"], run["delivered"], run["status"]) == (3, 3, "success")
    shown = run_cli("profiles", "show", "1", "-C", str(folder), "--format", "json")
    assert shown.exit_code == 0, shown.output
    profile = json.loads(shown.stdout)
    assert profile["traits"]["email"] == "ada@example.com"
    assert profile["traits"]["plan"] == "pro"
    assert profile["traits"]["first_name"] == "Ada"
    missing = run_cli("profiles", "show", "4", "-C", str(folder), "--format", "json")
    assert missing.exit_code == 1
    assert "wk_test_secret" not in synced.output + shown.output
