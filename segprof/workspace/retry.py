"""When and how long to wait before retrying a workspace call.

Owns: `RetryPolicy` (exponential back-off with full jitter under a total deadline), `Clock`
(time, sleep and randomness, injectable so tests run instantly), and reading the server's own
back-off hints: `data.msBeforeNext` in a 429 body, `Retry-After`, and `X-RateLimit-Reset` (an
RFC 5322 date). Must never perform a request or decide *whether* a request may be re-sent; the
client decides that (a POST that may have been applied is reconciled first).
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime

import anyio
import httpx

from segprof.errors import SegprofError

_ENV_SETTINGS = {
    "SEGPROF_API_REQUEST_TIMEOUT": "request_timeout",
    "SEGPROF_API_CALL_DEADLINE": "deadline",
    "SEGPROF_API_RUN_DEADLINE": "run_deadline",
}

#: HTTP statuses worth another attempt.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass
class Clock:
    """Monotonic time, wall time, sleeping and jitter: one seam for tests to replace."""

    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    random: Callable[[], float] = random.random


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with full jitter, bounded per wait and by a total deadline per call."""

    base_delay: float = 0.5
    max_delay: float = 30.0
    #: Total seconds one call may spend, attempts and waits included.
    deadline: float = 120.0
    max_attempts: int = 10
    #: Seconds one attempt may take, the whole exchange (connect, send, every byte of the answer).
    request_timeout: float = 30.0
    #: Seconds every call of one client together may take (a command's run); None: no bound.
    run_deadline: float | None = 1800.0
    #: A server hint longer than this is not waited for; the call fails with a clear message.
    max_hint: float = 300.0
    extra_statuses: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RetryPolicy:
        """The defaults, with `SEGPROF_API_REQUEST_TIMEOUT`, `SEGPROF_API_CALL_DEADLINE` and
        `SEGPROF_API_RUN_DEADLINE` (seconds) applied: a CI job bounds how long it may wait."""

        changes: dict[str, float] = {}
        for name, attr in _ENV_SETTINGS.items():
            raw = environ.get(name, "").strip()
            if not raw:
                continue
            try:
                value = float(raw)
            except ValueError:
                value = -1.0
            if not value > 0 or value != value or value == float("inf"):
                raise SegprofError(f"{name} must be a positive number of seconds, not {raw!r}")
            changes[attr] = value
        return replace(cls(), **changes) if changes else cls()

    def retryable(self, status: int) -> bool:
        return status in RETRYABLE_STATUSES or status in self.extra_statuses

    def backoff(self, attempt: int, rand: Callable[[], float]) -> float:
        """Full jitter: uniform in [0, min(max_delay, base·2^attempt)] for attempt 0, 1, 2, …"""
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        return rand() * ceiling


def server_hint(response: httpx.Response, body: object, now_wall: float) -> float | None:
    """Seconds the server asks us to wait, from the 429 body or headers; None when it says nothing."""
    hints: list[float] = []
    if isinstance(body, dict):
        for err in body.get("errors") or []:
            data = err.get("data") if isinstance(err, dict) else None
            if isinstance(data, dict) and data.get("msBeforeNext") is not None:
                with contextlib.suppress(TypeError, ValueError):
                    hints.append(max(0.0, float(data["msBeforeNext"]) / 1000.0))
    if hints:
        return max(hints)
    retry_after = response.headers.get("retry-after")
    if retry_after:
        seconds = _seconds_or_date(retry_after, now_wall)
        if seconds is not None:
            return seconds
    if response.status_code == 429:
        reset = response.headers.get("x-ratelimit-reset")
        if reset:
            seconds = _seconds_or_date(reset, now_wall)
            if seconds is not None:
                return seconds
    return None


def _seconds_or_date(value: str, now_wall: float) -> float | None:
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now_wall)
