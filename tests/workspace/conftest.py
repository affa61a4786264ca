"""Fixtures for the workspace client tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from segprof.workspace import AsyncWorkspaceClient, RateLimits, RetryPolicy, WaitEvent

from .apistub import TOKEN, Api, FakeClock


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def waits() -> list[WaitEvent]:
    return []


@pytest.fixture
def make_client(fake_clock: FakeClock, waits: list[WaitEvent]) -> Callable[..., AsyncWorkspaceClient]:
    def make(handler: Callable[[httpx.Request], Any], **kwargs: Any) -> tuple[AsyncWorkspaceClient, Api]:
        api = Api(handler)
        kwargs.setdefault("limits", RateLimits.off())
        kwargs.setdefault("retry", RetryPolicy(deadline=120.0))
        client = AsyncWorkspaceClient(
            base_url="https://api.segmentapis.com",
            token=TOKEN,
            transport=httpx.MockTransport(api),
            clock=fake_clock.clock(),
            on_wait=waits.append,
            **kwargs,
        )
        return client, api

    return make
