"""`segprof syncs`: run history of mappings, and a run's failed records (payload and reason).

Must never hold logic another caller would need: it parses flags, calls the layers below and renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from segprof.cli.common import OutputFormat, ProjectDir, stdout_console

ORDER = 42


def register(app: typer.Typer) -> None:
    @app.command("syncs")
    def syncs(
        args: Annotated[
            list[str] | None,
            typer.Argument(
                help="[MAPPING] to list runs (default: every mapping), or `show RUN` for a run's failed records.",
                show_default=False,
            ),
        ] = None,
        project_dir: ProjectDir = Path("."),
        limit: Annotated[int, typer.Option("--limit", min=1, help="Runs per mapping.")] = 10,
        output: Annotated[OutputFormat, typer.Option("--format", help="text or json.")] = OutputFormat.text,
    ) -> None:
        """List recent sync runs (counts, duration, status, errors); `syncs show RUN` lists a run's failures."""
        from segprof.errors import SegprofError

        words = list(args or [])
        if words and words[0] == "show":
            if len(words) != 2:
                raise SegprofError(
                    "usage: segprof syncs show RUN", hint="run ids are listed by `segprof syncs`"
                )
            _show(project_dir, words[1], output)
            return
        if len(words) > 1:
            raise SegprofError("name at most one mapping", hint="e.g. segprof syncs identify_users")
        _list(project_dir, words[0] if words else None, limit, output)


def _list(project_dir: Path, mapping: str | None, limit: int, output: OutputFormat) -> None:
    import json

    from segprof.operations.sync_history import list_runs

    project = _project(project_dir)
    records = list_runs(project_dir, project, mapping, limit)
    if output == OutputFormat.json:
        typer.echo(json.dumps({"runs": [r.to_json() for r in records]}, indent=2, default=str))
        return
    _render_runs(records)


def _show(project_dir: Path, run_id: str, output: OutputFormat) -> None:
    import json

    from rich.markup import escape

    from segprof.operations.sync_history import show_run

    project = _project(project_dir)
    record, failures = show_run(project_dir, project, run_id)
    if output == OutputFormat.json:
        body = {"run": record.to_json(), "failures": [f.__dict__ for f in failures]}
        typer.echo(json.dumps(body, indent=2, default=str))
        return
    out = stdout_console()
    _render_runs([record])
    if not failures:
        out.print("No failed records in this run.")
    for f in failures:
        out.print(f"[bold]{escape(f.record_id)}[/] ({f.kind}) [red]{escape(f.reason)}[/]")
        payload = json.dumps(f.payload, default=str) if f.payload is not None else "(no payload)"
        out.print("  " + escape(payload))


def _project(project_dir: Path):  # type: ignore[no-untyped-def]
    from segprof.config.loader import load_project_or_raise

    return load_project_or_raise(project_dir)


def _render_runs(records) -> None:  # type: ignore[no-untyped-def]
    """One line per run: readable in a terminal and in CI logs alike."""
    from rich.markup import escape

    out = stdout_console()
    if not records:
        out.print("No sync runs recorded yet.")
        return
    colors = {"success": "green", "partial": "yellow", "running": "cyan"}
    for r in records:
        c = r.counters
        started = f"{r.started_at:%Y-%m-%d %H:%M:%S}" if r.started_at else "-"
        duration = f"{r.duration:.2f}s" if r.duration is not None else "-"
        color = colors.get(r.status, "red")
        out.print(
            f"{r.run_id}  {escape(r.address or r.mapping_id)}  [{color}]{r.status}[/]  {started}  "
            f"{c.get('new_count', 0)} new, {c.get('updated_count', 0)} updated, "
            f"{c.get('deleted_count', 0)} deleted; {c.get('delivered', 0)} delivered, "
            f"{c.get('failed', 0)} failed; {duration}"
        )
        if r.error:
            out.print(f"  [red]error:[/] {escape(r.error)}")
