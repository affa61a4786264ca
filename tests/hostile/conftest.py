"""Helpers for the hostile-input tests: a small real project (DuckDB warehouse, local workspace) and
a CLI runner that checks the promise every bad input must keep: exit 1, a clear message, no traceback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

WRITE_KEY = "wk_Planted-Secret+Key/42"

BASE_YAML = """\
version: 1
workspace: {backend: local}
sources:
  warehouse: {type: duckdb, path: warehouse.duckdb}
models:
  users:
    source: warehouse
    identifier: user_id
    query: SELECT user_id, email, plan FROM users
destinations:
  profiles: {type: segment_profiles, region: north_america, write_key: WRITE_KEY}
mappings:
  identify_users:
    model: users
    destination: profiles
    action: send_identify
    on: [new, updated]
    fields:
      user_id: user_id
      traits: {email: email, plan: plan}
"""


def make_warehouse(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE users (user_id VARCHAR, email VARCHAR, plan VARCHAR)")
        con.execute("INSERT INTO users VALUES ('u1', 'a@example.com', 'pro'), ('u2', 'b@example.com', 'free')")


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A valid project folder; tests edit `segprof.yaml` to make it hostile."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "segprof.yaml").write_text(BASE_YAML.replace("WRITE_KEY", WRITE_KEY))
    make_warehouse(folder / "warehouse.duckdb")
    return folder


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture()
def cli():
    """Run segprof in-process; any exception other than a clean exit fails the test with its traceback."""
    from typer.testing import CliRunner

    from segprof.cli.main import build_app

    def _run(*args: str, env: dict[str, str] | None = None) -> Outcome:
        result = CliRunner().invoke(build_app(), list(args), env=env, catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            import traceback

            trace = "".join(traceback.format_exception(result.exception))
            pytest.fail(f"segprof {' '.join(args)} raised instead of failing cleanly:\n{trace}")
        return Outcome(result.exit_code, result.stdout, result.stderr)

    return _run


def assert_clean_failure(outcome: Outcome, *fragments: str) -> None:
    """Exit 1, no traceback, and every fragment (file:line, address, words) in the message."""
    assert outcome.code == 1, outcome.text
    assert "Traceback" not in outcome.text
    for fragment in fragments:
        assert fragment in outcome.text, (fragment, outcome.text)
