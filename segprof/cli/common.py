"""Helpers shared by the command modules: common options, consoles, error handling, the debug log.

Must never hold logic another caller would need: it parses flags, calls the layers below and renders.
"""

from __future__ import annotations

import contextlib
import logging
import os
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


_plain = False  # --no-color for this run (rich itself honours NO_COLOR)
_LOG_HANDLER = "segprof-debug-log"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_output(*, verbose: bool = False, no_color: bool = False) -> None:
    """Colour, and the request log: `--verbose` or SEGPROF_LOG=debug|info|warning|error.

    The log goes to stderr, so that stdout stays the command's output (JSON, Markdown). Its lines
    are written by the workspace client and the delivery engine, which scrub secrets first.
    """
    global _plain
    _plain = no_color
    wanted = "debug" if verbose else os.environ.get("SEGPROF_LOG", "").strip().lower()
    logger = logging.getLogger("segprof")
    for handler in [h for h in logger.handlers if h.get_name() == _LOG_HANDLER]:
        logger.removeHandler(handler)
    level = _LEVELS.get(wanted)
    if level is None:
        logger.setLevel(logging.NOTSET)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_LOG_HANDLER)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)


def stdout_console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True, no_color=_plain or None)


def stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, no_color=_plain or None)


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
