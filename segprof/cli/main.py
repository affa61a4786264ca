"""Entry point: builds the typer app from the command modules and maps errors to exit codes.

Must never hold logic another caller would need: it parses flags, calls the layers below and renders.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import sys
from collections.abc import Iterator

import typer
from typer.core import TyperGroup
from typer.models import TyperInfo

import segprof.cli as cli_package
from segprof import __version__


def _version(value: bool) -> None:
    if value:
        typer.echo(f"segprof {__version__}")
        raise typer.Exit()


class _Group(TyperGroup):
    """The root group: every command runs inside the same error handling, in tests too.

    A usage error exits 1 rather than click's 2: exit 2 means "changes present" under
    `--detailed-exitcode`, and a CI job must never mistake a bad flag for a plan.
    """

    def make_context(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        with _usage_errors_exit_1():
            return super().make_context(*args, **kwargs)

    def parse_args(self, ctx, args):  # type: ignore[no-untyped-def]
        return super().parse_args(ctx, _root_options_first(args))

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        from segprof.cli.common import handle_errors
        from segprof.redaction import scrubbed_stdio

        # Every line a command prints passes the redaction of the secrets the run has seen.
        with scrubbed_stdio(), handle_errors(), _usage_errors_exit_1():
            return super().invoke(ctx)


_ROOT_FLAGS = {"--verbose", "-v", "--no-color"}
_ROOT_VALUED = {"--env"}


def _root_options_first(args: list[str]) -> list[str]:
    """The options of every command (`--env NAME`, `--verbose`, `--no-color`) may follow the
    command too (`segprof plan --env staging`): they are moved in front of it."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg in _ROOT_FLAGS:
            front.append(arg)
        elif arg in _ROOT_VALUED and i + 1 < len(args):
            front.extend(args[i : i + 2])
            i += 1
        elif arg.split("=", 1)[0] in _ROOT_VALUED and "=" in arg:
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


# click's UsageError as typer ships it (typer carries its own copy of click)
_UsageError: type[Exception] = typer.BadParameter.__mro__[1]


@contextlib.contextmanager
def _usage_errors_exit_1() -> Iterator[None]:
    try:
        yield
    except _UsageError as err:
        if type(err).__name__ != "NoArgsIsHelpError":  # bare `segprof` prints the help
            err.exit_code = 1  # type: ignore[attr-defined]
        raise


def build_app() -> typer.Typer:
    app = typer.Typer(
        cls=_Group,
        name="segprof",
        help="Segment Reverse ETL into Segment Profiles, managed as code.",
        no_args_is_help=True,
        add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
        verbose: bool = typer.Option(
            False,
            "--verbose",
            "-v",
            help="Log each Public API and Tracking API request to stderr (as SEGPROF_LOG=debug).",
        ),
        no_color: bool = typer.Option(False, "--no-color", help="Plain output without colour (as NO_COLOR)."),
        env: str | None = typer.Option(
            None,
            "--env",
            metavar="NAME",
            help="Use environment NAME of segprof.yaml's `environments:` (else SEGPROF_ENV).",
        ),
    ) -> None:
        """Segment Reverse ETL into Segment Profiles, managed as code."""
        from segprof.cli.common import configure_output
        from segprof.config.environments import select

        configure_output(verbose=verbose, no_color=no_color)
        select(env)

    modules = []
    for info in pkgutil.iter_modules(cli_package.__path__):
        if info.name in {"main", "common"}:
            continue
        module = importlib.import_module(f"segprof.cli.{info.name}")
        if hasattr(module, "register"):
            modules.append(module)
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__)):
        module.register(app)
    return app


def command_named(args: list[str]) -> str | None:
    """The command a command line runs (`sync` of `--env prod sync --all`), or None when it names
    none before an option of its own (`--help`, `--version`, nothing)."""
    args = _root_options_first(args)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _ROOT_VALUED:
            i += 2  # the option and its value
        elif arg in _ROOT_FLAGS or arg.split("=", 1)[0] in _ROOT_VALUED:
            i += 1
        else:
            return None if arg.startswith("-") else arg
    return None


def _prune(app: typer.Typer, name: str) -> None:
    """Keep only command or group `name` when the app has it: typer builds every command it holds
    (each parameter's converter) before it runs one, which a run of one command need not pay. An
    unknown name keeps them all, so the error still suggests the nearest command."""
    commands = {info.name: info for info in app.registered_commands}
    groups: dict[str | None, TyperInfo] = {}
    for info in app.registered_groups:
        group = info.name if isinstance(info.name, str) else None
        if (
            group is None
            and info.typer_instance is not None
            and isinstance(info.typer_instance.info.name, str)
        ):
            group = info.typer_instance.info.name
        groups[group] = info
    if None in commands or None in groups or (name not in commands and name not in groups):
        return  # a name left to typer to derive, or not a command: nothing is left out
    app.registered_commands = [commands[name]] if name in commands else []
    app.registered_groups = [groups[name]] if name in groups else []


def run(argv: list[str] | None = None) -> None:
    """Console-script entry: any SegprofError becomes a clear message and exit code 1."""
    app = build_app()
    name = command_named(list(sys.argv[1:] if argv is None else argv))
    if name is not None:
        _prune(app, name)
    app(args=argv, prog_name="segprof")


if __name__ == "__main__":  # pragma: no cover
    run(sys.argv[1:])
