"""`segprof plan`: validate, refresh the workspace, and show what apply would change.

Must never hold logic another caller would need: it parses flags, calls the layers below and renders.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from segprof.cli.common import ProjectDir, stderr_console, stdout_console

ORDER = 20


class PlanFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


Targets = Annotated[
    list[str] | None,
    typer.Option("--target", help="Limit to this address (and what it depends on); repeatable."),
]
LockTimeout = Annotated[
    float, typer.Option("--lock-timeout", help="Seconds to wait for the state lock held by another run.")
]
# plan takes no lock; the option stays accepted (and does nothing) so that existing scripts run on
_PlanLockTimeout = Annotated[float, typer.Option("--lock-timeout", hidden=True)]


DbtState = Annotated[
    Path | None,
    typer.Option(
        "--dbt-state",
        help="Production's dbt manifest.json (or its folder), as dbt's --state: models written "
        "{dbt: …} select from production's relations, and plan lists the ones this change touches.",
    ),
]


def load_valid_report(project_dir: Path, dbt_state: Path | None = None):  # type: ignore[no-untyped-def]
    """Validate first: plan and apply never run on a project with errors. Warnings are shown."""
    from segprof.validate import validate_project
    from segprof.validate.report import render_text

    report = validate_project(project_dir, dbt_state=dbt_state.resolve() if dbt_state else None)
    if report.errors or report.project is None:
        render_text(report.diagnostics, stderr_console(), summary_subject="")
        raise typer.Exit(1)
    if report.warnings:
        render_text(report.warnings, stderr_console(), summary_subject="")
    return report


def load_valid_project(project_dir: Path):  # type: ignore[no-untyped-def]
    return load_valid_report(project_dir).project


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan(
        project_dir: ProjectDir = Path("."),
        output: Annotated[
            PlanFormat,
            typer.Option("--format", help="text, json (stable schema) or markdown (for a PR comment)."),
        ] = PlanFormat.text,
        out: Annotated[
            Path | None, typer.Option("--out", help="Save the plan for `segprof apply FILE`.")
        ] = None,
        detailed_exitcode: Annotated[
            bool,
            typer.Option("--detailed-exitcode", help="Exit 0 with no changes, 2 with changes, 1 on error."),
        ] = False,
        target: Targets = None,
        lock_timeout: _PlanLockTimeout = 0.0,
        preview: Annotated[
            int | None,
            typer.Option(
                "--preview",
                min=1,
                max=100,
                metavar="N",
                help=(
                    "For each created or changed mapping, read N sample records of its model "
                    "(read-only, ordered by identifier) and show how their payloads change from the "
                    "live settings to the new ones, and how many records the next sync would send "
                    "after a replace or trigger change. Nothing is sent or written. With --dbt-state, "
                    "the mappings of changed dbt models too, on production's records and this change's."
                ),
            ),
        ] = None,
        dbt_state: DbtState = None,
    ) -> None:
        """Show what apply would change in the workspace (create, update, replace, delete, adopt).

        Plan only reads: it takes no state lock, so it runs while another plan or an apply runs.
        """
        del lock_timeout
        import json

        from segprof.operations.plan_apply import RunOptions, plan_project
        from segprof.plan.planfile import save_plan
        from segprof.plan.render_markdown import render_markdown
        from segprof.plan.render_text import render_text

        report = load_valid_report(project_dir, dbt_state)
        result = plan_project(
            project_dir,
            report.project,
            RunOptions(
                targets=target or [],
                model_outputs=report.model_outputs,
                preview=preview,
            ),
        )
        if out is not None:  # first: a plan that cannot be saved is an error, not a printed plan
            save_plan(result, out)
        if output == PlanFormat.json:
            typer.echo(json.dumps(result.to_json(), indent=2, default=str))
        elif output == PlanFormat.markdown:
            typer.echo(render_markdown(result))
        else:
            console = stdout_console()
            console.print(render_text(result, width=console.width))
        if out is not None and output == PlanFormat.text:
            stdout_console().print(f"\nSaved the plan to {out}. Apply exactly it with: segprof apply {out}")
        if detailed_exitcode and result.has_changes:
            raise typer.Exit(2)
