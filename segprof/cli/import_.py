"""`segprof import ADDRESS ID`: adopt an existing workspace resource under a project address.

Must never hold logic another caller would need: it parses flags, calls the layers below and renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from segprof.cli.common import ProjectDir, stdout_console
from segprof.cli.plan import LockTimeout, load_valid_project

ORDER = 40


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_(
        address: Annotated[str, typer.Argument(help="The project address, e.g. model.active_users.")],
        live_id: Annotated[
            str, typer.Argument(metavar="ID", help="The live resource's id in the workspace.")
        ],
        project_dir: ProjectDir = Path("."),
        lock_timeout: LockTimeout = 0.0,
    ) -> None:
        """Record that ADDRESS is the existing live resource ID (the next plan updates it in place)."""
        from segprof.operations.plan_apply import RunOptions, import_resource

        project = load_valid_project(project_dir)
        entry = import_resource(project_dir, project, address, live_id, RunOptions(lock_timeout=lock_timeout))
        stdout_console().print(
            f"Imported {address} as {entry.kind} {entry.id}. Run `segprof plan` to see what differs."
        )
