"""`segprof init`: create a project from the quickstart template, with its demo warehouse.

Parses flags and renders what was made; the work is in `segprof.scaffold.project`.
Must never hold logic another caller would need: it parses flags, calls the layers below and renders.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from segprof.cli.common import stdout_console

if TYPE_CHECKING:
    from segprof.scaffold.warehouse import WarehouseSummary

ORDER = 5


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(
        directory: Annotated[
            Path | None,
            typer.Argument(
                help="Folder for the new project (created if missing); default '.'.",
                show_default=False,
                metavar="DIR",
            ),
        ] = None,
        project_dir: Annotated[
            Path | None,
            typer.Option("-C", "--project-dir", help="The same as DIR.", show_default=False),
        ] = None,
        force: Annotated[
            bool,
            typer.Option("--force", help="Overwrite the quickstart's files if the folder already has them."),
        ] = False,
        warehouse_only: Annotated[
            bool,
            typer.Option(
                "--warehouse-only",
                help="Only build warehouse.duckdb from warehouse/build.sql of an existing project.",
            ),
        ] = False,
    ) -> None:
        """Create a project: the quickstart template and its demo DuckDB warehouse."""
        from segprof.errors import SegprofError
        from segprof.scaffold.project import init_project, rebuild_warehouse

        if directory is not None and project_dir is not None and directory != project_dir:
            raise SegprofError(f"two folders given ({directory} and -C {project_dir}); give one")
        directory = directory or project_dir or Path(".")

        console = stdout_console()
        if warehouse_only:
            summary = rebuild_warehouse(directory, force=force)
            console.print(f"Built {_show(directory / 'warehouse.duckdb')} {_tables(summary)}")
            return
        result = init_project(directory, force=force)
        console.print(f"Created a segprof project in {_show(directory)}:")
        for path in sorted([*result.files, *result.kept], key=lambda p: p.as_posix()):
            note = ""
            if path in result.replaced:
                note = "  (replaced)"
            elif path in result.merged:
                note = "  (yours, with segprof's lines added)"
            elif path in result.kept:
                note = "  (yours, kept)"
            console.print(f"  {path.as_posix()}{note}", markup=False)
        if result.warehouse is not None:
            console.print(f"Built warehouse.duckdb {_tables(result.warehouse)}")
        flag = "" if directory == Path(".") else f" -C {_show(directory)}"
        steps = [
            (f"segprof validate{flag}", "check the project offline"),
            (f"segprof plan{flag}", "see what apply would create in the embedded workspace"),
            (f"segprof apply{flag}", "create it (answer yes)"),
            (f"segprof sync{flag} --all", "send the demo rows to Segment Profiles"),
            (f"segprof profiles show usr_000001{flag}", "the profile Segment Profiles holds for one user"),
        ]
        width = max(len(command) for command, _ in steps)
        console.print("\nNext:")
        for command, what in steps:
            console.print(f"  {command:<{width}}   {what}", markup=False)


def _show(path: Path) -> str:
    return shlex.quote(str(path))


def _tables(summary: WarehouseSummary) -> str:
    counts = ", ".join(f"{name} {rows:,}" for name, rows in summary.tables.items())
    return f"in {summary.seconds:.1f} s: {counts}"
