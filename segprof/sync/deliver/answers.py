"""What the Tracking API's answers say beyond their status: waits, duplicates, reason phrases.

Owns: reading `Retry-After` / `X-RateLimit-Reset` (how long the server asks us to wait), the
emulator's count of messages dropped as duplicates, and the reason phrase of a status.

Must never: send anything, or read the write key or the body of a request.
"""

from __future__ import annotations

import email.utils
import time

import httpx


def parse_wait(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds the server asks us to wait: `Retry-After` (seconds or HTTP date), else `X-RateLimit-Reset`."""
    now = time.time() if now is None else now
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, when.timestamp() - now)
    value = headers.get("x-ratelimit-reset")
    if value:
        try:
            reset = float(value.strip())
        except ValueError:
            return None
        # Segment documents seconds to wait; a value that large can only be an epoch time.
        return max(0.0, reset - now) if reset > 1_000_000_000 else max(0.0, reset)
    return None


# segprof's emulator tells how many messages of a request it dropped as duplicates (Segment does not)
DUPLICATES_HEADER = "X-Segprof-Duplicates"


def duplicates_dropped(headers: httpx.Headers) -> int:
    """How many messages of the request the endpoint said it dropped as duplicates (0 if it did not say)."""
    value = headers.get(DUPLICATES_HEADER, "")
    return int(value) if value.isdigit() else 0


def phrase(response: httpx.Response) -> str:
    """The answer's reason phrase with a leading space, or nothing."""
    return f" {response.reason_phrase}" if response.reason_phrase else ""
