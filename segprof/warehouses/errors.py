"""Warehouse failures turned into user-facing errors.

Owns: `WarehouseError` and the wrapping of driver exceptions into it. Must never include a
password, token or full connection string in a message: callers pass the source address and
non-secret settings (host, database) only.
"""

from __future__ import annotations

from segprof.errors import SegprofError


class WarehouseError(SegprofError):
    """A connection or query failure inside a warehouse, named by source address."""


def first_line(err: BaseException, limit: int = 400) -> str:
    """The first line of a driver error, trimmed (driver messages can be long and multi-line)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
