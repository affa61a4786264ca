"""Models written `{dbt: name}`, read from the manifest and catalog a real `dbt build` wrote."""

from __future__ import annotations

import json
from pathlib import Path

from segprof.validate import validate_project


def _codes(report) -> list[str]:
    return [d.code for d in report.diagnostics]


def test_dbt_model_becomes_a_select_from_its_relation(segprof_project):
    folder = segprof_project()
    report = validate_project(folder)
    assert report.ok, [d.to_json() for d in report.diagnostics]
    model = report.project.models["users"]
    # the database is the source's own (warehouse.duckdb), so only schema and table are named;
    # the columns are the relation's, from catalog.json
    assert " ".join(model.sql.text.split()) == (
        'SELECT user_id, first_name, email, plan, signed_up_at FROM "main"."dim_users"'
    )
    assert model.identifier == "user_id"  # its unique + not_null tests
    assert model.description == "One row per active user."
    assert report.model_outputs["users"] == (
        "duckdb",
        ["user_id", "first_name", "email", "plan", "signed_up_at"],
    )


def test_primary_key_constraint_gives_the_identifier(segprof_project):
    folder = segprof_project(
        models="models:\n  accounts:\n    dbt: shop.dim_accounts\n",
        mappings="mappings:\n  group_accounts:\n    model: accounts\n    destination: profiles\n"
        "    action: send_group\n    fields:\n      group_id: account_id\n      anonymous_id: account_id\n      traits: {name: name, tier: tier}\n",
    )
    report = validate_project(folder)
    assert report.ok, [d.to_json() for d in report.diagnostics]
    assert report.project.models["accounts"].identifier == "account_id"


def test_plan_shows_the_model_query_and_identifier(segprof_project, run_cli):
    folder = segprof_project()
    result = run_cli("plan", "-C", str(folder), "--format", "json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    model = next(c for c in plan["resource_changes"] if c["address"] == "model.users")
    assert model["after"]["queryIdentifierColumn"] == "user_id"
    assert 'FROM "main"."dim_users"' in model["after"]["query"]
    assert "wk_test_secret" not in result.output


def test_unknown_disabled_and_ephemeral_dbt_models_are_reported(segprof_project, run_cli):
    folder = segprof_project(
        models="models:\n  users:\n    dbt: dim_user\n  legacy:\n    dbt: legacy_users\n    identifier: user_id\n"
        "  staged:\n    dbt: stg_users\n    identifier: user_id\n",
    )
    report = validate_project(folder)
    by_code = {d.code: d for d in report.diagnostics}
    unknown = by_code["dbt.unknown_model"]
    assert unknown.location.file == "segprof.yaml" and unknown.location.line == 10
    assert "did you mean `dim_users`?" in unknown.hint
    assert "is disabled (../prod/models/legacy_users.sql)" in by_code["dbt.disabled_model"].message
    assert "is ephemeral (../prod/models/stg_users.sql)" in by_code["dbt.ephemeral_model"].message
    result = run_cli("validate", "-C", str(folder))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "segprof.yaml:10" in result.stdout


def test_dbt_model_in_another_database_than_the_source(segprof_project):
    folder = segprof_project()
    text = (folder / "segprof.yaml").read_text().replace("../warehouse.duckdb", "../other.duckdb")
    (folder / "segprof.yaml").write_text(text)
    report = validate_project(folder)
    (problem,) = [d for d in report.errors]
    assert problem.code == "dbt.other_database"
    assert "built in database `warehouse`, but source `warehouse` reads `other`" in problem.message


def test_missing_manifest_is_one_clear_error(segprof_project, run_cli):
    folder = segprof_project()
    for name in ("manifest.json", "catalog.json"):
        (folder.parent / "prod" / "target" / name).unlink()
    result = run_cli("validate", "-C", str(folder))
    assert result.exit_code == 1
    assert "dbt manifest `../prod/target/manifest.json` not found" in result.stdout
    assert "Traceback" not in result.output


def test_query_and_dbt_together_are_refused(segprof_project):
    folder = segprof_project(models="models:\n  users:\n    dbt: dim_users\n    query: select 1 as user_id\n")
    report = validate_project(folder)
    assert "model.query_conflict" in _codes(report)


def test_stale_catalog_is_not_trusted(segprof_project, dbt_workdir: Path):
    """A `dbt build` after `dbt docs generate` leaves an older catalog: the compiled SQL is used."""
    folder = segprof_project()
    catalog = dbt_workdir / "prod" / "target" / "catalog.json"
    data = json.loads(catalog.read_text())
    data["metadata"]["generated_at"] = "2000-01-01T00:00:00Z"
    catalog.write_text(json.dumps(data))
    report = validate_project(folder)
    assert "dbt.catalog_stale" in _codes(report)
    assert report.ok
    assert report.model_outputs["users"][1] == ["user_id", "first_name", "email", "plan", "signed_up_at"]


def test_documented_columns_only_warn(segprof_project, dbt_workdir: Path):
    """Without a catalog or compiled SQL (e.g. after `dbt parse`), only documented columns are
    known: an undocumented mapped column is a warning, and the query selects every column."""
    target = dbt_workdir / "prod" / "target"
    (target / "catalog.json").unlink()
    manifest = json.loads((target / "manifest.json").read_text())
    for node in manifest["nodes"].values():
        node.pop("compiled_code", None)
    (target / "manifest.json").write_text(json.dumps(manifest))
    schema = dbt_workdir / "prod" / "models" / "schema.yml"
    folder = segprof_project()
    text = (folder / "segprof.yaml").read_text().replace("plan: plan", "plan: plan\n        tier: tier")
    (folder / "segprof.yaml").write_text(text)
    report = validate_project(folder)
    assert report.ok
    (warned,) = report.warnings
    assert warned.code == "dbt.column_undocumented"
    assert "column `tier` (field traits.tier) is not documented in dbt model `dim_users`" in warned.message
    assert schema.exists()
    assert " ".join(report.project.models["users"].sql.text.split()) == 'SELECT * FROM "main"."dim_users"'
