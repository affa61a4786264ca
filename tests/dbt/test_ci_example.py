"""examples/dbt-ci/segprof.yml: the workflow of a dbt repository uses segprof's real commands."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "dbt-ci" / "segprof.yml"


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_pull_request_builds_checks_and_plans_against_production(run_cli) -> None:
    workflow = YAML(typ="safe").load(WORKFLOW.read_text(encoding="utf-8"))
    check = workflow["jobs"]["check"]
    runs = _runs(check)
    # the change is built before segprof reads its manifest
    assert runs.index("dbt build") < runs.index("dbt compile") < runs.index("segprof validate")
    assert "--format github" in runs
    assert "segprof plan" in runs and "--dbt-state prod-artifacts" in runs and "--preview" in runs
    assert "segprof apply" not in runs
    deploy = workflow["jobs"]["deploy"]
    assert _runs(deploy).index("dbt build") < _runs(deploy).index("segprof apply")
    upload = next(s for s in deploy["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "target/manifest.json"
    assert upload["with"]["name"] in runs  # the pull requests download what deploy uploads
    # every segprof option the workflow uses exists
    for command, options in (
        ("validate", ["--format"]),
        ("plan", ["--dbt-state", "--preview", "--detailed-exitcode"]),
    ):
        help_text = run_cli(command, "--help", env={"COLUMNS": "200"}).stdout
        for option in options:
            assert option in help_text, (command, option)
