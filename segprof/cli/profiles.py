"""`segprof profiles show ID`: print a profile materialised by the emulator's Tracking API.

Reads the project's embedded workspace by default, or a served emulator with `--url`. Thin:
fetches `/emulator/v1/profiles/{id}` and renders it. Must never print a token.
"""

from __future__ import annotations

from pathlib import Path

import typer

from segprof.cli.common import OutputFormat, ProjectDir, stdout_console

ORDER = 70


def register(app: typer.Typer) -> None:
    group = typer.Typer(name="profiles", help="Profiles received by the emulator.", no_args_is_help=True)

    @group.command("show")
    def show(
        profile_id: str = typer.Argument(..., help="A userId, anonymousId or groupId."),
        project_dir: ProjectDir = Path("."),
        url: str | None = typer.Option(None, "--url", help="Base URL of a served emulator instead."),
        token: str | None = typer.Option(
            None,
            "--token",
            envvar="SEGPROF_EMULATOR_TOKEN",
            show_default=False,
            help="Bearer token for --url.",
        ),
        kind: str | None = typer.Option(None, "--kind", help="user or group (default: user, then group)."),
        output: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json."),
    ) -> None:
        """Print one profile: traits, groups, subscriptions and recent events."""
        import json

        from segprof.emulator.profile_view import fetch_profile, render_profile

        profile = fetch_profile(profile_id, project_dir=project_dir, url=url, token=token, kind=kind)
        console = stdout_console()
        if output == OutputFormat.json:
            console.print_json(json.dumps(profile))
        else:
            render_profile(console, profile)

    app.add_typer(group)
