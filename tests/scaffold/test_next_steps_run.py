"""`segprof init`'s "Next:" lines and the demo README's commands run exactly as written."""

from __future__ import annotations

import os
import pty
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_as_written(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """One shell line of the docs: `segprof …` and `python …` run with this interpreter and code.

    stdin is a terminal that answers "yes", as a person would to apply's question."""
    words = shlex.split(line, comments=True)
    if words[0] == "segprof":
        words = [sys.executable, "-m", "segprof", *words[1:]]
    elif words[0] == "python":
        words = [sys.executable, *words[1:]]
    master, slave = pty.openpty()
    try:
        os.write(master, b"yes\n")
        return subprocess.run(
            words,
            cwd=cwd,
            stdin=slave,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"},
        )
    finally:
        os.close(master)
        os.close(slave)


def next_lines(init_output: str) -> list[str]:
    tail = init_output.split("\nNext:\n", 1)[1]
    return [line.strip().split("   ")[0] for line in tail.splitlines() if line.strip()]


def readme_lines(readme: str) -> list[str]:
    section = readme.split("## Try it\n", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    ") and line.strip()]


@pytest.mark.slow
def test_init_next_lines_then_the_demo_readme_run_as_written(tmp_path: Path) -> None:
    created = run_as_written("segprof init demo", tmp_path)
    assert created.returncode == 0, created.stderr
    steps = next_lines(created.stdout)
    assert [s.split()[1] for s in steps] == ["validate", "plan", "apply", "sync", "profiles"]
    outputs = {}
    for line in steps:
        done = run_as_written(line, tmp_path)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        outputs[line.split()[1]] = done.stdout
    assert "Apply complete! 10 added" in outputs["apply"]
    assert "usr_000001" in outputs["profiles"]

    demo = tmp_path / "demo"
    lines = readme_lines((demo / "README.md").read_text())
    assert any(line.startswith("python -c") for line in lines)
    results = []
    for line in lines:
        done = run_as_written(line, demo)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        results.append(done.stdout)
    # the sync after the README's one-row update sends exactly that row
    after_update = results[next(i for i, line in enumerate(lines) if line.startswith("python -c")) + 1]
    assert "0 new, 1 updated, 0 deleted" in after_update, after_update
