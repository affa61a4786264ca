"""examples/quickstart is the template, committed: the two must never drift apart.

To refresh the example after changing the template:
    SEGPROF_UPDATE_EXAMPLE=1 python -m pytest tests/scaffold/test_scaffold_example.py
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from segprof.scaffold.template import EXAMPLE_SCHEMA_REF, SCHEMA_COMMENT, template_files

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "quickstart"
# What the example's own .gitignore keeps out of Git: built or local files, never compared.
LOCAL_ONLY = (".segprof", ".env")
LOCAL_SUFFIXES = (".duckdb", ".duckdb.wal")


def _example_files() -> dict[str, bytes]:
    found = {}
    for path in EXAMPLE.rglob("*"):
        rel = path.relative_to(EXAMPLE)
        if path.is_dir() or rel.parts[0] in LOCAL_ONLY or path.name.endswith(LOCAL_SUFFIXES):
            continue
        if "__pycache__" in rel.parts:
            continue
        found[rel.as_posix()] = path.read_bytes()
    return found


def test_example_is_the_template() -> None:
    expected = {f.path.as_posix(): f.content for f in template_files(schema_ref=EXAMPLE_SCHEMA_REF)}
    if os.environ.get("SEGPROF_UPDATE_EXAMPLE") == "1":
        for rel in _example_files():
            (EXAMPLE / rel).unlink()
        for rel, content in expected.items():
            (EXAMPLE / rel).parent.mkdir(parents=True, exist_ok=True)
            (EXAMPLE / rel).write_bytes(content)
        for folder in sorted(EXAMPLE.rglob("*"), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                shutil.rmtree(folder)
    actual = _example_files()
    hint = "examples/quickstart differs from the template; see this test's docstring to refresh it"
    assert sorted(actual) == sorted(expected), hint
    for rel, content in expected.items():
        assert actual[rel] == content, f"{rel}: {hint}"


def test_example_schema_ref_points_at_the_committed_schema() -> None:
    first = (EXAMPLE / "segprof.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(SCHEMA_COMMENT)
    target = (EXAMPLE / first.removeprefix(SCHEMA_COMMENT)).resolve()
    assert target == REPO / "schemas" / "segprof.schema.json"
    assert target.is_file()
