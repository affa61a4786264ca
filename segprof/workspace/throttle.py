"""Client-side throttling to Segment's documented per-endpoint limits.

Owns: `RateLimits` (which endpoint classes are limited, and how much; switchable off), the
mapping from a request to its endpoint class, and `Throttle`, a sliding window per class that
makes callers wait and reports each wait through a `WaitEvent` callback (for progress bars and
ETA). Must never send requests or swallow a wait silently.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from segprof.workspace.retry import Clock


@dataclass(frozen=True)
class RateLimit:
    requests: int
    per_seconds: float = 60.0


@dataclass(frozen=True)
class RateLimits:
    """Per-endpoint budgets; None switches a class off. Defaults are Segment's documented limits."""

    subscription_writes: RateLimit | None = RateLimit(5)
    manual_syncs: RateLimit | None = RateLimit(20)
    sync_status: RateLimit | None = RateLimit(250)

    @classmethod
    def off(cls) -> RateLimits:
        return cls(subscription_writes=None, manual_syncs=None, sync_status=None)

    def for_class(self, name: str) -> RateLimit | None:
        return getattr(self, name, None)


@dataclass(frozen=True)
class WaitEvent:
    """A wait the client is about to make: `kind` is "throttle" or "retry"."""

    kind: str
    seconds: float
    method: str
    path: str
    address: str | None = None
    attempt: int = 0
    reason: str = ""


WaitCallback = Callable[[WaitEvent], None]

_SUBSCRIPTION = re.compile(r"^/destinations/[^/]+/subscriptions(/[^/]+)?$")
_SYNC_STATUS = re.compile(r"^/reverse-etl-models/[^/]+/syncs/[^/]+$")


def endpoint_class(method: str, path: str) -> str | None:
    """The rate-limit class of a request, or None when no per-endpoint limit is documented."""
    method = method.upper()
    if method in ("POST", "PATCH", "DELETE") and _SUBSCRIPTION.match(path):
        return "subscription_writes"
    if method == "POST" and path == "/reverse-etl-syncs":
        return "manual_syncs"
    if method == "GET" and _SYNC_STATUS.match(path):
        return "sync_status"
    return None


class Throttle:
    """Sliding-window limiter: at most `requests` sends in any `per_seconds` window, per class."""

    def __init__(self, limits: RateLimits, clock: Clock) -> None:
        self.limits = limits
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self._held_until: dict[str, float] = {}

    def hold(self, name: str | None, seconds: float) -> None:
        """The server said to wait (a 429): keep every request of this class back that long."""
        if name is None or seconds <= 0:
            return
        until = self._clock.monotonic() + seconds
        self._held_until[name] = max(self._held_until.get(name, 0.0), until)

    def expected_wait(self, name: str) -> float:
        """Seconds a request of this class would wait if sent now (0 when free)."""
        held = max(0.0, self._held_until.get(name, 0.0) - self._clock.monotonic())
        limit = self.limits.for_class(name)
        if limit is None:
            return held
        sent = self._window(name, limit)
        if len(sent) < limit.requests:
            return held
        return max(held, sent[0] + limit.per_seconds - self._clock.monotonic())

    def eta(self, name: str, count: int) -> float:
        """Seconds from now until the last of `count` more requests of this class may be sent.

        For progress and plan output ("12 mapping writes: about 2 minutes"); 0 when unlimited.
        """
        limit = self.limits.for_class(name)
        now = self._clock.monotonic()
        start = max(now, self._held_until.get(name, 0.0))
        if limit is None or count <= 0:
            return start - now if count > 0 else 0.0
        times = list(self._window(name, limit))
        at = start
        for _ in range(count):
            while True:
                recent = [t for t in times if t > at - limit.per_seconds]
                if len(recent) < limit.requests:
                    break
                at = recent[-limit.requests] + limit.per_seconds
            times.append(at)
        return at - now

    async def acquire(
        self, name: str | None, *, method: str, path: str, address: str | None, on_wait: WaitCallback | None
    ) -> None:
        if name is None:
            return
        limit = self.limits.for_class(name)
        if limit is None and name not in self._held_until:
            return
        lock = self._locks.setdefault(name, anyio.Lock())
        async with lock:
            while True:
                wait = self.expected_wait(name)
                if wait <= 0:
                    if limit is not None:
                        self._sent[name].append(self._clock.monotonic())
                    return
                if on_wait is not None:
                    on_wait(
                        WaitEvent(
                            kind="throttle",
                            seconds=wait,
                            method=method,
                            path=path,
                            address=address,
                            reason=_reason(name, limit),
                        )
                    )
                await self._clock.sleep(wait)

    def _window(self, name: str, limit: RateLimit) -> deque[float]:
        sent = self._sent.setdefault(name, deque())
        horizon = self._clock.monotonic() - limit.per_seconds
        while sent and sent[0] <= horizon:
            sent.popleft()
        return sent


def _reason(name: str, limit: RateLimit | None) -> str:
    label = name.replace("_", " ")
    if limit is None:
        return f"{label}: the API asked to wait"
    return f"{label}: {limit.requests} per {limit.per_seconds:g}s"
