"""Helpers for the broken-project corpus under tests/broken/: listing cases and preparing them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

BROKEN = Path(__file__).resolve().parent.parent / "broken"
HUGE_CHARS = 5 * 1024 * 1024


def cases() -> list[str]:
    return sorted(p.name for p in BROKEN.iterdir() if (p / "expected.json").is_file())


def expected(name: str) -> dict[str, object]:
    return json.loads((BROKEN / name / "expected.json").read_text())


def _huge_sql() -> str:
    line = "  OR email = 'someone.with.a.long.address@example.com' -- padding to make the query huge\n"
    body = line * (HUGE_CHARS // len(line) + 1)
    return "SELECT user_id, email FROM users WHERE false\n" + body


def prepare(name: str, target: Path) -> Path:
    """Copy a case into `target` (without expected.json) and generate any huge file it needs."""
    shutil.copytree(BROKEN / name, target, ignore=shutil.ignore_patterns("expected.json"))
    spec = expected(name)
    if spec.get("generate") == "inline_query":
        text = (target / "segprof.yaml").read_text()
        head, _, tail = text.partition("    query: |\n")
        indented = "".join("      " + line + "\n" for line in _huge_sql().splitlines())
        rest = tail.split("destinations:", 1)[1]
        (target / "segprof.yaml").write_text(head + "    query: |\n" + indented + "destinations:" + rest)
    elif spec.get("generate") == "query_file":
        (target / "models").mkdir(exist_ok=True)
        (target / "models" / "huge.sql").write_text(_huge_sql())
    return target
