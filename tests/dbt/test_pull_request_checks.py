"""The pull-request check of a dbt repository: a dbt change that breaks a mapping fails
validate and plan, naming the dbt file and line, the mapping and the field."""

from __future__ import annotations

from segprof.validate import validate_project


def test_removed_and_renamed_columns_and_dropped_uniqueness_fail_validate(segprof_project):
    folder = segprof_project(dbt="pr")
    report = validate_project(folder)
    errors = {(d.code, d.message.split(":")[0]): d for d in report.errors}
    removed = errors[
        (
            "dbt.column_missing",
            "column `plan` (field traits.plan of mapping.identify_users) is not an output of dbt model `dim_users`",
        )
    ]
    # the PR's catalog is gone with `dbt build`: columns come from the compiled SQL
    assert "it is not in the select list at ../pr/models/dim_users.sql:1" in removed.message
    assert (removed.location.file, removed.location.line) == ("segprof.yaml", 26)
    assert (removed.related.file, removed.related.line) == ("../pr/models/dim_users.sql", 1)
    renamed = errors[
        (
            "dbt.column_missing",
            "column `first_name` (field traits.first_name of mapping.identify_users) is not an output of dbt model `dim_users`",
        )
    ]
    assert "../pr/models/dim_users.sql:3 renames it to `given_name`" in renamed.message
    assert renamed.hint.startswith("map `given_name` instead")
    # the identifier came from the unique test the PR dropped
    (no_key,) = [d for d in report.errors if d.code == "dbt.no_identifier"]
    assert (
        "dbt model `dim_users` proves no single column unique (../pr/models/schema.yml:4)" in no_key.message
    )
    assert (no_key.related.file, no_key.related.line) == ("../pr/models/schema.yml", 4)


def test_dropped_uniqueness_test_of_a_named_identifier(segprof_project):
    folder = segprof_project(
        dbt="pr",
        models="models:\n  users:\n    dbt: dim_users\n    identifier: user_id\n",
        mappings="mappings:\n  identify_users:\n    model: users\n    destination: profiles\n"
        "    action: send_identify\n    fields:\n      user_id: user_id\n      traits: {email: email}\n",
    )
    report = validate_project(folder)
    (problem,) = report.errors
    assert problem.code == "dbt.identifier_untested"
    assert problem.location.file == "segprof.yaml" and problem.location.line == 11
    # the `- name: user_id` line of the PR's properties file
    assert (problem.related.file, problem.related.line) == ("../pr/models/schema.yml", 10)
    assert "does not prove identifier `user_id` unique (../pr/models/schema.yml:10)" in problem.message


def test_the_same_mapping_passes_against_production(segprof_project):
    assert validate_project(segprof_project(dbt="prod")).ok


def test_plan_fails_on_a_column_removed_in_dbt(segprof_project, run_cli):
    folder = segprof_project(
        dbt="pr",
        models="models:\n  users:\n    dbt: dim_users\n    identifier: user_id\n",
    )
    result = run_cli("plan", "-C", str(folder))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert (
        "column `plan` (field traits.plan of mapping.identify_users) is not an output of dbt model `dim_users`"
        in result.stderr
    )


def test_github_annotations_land_on_the_dbt_files(segprof_project, run_cli, monkeypatch):
    folder = segprof_project(
        dbt="pr", models="models:\n  users:\n    dbt: dim_users\n    identifier: user_id\n"
    )
    monkeypatch.chdir(folder.parent)  # the repository root, where a workflow runs
    result = run_cli("validate", "-C", "segprof", "--format", "github")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("::error file=pr/models/dim_users.sql,line=3,") for line in lines)
    assert any(line.startswith("::error file=pr/models/schema.yml,line=10,") for line in lines)
    assert any(line.startswith("::error file=segprof/segprof.yaml,line=") for line in lines)


def test_renamed_identifier(segprof_project):
    folder = segprof_project(
        dbt="pr", models="models:\n  users:\n    dbt: dim_users\n    identifier: first_name\n", mappings=""
    )
    (problem,) = validate_project(folder).errors
    assert problem.code == "dbt.identifier_missing"
    assert problem.message == (
        "identifier column `first_name` is no longer an output of dbt model `dim_users`: "
        "../pr/models/dim_users.sql:3 renames it to `given_name`"
    )
    assert problem.hint == "set `identifier: given_name`"
    assert (problem.related.file, problem.related.line) == ("../pr/models/dim_users.sql", 3)
