"""Runs `segprof validate --format json` on many project folders inside one child process.

Usage: python tests/validate/cli_driver.py DIR... ; prints one JSON line per folder with the exit
code, stdout and stderr of the CLI (any uncaught exception's traceback ends up in stderr). It
exists so the broken corpus goes through the real CLI without paying interpreter start-up 70 times.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

# the worktree's segprof, not whichever one is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main(folders: list[str]) -> None:
    from typer.testing import CliRunner

    from segprof.cli.main import build_app

    app = build_app()
    for folder in folders:
        result = CliRunner().invoke(
            app, ["validate", "-C", folder, "--format", "json"], catch_exceptions=True
        )
        stderr = result.stderr
        if result.exc_info and not isinstance(result.exc_info[1], SystemExit):
            stderr += "".join(traceback.format_exception(*result.exc_info))
        print(
            json.dumps(
                {"folder": folder, "code": result.exit_code, "stdout": result.stdout, "stderr": stderr}
            )
        )


if __name__ == "__main__":
    main(sys.argv[1:])
