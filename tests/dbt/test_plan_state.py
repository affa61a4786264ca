"""`plan --dbt-state`: production's manifest says which dbt models a pull request changed; plan
lists their mappings and `--preview` shows their payloads on production's records and the PR's."""

from __future__ import annotations

import json
from pathlib import Path

ACCOUNTS = "models:\n  accounts:\n    dbt: dim_accounts\n"
GROUP = """\
mappings:
  group_accounts:
    model: accounts
    destination: profiles
    action: send_group
    fields:
      group_id: account_id
      anonymous_id: {template: "account-{{account_id}}"}
      traits: {name: name, tier: tier}
"""


def _apply_production(segprof_project, run_cli) -> Path:
    folder = segprof_project(dbt="prod", models=ACCOUNTS, mappings=GROUP)
    applied = run_cli("apply", "-C", str(folder), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    return folder


def test_plan_lists_and_previews_mappings_of_changed_dbt_models(segprof_project, run_cli, dbt_workdir):
    folder = _apply_production(segprof_project, run_cli)
    # the pull request's checkout: the same segprof project, dbt built into schema `pr`
    segprof_project(dbt="pr", models=ACCOUNTS, mappings=GROUP)
    state = dbt_workdir / "prod" / "target"
    result = run_cli(
        "plan", "-C", str(folder), "--dbt-state", str(state), "--preview", "2", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["dbt_changes"] == [
        {
            "model": "model.accounts",
            "dbt_model": "dim_accounts",
            "file": "../pr/models/dim_accounts.sql",
            "reasons": ["its SQL changed (models/dim_accounts.sql)"],
            "mappings": ["mapping.group_accounts"],
        }
    ]
    changes = {c["address"]: c for c in plan["resource_changes"]}
    # the model keeps selecting from production's relation: nothing to apply
    assert changes["model.accounts"]["action"] == "noop"
    assert plan["summary"]["has_changes"] is False
    preview = changes["mapping.group_accounts"]["preview"]
    assert preview["available"] is True, preview
    records = {r["id"]: r for r in preview["records"]}
    assert set(records) == {"10", "20"}
    assert records["10"]["changes"] == [
        {"path": "traits.name", "op": "changed", "before": "Acme", "after": "ACME"}
    ]
    assert records["20"]["changes"][0]["after"] == "GLOBEX"

    text = run_cli("plan", "-C", str(folder), "--dbt-state", str(state), "--preview", "1")
    assert text.exit_code == 0, text.output
    assert "dbt models changed against production" in text.stdout
    assert "its SQL changed (models/dim_accounts.sql)" in text.stdout
    assert "mappings: mapping.group_accounts" in text.stdout
    assert "wk_test_secret" not in text.output

    markdown = run_cli("plan", "-C", str(folder), "--dbt-state", str(state), "--format", "markdown")
    assert markdown.exit_code == 0, markdown.output
    assert "**dbt models changed against production**" in markdown.stdout
    assert (
        "- `model.accounts` ← dbt `dim_accounts` (`../pr/models/dim_accounts.sql`): its SQL changed "
        "(models/dim_accounts.sql) — mappings: `mapping.group_accounts`"
    ) in markdown.stdout


def test_unchanged_dbt_models_are_not_listed(segprof_project, run_cli, dbt_workdir):
    folder = _apply_production(segprof_project, run_cli)
    result = run_cli("plan", "-C", str(folder), "--dbt-state", str(dbt_workdir / "prod"), "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["dbt_changes"] == []


def test_missing_production_manifest_is_a_clear_error(segprof_project, run_cli, dbt_workdir):
    folder = segprof_project(dbt="pr", models=ACCOUNTS, mappings=GROUP)
    result = run_cli("plan", "-C", str(folder), "--dbt-state", str(dbt_workdir / "nowhere"))
    assert result.exit_code == 1
    assert "production's manifest" in result.stderr and "not found" in result.stderr
    assert "Traceback" not in result.output
