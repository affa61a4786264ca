"""The GitHub Actions example's own shell steps, run as a script against the emulator on loopback.

The steps are read from examples/github-actions/segprof.yml and run with bash as the runner
would, with `segprof` on PATH being this checkout's code. The install step is proven by CI
(`.ci/run` builds the wheel and installs it into a fresh virtual environment).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.plan.test_plan_apply_emulator import state_ids

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "examples" / "github-actions" / "segprof.yml"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


class Runner:
    """One job's environment: the workflow's `env`, RUNNER_TEMP, GITHUB_OUTPUT and the summary."""

    def __init__(self, tmp: Path, project: Path) -> None:
        self.workflow: dict[str, Any] = YAML(typ="safe").load(WORKFLOW.read_text())
        self.temp = tmp / "runner-temp"
        self.temp.mkdir()
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        shim = bin_dir / "segprof"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m segprof "$@"\n')
        shim.chmod(0o755)
        self.output = tmp / "github-output"
        self.env = {
            **os.environ,
            **{k: str(v) for k, v in self.workflow["env"].items() if "${{" not in str(v)},
            "PROJECT_DIR": str(project),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(REPO),
            "RUNNER_TEMP": str(self.temp),
            "GITHUB_OUTPUT": str(self.output),
            "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"),
        }

    def step(self, job: str, name: str, **env: str) -> subprocess.CompletedProcess[str]:
        self.output.write_text("")
        step = next(s for s in self.workflow["jobs"][job]["steps"] if s.get("name") == name)
        step_env = {k: v for k, v in (step.get("env") or {}).items() if "${{" not in str(v)}
        return subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            env={**self.env, **step_env, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )

    def outputs(self) -> dict[str, str]:
        return dict(line.split("=", 1) for line in self.output.read_text().splitlines() if "=" in line)


def test_the_workflow_plans_applies_and_destroys_only_when_approved(project: Path, tmp_path: Path) -> None:
    runner = Runner(tmp_path, project)
    # a pull request: validate, plan (Markdown for the comment)
    assert runner.step("plan", "Validate").returncode == 0
    planned = runner.step("plan", "Plan")
    assert planned.returncode == 0, planned.stderr
    assert runner.outputs() == {"changes": "true"}
    assert "**Plan: 10 to add, 0 to change, 0 to destroy.**" in (runner.temp / "plan.md").read_text()

    # the merge: validate, apply
    assert runner.step("apply", "Validate").returncode == 0
    applied = runner.step("apply", "Apply", ALLOW_DESTROY="false")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert len(state_ids(project)) == 10

    # a pull request that removes a mapping: the comment asks for the label
    mappings = project / "mappings.yaml"
    text = mappings.read_text()
    start = text.index("  track_events:\n")
    end = text.find("\n  sync_subscriptions:", start) + 1
    mappings.write_text(text[:start] + text[end:])
    assert runner.step("plan", "Plan").returncode == 0
    assert runner.outputs() == {"changes": "true", "destroys": "true"}
    comment = (runner.temp / "plan.md").read_text()
    assert "1 to destroy" in comment and "`segprof:allow-destroy` label" in comment

    # merged without the approval: apply stops and changes nothing
    refused = runner.step("apply", "Apply", ALLOW_DESTROY="false")
    assert refused.returncode == 1 and "--allow-destroy" in refused.stderr
    assert "mapping.track_events" in state_ids(project)
    # approved (the label, or a manual run with the input): the mapping is destroyed
    approved = runner.step("apply", "Apply", ALLOW_DESTROY="true")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert "mapping.track_events" not in state_ids(project)
    assert runner.step("plan", "Plan").returncode == 0 and runner.outputs() == {"changes": "false"}


def test_the_workflow_plans_while_an_apply_holds_the_lock_and_apply_waits(project: Path, tmp_path: Path) -> None:
    runner = Runner(tmp_path, project)
    code = (
        "import sys; from pathlib import Path; from segprof.state.store import LocalStateStore\n"
        f"with LocalStateStore(Path({str(project / '.segprof')!r})).lock('apply'):\n"
        "    print('locked', flush=True); sys.stdin.readline()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        planned = runner.step("plan", "Plan")  # no lock: not held up by the apply holding it
        assert planned.returncode == 0, planned.stderr
        assert holder.poll() is None
        # the holder finishes a moment after this apply starts: apply waits for it, then runs
        release = threading.Timer(1.0, lambda: holder.communicate("\n", timeout=30))
        release.start()
        applied = runner.step("apply", "Apply")
        release.join()
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert "Apply complete! 10 added" in applied.stdout
    finally:
        holder.kill()
        holder.wait()
