"""`segprof validate`: check a project offline and report every problem.

Must never hold logic another caller would need: it parses flags, calls the layers below and renders.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from segprof.cli.common import ProjectDir, stdout_console
from segprof.cli.plan import DbtState

ORDER = 10


class ValidateFormat(StrEnum):
    text = "text"
    json = "json"
    github = "github"


def _path_prefix(project_dir: Path) -> str:
    """The project folder as seen from where the command runs (a workflow's repository root)."""
    relative = Path(os.path.relpath(project_dir.resolve(), Path.cwd().resolve()))
    return "" if relative == Path(".") else relative.as_posix()


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate(
        project_dir: ProjectDir = Path("."),
        output: Annotated[
            ValidateFormat,
            typer.Option(
                "--format",
                help="text (grouped by file), json, or github (annotations on the pull request's lines).",
            ),
        ] = ValidateFormat.text,
        schema_snapshot: Annotated[
            Path | None,
            typer.Option(
                "--schema-snapshot", help="JSON schema snapshot of the warehouse for column checks."
            ),
        ] = None,
        dbt_state: DbtState = None,
        describe: Annotated[
            bool,
            typer.Option(
                "--describe",
                help="Also ask each model's warehouse (opened read-only) to describe its query without running it.",
            ),
        ] = False,
    ) -> None:
        """Check the project offline (YAML, references, SQL, columns, action rules); exit 1 on any error."""
        from segprof.validate import validate_project
        from segprof.validate.report import render_github, render_json, render_text

        report = validate_project(
            project_dir,
            schema_snapshot=schema_snapshot,
            dbt_state=dbt_state.resolve() if dbt_state else None,
            describe=describe,
        )
        if output == ValidateFormat.json:
            typer.echo(render_json(report.diagnostics))
        elif output == ValidateFormat.github:
            typer.echo(render_github(report.diagnostics, path_prefix=_path_prefix(project_dir)))
        else:
            subject = ""
            if report.project is not None:
                p = report.project
                subject = (
                    f": {len(p.sources)} source(s), {len(p.models)} model(s), "
                    f"{len(p.destinations)} destination(s), {len(p.mappings)} mapping(s)"
                )
            render_text(report.diagnostics, stdout_console(), summary_subject=subject)
        if report.errors or report.project is None:
            raise typer.Exit(1)
