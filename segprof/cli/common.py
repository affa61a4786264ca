"""Helpers shared by the command modules: common options, consoles, error handling."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

ProjectDir = Annotated[
    Path,
    typer.Option(
        "-C",
        "--project-dir",
        help="Project folder (the one holding segprof.yaml).",
        show_default=False,
    ),
]


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def stdout_console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def handle_errors() -> Iterator[None]:
    """Turn user-facing failures into one clear message on stderr and exit code 1."""
    from segprof.errors import SegprofError

    try:
        yield
    except SegprofError as err:
        from rich.markup import escape

        stderr_console().print(f"[bold red]error:[/] {escape(str(err))}")
        sys.exit(1)
    except KeyboardInterrupt:
        stderr_console().print("[yellow]interrupted[/]")
        sys.exit(130)
