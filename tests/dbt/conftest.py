"""A real dbt project (tests/dbt/project: seeds, an ephemeral, a table with tests, one with a
contract and primary key, a disabled model) built with dbt-core and dbt-duckdb into one DuckDB file.

Built once per test session, as two versions of the same repository:
- `prod`: `dbt build` + `dbt docs generate` into schema `main` (production's manifest and catalog);
- `pr`: a pull request on it, built with `dbt build` into schema `pr` of the same warehouse: it drops
  `plan` from dim_users, renames `first_name` to `given_name`, drops the `unique` test on `user_id`,
  and upper-cases account names in dim_accounts.
Each test gets its own copy (`dbt_workdir`), so syncs and edits never leak between tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

PROJECT = Path(__file__).parent / "project"


def run_dbt(project: Path, *args: str, schema: str = "main") -> None:
    env = {
        **os.environ,
        "SHOP_DUCKDB": str(project.parent / "warehouse.duckdb"),
        "SHOP_SCHEMA": schema,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PARTIAL_PARSE": "false",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dbt.cli.main",
            *args,
            "--profiles-dir",
            str(project),
            "--project-dir",
            str(project),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    if result.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def make_pull_request(project: Path) -> None:
    """The dbt change under review (see the module docstring)."""
    users = project / "models" / "dim_users.sql"
    edit(users, "    first_name,\n", "    first_name as given_name,\n")
    edit(users, "    plan,\n", "")
    edit(
        project / "models" / "schema.yml",
        "        data_tests: [unique, not_null]\n",
        "        data_tests: [not_null]\n",
    )
    edit(project / "models" / "schema.yml", "      - name: first_name\n", "      - name: given_name\n")
    edit(
        project / "models" / "schema.yml", "      - name: plan\n        description: The billing plan.\n", ""
    )
    edit(project / "models" / "dim_accounts.sql", "account_name as name", "upper(account_name) as name")


@pytest.fixture(scope="session")
def dbt_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("dbt")
    ignore = shutil.ignore_patterns("target", "logs", "*.duckdb*", ".user.yml")
    prod = base / "prod"
    shutil.copytree(PROJECT, prod, ignore=ignore)
    run_dbt(prod, "build")
    run_dbt(prod, "docs", "generate")
    pr = base / "pr"
    shutil.copytree(PROJECT, pr, ignore=ignore)
    make_pull_request(pr)
    run_dbt(pr, "build", schema="pr")
    for folder in (prod, pr):
        shutil.rmtree(folder / "logs", ignore_errors=True)
    return base


@pytest.fixture()
def dbt_workdir(dbt_built: Path, tmp_path: Path) -> Path:
    """This test's copy of the built projects and their warehouse: `prod/`, `pr/`, `warehouse.duckdb`."""
    work = tmp_path / "repo"
    shutil.copytree(dbt_built, work)
    return work


SEGPROF_YAML = """\
version: 1
dbt:
  project_dir: ../{dbt}
sources:
  warehouse:
    type: duckdb
    path: ../warehouse.duckdb
{models}
destinations:
  profiles:
    type: segment_profiles
    write_key: wk_test_secret
{mappings}
"""

USERS_MODEL = """\
models:
  users:
    dbt: dim_users
"""

IDENTIFY_MAPPING = """\
mappings:
  identify_users:
    model: users
    destination: profiles
    action: send_identify
    fields:
      user_id: user_id
      traits:
        email: email
        first_name: first_name
        plan: plan
"""


@pytest.fixture()
def segprof_project(dbt_workdir: Path) -> Callable[..., Path]:
    """Write a segprof project in `<repo>/segprof` reading the `prod` or `pr` dbt project."""

    def write(dbt: str = "prod", models: str = USERS_MODEL, mappings: str = IDENTIFY_MAPPING) -> Path:
        folder = dbt_workdir / "segprof"
        folder.mkdir(exist_ok=True)
        (folder / "segprof.yaml").write_text(SEGPROF_YAML.format(dbt=dbt, models=models, mappings=mappings))
        return folder

    return write
