"""`segprof show PLANFILE`: a saved plan in text, JSON or Markdown, without the project or network.

Must never hold logic another caller would need: it parses flags, calls the layers below and renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from segprof.cli.common import stdout_console
from segprof.cli.plan import PlanFormat

ORDER = 25


def register(app: typer.Typer) -> None:
    @app.command("show")
    def show(
        plan_file: Annotated[
            Path, typer.Argument(metavar="PLANFILE", help="A plan saved by `segprof plan --out`.")
        ],
        output: Annotated[
            PlanFormat, typer.Option("--format", help="text, json (the plan document) or markdown.")
        ] = PlanFormat.text,
    ) -> None:
        """Print a saved plan as `plan` printed it (reads the file only)."""
        import json

        from segprof.plan.planfile import load_plan
        from segprof.plan.render_markdown import render_markdown
        from segprof.plan.render_text import render_text

        plan = load_plan(plan_file)
        if output == PlanFormat.json:
            typer.echo(json.dumps(plan.to_json(), indent=2, default=str))
        elif output == PlanFormat.markdown:
            typer.echo(render_markdown(plan))
        else:
            console = stdout_console()
            console.print(render_text(plan, width=console.width))
