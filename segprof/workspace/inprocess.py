"""The in-process transport: an ASGI app served through httpx without a socket, to sync and async clients.

Owns `InProcessTransport`, the one way segprof reaches an app in its own process (the embedded
workspace's Public API and Tracking API). It makes the app fail the way a network does: when the
app dies mid-request (the emulator drops connections on purpose to inject faults), a real server
would close the socket and httpx would raise `RemoteProtocolError`; this raises the same, and a
blocking caller's read timeout becomes `httpx.ReadTimeout`, so retries and reconciliation treat
both backends alike. Must never hide a response the app did complete, open a socket, nor know
anything of the API it carries.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx


class InProcessTransport(httpx.AsyncBaseTransport, httpx.BaseTransport):
    """Serve httpx requests with an ASGI app in this process, to async and blocking clients alike.

    Async clients are served on their own event loop. Blocking clients (any thread) share one
    private event-loop thread, started on first use: httpx's own `ASGITransport` is async-only.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self._asgi = httpx.ASGITransport(app=app, raise_app_exceptions=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._asgi.handle_async_request(request)
        except httpx.HTTPError:
            raise
        except Exception as exc:  # the app crashed or dropped the connection on purpose
            raise _dropped(request, exc) from None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        inner = httpx.Request(request.method, request.url, headers=request.headers, content=body)

        async def run() -> tuple[int, httpx.Headers, bytes]:
            response = await self.handle_async_request(inner)
            content = b"".join([chunk async for chunk in response.aiter_raw()])
            return response.status_code, response.headers, content

        timeout = (request.extensions.get("timeout") or {}).get("read")
        future = asyncio.run_coroutine_threadsafe(run(), self._ensure_loop())
        try:
            status, headers, content = future.result(timeout=timeout)
        except TimeoutError:
            future.cancel()
            raise httpx.ReadTimeout("timed out waiting for the in-process app", request=request) from None
        except httpx.RemoteProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from None
        return httpx.Response(status, headers=headers, content=content, request=request)

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="segprof-inprocess", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            loop.close()

    async def aclose(self) -> None:
        self.close()


def _dropped(request: httpx.Request, exc: Exception) -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError(
        f"server disconnected without a complete response ({type(exc).__name__})", request=request
    )
