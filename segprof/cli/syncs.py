"""`segprof syncs`: run history of mappings, and a run's failed records (payload and reason)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from segprof.cli.common import OutputFormat, ProjectDir, stdout_console

ORDER = 42


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="syncs",
        help="Sync run history from the warehouse's managed schema.",
        invoke_without_command=True,
    )

    @group.callback()
    def runs(
        ctx: typer.Context,
        mapping: Annotated[str | None, typer.Argument(help="One mapping (default: all).")] = None,
        project_dir: ProjectDir = Path("."),
        limit: Annotated[int, typer.Option("--limit", min=1, help="Runs per mapping.")] = 10,
        output: Annotated[OutputFormat, typer.Option("--format", help="text or json.")] = OutputFormat.text,
    ) -> None:
        """List recent runs: counts, duration, status, errors."""
        if ctx.invoked_subcommand is not None:
            return
        import json

        from segprof.sync.history import list_runs

        project = _project(project_dir)
        records = list_runs(project_dir, project, mapping, limit)
        if output == OutputFormat.json:
            typer.echo(json.dumps({"runs": [r.to_json() for r in records]}, indent=2, default=str))
            return
        _render_runs(records)

    @group.command("show")
    def show(
        run_id: Annotated[str, typer.Argument(help="A run id (from `segprof syncs`).")],
        project_dir: ProjectDir = Path("."),
        output: Annotated[OutputFormat, typer.Option("--format", help="text or json.")] = OutputFormat.text,
    ) -> None:
        """A run's failed records, with the payload built and the reason."""
        import json

        from segprof.sync.history import show_run

        project = _project(project_dir)
        record, failures = show_run(project_dir, project, run_id)
        if output == OutputFormat.json:
            typer.echo(
                json.dumps(
                    {"run": record.to_json(), "failures": [f.__dict__ for f in failures]},
                    indent=2,
                    default=str,
                )
            )
            return
        from rich.markup import escape

        out = stdout_console()
        _render_runs([record])
        if not failures:
            out.print("No failed records in this run.")
        for f in failures:
            out.print(f"[bold]{escape(f.record_id)}[/] ({f.kind}) [red]{escape(f.reason)}[/]")
            out.print(
                "  " + escape(json.dumps(f.payload, default=str) if f.payload is not None else "(no payload)")
            )

    app.add_typer(group)


def _project(project_dir: Path):  # type: ignore[no-untyped-def]
    from segprof.config.loader import load_project_or_raise

    return load_project_or_raise(project_dir)


def _render_runs(records) -> None:  # type: ignore[no-untyped-def]
    from rich.markup import escape
    from rich.table import Table

    out = stdout_console()
    if not records:
        out.print("No sync runs recorded yet.")
        return
    table = Table(box=None)
    for col in (
        "run",
        "mapping",
        "started",
        "status",
        "new",
        "upd",
        "del",
        "delivered",
        "failed",
        "duration",
        "error",
    ):
        table.add_column(col)
    for r in records:
        table.add_row(
            r.run_id,
            escape(r.address or r.mapping_id),
            f"{r.started_at:%Y-%m-%d %H:%M:%S}" if r.started_at else "",
            r.status,
            str(r.counters.get("new_count", 0)),
            str(r.counters.get("updated_count", 0)),
            str(r.counters.get("deleted_count", 0)),
            str(r.counters.get("delivered", 0)),
            str(r.counters.get("failed", 0)),
            f"{r.duration:.2f}s" if r.duration is not None else "",
            escape((r.error or "")[:80]),
        )
    out.print(table)
