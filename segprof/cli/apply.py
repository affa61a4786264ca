"""`segprof apply`: make the workspace match the configuration (after showing the plan).

Must never hold logic another caller would need: it parses flags, calls the layers below and renders.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from segprof.cli.common import ProjectDir, stderr_console, stdout_console
from segprof.cli.plan import LockTimeout, Targets, load_valid_report

ORDER = 30


def register(app: typer.Typer) -> None:
    @app.command("apply")
    def apply(
        plan_file: Annotated[
            Path | None, typer.Argument(help="A plan saved by `segprof plan --out`; refused if stale.")
        ] = None,
        project_dir: ProjectDir = Path("."),
        auto_approve: Annotated[
            bool, typer.Option("--auto-approve", help="Do not ask before applying.")
        ] = False,
        allow_destroy: Annotated[
            bool, typer.Option("--allow-destroy", help="Allow the plan to delete resources.")
        ] = False,
        parallelism: Annotated[
            int, typer.Option("--parallelism", min=1, max=32, help="Concurrent operations.")
        ] = 4,
        target: Targets = None,
        lock_timeout: LockTimeout = 0.0,
        sync: Annotated[
            bool,
            typer.Option("--sync", help="Then sync the mappings created or changed (as `segprof sync`)."),
        ] = False,
    ) -> None:
        """Apply the plan: sources, models, destinations, mappings, in dependency order."""
        from segprof.operations.plan_apply import ApplyRequest, RunOptions, apply_project
        from segprof.plan.render_text import render_text

        report = load_valid_report(project_dir)
        project = report.project
        out = stdout_console()
        err = stderr_console()

        def confirm(plan) -> bool:  # type: ignore[no-untyped-def]
            out.print(render_text(plan, width=out.width))
            if auto_approve:
                return True
            if not sys.stdin.isatty():
                err.print(
                    "[red]error:[/] apply needs approval: run it in a terminal, pass --auto-approve, "
                    "or apply a saved plan file"
                )
                raise typer.Exit(1)
            answer = typer.prompt(
                "\nDo you want to perform these actions? Only 'yes' will be accepted", default=""
            )
            return answer.strip() == "yes"

        progress, on_wait, finish = _progress(err)
        options = RunOptions(
            targets=target or [],
            lock_timeout=lock_timeout,
            on_wait=on_wait,
            model_outputs=report.model_outputs,
        )
        request = ApplyRequest(
            plan_file=plan_file,
            confirm=None if plan_file is not None else confirm,
            allow_destroy=allow_destroy,
            parallelism=parallelism,
            progress=progress,
        )
        try:
            result = apply_project(project_dir, project, options, request)
        finally:
            finish()
        if plan_file is not None and result.outcome is not None:
            out.print(render_text(result.plan, width=out.width))
        if not result.plan.has_changes:
            out.print("No changes. The workspace matches the configuration.")
            return
        if not result.approved:
            out.print("Apply cancelled; nothing was changed.")
            raise typer.Exit(1)
        outcome = result.outcome
        assert outcome is not None
        for step in outcome.done:
            out.print(f"  [green]done[/]  {step.verb:<15} {step.address}")
        if outcome.failed is not None:
            step, message = outcome.failed
            err.print(f"  [red]failed[/] {step.verb:<15} {message}")
            for pending in outcome.not_started:
                err.print(f"  [yellow]not done[/] {pending.verb:<13} {pending.address}")
            err.print(
                f"[red]Apply stopped at the first failure:[/] {len(outcome.done)} done, 1 failed, "
                f"{len(outcome.not_started)} not started. State records what was done; "
                "`segprof plan` shows the remainder."
            )
            raise typer.Exit(1)
        n = result.plan.counts()
        out.print(
            f"[bold green]Apply complete![/] {n['add']} added, {n['change']} changed, "
            f"{n['destroy']} destroyed, {n['adopt']} adopted."
        )
        if sync:
            _sync_changed(project_dir, project, outcome.done)


def _sync_changed(project_dir: Path, project, steps) -> None:  # type: ignore[no-untyped-def]
    """`apply --sync`: the mappings just created or changed, through the same path as `segprof sync`."""
    from segprof.cli.sync import render_runs
    from segprof.operations.sync_runs import SyncOptions, deadline_from, mappings_changed_by, run_syncs

    names = mappings_changed_by(project, list(steps))
    if not names:
        stdout_console().print("No mapping was created or changed: nothing to sync.")
        return
    options = SyncOptions(mappings=names, deadline=deadline_from(None))  # SEGPROF_SYNC_TIMEOUT
    summaries = run_syncs(project_dir, project, options)
    render_runs(summaries)
    if any(s.status != "success" for s in summaries):
        raise typer.Exit(1)


def _progress(console):  # type: ignore[no-untyped-def]
    """A progress bar over apply's steps, with the client's throttle waits shown as they happen."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    task = bar.add_task("applying", total=None)
    started = False

    def progress(event: str, step) -> None:  # type: ignore[no-untyped-def]
        nonlocal started
        if not started:
            bar.start()
            started = True
        if event == "start":
            total = (bar.tasks[0].total or 0) + 1
            bar.update(task, total=total, description=f"{step.verb} {step.address}")
        else:
            bar.advance(task)

    def on_wait(wait) -> None:  # type: ignore[no-untyped-def]
        if wait.kind == "throttle" and wait.seconds >= 1:
            bar.update(task, description=f"waiting {wait.seconds:.0f}s for the API rate limit ({wait.path})")
        elif wait.kind == "retry":
            bar.update(
                task, description=f"retrying {wait.method} {wait.path} in {wait.seconds:.1f}s ({wait.reason})"
            )

    def finish() -> None:
        if started:
            bar.stop()

    return progress, on_wait, finish
