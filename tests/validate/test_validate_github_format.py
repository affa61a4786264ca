"""`segprof validate --format github`: one workflow command per finding, on the line it is about."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from segprof.config.diagnostic import error, warning
from segprof.errors import Location
from segprof.validate.report import render_github

REPO = Path(__file__).resolve().parents[2]

PROJECT = """\
version: 1
sources: {w: {type: duckdb, path: w.duckdb}}
models:
  users: {identifier: user_id, query: 'SELECT user_id, email FROM users'}
destinations: {d: {write_key: wk_test_key_123}}
mappings:
  x:
    model: users
    destination: d
    action: send_identify
    schedule: {every: 1h}
    fields: {user_id: user_id, traits: {mail: emial}}
"""


def run_validate(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "segprof", "validate", *args, "--format", "github"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_annotations_point_at_the_file_from_the_repository_root(tmp_path: Path) -> None:
    project = tmp_path / "analytics" / "segprof"
    project.mkdir(parents=True)
    (project / "segprof.yaml").write_text(PROJECT)
    result = run_validate(tmp_path, "-C", "analytics/segprof")
    assert result.returncode == 1
    first, summary = result.stdout.strip().split("\n")
    line = PROJECT.splitlines().index("    fields: {user_id: user_id, traits: {mail: emial}}") + 1
    assert first.startswith(f"::error file=analytics/segprof/segprof.yaml,line={line},col=")
    assert ",title=segprof columns.unknown::column `emial`" in first
    assert "(mapping.x)%0Ahint: did you mean `email`?" in first
    assert summary == "segprof validate: invalid, 1 error, 0 warnings"
    # From inside the project folder, the paths are the project's own.
    inside = run_validate(project)
    assert inside.stdout.startswith(f"::error file=segprof.yaml,line={line},")


def test_a_valid_project_prints_only_the_verdict(tmp_path: Path) -> None:
    (tmp_path / "segprof.yaml").write_text(PROJECT.replace("emial", "email"))
    result = run_validate(tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == "segprof validate: valid, 0 errors, 0 warnings"


def test_workflow_command_escaping() -> None:
    found = [
        error(
            "x.y",
            "100% wrong\nsecond line",
            Location("dir,with:odd/seg.yaml", 3, 7),
            address="model.a",
            hint="fix it",
        ),
        warning("z.w", "no place"),
        error("p.m", "no segprof.yaml", Location("segprof.yaml")),
    ]
    lines = render_github(found).split("\n")
    assert lines[0] == (
        "::error file=dir%2Cwith%3Aodd/seg.yaml,line=3,col=7,title=segprof x.y::"
        "100%25 wrong%0Asecond line (model.a)%0Ahint: fix it"
    )
    assert lines[1] == "::warning title=segprof z.w::no place"
    assert lines[2] == "::error file=segprof.yaml,title=segprof p.m::no segprof.yaml"  # no line 0
    assert lines[3] == "segprof validate: invalid, 2 errors, 1 warning"


def test_a_renamed_column_is_annotated_on_the_model_line_too(tmp_path: Path) -> None:
    # The pull request often changes only the model: the annotation must also land on its line.
    (tmp_path / "users.sql").write_text("SELECT\n  user_id,\n  email AS address\nFROM users\n")
    config = PROJECT.replace("query: 'SELECT user_id, email FROM users'", "query_file: users.sql")
    (tmp_path / "segprof.yaml").write_text(config.replace("emial", "email"))
    result = run_validate(tmp_path)
    assert result.returncode == 1
    on_mapping, on_model, _ = result.stdout.strip().split("\n")
    assert on_mapping.startswith("::error file=segprof.yaml,")
    assert on_model.startswith("::error file=users.sql,line=3,col=3,title=segprof columns.unknown::")
    assert "users.sql:3 renames it to `address` (reported at segprof.yaml:" in on_model
    as_json = subprocess.run(
        [sys.executable, "-m", "segprof", "validate", "--format", "json"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    [found] = json.loads(as_json.stdout)
    assert found["related"] == {"file": "users.sql", "line": 3, "col": 3}
