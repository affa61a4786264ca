"""Reading a schema snapshot file (`--schema-snapshot`) for schema-aware SQL checks.

Owns the snapshot format `{"dialect": "...", "tables": {"schema.table": {"columns": {"col": "TYPE"}}}}`
and its problems as diagnostics. Must never connect to a warehouse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from segprof.config.diagnostic import Diagnostic, error
from segprof.errors import Location


@dataclass(frozen=True)
class SchemaSnapshot:
    dialect: str | None
    tables: dict[str, dict[str, str]]


def read_snapshot(path: Path, shown: str) -> tuple[SchemaSnapshot | None, list[Diagnostic]]:
    where = Location(shown)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [error("snapshot.invalid", f"cannot read schema snapshot: {exc.strerror}", where)]
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, [error("snapshot.invalid", "schema snapshot is not UTF-8 JSON", where)]
    except RecursionError:
        return None, [error("snapshot.invalid", "schema snapshot is nested too deeply to read", where)]
    except json.JSONDecodeError as exc:
        return None, [
            error(
                "snapshot.invalid",
                f"schema snapshot is not valid JSON: {exc.msg}",
                Location(shown, exc.lineno, exc.colno),
            )
        ]
    if not isinstance(data, dict) or not isinstance(data.get("tables"), dict):
        return None, [error("snapshot.invalid", 'schema snapshot needs a "tables" object', where)]
    dialect = data.get("dialect")
    if dialect is not None and not isinstance(dialect, str):
        return None, [error("snapshot.invalid", '"dialect" must be a string', where)]
    tables: dict[str, dict[str, str]] = {}
    for table, body in data["tables"].items():
        columns = body.get("columns") if isinstance(body, dict) and "columns" in body else body
        if not isinstance(columns, dict) or not all(isinstance(k, str) for k in columns):
            return None, [error("snapshot.invalid", f'table "{table}" needs a "columns" object', where)]
        tables[str(table)] = {
            name: str(kind) if kind is not None else "UNKNOWN" for name, kind in columns.items()
        }
    return SchemaSnapshot(dialect, tables), []
