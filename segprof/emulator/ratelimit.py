"""Per-endpoint rate limits of the emulated Public API.

Owns: the documented per-endpoint budgets (5/min subscription writes, 20/min manual syncs, 250/min
sync status reads, 10/min dbt triggers), a fixed one-minute window per (token, endpoint class),
the `X-RateLimit-*` headers and Segment's 429 body. Must never sleep: it only answers "allowed or
not, and when the window resets". State is per process (documented limitation).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate

from segprof.emulator.problem import ApiError

WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class Rule:
    name: str
    method: str
    pattern: re.Pattern[str]
    per_minute: int


RULES: tuple[Rule, ...] = (
    Rule("subscription-create", "POST", re.compile(r"^/destinations/[^/]+/subscriptions/?$"), 5),
    Rule("subscription-update", "PATCH", re.compile(r"^/destinations/[^/]+/subscriptions/[^/]+/?$"), 5),
    Rule("subscription-delete", "DELETE", re.compile(r"^/destinations/[^/]+/subscriptions/[^/]+/?$"), 5),
    Rule("manual-sync", "POST", re.compile(r"^/reverse-etl-syncs/?$"), 20),
    Rule("sync-status", "GET", re.compile(r"^/reverse-etl-models/[^/]+/syncs/[^/]+/?$"), 250),
    Rule("dbt-trigger", "POST", re.compile(r"^/dbt-model-syncs/trigger/?$"), 10),
)


@dataclass
class _Window:
    started: float
    consumed: int


class RateLimiter:
    """Fixed windows per (token fingerprint, rule); `clock` is injectable for tests."""

    def __init__(self, *, enabled: bool = True, clock: Callable[[], float] = time.time) -> None:
        self.enabled = enabled
        self.clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}
        self._lock = threading.Lock()

    @staticmethod
    def rule_for(method: str, path: str) -> Rule | None:
        for rule in RULES:
            if rule.method == method and rule.pattern.match(path):
                return rule
        return None

    def check(self, method: str, path: str, token: str | None) -> dict[str, str]:
        """Consume one point; returns the headers for the response, or raises the 429 ApiError."""
        rule = self.rule_for(method, path)
        if rule is None or not self.enabled:
            return {}
        # Only a fingerprint of the token is kept, never the token itself.
        who = hashlib.sha256((token or "").encode()).hexdigest()[:16]
        now = self.clock()
        with self._lock:
            window = self._windows.get((who, rule.name))
            if window is None or now - window.started >= WINDOW_SECONDS:
                window = _Window(started=now, consumed=0)
                self._windows[(who, rule.name)] = window
            window.consumed += 1
            consumed = window.consumed
            reset_at = window.started + WINDOW_SECONDS
        remaining = max(rule.per_minute - consumed, 0)
        headers = {
            "X-RateLimit-Consumed": str(consumed),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": formatdate(reset_at, usegmt=True),
        }
        if consumed > rule.per_minute:
            ms_before_next = max(int((reset_at - now) * 1000), 0)
            raise ApiError(
                429,
                "RequestError",
                "Too many requests",
                data={"remainingPoints": 0, "msBeforeNext": ms_before_next, "consumedPoints": consumed},
                headers=headers,
            )
        return headers
