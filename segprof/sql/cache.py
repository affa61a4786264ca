"""A cache of query analyses on disk, so a command that checks an unchanged model pays no parse.

Owns where analyses are kept (`SEGPROF_CACHE_DIR`, else `$XDG_CACHE_HOME/segprof`, else
`~/.cache/segprof`; an empty `SEGPROF_CACHE_DIR` turns the cache off) and the key of one: the
query text, dialect, schema and `origins` flag, with the version of sqlglot and the size and
time of every module of `segprof.sql`, so a changed analyser never reads an older answer. Must
never import sqlglot, never fail a command (an unreadable or unwritable cache is no cache), and
never keep anything but the analysis of a query (no connection settings, no secrets).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from segprof.sql.problems import OutputColumn, QueryAnalysis, SqlProblem

_FORMAT = 1


def cache_dir() -> Path | None:
    """The folder of cached analyses, or None when the cache is off."""
    chosen = os.environ.get("SEGPROF_CACHE_DIR")
    if chosen is not None:
        return Path(chosen) / "sql" if chosen else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "segprof" / "sql"


@cache
def _analyser_version() -> str:
    """What an analysis depends on besides its inputs: sqlglot's version and segprof.sql's code."""
    try:
        parts = [metadata.version("sqlglot")]
    except metadata.PackageNotFoundError:
        parts = ["?"]
    here = Path(__file__).parent
    for module in sorted(here.glob("*.py")):
        st = module.stat()
        parts.append(f"{module.name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


def cache_key(sql: str, dialect: str, schema: dict[str, dict[str, str]] | None, origins: bool) -> str:
    inputs = [_FORMAT, _analyser_version(), sql, dialect, schema, origins]
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _to_json(analysis: QueryAnalysis) -> dict[str, Any]:
    return {
        "columns": [
            [c.name, c.type, c.line, c.col, c.defined_line, c.defined_col, list(c.reads), c.bare]
            for c in analysis.columns
        ],
        "has_star": analysis.has_star,
        "problems": [[p.code, p.severity, p.message, p.line, p.col, p.hint] for p in analysis.problems],
        "tables": analysis.tables,
        "complete": analysis.complete,
    }


def _from_json(data: dict[str, Any]) -> QueryAnalysis:
    columns = [
        OutputColumn(name, type_, line, col, dline, dcol, tuple(reads), bare)
        for name, type_, line, col, dline, dcol, reads, bare in data["columns"]
    ]
    problems = [SqlProblem(*p) for p in data["problems"]]
    return QueryAnalysis(
        columns, bool(data["has_star"]), problems, list(data["tables"]), bool(data["complete"])
    )


def load(key: str) -> QueryAnalysis | None:
    """The cached analysis under `key`, or None (absent, unreadable or of another shape)."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        return _from_json(json.loads((folder / f"{key}.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(key: str, analysis: QueryAnalysis) -> None:
    """Keep `analysis` under `key`; written whole or not at all (another run may read it now)."""
    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(_to_json(analysis), out)
            os.replace(tmp, folder / f"{key}.json")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass  # no cache is only slower


__all__ = ["cache_dir", "cache_key", "load", "store"]
