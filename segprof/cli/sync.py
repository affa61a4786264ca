"""`segprof sync`: run mappings' syncs (through the workspace, or self-hosted) and report each run.

Must never hold logic another caller would need: it parses flags, calls the layers below and renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from segprof.cli.common import OutputFormat, ProjectDir, stderr_console, stdout_console

ORDER = 40


def register(app: typer.Typer) -> None:
    @app.command("sync")
    def sync(
        mappings: Annotated[
            list[str] | None,
            typer.Argument(help="Mappings to sync (name or mapping.<name>).", show_default=False),
        ] = None,
        all_: Annotated[bool, typer.Option("--all", help="Sync every mapping.")] = False,
        project_dir: ProjectDir = Path("."),
        self_hosted: Annotated[
            bool,
            typer.Option(
                "--self-hosted", help="Run the sync here, straight to the destination's Tracking API."
            ),
        ] = False,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Counts and sample payloads; nothing is sent or committed.")
        ] = False,
        full_resync: Annotated[
            bool, typer.Option("--full-resync", help="Forget what was synced: send every record as new.")
        ] = False,
        rebaseline: Annotated[
            bool,
            typer.Option("--rebaseline", help="Accept the model as it is now as synced; nothing is sent."),
        ] = False,
        allow_mass_delete: Annotated[
            bool,
            typer.Option("--allow-mass-delete", help="Sync even when most synced records would be deleted."),
        ] = False,
        max_records: Annotated[
            int,
            typer.Option(
                "--max-records",
                min=1,
                help="The most changed records one sync extracts; the rest wait for the next syncs "
                "(Segment's limit: 150,000,000).",
            ),
        ] = 150_000_000,
        timeout: Annotated[
            str | None,
            typer.Option(
                "--timeout",
                metavar="DURATION",
                help="The most time one mapping's run may take (900, 30m, 2h); past it the run stops, "
                "keeping what was delivered, and fails. Default: $SEGPROF_SYNC_TIMEOUT, else no limit.",
                show_default=False,
            ),
        ] = None,
        output: Annotated[OutputFormat, typer.Option("--format", help="text or json.")] = OutputFormat.text,
        notify_url: Annotated[
            str | None,
            typer.Option("--notify", help="Slack-compatible webhook URL told about failed or partial runs."),
        ] = None,
    ) -> None:
        """Detect record changes in the warehouse and deliver them to Segment Profiles."""
        import json

        from segprof.cli.plan import load_valid_project
        from segprof.errors import SegprofError
        from segprof.operations.sync_runs import SyncOptions, deadline_from, run_syncs

        if dry_run and (full_resync or rebaseline):
            raise SegprofError("--dry-run cannot be combined with --full-resync or --rebaseline")
        if full_resync and rebaseline:
            raise SegprofError("choose one of --full-resync and --rebaseline")
        deadline = deadline_from(timeout)
        project = load_valid_project(project_dir)
        if self_hosted:
            _warn_unmarked_self_hosted(project, list(mappings or []), all_)
        progress, stop = (
            _progress(stderr_console())
            if output == OutputFormat.text and not dry_run
            else (None, lambda: None)
        )
        options = SyncOptions(
            mappings=list(mappings or []),
            all=all_,
            self_hosted=self_hosted,
            dry_run=dry_run,
            full_resync=full_resync,
            rebaseline=rebaseline,
            allow_mass_delete=allow_mass_delete,
            max_records=max_records,
            progress=progress,
            deadline=deadline,
        )
        try:
            summaries = run_syncs(project_dir, project, options)
        except SegprofError as failure:
            if notify_url:
                from segprof.operations.notify import notify
                from segprof.sync.spec import RunSummary

                names = ", ".join(mappings or []) or "--all"
                notify(notify_url, [RunSummary(mapping_id=names, status="failed", errors=[str(failure)])])
            raise
        finally:
            stop()
        if output == OutputFormat.json:
            typer.echo(json.dumps({"runs": [s.to_json() for s in summaries]}, indent=2, default=str))
        else:
            render_runs(summaries)
        if notify_url:
            from segprof.operations.notify import notify

            warning = notify(notify_url, summaries)
            if warning:
                stderr_console().print(f"[yellow]warning:[/] {warning}")
        if any(s.status not in ("success", "dry_run", "rebaselined") for s in summaries):
            raise typer.Exit(1)


def _warn_unmarked_self_hosted(project, mappings: list[str], all_: bool) -> None:  # type: ignore[no-untyped-def]
    """Plan checks a self-hosted mapping's workspace copy stays disabled only when it is marked."""
    from segprof.sync.job import mapping_names

    for name in mapping_names(project, mappings, all_):
        if not project.mappings[name].self_hosted:
            stderr_console().print(
                f"[yellow]warning:[/] mapping.{name} is synced self-hosted but not marked "
                "`self_hosted: true`: mark it so that plan warns when its workspace copy is enabled "
                "(both would send every change)"
            )


