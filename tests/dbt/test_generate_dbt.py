"""`segprof generate --dbt`: models and mappings proposed from a real dbt project's manifest."""

from __future__ import annotations

from ruamel.yaml import YAML

from segprof.validate import validate_project

BARE = "models: {}\n"


def test_generate_from_dbt_models(segprof_project, run_cli):
    folder = segprof_project(models="", mappings="")
    result = run_cli("generate", "-C", str(folder), "--dbt", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = (folder / "generated_dbt.yaml").read_text()
    doc = YAML(typ="safe").load(text)
    # identifier and description stay the dbt project's: the models only name the dbt model
    assert doc["models"] == {"users": {"dbt": "dim_users"}, "accounts": {"dbt": "dim_accounts"}}
    identify = doc["mappings"]["identify_users"]
    assert identify["action"] == "send_identify"  # meta segment.action
    assert identify["fields"]["user_id"] == "user_id"
    # signed_up_at carries `meta: {segment: false}`
    assert identify["fields"]["traits"] == {"first_name": "first_name", "email": "email", "plan": "plan"}
    group = doc["mappings"]["group_accounts"]
    assert group["action"] == "send_group"
    assert group["fields"]["group_id"] == "account_id"  # its primary_key constraint
    assert group["fields"]["traits"] == {"name": "name", "tier": "tier"}
    # the model's dbt description, the file, and why a column stays out are in the comments
    assert "dbt model `dim_users` (models/dim_users.sql): One row per active user." in text
    assert "signed_up_at (dbt meta `segment: false`)" in text
    # the ephemeral model cannot be selected from
    assert "stg_users: ephemeral" in " ".join(text.split())
    assert "stg_users" in result.stdout and "ephemeral" in result.stdout

    report = validate_project(folder)
    assert report.ok, [d.to_json() for d in report.errors]
    assert report.project.models["users"].identifier == "user_id"

    again = run_cli("generate", "-C", str(folder), "--dbt")
    assert again.exit_code == 1
    assert "would be overwritten" in again.output


def test_a_model_without_a_tested_key_is_not_generated(segprof_project, run_cli, dbt_workdir):
    """The pull request dropped `unique` on dim_users.user_id: no identifier Segment can trust."""
    folder = segprof_project(dbt="pr", models="", mappings="")
    result = run_cli("generate", "-C", str(folder), "--dbt", "--tables", "dim_users,dim_accounts")
    assert result.exit_code == 0, result.output
    doc = YAML(typ="safe").load((folder / "generated_dbt.yaml").read_text())
    assert list(doc["models"]) == ["accounts"]
    assert "no column proven unique: test `user_id` with unique and not_null" in " ".join(
        (folder / "generated_dbt.yaml").read_text().split()
    )


def test_unknown_dbt_model_name(segprof_project, run_cli):
    folder = segprof_project(models="", mappings="")
    result = run_cli("generate", "-C", str(folder), "--dbt", "--tables", "dim_nobody")
    assert result.exit_code == 1
    assert "no such dbt model" in result.output and "dim_nobody" in result.output
    assert not (folder / "generated_dbt.yaml").exists()
