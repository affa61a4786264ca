"""Every project under tests/broken/ has one defect; `segprof validate` run as a child process must
report it at the expected file:line:col, exit 1, and never show a traceback.

All cases go through the CLI in one child process (tests/validate/cli_driver.py); the hostile-input
cases also run as their own `python -m segprof validate` process, exactly as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import broken_corpus as corpus
import pytest

REPO = Path(__file__).resolve().parents[2]
CASES = corpus.cases()
HOSTILE = [
    "yaml_binary_garbage",
    "yaml_empty_project_file",
    "yaml_alias_bomb",
    "yaml_non_utf8",
    "yaml_nul_bytes",
    "huge_inline_query",
    "huge_query_file",
    "query_file_non_utf8",
]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SEGPROF_", "PROFILES_"))}


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="segprof-broken-") as tmp:
        base = Path(tmp)
        for name in CASES:
            corpus.prepare(name, base / name)
        yield base


@pytest.fixture(scope="module")
def results(workdir: Path) -> dict[str, dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("cli_driver.py")), *(str(workdir / n) for n in CASES)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {Path(str(item["folder"])).name: item for item in lines}


def _check(name: str, code: int, stdout: str, stderr: str) -> None:
    expected = corpus.expected(name)
    assert "Traceback" not in stdout and "Traceback" not in stderr, stderr
    assert code == 1, (stdout, stderr)
    diagnostics = json.loads(stdout)
    assert isinstance(diagnostics, list) and diagnostics
    for diagnostic in diagnostics:
        assert set(diagnostic) >= {"severity", "code", "message", "file", "line", "col", "address"}
        assert diagnostic["severity"] in ("error", "warning")
    matches = [
        d
        for d in diagnostics
        if d["code"] == expected["code"]
        and d["file"] == expected["file"]
        and (d["line"], d["col"]) == (expected["line"], expected["col"])
        and str(expected["message"]) in d["message"]
    ]
    assert matches, f"expected {expected}, got {json.dumps(diagnostics, indent=1)}"


def test_corpus_is_large_and_covers_every_rule_family() -> None:
    assert len(CASES) >= 40
    codes = {str(corpus.expected(name)["code"]) for name in CASES}
    for family in ("yaml.", "schema.", "ref.", "sql.", "columns.", "action.", "schedule.", "name.", "env."):
        assert any(code.startswith(family) for code in codes), family
    assert set(HOSTILE) <= set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_broken_project(name: str, results: dict[str, dict[str, object]]) -> None:
    item = results[name]
    _check(name, int(item["code"]), str(item["stdout"]), str(item["stderr"]))  # type: ignore[call-overload]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_input_in_own_process(name: str, workdir: Path) -> None:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "segprof", "validate", "-C", str(workdir / name), "--format", "json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    elapsed = time.perf_counter() - started
    _check(name, proc.returncode, proc.stdout, proc.stderr)
    # refused quickly: no grinding through megabytes of YAML/SQL or expanding aliases
    assert elapsed < 10


def test_text_output_names_file_line_col(workdir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "segprof", "validate", "-C", str(workdir / "columns_unknown_mapped")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**_env(), "NO_COLOR": "1", "TERM": "dumb"},
        timeout=120,
    )
    expected = corpus.expected("columns_unknown_mapped")
    assert proc.returncode == 1
    line = next(x for x in proc.stdout.splitlines() if x.startswith(f"segprof.yaml:{expected['line']}:"))
    assert line.startswith(f"segprof.yaml:{expected['line']}:{expected['col']}: error: ")
    assert "hint: did you mean `plan`?" in proc.stdout
    assert "1 error" in proc.stdout.splitlines()[-1]
