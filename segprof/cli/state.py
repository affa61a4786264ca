"""`segprof state list|show|rm|mv|push|pull|unlock`: look at the state, edit it, move it, unlock it.

Must never hold logic another caller would need: it parses flags, calls the layers below and renders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from segprof.cli.common import OutputFormat, ProjectDir, stdout_console
from segprof.cli.plan import LockTimeout

ORDER = 45

Force = Annotated[bool, typer.Option("--force", help="Replace a target that already records resources.")]


def _project(project_dir: Path):  # type: ignore[no-untyped-def]
    from segprof.config.loader import load_project_or_raise

    return load_project_or_raise(project_dir)


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="state",
        help="The state: which live id belongs to which address (a local file, or the warehouse).",
        no_args_is_help=True,
    )

    @group.command("show")
    def show(
        project_dir: ProjectDir = Path("."),
        output: Annotated[OutputFormat, typer.Option("--format", help="text or json.")] = OutputFormat.text,
    ) -> None:
        """Print every address and its live id, and who holds the lock (warehouse state)."""
        import json

        from rich.markup import escape

        from segprof.state.migrate import show as show_state

        view = show_state(project_dir, _project(project_dir))
        if output == OutputFormat.json:
            typer.echo(json.dumps(view.to_json(), indent=2))
            return
        console = stdout_console()
        console.print(
            escape(f"State in {view.where}: serial {view.state.serial}, {len(view.rows)} resource(s)")
        )
        if view.lock:
            console.print(
                escape(
                    f"Locked by `segprof {view.lock.get('operation')}` (pid {view.lock.get('pid')} on "
                    f"{view.lock.get('host')}, user {view.lock.get('holder_user')}, since "
                    f"{view.lock.get('since')}), lock id {view.lock.get('lock_id')}"
                )
            )
        width = max((len(a) for a, _, _ in view.rows), default=0)
        for address, _kind, live_id in view.rows:
            console.print(escape(f"  {address.ljust(width)}  {live_id}"))

    @group.command("list")
    def list_(
        project_dir: ProjectDir = Path("."),
    ) -> None:
        """Print the addresses the state records, one per line."""
        from segprof.state.migrate import show as show_state

        view = show_state(project_dir, _project(project_dir))
        for address, _kind, _id in view.rows:
            typer.echo(address)

    @group.command("rm")
    def rm(
        addresses: Annotated[
            list[str], typer.Argument(metavar="ADDRESS...", help="Addresses to forget, e.g. model.users.")
        ],
        project_dir: ProjectDir = Path("."),
        lock_timeout: LockTimeout = 0.0,
    ) -> None:
        """Forget addresses: their live resources stay in the workspace, no longer managed."""
        from rich.markup import escape

        from segprof.state.edit import remove

        removed = remove(project_dir, _project(project_dir), addresses, lock_timeout=lock_timeout)
        console = stdout_console()
        for address, entry in removed:
            console.print(escape(f"Removed {address} ({entry.id}) from the state."))
        console.print(
            "The workspace resources are unchanged; a plan adopts a live resource of the same name "
            "again unless the config drops or renames it."
        )

    @group.command("mv")
    def mv(
        source: Annotated[str, typer.Argument(metavar="FROM", help="The address the state records now.")],
        destination: Annotated[str, typer.Argument(metavar="TO", help="The address to record instead.")],
        project_dir: ProjectDir = Path("."),
        lock_timeout: LockTimeout = 0.0,
    ) -> None:
        """Record a live resource under another address of its kind (a rename without replace)."""
        from rich.markup import escape

        from segprof.state.edit import move

        entry = move(project_dir, _project(project_dir), source, destination, lock_timeout=lock_timeout)
        stdout_console().print(escape(f"Moved {source} to {destination} ({entry.id})."))

    @group.command("push")
    def push(
        project_dir: ProjectDir = Path("."),
        force: Force = False,
        lock_timeout: LockTimeout = 0.0,
    ) -> None:
        """Move .segprof/state.json into the warehouse `state:` names (the file is kept, renamed)."""
        from segprof.state.migrate import push as push_state

        moved = push_state(project_dir, _project(project_dir), force=force, lock_timeout=lock_timeout)
        stdout_console().print(
            f"Pushed {moved} resource(s) into the warehouse state; "
            "the file was renamed to .segprof/state.json.pushed-<serial>."
        )

    @group.command("pull")
    def pull(
        project_dir: ProjectDir = Path("."),
        force: Force = False,
        lock_timeout: LockTimeout = 0.0,
    ) -> None:
        """Copy the warehouse state into .segprof/state.json (e.g. before switching to `backend: local`)."""
        from segprof.state.migrate import pull as pull_state

        count = pull_state(project_dir, _project(project_dir), force=force, lock_timeout=lock_timeout)
        stdout_console().print(f"Pulled {count} resource(s) into .segprof/state.json.")

    @group.command("unlock")
    def unlock(
        lock_id: Annotated[str, typer.Argument(metavar="LOCK_ID", help="The lock id the refusal printed.")],
        project_dir: ProjectDir = Path("."),
    ) -> None:
        """Break the warehouse state lock LOCK_ID that a run which died left behind."""
        from rich.markup import escape

        from segprof.state.migrate import unlock as unlock_state

        holder = unlock_state(project_dir, _project(project_dir), lock_id)
        stdout_console().print(escape(f"Released lock {lock_id}, held by {holder}."))

    app.add_typer(group)
