"""Reading dbt's `manifest.json` (and `catalog.json` when present and fresh) into `DbtProject`.

Owns the few facts segprof needs per dbt model: its relation, materialization, enabled state,
description, `meta`, files, parents and checksum, and per column its type, description, tests
and constraints; plus which column a model proves unique (a primary-key constraint, or `unique`
and `not_null` tests on one column). Must never import dbt or reach a warehouse; a file that
cannot be read is a `DbtArtifactError`, never a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class DbtArtifactError(Exception):
    """A dbt artifact that is missing or not what dbt writes; `path` names the file."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


@dataclass(frozen=True)
class DbtColumn:
    name: str
    data_type: str | None = None
    description: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
    tests: tuple[str, ...] = ()  # generic tests on the column: unique, not_null, accepted_values …
    primary_key: bool = False


@dataclass(frozen=True)
class DbtModel:
    """One dbt model as the manifest describes it."""

    unique_id: str
    name: str
    package: str
    database: str | None
    schema: str | None
    alias: str
    relation_name: str | None
    materialized: str
    enabled: bool
    description: str
    meta: dict[str, Any]
    file: str  # original_file_path, relative to the dbt project
    patch_file: str | None  # the properties (.yml) file that documents it, relative to the dbt project
    checksum: str
    parents: tuple[str, ...]
    columns: dict[str, DbtColumn]  # documented columns, in the order written
    compiled_code: str | None = None
    raw_code: str = ""
    contract_enforced: bool = False
    # the relation's columns and types from a fresh catalog.json, in the relation's order
    catalog_columns: dict[str, str] | None = None

    def unique_columns(self) -> list[str]:
        """Columns the project proves unique: a one-column primary key, or `unique` + `not_null`."""
        found = [c.name for c in self.columns.values() if c.primary_key]
        found += [
            c.name
            for c in self.columns.values()
            if "unique" in c.tests and "not_null" in c.tests and c.name not in found
        ]
        return found


@dataclass
class DbtProject:
    """The models of one manifest; `checksums`/`parents` cover every node (seeds, snapshots too)."""

    manifest_path: str
    project_name: str
    adapter_type: str | None
    generated_at: str
    models: dict[str, DbtModel]  # unique_id → enabled model
    disabled: dict[str, DbtModel]  # unique_id → disabled model
    checksums: dict[str, str] = field(default_factory=dict)
    parents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    catalog_note: str | None = None  # why catalog.json was not used, when it exists

    def find(self, name: str) -> tuple[DbtModel | None, bool]:
        """The model called `name` (or `package.name`), and whether only a disabled one exists."""
        found = _by_name(self.models.values(), name, self.project_name)
        if found is not None:
            return found, False
        disabled = _by_name(self.disabled.values(), name, self.project_name)
        return disabled, disabled is not None

    def names(self) -> list[str]:
        return sorted({m.name for m in self.models.values()})

    def ancestors(self, unique_id: str) -> list[str]:
        """Every node `unique_id` is built from, nearest first."""
        seen: list[str] = []
        todo = list(self.parents.get(unique_id, ()))
        while todo:
            node = todo.pop(0)
            if node in seen:
                continue
            seen.append(node)
            todo.extend(self.parents.get(node, ()))
        return seen


def _by_name(models: Any, name: str, root: str) -> DbtModel | None:
    package, _, short = name.rpartition(".")
    matches = [m for m in models if m.name == short and (not package or m.package == package)]
    if not matches:
        return None
    # a model of the root project wins over a package's model of the same name, as in dbt's ref()
    matches.sort(key=lambda m: (m.package != root, m.unique_id))
    return matches[0]


def _load_json(path: Path, shown: str, what: str) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DbtArtifactError(f"dbt {what} `{shown}` not found", shown) from None
    except OSError as exc:
        raise DbtArtifactError(f"cannot read dbt {what} `{shown}`: {exc.strerror}", shown) from None
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DbtArtifactError(f"dbt {what} `{shown}` is not valid JSON: {exc}", shown) from None
    if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
        raise DbtArtifactError(f"`{shown}` is not a dbt {what} (no `metadata` object)", shown)
    return data


def _tests_by_column(nodes: dict[str, Any]) -> dict[tuple[str, str], list[str]]:
    """(model unique_id, column) → names of the enabled generic tests on it."""
    found: dict[tuple[str, str], list[str]] = {}
    for node in nodes.values():
        if not isinstance(node, dict) or node.get("resource_type") != "test":
            continue
        if not (node.get("config") or {}).get("enabled", True):
            continue
        metadata = node.get("test_metadata") or {}
        column = node.get("column_name") or (metadata.get("kwargs") or {}).get("column_name")
        attached = node.get("attached_node") or next(
            iter((node.get("depends_on") or {}).get("nodes") or []), None
        )
        if not metadata.get("name") or not column or not attached:
            continue
        found.setdefault((attached, str(column)), []).append(str(metadata["name"]))
    return found


