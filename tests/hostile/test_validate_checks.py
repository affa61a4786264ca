"""Checks validate makes so that a config that cannot work fails at its line, not at sync time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hostile.conftest import WRITE_KEY, assert_clean_failure


def _edit(project: Path, old: str, new: str) -> int:
    """Replace text in segprof.yaml; the line number of the edit."""
    config = project / "segprof.yaml"
    text = config.read_text()
    assert old in text
    text = text.replace(old, new)
    config.write_text(text)
    return text[: text.index(new)].count("\n") + 1


def _codes(cli, project: Path) -> list[dict]:
    outcome = cli("validate", "-C", str(project), "--format", "json")
    return json.loads(outcome.stdout)


@pytest.mark.parametrize("column", ["$.email", "profile.email", "emails[0]", "e'mail"])
def test_a_column_that_is_not_a_plain_path_segment_is_refused_at_its_line(
    project: Path, cli, column: str
) -> None:
    quoted = json.dumps(column)
    line = _edit(project, "plan: plan}", f"plan: plan, odd: {quoted}}}")
    outcome = cli("validate", "-C", str(project))
    assert_clean_failure(outcome, f"segprof.yaml:{line}:", f"column `{column}`", "mapping.identify_users")
    found = [d for d in _codes(cli, project) if d["code"] == "field.column_path"]
    assert len(found) == 1 and found[0]["line"] == line
    # the plan refuses it too: nothing would be applied with a field that always comes out empty
    assert_clean_failure(cli("plan", "-C", str(project)), "cannot be mapped")


def test_a_quoted_column_with_a_dot_in_a_template_is_refused(project: Path, cli) -> None:
    line = _edit(project, "plan: plan}", 'plan: plan, tag: {template: "t-{{a.b}}"}}')
    assert_clean_failure(cli("validate", "-C", str(project)), f"segprof.yaml:{line}:", "column `a.b`")


def test_deletes_with_identity_from_columns_are_refused_with_the_fix(project: Path, cli) -> None:
    line = _edit(project, "on: [new, updated]", "on: [new, updated, deleted]")
    outcome = cli("validate", "-C", str(project))
    assert_clean_failure(outcome, f"segprof.yaml:{line}:", "every delete would fail", "{identifier: true}")
    _edit(project, "user_id: user_id", "user_id: {identifier: true}")
    assert cli("validate", "-C", str(project)).code == 0


def test_deletes_with_a_literal_or_identifier_id_pass(project: Path, cli) -> None:
    _edit(project, "on: [new, updated]", "on: [deleted]")
    _edit(project, "user_id: user_id", "user_id: user_id\n      anonymous_id: {identifier: true}")
    assert cli("validate", "-C", str(project)).code == 0


@pytest.mark.parametrize("backend", ["local", "segment"])
def test_a_destination_without_write_key_is_warned_at_validate(project: Path, cli, backend: str) -> None:
    _edit(project, f"write_key: {WRITE_KEY}", "write_key: ''")
    if backend == "segment":
        _edit(project, "workspace: {backend: local}", "workspace: {backend: segment, token: tok_12345678}")
    outcome = cli("validate", "-C", str(project))
    assert outcome.code == 0, outcome.text
    assert (
        "destination.missing_write_key" in outcome.text
        and "every sync of its mappings will fail" in outcome.text
    )


def test_an_empty_key_in_a_traits_map_is_an_error(project: Path, cli) -> None:
    line = _edit(project, "plan: plan}", "plan: plan, '': email}")
    outcome = cli("validate", "-C", str(project))
    assert_clean_failure(outcome, f"segprof.yaml:{line}:", "empty mapping key")


@pytest.mark.parametrize(
    ("sql", "what"),
    [
        ("SELECT user_id,, email, plan FROM users", "an empty item"),
        ("SELECT , user_id, email, plan FROM users", "an empty item"),
        ("SELECT user_id, email, plan FROM users WHERE plan IN ('a',, 'b')", "an empty item"),
    ],
)
def test_sql_sqlglot_tolerates_but_warehouses_reject_is_located(
    project: Path, cli, sql: str, what: str
) -> None:
    _edit(project, "SELECT user_id, email, plan FROM users", sql)
    outcome = cli("validate", "-C", str(project))
    assert_clean_failure(outcome, "segprof.yaml:9:", what, "model.users")
    assert_clean_failure(cli("apply", "--auto-approve", "-C", str(project)), what)


def test_a_trailing_comma_is_a_dialects_choice(project: Path, cli) -> None:
    _edit(project, "SELECT user_id, email, plan FROM users", "SELECT user_id, email, plan, FROM users")
    assert cli("validate", "-C", str(project)).code == 0  # DuckDB accepts it
    _edit(
        project,
        "warehouse: {type: duckdb, path: warehouse.duckdb}",
        "warehouse: {type: postgres, host: 127.0.0.1, database: d, user: u}",
    )
    assert_clean_failure(cli("validate", "-C", str(project)), "segprof.yaml:9:", "with nothing after it")


def test_describe_asks_the_warehouse_without_running_the_query(project: Path, cli) -> None:
    assert cli("validate", "--describe", "-C", str(project)).code == 0
    _edit(project, "SELECT user_id, email, plan FROM users", "SELECT user_id, email, plan FROM userz")
    assert cli("validate", "-C", str(project)).code == 0  # offline, the table cannot be known
    outcome = cli("validate", "--describe", "-C", str(project))
    assert_clean_failure(
        outcome, "segprof.yaml:9:", "the warehouse refuses the query", "userz", "model.users"
    )


def test_describe_reports_an_unreachable_warehouse_at_its_source(project: Path, cli) -> None:
    (project / "warehouse.duckdb").unlink()
    outcome = cli("validate", "--describe", "-C", str(project))
    assert_clean_failure(outcome, "segprof.yaml:4:", "source.warehouse", "does not exist")
    assert not (project / "warehouse.duckdb").exists()


@pytest.mark.postgres
def test_describe_on_postgres_catches_what_only_the_server_knows(
    project: Path, cli, postgres_dsn: str
) -> None:
    import psycopg

    with psycopg.connect(postgres_dsn, autocommit=True) as con:
        con.execute("CREATE TABLE users (user_id text, email text, plan text)")
        con.execute("INSERT INTO users VALUES ('u1', 'a@example.com', 'pro')")
    params = dict(part.split("=", 1) for part in postgres_dsn.split())
    _edit(
        project,
        "warehouse: {type: duckdb, path: warehouse.duckdb}",
        f"warehouse: {{type: postgres, host: {params['host']}, port: {params['port']}, "
        f"database: {params['dbname']}, user: {params['user']}}}",
    )
    assert cli("validate", "--describe", "-C", str(project)).code == 0
    _edit(
        project,
        "SELECT user_id, email, plan FROM users",
        "SELECT user_id, email, no_such_fn(plan) AS plan FROM users",
    )
    outcome = cli("validate", "--describe", "-C", str(project))
    assert_clean_failure(outcome, "segprof.yaml:9:", "the warehouse refuses the query", "no_such_fn")
    with psycopg.connect(postgres_dsn) as con:  # described, never run: nothing was written or locked
        assert con.execute("SELECT count(*) FROM users").fetchone() == (1,)
