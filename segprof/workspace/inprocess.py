"""The in-process transport: an ASGI app served through httpx without a socket.

Owns: `InProcessTransport`, httpx's `ASGITransport` made to fail the way a network does. When the
app dies mid-request (the emulator drops connections on purpose to inject faults), a real server
would close the socket and httpx would raise `RemoteProtocolError`; this raises the same, so the
client's retry and reconciliation treat both backends alike. Must never hide a response the app
did complete, nor know anything of the API it carries.
"""

from __future__ import annotations

from typing import Any

import httpx


class InProcessTransport(httpx.ASGITransport):
    """ASGITransport whose app failures look like a dropped connection, not an app exception."""

    def __init__(self, app: Any) -> None:
        super().__init__(app=app, raise_app_exceptions=True)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.HTTPError:
            raise
        except Exception as exc:  # the app crashed or dropped the connection on purpose
            raise httpx.RemoteProtocolError(
                f"server disconnected without a complete response ({type(exc).__name__})", request=request
            ) from None
