"""`segprof generate`: starter models and mappings from a source's warehouse schema.

Must never hold logic another caller would need: it parses flags, calls the layers below and renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from segprof.cli.common import ProjectDir, stdout_console

ORDER = 14


def register(app: typer.Typer) -> None:
    @app.command("generate")
    def generate(
        project_dir: ProjectDir = Path("."),
        source: Annotated[
            str | None, typer.Option("--source", help="Source to read (default: the only one).")
        ] = None,
        schema: Annotated[
            list[str] | None,
            typer.Option("--schema", help="Schema to read; repeatable (default: the source's, or all)."),
        ] = None,
        tables: Annotated[
            list[str] | None,
            typer.Option(
                "--tables", help="Only these tables (name or schema.name; comma-separated or repeated)."
            ),
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option(
                "--out", help="Folder for generated.yaml and models/ (default: the project folder)."
            ),
        ] = None,
        force: Annotated[bool, typer.Option("--force", help="Replace files a previous run wrote.")] = False,
        snapshot: Annotated[
            Path | None,
            typer.Option(
                "--snapshot", help="Read tables from this `segprof introspect` file instead of the warehouse."
            ),
        ] = None,
        from_workspace: Annotated[
            bool,
            typer.Option(
                "--from-workspace",
                help="Write YAML (workspace.yaml, models/) and state for what the live workspace already has.",
            ),
        ] = False,
        dbt: Annotated[
            bool,
            typer.Option(
                "--dbt",
                help="Propose from the dbt project's models (its manifest; see `dbt:` in segprof.yaml) "
                "instead of the warehouse; --tables picks dbt models by name. Writes generated_dbt.yaml.",
            ),
        ] = False,
    ) -> None:
        """Propose models and mappings (identify, group, track, subscriptions) from the warehouse's tables."""
        from segprof.errors import SegprofError
        from segprof.scaffold.generate import generate_project
        from segprof.scaffold.introspect import introspect_source, load_project_for, pick_source

        if from_workspace:
            _from_workspace(project_dir, out, force)
            return
        project = load_project_for(project_dir)
        chosen = pick_source(project, source)
        if dbt:
            from segprof.scaffold.generate_dbt import generate_from_dbt

            target = out if out is not None else (project.root or project_dir)
            result = generate_from_dbt(project, chosen, out_dir=target, force=force, names=_split(tables))
            _print(result, target)
            return
        schemas = _split(schema)
        if snapshot is not None:
            from segprof.scaffold.introspect import read_snapshot_tables

            found = read_snapshot_tables(snapshot, schemas)
        else:
            found = introspect_source(project, chosen, schemas)
        wanted = _split(tables)
        if wanted:
            keep = {w.lower() for w in wanted}
            found = [t for t in found if t.name.lower() in keep or f"{t.schema}.{t.name}".lower() in keep]
            missing = keep - {t.name.lower() for t in found} - {f"{t.schema}.{t.name}".lower() for t in found}
            if missing:
                raise SegprofError(
                    f"no such table in source `{chosen.resource_name}`: {', '.join(sorted(missing))}"
                )
        if not found:
            raise SegprofError(f"source `{chosen.resource_name}` has no tables to read")
        target = out if out is not None else (project.root or project_dir)
        result = generate_project(project, chosen, found, out_dir=target, force=force, schemas=schemas)
        _print(result, target)


def _print(result, target: Path) -> None:  # type: ignore[no-untyped-def]
    """The proposals as a table, then the files written."""
    from rich.table import Table

    console = stdout_console()
    summary = Table(title=None, show_edge=False)
    for heading in ("table", "read as", "model (identifier)", "mapping", "left out"):
        summary.add_column(heading, overflow="fold")
    for p in result.proposals:
        summary.add_row(
            f"{p.table.schema}.{p.table.name}",
            p.kind,
            f"{p.model} ({p.identifier})",
            ", ".join(name for name, _, _ in p.mappings),
            ", ".join(c for c, _ in p.left_out) or "-",
        )
    for s in result.skipped:
        summary.add_row(f"{s.table.schema}.{s.table.name}", "skipped", "-", "-", s.reason)
    console.print(summary)
    console.print(f"Wrote {len(result.files)} file(s) in {target}:", markup=False)
    for rel in result.files:
        note = "  (replaced)" if rel in result.replaced else ""
        console.print(f"  {rel.as_posix()}{note}", markup=False)


def _from_workspace(project_dir: Path, out: Path | None, force: bool) -> None:
    from segprof.scaffold.generate_workspace import generate_from_workspace

    result = generate_from_workspace(project_dir, out_dir=out, force=force)
    console = stdout_console()
    kinds: dict[str, int] = {}
    for address in result.addresses:
        kind = address.split(".", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    counts = ", ".join(f"{n} {k}(s)" for k, n in kinds.items()) or "nothing"
    console.print(f"Generated {counts} from the workspace, tied to their live ids in state:", markup=False)
    for rel in result.files:
        note = "  (replaced)" if rel in result.replaced else ""
        console.print(f"  {rel.as_posix()}{note}", markup=False)
    for line in result.skipped:
        console.print(f"Not generated: {line}", markup=False)
    if result.env:
        console.print(
            "Set " + ", ".join(result.env) + " before `segprof plan` (secrets are not written).", markup=False
        )


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]
