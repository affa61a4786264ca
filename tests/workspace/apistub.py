"""Helpers for the workspace client tests: a scripted Segment API over httpx.MockTransport and
a fake clock, so retries and throttling take no real time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from segprof.workspace import Clock

TOKEN = "sgp_TEST-token-Zq81xWv0-secret"


@dataclass
class FakeClock:
    """Time that moves only when the client sleeps."""

    now: float = 1000.0
    wall_offset: float = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    sleeps: list[float] = field(default_factory=list)
    rand: float = 0.5

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.sleep(0)

    def clock(self) -> Clock:
        return Clock(
            monotonic=lambda: self.now,
            wall=lambda: self.now + self.wall_offset,
            sleep=self.sleep,
            random=lambda: self.rand,
        )


@dataclass
class Api:
    """A scripted server: `handler(request) -> httpx.Response`; records every request it sees."""

    handler: Callable[[httpx.Request], Any]
    requests: list[httpx.Request] = field(default_factory=list)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        result = self.handler(request)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.requests]


def body(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"data": data}, headers=headers)


def fail(status: int, *errors: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"errors": list(errors)}, headers=headers)


def run(coro_fn: Callable[[], Any]) -> Any:
    return anyio.run(coro_fn)
