"""The root options: the request log (`--verbose`, SEGPROF_LOG), `--no-color`, shell completion."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.plan.conftest import TOKEN, WRITE_KEY

REPO = Path(__file__).resolve().parents[2]
LOG_LINE = re.compile(
    r"^DEBUG segprof\.(workspace|tracking): (Public|Tracking) API (GET|POST|PATCH|DELETE) (\S+) -> (\d{3}) "
    r"\(\d+ ms, sent \d+ B, received \d+ B\)$"
)


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "segprof", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


def log_lines(stderr: str) -> list[re.Match[str]]:
    return [m for line in stderr.splitlines() if (m := LOG_LINE.match(line))]


def test_verbose_logs_every_public_api_request_without_secrets(project: Path) -> None:
    quiet = run("apply", "-C", str(project), "--auto-approve", "--parallelism", "1")
    assert quiet.returncode == 0 and not log_lines(quiet.stderr)  # no log unless asked
    # change one mapping, so that the logged apply writes as well as reads
    mappings = project / "mappings.yaml"
    mappings.write_text(mappings.read_text().replace("        plan: plan\n", "        plan: {value: pro}\n", 1))
    done = run("--verbose", "apply", "-C", str(project), "--auto-approve")
    assert done.returncode == 0, done.stderr
    lines = log_lines(done.stderr)
    requests = {(m[3], m[4].split("?")[0].split("/")[1]) for m in lines}
    assert ("GET", "sources") in requests and ("GET", "reverse-etl-models") in requests
    assert any(m[3] == "PATCH" and "/subscriptions/" in m[4] and m[5] == "200" for m in lines)
    assert TOKEN not in done.stderr + done.stdout and WRITE_KEY not in done.stderr + done.stdout
    # the environment variable does the same, and JSON on stdout stays clean
    planned = run("plan", "-C", str(project), "--format", "json", env={"SEGPROF_LOG": "debug"})
    assert planned.returncode == 0 and planned.stdout.startswith("{")
    assert log_lines(planned.stderr) and TOKEN not in planned.stderr


def test_verbose_logs_tracking_api_batches_without_the_write_key(tmp_path: Path) -> None:
    env = {"PROFILES_WRITE_KEY": WRITE_KEY}
    assert run("init", "demo", cwd=tmp_path).returncode == 0
    assert run("apply", "-C", "demo", "--auto-approve", cwd=tmp_path, env=env).returncode == 0
    synced = run("-v", "sync", "-C", "demo", "group_accounts", cwd=tmp_path, env=env)
    assert synced.returncode == 0, synced.stderr
    batches = [m for m in log_lines(synced.stderr) if m[1] == "tracking"]
    assert batches and all(m[4] == "/v1/batch" and m[5] == "200" for m in batches)
    assert WRITE_KEY not in synced.stderr + synced.stdout


def test_no_color_and_completion(project: Path) -> None:
    colored = run("plan", "-C", str(project), env={"FORCE_COLOR": "1"})
    assert "\x1b[32m+" in colored.stdout  # a green "+" for each created resource
    plain = run("--no-color", "plan", "-C", str(project), env={"FORCE_COLOR": "1"})
    assert plain.returncode == 0 and "\x1b[32m" not in plain.stdout and "Plan: 10 to add" in plain.stdout
    no_color_env = run("plan", "-C", str(project), env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[32m" not in no_color_env.stdout

    script = run("--show-completion", "bash")
    assert script.returncode == 0 and "_SEGPROF_COMPLETE" in script.stdout
    completed = run(env={"_SEGPROF_COMPLETE": "complete_bash", "COMP_WORDS": "segprof state r", "COMP_CWORD": "2"})
    assert completed.stdout.split() == ["rm"]
