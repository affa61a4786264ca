"""`segprof introspect`: write a schema snapshot of a source's warehouse for offline checks.

Must never hold logic another caller would need: it parses flags, calls the layers below and renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from segprof.cli.common import ProjectDir, stdout_console

ORDER = 12


def register(app: typer.Typer) -> None:
    @app.command("introspect")
    def introspect(
        project_dir: ProjectDir = Path("."),
        source: Annotated[
            str | None, typer.Option("--source", help="Source to read (default: the only one).")
        ] = None,
        schemas: Annotated[
            list[str] | None,
            typer.Option("--schemas", help="Schema to include; repeatable (default: the source's, or all)."),
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option("--out", help="Snapshot file (default: schema.json beside segprof.yaml)."),
        ] = None,
    ) -> None:
        """Snapshot tables, views, columns, types and keys into JSON that validate and plan read offline."""
        from segprof.scaffold.introspect import (
            SNAPSHOT_FILE,
            introspect_source,
            load_project_for,
            pick_source,
            snapshot_document,
            write_snapshot,
        )

        project = load_project_for(project_dir)
        chosen = pick_source(project, source)
        tables = introspect_source(project, chosen, _split(schemas))
        document = snapshot_document(chosen.type, tables)  # type: ignore[attr-defined]
        target = out if out is not None else (project.root or project_dir) / SNAPSHOT_FILE
        write_snapshot(target, document)
        columns = sum(len(t.columns) for t in tables)
        stdout_console().print(
            f"Wrote {target} ({len(tables)} table(s) and view(s), {columns} column(s))", markup=False
        )


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]
