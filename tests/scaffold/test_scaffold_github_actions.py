"""examples/github-actions/segprof.yml: plan and comment on pull requests, apply on main."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

WORKFLOW = Path(__file__).resolve().parents[2] / "examples" / "github-actions" / "segprof.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return YAML(typ="safe").load(WORKFLOW.read_text(encoding="utf-8"))


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def _step(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next(step for step in job["steps"] if step.get("name") == name)


def _values_of(node: Any, key: str) -> list[Any]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == key] + [
            found for v in node.values() for found in _values_of(v, key)
        ]
    if isinstance(node, list):
        return [found for v in node for found in _values_of(v, key)]
    return []


def test_triggers_and_secrets(workflow) -> None:
    assert set(workflow["on"]) == {"pull_request", "push", "workflow_dispatch"}
    assert workflow["on"]["push"]["branches"] == ["main"]
    # the token only ever comes from the repository secret
    assert _values_of(workflow, "SEGMENT_API_TOKEN") == ["${{ secrets.SEGMENT_API_TOKEN }}"]


def test_pull_requests_validate_plan_and_comment(workflow) -> None:
    job = workflow["jobs"]["plan"]
    assert "pull_request" in job["if"]
    assert job["permissions"]["pull-requests"] == "write"
    runs = _runs(job)
    assert "segprof validate" in runs
    assert "segprof plan" in runs and "--format markdown" in runs and "--detailed-exitcode" in runs
    assert "segprof apply" not in runs
    comment = _step(job, "Comment the plan on the pull request")
    assert comment["uses"].startswith("actions/github-script@")
    assert "createComment" in comment["with"]["script"] and "updateComment" in comment["with"]["script"]


def test_main_applies_without_prompting(workflow) -> None:
    job = workflow["jobs"]["apply"]
    assert "push" in job["if"] and "workflow_dispatch" in job["if"] and "refs/heads/main" in job["if"]
    assert job["concurrency"]["cancel-in-progress"] is False
    runs = _runs(job)
    assert "apply -C" in runs and "--auto-approve" in runs
    assert '--lock-timeout "$SEGPROF_LOCK_TIMEOUT"' in runs and workflow["env"]["SEGPROF_LOCK_TIMEOUT"]
    # a destroy is approved by the label or the manual run's input, and only then passed on
    assert workflow["on"]["workflow_dispatch"]["inputs"]["allow_destroy"]["type"] == "boolean"
    approval = _step(job, "Destroy approval")
    assert "DESTROY_LABEL" in approval["with"]["script"] and "allow_destroy" in approval["with"]["script"]
    assert _step(job, "Apply")["env"]["ALLOW_DESTROY"] == "${{ steps.destroy.outputs.allow }}"
    assert "--allow-destroy" in _step(job, "Apply")["run"]


def test_installs_no_package_by_name_and_pins_every_action(workflow) -> None:
    package = workflow["env"]["SEGPROF_PACKAGE"]
    # never `pip install segprof` from the index, where anyone could publish that name
    assert package.startswith("segprof @ git+https://") and "@COMMIT_SHA" in package
    for job in workflow["jobs"].values():
        install = _step(job, "Install segprof")["run"]
        assert '"$SEGPROF_PACKAGE"' in install and "-m venv" in install
        uses = [step["uses"] for step in job["steps"] if "uses" in step]
        assert uses and all(re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", u) for u in uses), uses
        setup = next(step for step in job["steps"] if step.get("uses", "").startswith("actions/setup-python@"))
        assert setup["with"]["cache"] == "pip"
    text = WORKFLOW.read_text()
    assert "segprof==" not in text and "SEGPROF_VERSION" not in text


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(
    ("code", "changes", "fails"), [(0, "false", False), (2, "true", False), (1, None, True)]
)
def test_plan_step_reads_the_detailed_exit_code(
    workflow, tmp_path: Path, code: int, changes: str | None, fails: bool
) -> None:
    """Run the plan step's script with a stand-in `segprof` that prints Markdown and exits with `code`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "segprof"
    fake.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/args"\necho "## Plan: 1 to add"\nexit {code}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    output, summary = tmp_path / "output", tmp_path / "summary"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PROJECT_DIR": "proj",
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    script = _step(workflow["jobs"]["plan"], "Plan")["run"]
    done = subprocess.run(["bash", "-e", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert (done.returncode != 0) is fails
    args = (tmp_path / "args").read_text().split()
    assert args[:3] == ["plan", "-C", "proj"]
    assert (tmp_path / "plan.md").read_text() == "## Plan: 1 to add\n"
    if changes is not None:
        assert output.read_text() == f"changes={changes}\n"
        assert summary.read_text() == "## Plan: 1 to add\n"
