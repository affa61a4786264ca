"""Exit codes a CI job relies on: 0 ok, 1 any error (usage errors included), 2 only for changes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def segprof(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "segprof", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "args",
    [
        ("plan", "--no-such-flag"),
        ("plan", "--preview", "0"),
        ("plan", "--format", "yaml"),
        ("no-such-command",),
        ("apply", "--parallelism", "0"),
    ],
)
def test_usage_errors_exit_1_never_the_changes_code(args: tuple[str, ...], tmp_path: Path) -> None:
    result = segprof(*args, cwd=tmp_path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Usage:" in result.stderr or "Error" in result.stderr
    assert "Traceback" not in result.stderr


def test_detailed_exitcode_still_means_changes(tmp_path: Path) -> None:
    assert segprof("init", "demo", cwd=tmp_path).returncode == 0
    planned = segprof("plan", "-C", "demo", "--detailed-exitcode", cwd=tmp_path)
    assert planned.returncode == 2, planned.stderr
    assert "to add" in planned.stdout
