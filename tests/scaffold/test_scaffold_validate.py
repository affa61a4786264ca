"""The quickstart validates clean with segprof's own loader and checks, and against the JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]


def _snapshot_of(db: Path, drop: tuple[str, str] | None = None) -> dict[str, Any]:
    """A `--schema-snapshot` document describing the warehouse's tables (minus one column if asked)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
        ).fetchall()
    finally:
        con.close()
    tables: dict[str, Any] = {}
    for schema, table, column, data_type in rows:
        if (table, column) != drop:
            tables.setdefault(f"{schema}.{table}", {"columns": {}})["columns"][column] = data_type
    return {"dialect": "duckdb", "tables": tables}


def test_generated_project_validates_clean(run_cli, quickstart) -> None:
    result = run_cli("validate", "-C", str(quickstart.directory))
    assert result.exit_code == 0, result.output
    assert "4 model(s)" in result.stdout and "4 mapping(s)" in result.stdout


def test_generated_project_validates_against_its_warehouse_schema(
    run_cli, quickstart, tmp_path: Path
) -> None:
    db = quickstart.directory / "warehouse.duckdb"
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps(_snapshot_of(db)))
    result = run_cli("validate", "-C", str(quickstart.directory), "--schema-snapshot", str(snapshot))
    assert result.exit_code == 0, result.output
    # the check is real: without a column a model reads, the same project fails
    snapshot.write_text(json.dumps(_snapshot_of(db, drop=("users", "lifetime_value"))))
    result = run_cli("validate", "-C", str(quickstart.directory), "--schema-snapshot", str(snapshot))
    assert result.exit_code == 1
    assert "lifetime_value" in result.output and "models/users.sql" in result.output


def test_example_validates_clean_without_its_warehouse(run_cli, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "quickstart"
    shutil.copytree(
        REPO / "examples" / "quickstart", copy, ignore=shutil.ignore_patterns("*.duckdb*", ".segprof")
    )
    result = run_cli("validate", "-C", str(copy))
    assert result.exit_code == 0, result.output


def test_yaml_files_match_the_committed_json_schema(quickstart) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((REPO / "schemas" / "segprof.schema.json").read_text())
    yaml = YAML(typ="safe")
    main = yaml.load((quickstart.directory / "segprof.yaml").read_text())
    jsonschema.validate(main, schema)
    # other files of a project hold resources only, without `version`: the schema accepts them as they are
    mappings = yaml.load((quickstart.directory / "mappings.yaml").read_text())
    assert "version" not in mappings
    jsonschema.validate(mappings, schema)


def test_every_yaml_file_init_writes_points_at_the_projects_own_schema(tmp_path: Path, run_cli) -> None:
    """The `$schema` comment resolves offline, from each file's folder, to the copy init wrote."""
    target = tmp_path / "p"
    assert run_cli("init", str(target)).exit_code == 0
    copy = target / "segprof.schema.json"
    assert json.loads(copy.read_text()) == json.loads((REPO / "schemas" / "segprof.schema.json").read_text())
    yaml_files = sorted(target.rglob("*.yaml"))
    assert len(yaml_files) >= 2
    for path in yaml_files:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        ref = first.split("$schema=", 1)[1]
        assert "://" not in ref
        assert (path.parent / ref).resolve() == copy.resolve(), path


def test_env_example_copied_to_dot_env_keeps_the_demo_key(tmp_path: Path) -> None:
    import shutil

    from segprof.config.loader import load_project

    copy = tmp_path / "quickstart"
    shutil.copytree(
        REPO / "examples" / "quickstart", copy, ignore=shutil.ignore_patterns("*.duckdb*", ".segprof")
    )
    shutil.copy(copy / ".env.example", copy / ".env")
    result = load_project(copy, environ={})
    assert result.project is not None and not result.diagnostics
    assert result.project.destinations["profiles"].write_key.get_secret_value() == "demo-write-key"
    (copy / ".env").write_text("PROFILES_WRITE_KEY=from-dot-env\n")
    result = load_project(copy, environ={})
    assert result.project.destinations["profiles"].write_key.get_secret_value() == "from-dot-env"
