"""The command line builds only the command it runs; help, errors and suggestions stay whole."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from segprof.cli.main import command_named

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["sync", "--all"], "sync"),
        (["--env", "prod", "sync"], "sync"),
        (["sync", "--env", "prod", "-C", "x"], "sync"),
        (["--env=prod", "-v", "state", "list"], "state"),
        (["--no-color", "--help"], None),
        (["--version"], None),
        ([], None),
        (["--", "sync"], None),
    ],
)
def test_the_command_a_line_runs(args: list[str], name: str | None):
    assert command_named(args) == name


def segprof(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "segprof", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_help_and_mistakes_still_see_every_command():
    listed = segprof("--help")
    assert listed.returncode == 0
    for command in ("apply", "plan", "sync", "syncs", "state", "emulator", "profiles", "validate"):
        assert f"\n  {command} " in listed.stdout, command
    wrong = segprof("--env", "prod", "snyc")
    assert wrong.returncode == 1
    assert "No such command 'snyc'. Did you mean 'sync', 'syncs'?" in wrong.stderr


def test_the_one_command_built_runs_with_its_options(tmp_path: Path):
    shown = segprof("sync", "--help")
    assert shown.returncode == 0 and "Usage: segprof sync [OPTIONS]" in shown.stdout
    assert "--self-hosted" in shown.stdout
    bad = segprof("--env", "prod", "state", "list", "--nope")
    assert bad.returncode == 1 and "No such option: --nope" in bad.stderr
    assert "Traceback" not in bad.stderr