def _progress(console):  # type: ignore[no-untyped-def]
    """A live line per mapping: delivered of to-send, with rows per second."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>8} rows/s"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    tasks: dict[str, tuple[int, float]] = {}
    started = False

    def progress(address: str, delivered: int, failed: int, to_send: int) -> None:
        nonlocal started
        if not started:
            bar.start()
            started = True
        if address not in tasks:
            tasks[address] = (bar.add_task(address, total=to_send or None, rate="-"), time.monotonic())
        task, since = tasks[address]
        done = delivered + failed
        rate = done / max(time.monotonic() - since, 1e-6)
        bar.update(task, completed=done, total=to_send or None, rate=f"{rate:,.0f}")

    def stop() -> None:
        if started:
            bar.stop()

    return progress, stop


def render_runs(summaries) -> None:  # type: ignore[no-untyped-def]
    import json

    from rich.markup import escape

    out = stdout_console()
    if not summaries:
        out.print("No mappings to sync.")
        return
    colors = {"success": "green", "dry_run": "cyan", "rebaselined": "cyan", "partial": "yellow"}
    for s in summaries:
        color = colors.get(s.status, "red")
        name = s.address or s.mapping_id
        out.print(
            f"[bold]{escape(name)}[/]  [{color}]{s.status}[/]" + (f"  run {s.run_id}" if s.run_id else "")
        )
        if s.status == "rebaselined":
            out.print(f"  {s.extracted} records recorded as synced; nothing sent")
            continue
        out.print(
            f"  extracted {s.extracted}: {s.new} new, {s.updated} updated, {s.deleted} deleted"
            + (f", {s.skipped} not triggered" if s.skipped else "")
        )
        if s.status != "dry_run":
            rate = (s.delivered + s.failed) / s.duration if s.duration > 0 else 0.0
            out.print(
                f"  delivered {s.delivered}, failed {s.failed}"
                + (f", given up {s.dropped}" if s.dropped else "")
                + f" in {s.duration:.2f}s ({rate:,.0f} rows/s)"
            )
        if s.remaining:
            out.print(
                f"  {s.remaining} changed record(s) remain for the next sync (the record limit per sync)"
            )
        if s.duplicate_messages:
            out.print(
                f"  [yellow]warning:[/] the workspace dropped {s.duplicate_messages} message(s) as "
                "duplicates of messages it already had; unless they resent changes that an "
                "interrupted run had delivered, those changes did not reach the profiles"
            )
        if s.duplicates or s.null_ids:
            out.print(
                f"  skipped rows: {s.duplicates} with a duplicated identifier, {s.null_ids} with a null one"
            )
        for error in s.errors:
            out.print(f"  [red]error:[/] {escape(error)}")
        for sample in s.samples:
            out.print("  " + escape(json.dumps(sample, default=str)))
