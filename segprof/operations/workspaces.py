"""Choosing the backend: the one place that knows which transport a workspace client uses.

Owns: `ClientOptions`, `open_async_workspace` and `open_workspace`, which build the client for
`backend="segment"` (the real Public API by region or `api_url`, over the network) or
`backend="local"` (the embedded emulator over `<project>/.segprof/workspace/`, in-process through
`InProcessTransport`; or any emulator on a loopback port via `api_url`). Must never put the
token in a message, and never send a token over plain HTTP to anything but loopback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from segprof.emulator import project_data_dir
from segprof.errors import SegprofError
from segprof.redaction import remember
from segprof.workspace.client import DEFAULT_PAGE_SIZE, AsyncWorkspaceClient
from segprof.workspace.facade import WorkspaceClient
from segprof.workspace.inprocess import InProcessTransport
from segprof.workspace.retry import Clock, RetryPolicy
from segprof.workspace.throttle import RateLimits, WaitCallback

REGION_URLS = {
    "north_america": "https://api.segmentapis.com",
    "europe": "https://eu1.api.segmentapis.com",
}
TOKEN_ENV_VARS = ("SEGMENT_API_TOKEN", "PUBLIC_API_TOKEN")
LOCAL_BASE_URL = "http://workspace.segprof.local"
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}

Backend = Literal["local", "segment"]


@dataclass
class ClientOptions:
    """Tuning shared by every backend; the defaults suit the real API."""

    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy.from_env(os.environ))
    #: None: Segment's documented limits, except for the in-process emulator (built without limits).
    limits: RateLimits | None = None
    on_wait: WaitCallback | None = None
    clock: Clock | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    max_concurrency: int = 16
    #: Replace the transport entirely (tests: `httpx.MockTransport`, an ASGI app's transport).
    transport: httpx.AsyncBaseTransport | None = None
    #: Extra keyword arguments for the embedded emulator's `create_app` (backend local only),
    #: e.g. `sync_runner` (the engine that runs manual syncs) or `write_key`.
    local_app_options: dict[str, Any] = field(default_factory=dict)


def base_url_for(region: str | None, api_url: str | None) -> str:
    """The Public API base URL: `api_url` if given, else the region's (north_america by default)."""
    if api_url:
        url = api_url.rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SegprofError(
                f"workspace.api_url is not an http(s) URL: {url!r}", address="workspace.api_url"
            )
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
            raise SegprofError(
                "workspace.api_url must use https (plain http is allowed only on 127.0.0.1/localhost)",
                address="workspace.api_url",
            )
        return url
    key = region or "north_america"
    if key not in REGION_URLS:
        raise SegprofError(
            f"unknown workspace region {key!r}; expected one of: {', '.join(REGION_URLS)}",
            address="workspace.region",
        )
    return REGION_URLS[key]


def resolve_token(token: str | None) -> str | None:

    if token:
        remember(token)
        return token
    for name in TOKEN_ENV_VARS:
        value = os.environ.get(name)
        if value:
            remember(value)
            return value
    return None


def open_async_workspace(
    backend: Backend = "local",
    *,
    project_dir: Path | None = None,
    token: str | None = None,
    region: str | None = None,
    api_url: str | None = None,
    options: ClientOptions | None = None,
) -> AsyncWorkspaceClient:
    """Build the async client for a backend; nothing above it needs to know which one."""
    options = options or ClientOptions()
    transport = options.transport
    limits = options.limits if options.limits is not None else RateLimits()
    if backend == "segment":
        base_url = base_url_for(region, api_url)
        token = resolve_token(token)
        if not token and transport is None:
            raise SegprofError(
                "no Segment Public API token",
                address="workspace.token",
                hint="set workspace.token in segprof.yaml (e.g. ${SEGMENT_API_TOKEN}) "
                "or the SEGMENT_API_TOKEN variable",
            )
    elif backend == "local":
        # The emulator enforces its own limits (429 with msBeforeNext, which the client honours):
        # throttling here too would only slow local runs and tests down.
        if options.limits is None:
            limits = RateLimits.off()
        if api_url:
            # An emulator already serving on a loopback port.
            base_url = base_url_for(None, api_url)
        else:
            base_url = LOCAL_BASE_URL
            if transport is None:
                transport = InProcessTransport(_local_app(project_dir, token, options.local_app_options))
    else:
        raise SegprofError(
            f"unknown workspace backend {backend!r}; expected local or segment", address="workspace.backend"
        )
    return AsyncWorkspaceClient(
        base_url=base_url,
        token=token,
        transport=transport,
        retry=options.retry,
        limits=limits,
        clock=options.clock,
        on_wait=options.on_wait,
        page_size=options.page_size,
        max_concurrency=options.max_concurrency,
    )


def open_workspace(
    backend: Backend = "local",
    *,
    project_dir: Path | None = None,
    token: str | None = None,
    region: str | None = None,
    api_url: str | None = None,
    options: ClientOptions | None = None,
) -> WorkspaceClient:
    """Build the blocking client (what the CLI uses); close it, or use it as a context manager."""
    return WorkspaceClient(
        open_async_workspace(
            backend, project_dir=project_dir, token=token, region=region, api_url=api_url, options=options
        )
    )


def _local_app(project_dir: Path | None, token: str | None, extra: dict[str, Any]) -> Any:
    if project_dir is None:
        raise SegprofError("the local workspace needs a project folder", address="workspace.backend")
    # The embedded workspace answers one local user: Segment's per-minute write limits would only
    # slow `apply` down, so both the app and the client leave them off.
    return _emulator_app(project_dir, **{"token": token, "rate_limits": False, **extra})


def _emulator_app(project_dir: Path, **app_options: Any) -> Any:
    """The emulator app over a project's embedded workspace folder (created when missing)."""
    # Loaded only for the embedded workspace: a run against Segment never pays for the emulator.
    from segprof.emulator.app import create_app

    data_dir = project_data_dir(project_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    return create_app(data_dir, **app_options)


def embedded_transport(project_dir: Path, **app_options: Any) -> InProcessTransport:
    """The transport to a project's embedded workspace (data under `<project>/.segprof/emulator`).

    `app_options` go to the emulator's `create_app` (token, write_key, rate_limits, faults,
    sync_runner).
    """
    return InProcessTransport(_emulator_app(project_dir, **app_options))