def _model(node: dict[str, Any], tests: dict[tuple[str, str], list[str]]) -> DbtModel:
    config = node.get("config") or {}
    uid = str(node["unique_id"])
    pk_columns: set[str] = set()
    for constraint in node.get("constraints") or []:
        cols = constraint.get("columns") or []
        if constraint.get("type") == "primary_key" and len(cols) == 1:
            pk_columns.add(str(cols[0]))
    columns: dict[str, DbtColumn] = {}
    for name, body in (node.get("columns") or {}).items():
        body = body or {}
        pk = name in pk_columns or any(
            (c or {}).get("type") == "primary_key" for c in body.get("constraints") or []
        )
        columns[str(name)] = DbtColumn(
            name=str(name),
            data_type=body.get("data_type") or None,
            description=str(body.get("description") or ""),
            meta={**((body.get("config") or {}).get("meta") or {}), **(body.get("meta") or {})},
            tests=tuple(tests.get((uid, str(name)), ())),
            primary_key=pk,
        )
    for name in pk_columns - set(columns):  # a model-level key on an undocumented column
        columns[name] = DbtColumn(name=name, primary_key=True)
    patch = node.get("patch_path")
    return DbtModel(
        unique_id=uid,
        name=str(node.get("name")),
        package=str(node.get("package_name") or uid.split(".")[1]),
        database=node.get("database"),
        schema=node.get("schema"),
        alias=str(node.get("alias") or node.get("name")),
        relation_name=node.get("relation_name"),
        materialized=str(config.get("materialized") or "view"),
        enabled=bool(config.get("enabled", True)),
        description=str(node.get("description") or ""),
        meta={**(config.get("meta") or {}), **(node.get("meta") or {})},
        file=str(node.get("original_file_path") or node.get("path") or ""),
        patch_file=patch.split("://", 1)[-1] if isinstance(patch, str) else None,
        checksum=str((node.get("checksum") or {}).get("checksum") or ""),
        parents=tuple((node.get("depends_on") or {}).get("nodes") or ()),
        columns=columns,
        compiled_code=node.get("compiled_code"),
        raw_code=str(node.get("raw_code") or ""),
        contract_enforced=bool((config.get("contract") or {}).get("enforced")),
    )


def read_manifest(path: Path, shown: str, catalog: Path | None = None, catalog_shown: str = "") -> DbtProject:
    """The project `manifest.json` at `path` describes; `catalog` adds the relations' real columns
    when it was written after the manifest (an older catalog may miss a column change)."""
    data = _load_json(path, shown, "manifest")
    metadata = data["metadata"]
    nodes = data.get("nodes")
    if not isinstance(nodes, dict):
        raise DbtArtifactError(f"`{shown}` is not a dbt manifest (no `nodes` object)", shown)
    tests = _tests_by_column(nodes)
    models: dict[str, DbtModel] = {}
    checksums: dict[str, str] = {}
    parents: dict[str, tuple[str, ...]] = {}
    try:
        for uid, node in nodes.items():
            checksums[uid] = str((node.get("checksum") or {}).get("checksum") or "")
            parents[uid] = tuple((node.get("depends_on") or {}).get("nodes") or ())
            if node.get("resource_type") == "model":
                models[uid] = _model(node, tests)
        disabled: dict[str, DbtModel] = {}
        for uid, entries in (data.get("disabled") or {}).items():
            for node in entries or []:
                if node.get("resource_type") == "model":
                    disabled[uid] = _model(node, tests)
    except (AttributeError, KeyError, TypeError) as exc:
        raise DbtArtifactError(f"`{shown}` has a node dbt would not write ({exc})", shown) from None
    project = DbtProject(
        manifest_path=shown,
        project_name=str(metadata.get("project_name") or ""),
        adapter_type=metadata.get("adapter_type"),
        generated_at=str(metadata.get("generated_at") or ""),
        models=models,
        disabled=disabled,
        checksums=checksums,
        parents=parents,
    )
    if catalog is not None and catalog.is_file():
        _add_catalog(project, catalog, catalog_shown)
    return project


def _add_catalog(project: DbtProject, path: Path, shown: str) -> None:
    data = _load_json(path, shown, "catalog")
    written = str(data["metadata"].get("generated_at") or "")
    if written < project.generated_at:
        # dbt rewrote the manifest since `dbt docs generate`: the catalog may miss a column change
        project.catalog_note = (
            f"`{shown}` is older than the manifest and was not used; run `dbt docs generate` again"
        )
        return
    for uid, node in (data.get("nodes") or {}).items():
        model = project.models.get(uid)
        if model is None or not isinstance(node, dict):
            continue
        columns = sorted((node.get("columns") or {}).values(), key=lambda c: c.get("index") or 0)
        types = {str(c["name"]): str(c.get("type") or "") for c in columns if c.get("name")}
        project.models[uid] = _replace(model, catalog_columns=types)


def _replace(model: DbtModel, **changes: Any) -> DbtModel:
    from dataclasses import replace

    return replace(model, **changes)
