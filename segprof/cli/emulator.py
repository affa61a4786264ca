"""`segprof emulator serve`: run the emulated Segment APIs as a real HTTP server (uvicorn).

Parses flags only; the app is `segprof.emulator.app.create_app`. Must never print the token or
the write key (they may come from the environment).
"""

from __future__ import annotations

from pathlib import Path

import typer

from segprof.cli.common import stderr_console

ORDER = 80


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        name="emulator",
        help="The local emulator of Segment's Public API and Tracking API.",
        no_args_is_help=True,
    )

    @group.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
        port: int = typer.Option(8787, "--port", help="Port to listen on (0 picks a free one)."),
        data: Path = typer.Option(
            Path(".segprof/emulator"),
            "--data",
            help="Data folder (SQLite); shared safely by several servers.",
        ),
        token: str | None = typer.Option(
            None,
            "--token",
            envvar="SEGPROF_EMULATOR_TOKEN",
            show_default=False,
            help="Public API bearer token to require (default: accept any).",
        ),
        write_key: str | None = typer.Option(
            None,
            "--write-key",
            envvar="SEGPROF_EMULATOR_WRITE_KEY",
            show_default=False,
            help="Tracking API write key to require (default: accept any).",
        ),
        no_rate_limits: bool = typer.Option(
            False, "--no-rate-limits", help="Turn the per-endpoint limits off."
        ),
        latency_ms: int = typer.Option(0, "--latency-ms", help="Delay added to every faulted API request."),
        error_rate: float = typer.Option(0.0, "--error-rate", help="Share of requests answered 5xx (0-1)."),
        rate_429: float = typer.Option(0.0, "--rate-429", help="Share of requests answered 429 (0-1)."),
        timeout_rate: float = typer.Option(0.0, "--timeout-rate", help="Share of requests that hang (0-1)."),
        hang_seconds: float = typer.Option(60.0, "--hang-seconds", help="How long a hanging request hangs."),
        drop_rate: float = typer.Option(
            0.0, "--drop-rate", help="Share of connections dropped mid-response."
        ),
        seed: int | None = typer.Option(None, "--seed", help="Seed for reproducible fault sequences."),
        fault_api: list[str] = typer.Option(
            [], "--fault-api", help="Limit faults to an API: public or tracking (repeatable)."
        ),
        fault_path: list[str] = typer.Option(
            [], "--fault-path", help="Limit faults to a path prefix (repeatable)."
        ),
    ) -> None:
        """Serve the emulator over HTTP until interrupted."""
        import uvicorn

        from segprof.emulator.app import create_app
        from segprof.emulator.faults import APIS, FaultConfig
        from segprof.errors import SegprofError

        try:
            faults = FaultConfig(
                latency_ms=latency_ms,
                error_rate=error_rate,
                rate_429=rate_429,
                timeout_rate=timeout_rate,
                hang_seconds=hang_seconds,
                drop_rate=drop_rate,
                seed=seed,
                apis=tuple(fault_api) or APIS,
                path_prefixes=tuple(fault_path),
            )
        except ValueError as err:
            raise SegprofError(f"invalid fault setting: {err}") from None
        if not 0 <= port <= 65535:
            raise SegprofError(f"--port must be between 0 and 65535, not {port}")
        if port == 0:
            import socket

            with socket.socket() as sock:
                sock.bind((host, 0))
                port = sock.getsockname()[1]
        try:
            application = create_app(
                data, token=token, write_key=write_key, rate_limits=not no_rate_limits, faults=faults
            )
        except OSError as err:
            raise SegprofError(f"cannot use data folder {data}: {err.strerror or err}") from None
        import logging

        from segprof.emulator.faults import quiet_dropped_connections

        logging.getLogger("uvicorn.error").addFilter(quiet_dropped_connections)
        console = stderr_console()
        auth = "token required" if token else "any token"
        console.print(f"segprof emulator on http://{host}:{port} (data: {data}; Public API: {auth})")
        uvicorn.run(application, host=host, port=port, log_level="warning", timeout_graceful_shutdown=1)

    app.add_typer(group)
