"""Environments (`--env NAME` / SEGPROF_ENV): overrides, headers, own state, no takeover by name.

Two environments deploy one project to the same workspace (the emulator served on loopback).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.plan.conftest import TOKEN, Served

REPO = Path(__file__).resolve().parents[2]

ENVIRONMENTS = """
environments:
  staging:
    destinations:
      profiles: {write_key: "${STAGING_WRITE_KEY}"}
    sources:
      warehouse: {path: staging.duckdb}
  prod:
    name_suffix: ""
    workspace: {token: "${PROD_TOKEN}"}
  dev:
    workspace: {token: "${DEV_ONLY_TOKEN}"}   # unset: only `--env dev` needs it
"""
STAGING_KEY = "wk_staging_planted_51c9e"


def segprof(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "segprof", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "200", "STAGING_WRITE_KEY": STAGING_KEY, **env},
    )


def with_environments(project: Path) -> Path:
    config = project / "segprof.yaml"
    config.write_text(config.read_text() + ENVIRONMENTS)
    return project


def live_names(served: Served, path: str, key: str) -> list[str]:
    return sorted(item["name"] for item in served.api.get(path).json()["data"][key])


def test_two_environments_share_a_workspace_without_taking_over(project: Path, emulator_server: Served) -> None:
    with_environments(project)
    staging = segprof("apply", "-C", str(project), "--env", "staging", "--auto-approve")
    assert staging.returncode == 0, staging.stdout + staging.stderr
    assert staging.stdout.startswith("Environment: staging\n")
    assert "Apply complete! 10 added" in staging.stdout
    # prod reads its own token (the override is what is used)
    refused = segprof("plan", "-C", str(project), SEGPROF_ENV="prod", PROD_TOKEN="tok_wrong_for_prod")
    assert refused.returncode == 1 and "unauthorized (401)" in refused.stderr
    # prod has its own names, so it creates its own resources instead of adopting staging's
    prod_plan = segprof("plan", "-C", str(project), "--format", "json", SEGPROF_ENV="prod", PROD_TOKEN=TOKEN)
    assert prod_plan.returncode == 0, prod_plan.stderr
    document = json.loads(prod_plan.stdout)
    assert document["environment"] == "prod"
    assert {c["action"] for c in document["resource_changes"]} == {"create"}
    assert segprof("apply", "-C", str(project), "--auto-approve", SEGPROF_ENV="prod", PROD_TOKEN=TOKEN).returncode == 0
    assert live_names(emulator_server, "/reverse-etl-models", "models") == sorted(
        [f"{m}{s}" for m in ("accounts", "events", "subscriptions", "users") for s in ("", " [staging]")]
    )
    # each environment keeps its own state
    folder = project / ".segprof"
    staging_ids = json.loads((folder / "state.staging.json").read_text())["resources"]
    prod_ids = json.loads((folder / "state.prod.json").read_text())["resources"]
    assert staging_ids["model.users"]["id"] != prod_ids["model.users"]["id"]
    for env in ("staging", "prod"):
        again = segprof("plan", "-C", str(project), "--env", env, "--detailed-exitcode", PROD_TOKEN=TOKEN)
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"Environment: {env}" in again.stdout and "No changes." in again.stdout


def test_overrides_show_in_the_plan_and_secrets_stay_hidden(project: Path, tmp_path: Path) -> None:
    with_environments(project)
    text = segprof("plan", "-C", str(project), "--env", "staging")
    assert text.returncode == 0, text.stderr
    assert '+ settings = {"path": "staging.duckdb"}' in text.stdout
    assert '+ name = "users [staging]"' in text.stdout
    markdown = segprof("plan", "-C", str(project), "--env", "staging", "--format", "markdown")
    assert markdown.stdout.startswith("### segprof plan · environment `staging`")
    saved = tmp_path / "staging.plan"
    assert segprof("plan", "-C", str(project), "--env", "staging", "--out", str(saved)).returncode == 0
    for output in (text.stdout, text.stderr, markdown.stdout, saved.read_text()):
        assert STAGING_KEY not in output
    # a plan saved for one environment is never applied to another
    wrong = segprof("apply", str(saved), "-C", str(project), "--env", "prod", PROD_TOKEN=TOKEN)
    assert wrong.returncode == 1 and "made for environment `staging`" in wrong.stderr
    assert not (project / ".segprof" / "state.prod.json").exists()


def test_bad_environments_are_clear_errors(project: Path) -> None:
    with_environments(project)
    unknown = segprof("plan", "-C", str(project), "--env", "qa")
    assert unknown.returncode == 1
    assert "environment `qa`" in unknown.stderr and "declared: dev, prod, staging" in unknown.stderr
    # a variable only dev reads: needed with --env dev, not otherwise
    dev = segprof("plan", "-C", str(project), "--env", "dev")
    assert dev.returncode == 1 and "DEV_ONLY_TOKEN is not set" in dev.stderr
    assert segprof("validate", "-C", str(project), "--env", "staging").returncode == 0

    config = project / "segprof.yaml"
    config.write_text(
        config.read_text()
        + "  qa:\n    name_suffix: \"\"\n    sources:\n      lake: {path: x.duckdb}\n      warehouse: {type: postgres}\n"
    )
    lines = config.read_text().splitlines()
    checked = segprof("validate", "-C", str(project), "--env", "qa")
    assert checked.returncode == 1
    lake_line = next(i for i, line in enumerate(lines, 1) if "lake:" in line)
    type_line = next(i for i, line in enumerate(lines, 1) if "{type: postgres}" in line)
    assert f"segprof.yaml:{lake_line}:" in checked.stdout and "source `lake`" in checked.stdout
    assert f"segprof.yaml:{type_line}:" in checked.stdout and "cannot change a source's `type`" in checked.stdout
    # two environments with the same names could take over each other's resources
    assert "environments `prod` and `qa` give resources the same names" in checked.stdout
    assert "Traceback" not in checked.stdout + checked.stderr
