"""The emulator as one ASGI app: Public API + Tracking API + inspection, over a SQLite data folder.

Owns: `create_app`, the stable entry point that the client, the CLI and tests build on. Must never
serve anything but the emulated APIs, and never let an error escape as a non-Segment body.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from segprof.emulator.faults import FaultConfig, FaultInjector
from segprof.emulator.inspection import Inspection
from segprof.emulator.public_api import PublicApi
from segprof.emulator.ratelimit import RateLimiter
from segprof.emulator.store import Store
from segprof.emulator.syncs import InstantRunner, SyncRunner
from segprof.emulator.tracking import TrackingApi


def _error_body(path: str, status: int, type_: str, message: str) -> dict[str, Any]:
    if path.startswith("/v1/"):
        return {"success": False, "code": type_, "message": message}
    return {"errors": [{"type": type_, "message": message}]}


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    type_ = {404: "not-found", 405: "method-not-allowed"}.get(status, "bad-request")
    message = "Not found" if status == 404 else str(getattr(exc, "detail", "Bad request"))
    return JSONResponse(_error_body(request.url.path, status, type_, message), status_code=status)


async def _server_error(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        _error_body(request.url.path, 500, "unknown", "Internal server error"), status_code=500
    )


def create_app(
    data_dir: Path,
    *,
    token: str | None = None,
    write_key: str | None = None,
    rate_limits: bool = True,
    faults: FaultConfig | None = None,
    sync_runner: SyncRunner | None = None,
) -> Starlette:
    """Build the emulator app over `data_dir` (created if missing).

    `token` None accepts any bearer token; otherwise a mismatch is a 401. `write_key` None accepts
    any Tracking API key. `faults` sets the initial fault injection (changeable at
    `/emulator/v1/faults`). `sync_runner` executes manual syncs (default: instant SUCCESS, zero
    counts). The app's `state` exposes `store`, `limiter`, `faults` (the injector) and `tracking`.
    """
    store = Store(Path(data_dir))
    limiter = RateLimiter(enabled=rate_limits)
    holder: dict[str, FaultInjector] = {}
    public = PublicApi(store, token=token, limiter=limiter, runner=sync_runner or InstantRunner())
    tracking = TrackingApi(store, write_key=write_key)
    inspection = Inspection(store, token=token, injector=lambda: holder.get("injector"))
    app = Starlette(
        routes=[*tracking.routes(), *inspection.routes(), *public.routes()],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    injector = FaultInjector(app.build_middleware_stack(), faults)
    holder["injector"] = injector
    app.state.store = store
    app.state.limiter = limiter
    app.state.faults = injector
    app.state.tracking = tracking
    app.state.public = public
    # Faults sit outside Starlette's error handling so a dropped connection really drops.
    app.middleware_stack = injector
    return app
