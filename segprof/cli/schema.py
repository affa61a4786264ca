"""`segprof schema`: print the JSON Schema of segprof's YAML.

Must never hold logic another caller would need: it parses flags, calls the layers below and renders.
"""

from __future__ import annotations

import typer

ORDER = 90


def register(app: typer.Typer) -> None:
    @app.command("schema")
    def schema() -> None:
        """Print the JSON Schema of the project YAML (for editors: yaml-language-server)."""
        from segprof.config.jsonschema import schema_text

        typer.echo(schema_text(), nl=False)
