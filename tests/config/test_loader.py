"""Loading projects: positions, SQL origins, file discovery, names, environment, secrets."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from segprof.config import load_project, load_project_or_raise
from segprof.config.models import DuckDBSource, PostgresSource
from segprof.errors import Location, SegprofError

PROJECT = """\
version: 1
workspace:
  backend: segment
  token: ${SEGMENT_API_TOKEN}
sources:
  warehouse:
    type: postgres
    host: 127.0.0.1
    database: analytics
    user: segment
    password: ${PG_PASSWORD:-hunter2-default}
    schema: public
models:
  active_users:
    identifier: user_id
    query: |
      SELECT user_id,
             email
      FROM users
destinations:
  profiles:
    write_key: ${PROFILES_WRITE_KEY}
mappings:
  identify_active_users:
    model: active_users
    destination: profiles
    action: send_identify
    fields:
      user_id: user_id
      traits: {email: email}
"""


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


ENV = {"SEGMENT_API_TOKEN": "tok-SECRET-1", "PROFILES_WRITE_KEY": "wk-SECRET-2"}


def test_positions_of_resources_and_fields(tmp_path: Path) -> None:
    result = load_project(write(tmp_path, {"segprof.yaml": PROJECT}), environ=ENV)
    assert result.ok, result.diagnostics
    project = result.project
    assert project is not None
    model = project.models["active_users"]
    assert model.address == "model.active_users"
    assert model.key_location == Location("segprof.yaml", 14, 3)
    assert model.field_location("identifier") == Location("segprof.yaml", 15, 17)
    assert model.field_location("identifier", key=True) == Location("segprof.yaml", 15, 5)
    mapping = project.mappings["identify_active_users"]
    assert mapping.field_location("fields", "traits", "email") == Location("segprof.yaml", 30, 23)
    source = project.sources["warehouse"]
    assert isinstance(source, PostgresSource)
    assert source.db_schema == "public" and source.port == 5432
    # the only source is used when `source:` is omitted
    assert model.source_name == "warehouse"
    assert project.destinations["profiles"].source_name == "warehouse"


def test_sql_origin_for_block_scalar_maps_back_into_yaml(tmp_path: Path) -> None:
    project = load_project_or_raise(write(tmp_path, {"segprof.yaml": PROJECT}), environ=ENV)
    sql = project.models["active_users"].sql
    assert sql is not None
    assert sql.text == "SELECT user_id,\n       email\nFROM users\n"
    assert (sql.file, sql.line, sql.col) == ("segprof.yaml", 17, 7)
    # `email` is line 2, column 8 of the SQL; in the YAML it is line 18, column 14
    assert sql.location(2, 8) == Location("segprof.yaml", 18, 14)
    assert sql.location(3, 6) == Location("segprof.yaml", 19, 12)


@pytest.mark.parametrize(
    ("yaml_value", "sql_pos", "file_pos"),
    [
        ("SELECT a FROM t", (1, 8), (3, 19)),
        ('"SELECT a FROM t"', (1, 8), (3, 20)),
        ("'SELECT a FROM t'", (1, 8), (3, 20)),
        (">\n      SELECT a\n      FROM   t", (1, 17), (5, 14)),
        ("\n      SELECT a\n      FROM t", (1, 15), (5, 12)),
    ],
)
def test_sql_origin_for_other_scalar_styles(
    tmp_path: Path, yaml_value: str, sql_pos: tuple[int, int], file_pos: tuple[int, int]
) -> None:
    text = "version: 1\nsources: {w: {type: duckdb, path: x.duckdb}}\nmodels:\n  m:\n    identifier: a\n"
    text = text.replace("models:\n  m:\n    identifier: a\n", "")
    text += f"models:\n  m:\n    identifier: a\n    query: {yaml_value}\n"
    # line of `query:` is 6; recompute expected rows relative to it
    write(tmp_path, {"segprof.yaml": text})
    project = load_project_or_raise(tmp_path, environ={})
    sql = project.models["m"].sql
    assert sql is not None
    loc = sql.location(*sql_pos)
    lines = text.splitlines()
    # the character found at the mapped position is the one at sql_pos in the SQL text
    sql_line = sql.text.split("\n")[sql_pos[0] - 1]
    assert lines[loc.line - 1][loc.col - 1] == sql_line[sql_pos[1] - 1]
    assert loc.line >= 6


def test_query_file_is_relative_to_declaring_yaml(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "segprof.yaml": "version: 1\nsources:\n  w: {type: duckdb, path: w.duckdb}\n",
            "models/users.yaml": "models:\n  users:\n    identifier: id\n    query_file: sql/users.sql\n",
            "models/sql/users.sql": "-- users\nSELECT id,\n  email FROM users\n",
        },
    )
    project = load_project_or_raise(tmp_path, environ={})
    sql = project.models["users"].sql
    assert sql is not None and sql.file == "models/sql/users.sql"
    assert (sql.line, sql.col) == (1, 1)
    assert sql.location(3, 3) == Location("models/sql/users.sql", 3, 3)
    assert project.files == ["segprof.yaml", "models/users.yaml"]


def test_discovery_skips_hidden_and_state_folders(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "segprof.yaml": "version: 1\n",
            ".segprof/state.yaml": "garbage: [",
            ".github/workflows/ci.yml": "on: push\n",
            "nested/deeper/more.yml": "sources:\n  w: {type: duckdb, path: w.duckdb}\n",
        },
    )
    result = load_project(tmp_path, environ={})
    assert result.ok, result.diagnostics
    assert result.project is not None
    assert result.project.files == ["segprof.yaml", "nested/deeper/more.yml"]
    assert isinstance(result.project.sources["w"], DuckDBSource)


def test_duplicate_name_within_one_file_and_across_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "segprof.yaml": "version: 1\nsources:\n  w: {type: duckdb, path: a}\n",
            "b.yaml": "sources:\n  w: {type: duckdb, path: b}\n",
        },
    )
    result = load_project(tmp_path, environ={})
    [dup] = [d for d in result.diagnostics if d.code == "name.duplicate"]
    assert dup.location == Location("b.yaml", 2, 3)
    assert "segprof.yaml:3:3" in dup.message


def test_environment_wins_over_dotenv_and_defaults_apply(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "segprof.yaml": PROJECT,
            ".env": "# local secrets\nexport SEGMENT_API_TOKEN='from-dotenv'\nPROFILES_WRITE_KEY=wk-dotenv\n",
        },
    )
    project = load_project_or_raise(tmp_path, environ={"SEGMENT_API_TOKEN": "from-env"})
    assert project.workspace.token is not None
    assert project.workspace.token.get_secret_value() == "from-env"
    key = project.destinations["profiles"].write_key
    assert key is not None and key.get_secret_value() == "wk-dotenv"
    source = project.sources["warehouse"]
    assert isinstance(source, PostgresSource) and source.password is not None
    assert source.password.get_secret_value() == "hunter2-default"


def test_unset_variable_is_an_error_at_its_place(tmp_path: Path) -> None:
    result = load_project(write(tmp_path, {"segprof.yaml": PROJECT}), environ={"SEGMENT_API_TOKEN": "x"})
    [unset] = [d for d in result.diagnostics if d.code == "env.unset"]
    assert unset.location == Location("segprof.yaml", 22, 16)
    assert "PROFILES_WRITE_KEY" in unset.message


def test_escaped_dollar_brace_is_literal(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"segprof.yaml": 'version: 1\nsources:\n  w: {type: duckdb, path: "$${HOME}/w.duckdb"}\n'},
    )
    project = load_project_or_raise(tmp_path, environ={"HOME": "/nope"})
    source = project.sources["w"]
    assert isinstance(source, DuckDBSource) and source.path == "${HOME}/w.duckdb"


def test_secrets_never_appear_in_reprs_dumps_or_diagnostics(tmp_path: Path) -> None:
    broken = PROJECT.replace("    schema: public\n", "    schema: public\n    pasword: nope\n")
    result = load_project(write(tmp_path, {"segprof.yaml": broken}), environ=ENV)
    assert result.project is not None
    everything = repr(result.project) + result.project.model_dump_json() + repr(result.diagnostics)
    for secret in ("tok-SECRET-1", "wk-SECRET-2", "hunter2-default"):
        assert secret not in everything
    assert any(
        d.code == "schema.unknown_key" and d.hint == "did you mean `password`?" for d in result.diagnostics
    )


def test_load_project_or_raise_reports_first_problem(tmp_path: Path) -> None:
    write(tmp_path, {"segprof.yaml": "version: 1\nsources:\n  w: {type: duckdb, pth: x}\n"})
    with pytest.raises(SegprofError) as info:
        load_project_or_raise(tmp_path, environ={})
    assert info.value.location is not None and info.value.location.line == 3


def test_missing_project_file(tmp_path: Path) -> None:
    result = load_project(tmp_path)
    assert result.project is None
    assert [d.code for d in result.diagnostics] == ["project.missing"]


def test_yaml_12_keeps_on_and_times_as_strings(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        version: 1
        sources: {w: {type: duckdb, path: "w"}}
        models: {m: {identifier: id, query: SELECT id FROM t}}
        destinations: {d: {}}
        mappings:
          x:
            model: m
            destination: d
            action: send_track
            on: [deleted]
            schedule: {days: [Monday, fri], hours: [0, 23], timezone: Europe/Berlin}
            fields: {user_id: id, event_name: {value: "02:00"}}
        """
    )
    project = load_project_or_raise(write(tmp_path, {"segprof.yaml": text}), environ={})
    mapping = project.mappings["x"]
    assert mapping.on == ["deleted"]
    assert mapping.fields.event_name is not None
    assert mapping.fields.event_name.value == "02:00"  # type: ignore[union-attr]
