"""The committed golden fixtures still match Segment's destination (opt-in: node + scratch install)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = os.environ.get("SEGPROF_GOLDEN_SCRATCH")


@pytest.mark.skipif(
    not SCRATCH or not shutil.which("node"), reason="set SEGPROF_GOLDEN_SCRATCH (see golden_tools)"
)
def test_fixtures_are_fresh(tmp_path: Path) -> None:
    subprocess.run(
        ["node", str(ROOT / "golden_tools" / "generate.js"), str(SCRATCH), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["node", str(ROOT / "golden_tools" / "date_like.js"), str(SCRATCH), str(tmp_path / "date_like.json")],
        check=True,
        capture_output=True,
    )
    for produced in sorted(tmp_path.glob("*.json")):
        committed = ROOT / "fixtures" / "golden" / produced.name
        assert json.loads(produced.read_text()) == json.loads(committed.read_text()), produced.name
