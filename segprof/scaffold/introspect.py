"""Warehouse schema snapshots: `segprof introspect` and the conventional `schema.json`.

Owns opening a project's source for introspection, turning the connector's `TableInfo` list
into the snapshot document `validate --schema-snapshot` reads, and writing it deterministically
(tables sorted, columns in warehouse order, no timestamps). Must never write a credential or
anything but the snapshot file, and never modify the warehouse.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from segprof.config.loader import load_project_or_raise
from segprof.config.models import Project, SourceBase
from segprof.errors import SegprofError
from segprof.files import write_atomically
from segprof.warehouses import ColumnInfo, Connector, TableInfo, connect

SNAPSHOT_FILE = "schema.json"


def pick_source(project: Project, name: str | None) -> SourceBase:
    """The source named `name`, or the project's only source."""
    if name is not None:
        source = project.sources.get(name)
        if source is None:
            known = ", ".join(sorted(project.sources)) or "none"
            raise SegprofError(f'no source "{name}" in the project (sources: {known})')
        return source
    if len(project.sources) != 1:
        known = ", ".join(sorted(project.sources)) or "none"
        raise SegprofError(
            f"the project has {len(project.sources)} sources ({known})", hint="choose one with --source NAME"
        )
    return next(iter(project.sources.values()))


def source_settings(source: SourceBase) -> dict[str, Any]:
    """The source's YAML keys with secrets revealed, for the connector only."""
    data = source.model_dump(by_alias=True, exclude_none=True)
    for key, value in list(data.items()):
        if hasattr(value, "get_secret_value"):
            data[key] = value.get_secret_value()
    return data


def open_source(project: Project, source: SourceBase) -> Connector:
    """A read-only connection: introspection and generation never write to the warehouse."""
    root = project.root or Path(".")
    settings = {**source_settings(source), "read_only": True}
    return connect(source.type, settings, root, source.address)  # type: ignore[attr-defined]


def load_project_for(project_dir: Path) -> Project:
    """The project in `project_dir`, or a SegprofError naming its first problem."""

    return load_project_or_raise(project_dir)


def default_schemas(source: SourceBase) -> list[str] | None:
    schema = getattr(source, "db_schema", None) or getattr(source, "dataset", None)
    return [schema] if schema else None


def introspect_source(project: Project, source: SourceBase, schemas: Sequence[str] | None) -> list[TableInfo]:
    connector = open_source(project, source)
    try:
        return connector.introspect(list(schemas) if schemas else default_schemas(source))
    finally:
        connector.close()


def snapshot_document(dialect: str, tables: Sequence[TableInfo]) -> dict[str, Any]:
    """The snapshot: `{"dialect", "tables": {"schema.table": {"kind", "columns", "not_null", keys}}}`."""
    body: dict[str, Any] = {}
    for table in sorted(tables, key=lambda t: (t.schema, t.name)):
        entry: dict[str, Any] = {
            "kind": table.kind,
            "columns": {column.name: column.type for column in table.columns},
            "not_null": [column.name for column in table.columns if not column.nullable],
        }
        if table.primary_key:
            entry["primary_key"] = list(table.primary_key)
        if table.unique_keys:
            entry["unique_keys"] = sorted(list(key) for key in table.unique_keys)
        body[f"{table.schema}.{table.name}"] = entry
    return {"dialect": dialect, "tables": body}


def tables_from_document(document: dict[str, Any]) -> list[TableInfo]:
    """The reverse of `snapshot_document` (for generating from a snapshot file)."""

    out: list[TableInfo] = []
    for qualified_name, entry in document.get("tables", {}).items():
        schema, _, name = str(qualified_name).rpartition(".")
        not_null = set(entry.get("not_null", []))
        columns = tuple(ColumnInfo(c, str(t), c not in not_null) for c, t in entry.get("columns", {}).items())
        out.append(
            TableInfo(
                schema,
                name,
                entry.get("kind", "table"),
                columns,
                tuple(entry.get("primary_key", ())),
                tuple(tuple(k) for k in entry.get("unique_keys", ())),
            )
        )
    return out


def render_snapshot(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_snapshot(path: Path, document: dict[str, Any]) -> None:
    """Write the snapshot atomically (a temporary file in the same folder, then a rename)."""
    write_atomically(path, render_snapshot(document), what="the schema snapshot")


def read_snapshot_tables(path: Path, schemas: Sequence[str] | None = None) -> list[TableInfo]:
    """The tables of a snapshot file (offline generation), limited to `schemas` when given."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SegprofError(f"cannot read {path}: {err.strerror or err}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SegprofError(f"{path} is not a schema snapshot: {err}") from None
    except RecursionError:
        raise SegprofError(f"{path} is not a schema snapshot: nested too deeply to read") from None
    if not isinstance(document, dict) or not isinstance(document.get("tables"), dict):
        raise SegprofError(f'{path} is not a schema snapshot (no "tables" object)')
    try:
        tables = tables_from_document(document)
    except (AttributeError, TypeError, ValueError) as err:
        raise SegprofError(f"{path} is not a schema snapshot: {err}") from None
    if schemas:
        wanted = set(schemas)
        tables = [t for t in tables if t.schema in wanted]
    return tables
