"""Rendering diagnostics: text grouped by file (rich colours) and JSON.

Owns how `segprof validate` prints its findings. Must never compute a finding: it only reads the
diagnostics it is given.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from segprof.config.diagnostic import Diagnostic

if TYPE_CHECKING:
    from rich.console import Console


def render_json(diagnostics: list[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diagnostics], indent=2, ensure_ascii=False)


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
