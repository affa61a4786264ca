"""The fixed cost of a sync: a run with nothing to send loads no library it does not use.

Each case runs `segprof sync` in a fresh interpreter (as a user does) and lists the heavy modules
that interpreter loaded: a no-change run builds no Arrow batch (no pyarrow), opens no HTTP
connection (no httpcore), parses no SQL it analysed before (no sqlglot), and a self-hosted run
never loads the workspace client nor starts the embedded workspace.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sync_project import Project

ROOT = Path(__file__).resolve().parents[2]

HEAVY = ("pyarrow", "numpy", "httpcore", "segprof.emulator.app", "segprof.workspace", "sqlglot")

# Runs the CLI, then prints its summary and the heavy modules it loaded as one JSON line.
PROBE = """
import contextlib, io, json, sys
from segprof.cli.main import run
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
    run(sys.argv[1:])
loaded = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps({{"runs": json.loads(out.getvalue())["runs"], "loaded": loaded}}))
"""


def probe(*args: str) -> dict:
    code = PROBE.format(heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_self_hosted_no_change_run_loads_no_arrow_http_or_workspace(tmp_path: Path, emulator):
    project = Project(tmp_path / "p", {"type": "duckdb", "path": "wh.duckdb"}, emulator.tracking)
    project.seed(4)
    args = ("sync", "identify_users", "--self-hosted", "-C", str(project.root), "--format", "json")

    first = probe(*args)
    assert first["runs"][0]["delivered"] == 4
    # a run that sends builds Arrow batches and opens a connection: the probe sees them
    assert {"pyarrow", "httpcore"} <= set(first["loaded"])
    assert not {"segprof.emulator.app", "segprof.workspace"} & set(first["loaded"])

    again = probe(*args)
    run = again["runs"][0]
    assert (run["status"], run["extracted"], run["delivered"]) == ("success", 4, 0)
    assert run["new"] + run["updated"] + run["deleted"] == 0
    assert again["loaded"] == []
    assert emulator.count() == 4  # nothing more reached the Tracking API


def test_embedded_no_change_run_loads_no_arrow_or_http(tmp_path: Path, run_cli):
    project = Project(tmp_path / "p", {"type": "duckdb", "path": "wh.duckdb"}, None)
    project.seed(3)
    assert run_cli("apply", "--auto-approve", "-C", str(project.root)).exit_code == 0
    args = ("sync", "--all", "-C", str(project.root), "--format", "json")

    assert probe(*args)["runs"][0]["delivered"] == 3
    again = probe(*args)
    run = again["runs"][0]
    assert (run["status"], run["extracted"], run["delivered"]) == ("success", 3, 0)
    # the embedded workspace itself is loaded (it runs the sync), nothing for the delivery
    assert "segprof.emulator.app" in again["loaded"]
    assert not {"pyarrow", "numpy", "httpcore", "sqlglot"} & set(again["loaded"])
