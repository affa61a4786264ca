"""Every offline check of a project, producing diagnostics (`segprof validate`).

Owns `validate_project`: load (syntax, schema, names), then references, action rules, SQL and
columns, in one pass that reports every problem. Without `--schema-snapshot`, a `schema.json`
beside segprof.yaml (what `segprof introspect` writes) is used when present. Must never reach the network or a warehouse,
except when asked to (`describe=True`, `validate --describe`).
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field, replace
from pathlib import Path

from segprof.config.diagnostic import Diagnostic
from segprof.config.loader import load_project
from segprof.config.models import Project
from segprof.validate.actions import check_mapping
from segprof.validate.dbtcheck import check_dbt_models
from segprof.validate.describe import describe_models
from segprof.validate.fieldchecks import check_fields
from segprof.validate.references import check_references
from segprof.validate.snapshot import read_snapshot
from segprof.validate.sqlcheck import check_sql

__all__ = ["ValidationReport", "validate_project"]


@dataclass
class ValidationReport:
    project: Project | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # model name → (sqlglot dialect, output column names as the warehouse names them), for every
    # model whose SQL analysed cleanly with a known column list
    model_outputs: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def ok(self) -> bool:
        return self.project is not None and not self.errors


def validate_project(
    path: Path,
    *,
    schema_snapshot: Path | None = None,
    environ: MappingABC[str, str] | None = None,
    dbt_state: Path | None = None,
    describe: bool = False,
) -> ValidationReport:
    """Load and check the project in `path`; every problem is a diagnostic, none is raised.

    With `describe`, each model query that passed the offline checks is also described by its
    warehouse, opened read-only (see `validate.describe`): the one opt-in that leaves the machine."""

    result = load_project(path, environ, dbt_state=dbt_state)
    diagnostics = list(result.diagnostics)
    project = result.project
    outputs: dict[str, tuple[str, list[str]]] = {}
    snapshot = None
    conventional = False
    if schema_snapshot is None and project is not None and project.root is not None:
        # the conventional place `segprof introspect` writes to: picked up when present
        candidate = project.root / "schema.json"
        if candidate.is_file():
            schema_snapshot, conventional = candidate, True
    if schema_snapshot is not None:
        shown = "schema.json" if conventional else str(schema_snapshot)
        snapshot, problems = read_snapshot(schema_snapshot, shown)
        if conventional:
            # a schema.json that is not ours must not fail the project: say so and go on without it
            problems = [
                replace(d, severity="warning", hint="write it with `segprof introspect`, or rename the file")
                for d in problems
            ]
        diagnostics.extend(problems)
    if project is not None:
        diagnostics.extend(check_references(project))
        for mapping in project.mappings.values():
            diagnostics.extend(check_mapping(mapping))
            diagnostics.extend(check_fields(mapping))
        # a model whose own definition already failed is not analysed again
        failed = {
            d.address.partition(".")[2]
            for d in diagnostics
            if d.is_error and (d.address or "").startswith("model.")
        }
        # models written `{dbt: …}` are checked against the dbt manifest, not by SQL analysis
        dbt_models = {n for n, m in project.models.items() if m.dbt is not None}
        diagnostics.extend(check_sql(project, snapshot, failed | dbt_models, outputs))
        if dbt_models:
            diagnostics.extend(check_dbt_models(project, set(), outputs))
        if describe:
            failed |= {
                d.address.partition(".")[2]
                for d in diagnostics
                if d.is_error and (d.address or "").startswith("model.")
            }
            diagnostics.extend(describe_models(project, failed))
    unique: dict[tuple[object, ...], Diagnostic] = {}
    for diagnostic in diagnostics:
        unique.setdefault((diagnostic.code, diagnostic.location, diagnostic.message), diagnostic)
    ordered = sorted(unique.values(), key=Diagnostic.sort_key)
    return ValidationReport(project, ordered, outputs)
