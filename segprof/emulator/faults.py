"""Fault injection: latency, 429s, 5xx, hangs and dropped connections, reproducible with a seed.

Owns: `FaultConfig` (what to inject, where, how often) and `FaultInjector`, an ASGI wrapper that
decides per request, in arrival order, from one seeded random stream. Must never touch the
emulator's own admin paths (`/emulator/...`) and never change stored state: a faulted request is
answered (or dropped) before the app sees it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
from dataclasses import asdict, dataclass, field, fields
from email.utils import formatdate
from time import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

APIS = ("public", "tracking")


class DroppedConnection(Exception):
    """Raised after the response has started so the server closes the connection mid-response."""


def quiet_dropped_connections(record: logging.LogRecord) -> bool:
    """Logging filter for the server: an injected drop is expected, not worth a traceback."""
    exc = record.exc_info[1] if record.exc_info else None
    return not isinstance(exc, DroppedConnection)


@dataclass(frozen=True)
class FaultConfig:
    """What to inject. Rates are probabilities per request in [0, 1]; they are tried in the order
    drop, timeout, 5xx, 429 against one draw, so their sum must not exceed 1."""

    latency_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 503
    rate_429: float = 0.0
    timeout_rate: float = 0.0
    hang_seconds: float = 60.0
    drop_rate: float = 0.0
    seed: int | None = None
    apis: tuple[str, ...] = APIS
    path_prefixes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name in ("error_rate", "rate_429", "timeout_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.error_rate + self.rate_429 + self.timeout_rate + self.drop_rate > 1.0 + 1e-9:
            raise ValueError("the fault rates together must not exceed 1")
        if self.latency_ms < 0 or self.hang_seconds < 0:
            raise ValueError("latency_ms and hang_seconds must not be negative")
        if not 500 <= self.error_status <= 599:
            raise ValueError("error_status must be a 5xx status")
        for api in self.apis:
            if api not in APIS:
                raise ValueError(f"unknown api {api!r} (expected one of {', '.join(APIS)})")

    @property
    def active(self) -> bool:
        return bool(
            self.latency_ms or self.error_rate or self.rate_429 or self.timeout_rate or self.drop_rate
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["apis"] = list(self.apis)
        data["path_prefixes"] = list(self.path_prefixes)
        return data

    @classmethod
    def from_json(cls, data: Any) -> FaultConfig:
        if not isinstance(data, dict):
            raise ValueError("the fault configuration must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault setting {unknown[0]!r}")
        values = dict(data)
        for key in ("apis", "path_prefixes"):
            if key in values:
                if isinstance(values[key], str):
                    values[key] = [values[key]]
                if not isinstance(values[key], list) or not all(isinstance(v, str) for v in values[key]):
                    raise ValueError(f"{key} must be a list of strings")
                values[key] = tuple(values[key])
        for key in ("latency_ms", "error_status"):
            if key in values and (isinstance(values[key], bool) or not isinstance(values[key], int)):
                raise ValueError(f"{key} must be an integer")
        for key in ("error_rate", "rate_429", "timeout_rate", "drop_rate", "hang_seconds"):
            if key in values and (isinstance(values[key], bool) or not isinstance(values[key], int | float)):
                raise ValueError(f"{key} must be a number")
        if "seed" in values and values["seed"] is not None and not isinstance(values["seed"], int):
            raise ValueError("seed must be an integer")
        return cls(**values)


def api_of(path: str) -> str | None:
    """Which API a path belongs to; None for the emulator's own endpoints."""
    if path.startswith("/emulator/"):
        return None
    if path.startswith("/v1/"):
        return "tracking"
    return "public"


class FaultInjector:
    """ASGI middleware applying the current FaultConfig; reconfigurable at run time."""

    def __init__(self, app: ASGIApp, config: FaultConfig | None = None) -> None:
        self.app = app
        self._lock = threading.Lock()
        self.configure(config)

    def configure(self, config: FaultConfig | None) -> None:
        with self._lock:
            self.config = config or FaultConfig()
            self._rng = random.Random(self.config.seed)

    def _applies(self, path: str) -> bool:
        api = api_of(path)
        if api is None or api not in self.config.apis:
            return False
        return not self.config.path_prefixes or any(path.startswith(p) for p in self.config.path_prefixes)

    def decide(self, path: str) -> str | None:
        """The fault for this request: drop, timeout, error, 429 or None; one draw per request."""
        with self._lock:
            cfg = self.config
            if not cfg.active or not self._applies(path):
                return None
            draw = self._rng.random()
        threshold = 0.0
        for name, rate in (
            ("drop", cfg.drop_rate),
            ("timeout", cfg.timeout_rate),
            ("error", cfg.error_rate),
            ("429", cfg.rate_429),
        ):
            threshold += rate
            if draw < threshold:
                return name
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if not self._applies(path):
            await self.app(scope, receive, send)
            return
        cfg = self.config
        fault = self.decide(path)
        if cfg.latency_ms:
            await asyncio.sleep(cfg.latency_ms / 1000)
        if fault is None:
            await self.app(scope, receive, send)
            return
        tracking = api_of(path) == "tracking"
        if fault == "drop":
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]}
            )
            raise DroppedConnection("connection dropped by fault injection")
        if fault == "timeout":
            await asyncio.sleep(cfg.hang_seconds)
            await _json(send, 504, _error_body(tracking, "timeout", "Gateway timeout"), {})
            return
        if fault == "error":
            await _json(send, cfg.error_status, _error_body(tracking, "unknown", "Injected server error"), {})
            return
        headers = {"X-RateLimit-Reset": formatdate(time() + 1, usegmt=True)}
        if tracking:
            headers = {"Retry-After": "1", "X-RateLimit-Reset": "1"}
            body: dict[str, Any] = {"success": False, "code": "rate_limited", "message": "Too many requests"}
        else:
            body = {
                "errors": [
                    {
                        "type": "RequestError",
                        "message": "Too many requests",
                        "data": {"remainingPoints": 0, "msBeforeNext": 1000, "consumedPoints": 1},
                    }
                ]
            }
        await _json(send, 429, body, headers)


def _error_body(tracking: bool, code: str, message: str) -> dict[str, Any]:
    if tracking:
        return {"success": False, "code": code, "message": message}
    return {"errors": [{"type": code, "message": message}]}


async def _json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
