"""`segprof preview MAPPING`: the exact messages a sync would send now, as JSON lines.

Must never hold logic another caller would need: it parses flags, calls the layers below and renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from segprof.cli.common import ProjectDir

ORDER = 41


def register(app: typer.Typer) -> None:
    @app.command("preview")
    def preview(
        mapping: Annotated[str, typer.Argument(help="The mapping (name or mapping.<name>).")],
        project_dir: ProjectDir = Path("."),
        limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many messages.")] = 10,
    ) -> None:
        """Print the messages the next sync would send, without sending or committing anything."""
        import sys

        from segprof.cli.plan import load_valid_project
        from segprof.operations.sync_runs import engine_for
        from segprof.sync.job import mapping_names
        from segprof.sync.messages.encode import dumps_text

        project = load_valid_project(project_dir)
        (name,) = mapping_names(project, [mapping], False)
        engine, con = engine_for(project, project_dir, name)
        try:
            for message in engine.preview(limit):
                sys.stdout.write(dumps_text(message) + "\n")
        finally:
            con.close()
