"""Rendering diagnostics: text grouped by file (rich colours), JSON, and GitHub Actions annotations.

Owns how `segprof validate` prints its findings. Must never compute a finding: it only reads the
diagnostics it is given.
"""

from __future__ import annotations

import json
import posixpath
from typing import TYPE_CHECKING

from segprof.config.diagnostic import Diagnostic
from segprof.errors import Location

if TYPE_CHECKING:
    from rich.console import Console


def render_json(diagnostics: list[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diagnostics], indent=2, ensure_ascii=False)


def _escape_data(text: str) -> str:
    # GitHub's workflow-command escaping; see "Workflow commands for GitHub Actions".
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: list[Diagnostic], *, path_prefix: str = "") -> str:
    """One `::error` / `::warning` workflow command per diagnostic, so GitHub shows each one on the
    line it is about in a pull request's diff. `path_prefix` leads from the repository root
    (where the workflow runs) to the project folder."""

    def command(d: Diagnostic, place: Location | None, message: str) -> str:
        props = []
        if place is not None:
            file = f"{path_prefix}/{place.file}" if path_prefix else place.file
            # a dbt file beside the project reads `../models/x.sql`: GitHub wants `models/x.sql`
            file = posixpath.normpath(file) if ".." in file.split("/") else file
            props.append(f"file={_escape_property(file)}")
            # 0 means unknown (a missing file has no lines): GitHub then marks the file itself.
            if place.line > 0:
                props.append(f"line={place.line}")
                if place.col > 0:
                    props.append(f"col={place.col}")
        props.append(f"title={_escape_property(f'segprof {d.code}')}")
        return f"::{d.severity} {','.join(props)}::{_escape_data(message)}"

    lines = []
    for d in diagnostics:
        message = d.message + (f" ({d.address})" if d.address else "")
        if d.hint:
            message += f"\nhint: {d.hint}"
        lines.append(command(d, d.location, message))
        if d.related is not None:
            # Also on the line that caused it: often the only file the pull request changes.
            at = f" (reported at {d.location})" if d.location else ""
            lines.append(command(d, d.related, d.message + at))
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors
    verdict = "invalid" if errors else "valid"
    lines.append(f"segprof validate: {verdict}, {_plural(errors, 'error')}, {_plural(warnings, 'warning')}")
    return "\n".join(lines)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def render_text(diagnostics: list[Diagnostic], console: Console, *, summary_subject: str = "") -> None:
    from rich.markup import escape

    groups: dict[str, list[Diagnostic]] = {}
    for diagnostic in diagnostics:
        key = diagnostic.location.file if diagnostic.location else "(project)"
        groups.setdefault(key, []).append(diagnostic)
    for file, items in groups.items():
        console.print(f"[bold]{escape(file)}[/]")
        for d in items:
            colour = "red" if d.is_error else "yellow"
            where = str(d.location) if d.location else file
            address = f" ({escape(d.address)})" if d.address else ""
            console.print(
                f"{escape(where)}: [bold {colour}]{d.severity}[/]: {escape(d.message)}{address}"
                f" [dim]\\[{d.code}][/]"
            )
            if d.hint:
                console.print(f"    [cyan]hint:[/] {escape(d.hint)}")
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors
    if errors:
        console.print(
            f"[bold red]✗ {_plural(errors, 'error')}[/], {_plural(warnings, 'warning')} "
            f"in {_plural(len(groups), 'file')}"
        )
    elif warnings:
        console.print(f"[bold green]✓ valid[/]{summary_subject} with {_plural(warnings, 'warning')}")
    else:
        console.print(f"[bold green]✓ valid[/]{summary_subject}")
