"""A Tracking API sink for the delivery tests: a Starlette app served by uvicorn on 127.0.0.1.

It records every request (path, headers, raw and decoded body) and answers from a script of
faults (status codes with headers, slow answers, connections dropped mid-answer), then 200.
A `reject` rule answers 400 to any batch holding a message it blames, like Segment does for a
bad payload. Only requests answered 200 count as accepted.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Fault:
    """One scripted answer: a status (with headers/body), a delay before it, or a dropped connection."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    drop: bool = False


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    body: dict[str, Any]
    at: float
    outcome: str = ""  # "accepted", "rejected", "fault <status>", "dropped", "slow"

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body["batch"]

    @property
    def message_ids(self) -> list[str]:
        return [m["messageId"] for m in self.messages]


class Sink:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: deque[Fault] = deque()
        self.reject: Callable[[dict[str, Any]], str | None] | None = None
        self.lock = threading.Lock()
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # ---- inspection -------------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def accepted(self) -> list[Received]:
        return [r for r in self.requests if r.outcome == "accepted"]

    def accepted_ids(self) -> Counter[str]:
        return Counter(mid for r in self.accepted() for mid in r.message_ids)

    # ---- the app ----------------------------------------------------------------------------

    async def batch(self, request: Request) -> Response:
        raw = await request.body()
        data = gzip.decompress(raw) if request.headers.get("content-encoding") == "gzip" else raw
        received = Received(
            path=request.url.path,
            headers=dict(request.headers),
            raw=raw,
            body=json.loads(data),
            at=time.monotonic(),
        )
        with self.lock:
            self.requests.append(received)
            fault = self.script.popleft() if self.script else None
        if fault is None and self.reject is not None:
            reasons = [r for m in received.messages if (r := self.reject(m))]
            if reasons:
                received.outcome = "rejected"
                return JSONResponse({"code": "invalid_request", "message": reasons[0]}, status_code=400)
        if fault is None or (fault.status == 200 and not fault.delay and not fault.drop):
            received.outcome = "accepted"
            return JSONResponse({"success": True})
        if fault.delay:
            received.outcome = "slow"
            await asyncio.sleep(fault.delay)
            return JSONResponse({"success": True})
        if fault.drop:
            received.outcome = "dropped"
            return _Dropped()
        received.outcome = f"fault {fault.status}"
        body = fault.body if fault.body is not None else {"code": "fault"}
        return JSONResponse(body, status_code=fault.status, headers=fault.headers)

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        app = Starlette(routes=[Route("/{path:path}", self.batch, methods=["POST"])])
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="critical",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("sink did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True  # do not wait for answers the tests left hanging
        if self._thread is not None:
            self._thread.join(timeout=5)


class _Dropped(Response):
    """Starts an answer, then fails: uvicorn closes the connection mid-response."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
        raise ConnectionAbortedError("sink drops this connection")
