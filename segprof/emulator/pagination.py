"""Pagination of list endpoints, in both notations Segment accepts.

Owns: reading `pagination.count` / `pagination[count]` (and `cursor`) from a query string that may be
percent-encoded, opaque base64 offset cursors, and the `pagination` output object. Must never
trust a cursor: a malformed one is a 422, not a crash.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from segprof.emulator.problem import invalid

DEFAULT_COUNT = 200
MAX_COUNT = 1000


@dataclass(frozen=True)
class Page:
    """A requested window: `offset` rows skipped, at most `count` returned."""

    offset: int
    count: int


def encode_cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def decode_cursor(cursor: str, field: str) -> int:
    try:
        offset = int(base64.b64decode(cursor.encode(), validate=True).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid(field, f'"{field}" is not a valid cursor') from None
    if offset < 0:
        raise invalid(field, f'"{field}" is not a valid cursor')
    return offset


def query_params(raw_query: bytes | str) -> dict[str, str]:
    """Decode a query string; `pagination%5Bcount%5D` and `pagination[count]` become the same key."""
    text = raw_query.decode("latin-1") if isinstance(raw_query, bytes) else raw_query
    params: dict[str, str] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        params[key] = value
    return params


def _lookup(params: dict[str, str], body: dict[str, Any] | None, name: str) -> str | None:
    for key in (f"pagination.{name}", f"pagination[{name}]"):
        if key in params:
            return params[key]
    if body and isinstance(body.get("pagination"), dict):
        value = body["pagination"].get(name)
        return None if value is None else str(value)
    return None


def parse_page(
    params: dict[str, str],
    body: dict[str, Any] | None = None,
    *,
    default: int = DEFAULT_COUNT,
    maximum: int = MAX_COUNT,
) -> Page:
    """The `pagination` object of a list request (query string or body)."""
    count_text = _lookup(params, body, "count")
    cursor = _lookup(params, body, "cursor")
    return _page(count_text, cursor, "pagination.count", "pagination.cursor", default, maximum)


def parse_plain_page(params: dict[str, str], *, default: int = 10, maximum: int = 100) -> Page:
    """The plain `count` / `cursor` form used by the sync-history listing."""
    return _page(params.get("count"), params.get("cursor"), "count", "cursor", default, maximum)


def _page(
    count_text: str | None,
    cursor: str | None,
    count_field: str,
    cursor_field: str,
    default: int,
    maximum: int,
) -> Page:
    if count_text is None or count_text == "":
        count = default
    else:
        try:
            count = int(count_text)
        except ValueError:
            raise invalid(count_field, f'"{count_field}" must be a number') from None
        if count < 1 or count > maximum:
            raise invalid(count_field, f'"{count_field}" must be between 1 and {maximum}')
    offset = decode_cursor(cursor, cursor_field) if cursor else 0
    return Page(offset=offset, count=count)


def page_output(page: Page, total: int) -> dict[str, Any]:
    """Segment's `pagination` output: current, next (null on the last page), previous, totalEntries."""
    nxt = page.offset + page.count
    previous = max(page.offset - page.count, 0) if page.offset > 0 else None
    return {
        "current": encode_cursor(page.offset),
        "next": encode_cursor(nxt) if nxt < total else None,
        "previous": encode_cursor(previous) if previous is not None else None,
        "totalEntries": total,
    }
