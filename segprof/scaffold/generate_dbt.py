"""`segprof generate --dbt`: starter models and mappings from the models of a dbt project.

Owns reading each dbt model as a table (its columns and types, its primary key and its columns
tested `unique` + `not_null`, and `meta`) so the same rules as `segprof generate` propose its
mapping; `meta: {segment: {action: send_group}}` on a dbt model picks the action, `segment:
false` on a model or a column leaves it out. The models are written `{dbt: name}`, so their
identifier and description stay the dbt project's. Must never import dbt, read a warehouse,
write a credential, or overwrite a file without `force`.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from segprof.config.dbt_models import load_dbt_project
from segprof.config.models import Project, SourceBase
from segprof.dbt.columns import model_columns
from segprof.dbt.manifest import DbtArtifactError, DbtModel
from segprof.errors import SegprofError
from segprof.scaffold.generate import (
    GenerateResult,
    _destination,
    _elsewhere,
    propose,
    render_yaml,
)
from segprof.scaffold.generate_rules import ACTION_KINDS, Proposal, Skipped
from segprof.scaffold.project import StagedFolder
from segprof.sql.dialects import dialect_for
from segprof.warehouses import ColumnInfo, TableInfo

DBT_FILE = "generated_dbt.yaml"


def _segment_meta(meta: dict[str, Any]) -> Any:
    return meta.get("segment")


def _table(model: DbtModel, dialect: str) -> tuple[TableInfo, list[tuple[str, str]]]:
    """The dbt model as a table, and the columns its meta leaves out (with why)."""
    columns = model_columns(model, dialect)
    names = columns.names if columns is not None else []
    types = columns.types if columns is not None else {}
    unique = {c.lower() for c in model.unique_columns()}
    tested = {c.name.lower() for c in model.columns.values() if "not_null" in c.tests or c.primary_key}
    left_out: list[tuple[str, str]] = []
    kept: list[ColumnInfo] = []
    for name in names:
        documented = model.columns.get(name) or next(
            (c for n, c in model.columns.items() if n.lower() == name.lower()), None
        )
        if documented is not None and _segment_meta(documented.meta) is False:
            left_out.append((name, "dbt meta `segment: false`"))
            continue
        kept.append(ColumnInfo(name, types.get(name) or "UNKNOWN", nullable=name.lower() not in tested))
    keys = tuple((c.name,) for c in kept if c.name.lower() in unique)
    pk = tuple(c.name for c in model.columns.values() if c.primary_key)
    table = TableInfo(model.schema or "", model.name, model.materialized, tuple(kept), pk, keys)
    return table, left_out


def generate_from_dbt(
    project: Project,
    source: SourceBase,
    *,
    out_dir: Path,
    force: bool = False,
    names: list[str] | None = None,
) -> GenerateResult:
    """Propose a model and mapping per dbt model (or those `names`) and write them, all or nothing."""

    root = project.root or out_dir
    try:
        dbt_project = load_dbt_project(root, project.dbt)
    except DbtArtifactError as err:
        raise SegprofError(err.message, hint="run `dbt build` (or `dbt compile`) first") from None
    dialect = dialect_for(source.type)  # type: ignore[attr-defined]
    chosen = sorted(
        dbt_project.models.values(), key=lambda m: (m.package != dbt_project.project_name, m.name)
    )
    if names:
        wanted = {n.lower() for n in names}
        chosen = [m for m in chosen if m.name.lower() in wanted or f"{m.package}.{m.name}".lower() in wanted]
        missing = (
            wanted - {m.name.lower() for m in chosen} - {f"{m.package}.{m.name}".lower() for m in chosen}
        )
        if missing:
            raise SegprofError(
                f"no such dbt model in {dbt_project.manifest_path}: {', '.join(sorted(missing))}"
            )
    skipped: list[Skipped] = []
    tables: list[TableInfo] = []
    by_name: dict[str, DbtModel] = {}
    left: dict[str, list[tuple[str, str]]] = {}
    hints: dict[str, dict[str, Any]] = {}
    for model in chosen:
        meta = _segment_meta(model.meta)
        table, left_out = _table(model, dialect)
        if meta is False or (isinstance(meta, dict) and meta.get("enabled") is False):
            if names:
                skipped.append(Skipped(table, "dbt meta `segment: false`"))
            continue
        if model.materialized == "ephemeral" or not model.relation_name:
            skipped.append(Skipped(table, "ephemeral: builds no relation to select from"))
            continue
        if not table.columns:
            skipped.append(Skipped(table, "no known columns: run `dbt compile` or `dbt docs generate`"))
            continue
        action = meta.get("action") if isinstance(meta, dict) else None
        if action is not None:
            if action not in ACTION_KINDS:
                skipped.append(
                    Skipped(table, f"dbt meta names action `{action}`; use one of: {', '.join(ACTION_KINDS)}")
                )
                continue
            hints[model.name] = {"action": action, "event_label": meta.get("event")}
        tables.append(table)
        by_name[model.name] = model
        left[model.name] = left_out
    yaml_path = (out_dir / DBT_FILE).resolve()
    candidates, more_skipped = propose(
        tables, _elsewhere(project, "models", yaml_path), _elsewhere(project, "mappings", yaml_path), hints
    )
    skipped += more_skipped
    proposals: list[Proposal] = []
    for proposal in candidates:
        model = by_name[proposal.table.name]
        if proposal.identifier.lower() not in {c.lower() for c in model.unique_columns()}:
            skipped.append(
                Skipped(
                    proposal.table,
                    f"no column proven unique: test `{proposal.identifier}` with unique and not_null "
                    "(or give it a primary_key constraint) in dbt",
                )
            )
            continue
        described = f": {model.description}" if model.description else "."
        proposal.reasons = [
            r.replace("Identifier: unique, non-null column", "Identifier: tested unique and not_null in dbt,")
            for r in proposal.reasons
        ]
        proposal.reasons.insert(0, f"dbt model `{model.name}` ({model.file}){described}")
        proposal.left_out = left[model.name] + proposal.left_out
        proposals.append(proposal)
    if not proposals:
        raise SegprofError(
            f"no dbt model in {dbt_project.manifest_path} could be read as users, accounts, events or subscriptions",
            hint="; ".join(f"{s.table.name}: {s.reason}" for s in skipped[:5]) or None,
        )
    destination, new_destination = _destination(project, yaml_path)
    text = render_yaml(
        proposals,
        skipped,
        source=source.resource_name,
        source_named=len(project.sources) > 1,
        destination=destination,
        new_destination=new_destination,
        schemas=[],
        yaml_dir=PurePosixPath("."),
        dbt_models={p.model: by_name[p.table.name].name for p in proposals},
        origin=f"Generated by `segprof generate --dbt` from dbt project `{dbt_project.project_name}` "
        f"({dbt_project.manifest_path}).",
    )
    rel = PurePosixPath(DBT_FILE)
    if (out_dir / rel).exists() and not force:
        raise SegprofError(f"1 file(s) would be overwritten: {rel}", hint="use --force to replace them")
    with StagedFolder(out_dir) as staging:
        (staging.path / rel).write_text(text, encoding="utf-8", newline="\n")
        replaced = staging.commit([rel])
    return GenerateResult(proposals, skipped, [rel], list(replaced), destination, out_dir)
