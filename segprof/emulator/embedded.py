"""In-process transports to the emulator, for the embedded workspace (`backend: local`).

Owns: `EmbeddedTransport`, a synchronous `httpx.BaseTransport` that serves requests with the
emulator app on a private event-loop thread (httpx's own `ASGITransport` is async-only), and
`embedded_transport(project_dir)`, the project's default workspace. It makes the in-process
emulator look like the served one to a client: injected drops become `httpx.RemoteProtocolError`,
hangs honour the request's read timeout as `httpx.ReadTimeout`. Must never open a socket.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import httpx

from segprof.emulator.faults import DroppedConnection


class EmbeddedTransport(httpx.BaseTransport):
    """Serve httpx requests with an ASGI app in this process (thread-safe, one loop thread)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._asgi = httpx.ASGITransport(app=app)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="segprof-emulator", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        inner = httpx.Request(request.method, request.url, headers=request.headers, content=body)

        async def run() -> tuple[int, httpx.Headers, bytes]:
            response = await self._asgi.handle_async_request(inner)
            content = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
            return response.status_code, response.headers, content

        timeout = (request.extensions.get("timeout") or {}).get("read")
        future = asyncio.run_coroutine_threadsafe(run(), self._ensure_loop())
        try:
            status, headers, content = future.result(timeout=timeout)
        except TimeoutError:
            future.cancel()
            raise httpx.ReadTimeout("timed out waiting for the embedded emulator", request=request) from None
        except DroppedConnection:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a complete response.", request=request
            ) from None
        headers = httpx.Headers([(k, v) for k, v in headers.multi_items() if k.lower() != "content-encoding"])
        return httpx.Response(status, headers=headers, content=content, request=request)

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            loop.close()


def embedded_transport(project_dir: Path, **app_options: Any) -> EmbeddedTransport:
    """The transport to a project's embedded workspace (data under `<project>/.segprof/emulator`).

    `app_options` go to `create_app` (token, write_key, rate_limits, faults, sync_runner).
    """
    from segprof.emulator.app import create_app, project_data_dir

    return EmbeddedTransport(create_app(project_data_dir(project_dir), **app_options))
