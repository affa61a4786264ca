"""Warehouse failures turned into user-facing errors.

Owns: `WarehouseError` and the wrapping of driver exceptions into it. Must never include a
password, token or full connection string in a message: callers pass the source address and
non-secret settings (host, database) only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from segprof.errors import SegprofError
from segprof.redaction import redact


class WarehouseError(SegprofError):
    """A connection or query failure inside a warehouse, named by source address."""


def first_line(err: BaseException, limit: int = 400) -> str:
    """The first line of a driver error, scrubbed of known secrets, then trimmed (driver messages can
    be long and multi-line; trimming first could leave part of a secret behind)."""

    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    text = redact(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


STATEMENT_TIMEOUT_VARIABLE = "SEGPROF_WAREHOUSE_STATEMENT_TIMEOUT"


def statement_timeout_ms(environ: Mapping[str, str] | None = None) -> int | None:
    """The per-statement time limit, in milliseconds, for drivers that let the server enforce one
    (PostgreSQL, Redshift, Snowflake, BigQuery, Databricks SQL warehouses):
    SEGPROF_WAREHOUSE_STATEMENT_TIMEOUT in seconds; None for no limit."""
    raw = (os.environ if environ is None else environ).get(STATEMENT_TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        seconds = -1.0
    if not 0 < seconds < 10**7:
        raise SegprofError(f"{STATEMENT_TIMEOUT_VARIABLE} must be a positive number of seconds, not {raw!r}")
    return max(1, int(seconds * 1000))


def statement_timeout_s(environ: Mapping[str, str] | None = None) -> int | None:
    """The same limit in whole seconds (rounded up), for warehouses that count in seconds."""
    ms = statement_timeout_ms(environ)
    return None if ms is None else -(-ms // 1000)
