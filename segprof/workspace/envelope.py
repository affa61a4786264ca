"""Reading the Segment Public API's response envelope (`{"data": …}`), shape by shape.

Owns the parsing helpers every endpoint shares: a typed list under `data.<key>`, a required
object, the next page's cursor, a response body as JSON (or None), a brief of an error answer,
and describing what was wrong with a response. Must never echo a response's values in a
message (they may hold secrets), nor send a request.
"""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from segprof.workspace.api_error import WorkspaceError, parse_error_details

M = TypeVar("M", bound=BaseModel)


def parse_items(data: dict[str, Any], keys: tuple[str, ...], model: type[M]) -> list[M]:
    for key in keys:
        if key in data:
            raw = data[key] or []
            if not isinstance(raw, list):
                raise WorkspaceError(f"`data.{key}` is not a list")
            items = []
            for index, item in enumerate(raw):
                try:
                    items.append(model.model_validate(item))
                except ValidationError as exc:
                    raise WorkspaceError(f"data.{key}[{index}].{shape_problem(exc)}") from None
            return items
    raise WorkspaceError(f"the response has no `data.{keys[0]}` list")


def shape_problem(exc: Exception) -> str:
    """What was wrong with a response, without echoing its values (they may hold secrets)."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"{where}: {first.get('msg', 'invalid')}{more}"
    return getattr(exc, "message", None) or str(exc)


def require_object(data: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    return require_any_object(data, (key,), what)


def require_any_object(data: dict[str, Any], keys: tuple[str, ...], what: str) -> dict[str, Any]:
    for key in keys:
        value = data.get(key)
        if isinstance(value, dict):
            return value
    raise WorkspaceError(f"{what}: the response has no `data.{keys[0]}` object")


def next_cursor(data: dict[str, Any]) -> str | None:
    page = data.get("pagination")
    if not isinstance(page, dict):
        return None
    nxt = page.get("next")
    return str(nxt) if nxt not in (None, "") else None


def json_or_none(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to read
        return None


def brief(payload: object, response: httpx.Response) -> str:
    details = parse_error_details(payload)
    if details:
        return "; ".join(d.describe() for d in details)
    return response.reason_phrase or "no error details"
