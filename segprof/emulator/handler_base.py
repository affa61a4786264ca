"""The shared ground of the emulated Public API's handlers: one store, one envelope.

Owns the resource kinds, the `{"data": …}` answer (`ok`), reading a JSON request body, and
`StoreHandlers`: the store, token, limiter and runner a handler works with, plus the lookups
every family of handlers shares (a required resource, a page of a listing, a resource as
presented with its catalog metadata). Must never return a secret in clear, nor raise anything
but an `ApiError` for a bad request.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from segprof.emulator import catalog
from segprof.emulator.jsonbody import decode as decode_json
from segprof.emulator.jsonbody import json_response
from segprof.emulator.pagination import Page, page_output, parse_page, query_params
from segprof.emulator.problem import bad_request, not_found
from segprof.emulator.ratelimit import RateLimiter
from segprof.emulator.store import Store
from segprof.emulator.syncs import SyncRunner

SOURCE, MODEL, DESTINATION, SUBSCRIPTION = "source", "model", "destination", "subscription"
STATUS_SUCCESS = {"status": "SUCCESS"}


def ok(data: dict[str, Any], status: int = 200) -> Response:
    return json_response({"data": data}, status)


async def read_json(request: Request, *, required: bool = True) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        if required:
            raise bad_request("The request body must be a JSON object")
        return {}
    try:
        body = decode_json(raw)
    except ValueError:  # also UnicodeDecodeError, and NaN/Infinity, which are not JSON
        raise bad_request("The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object")
    return body


class StoreHandlers:
    """What every handler works with: the store, the token, the rate limiter and the sync runner."""

    def __init__(self, store: Store, *, token: str | None, limiter: RateLimiter, runner: SyncRunner) -> None:
        self.store = store
        self.token = token
        self.limiter = limiter
        self.runner = runner

    def _params(self, request: Request) -> dict[str, str]:
        return query_params(request.scope.get("query_string", b""))

    def _require(self, kind: str, ident: str, what: str) -> dict[str, Any]:
        found = self.store.get(kind, ident)
        if found is None:
            raise not_found(what, ident)
        return found

    async def _page(self, request: Request) -> Page:
        """The `pagination` input, from the query string or (as the docs allow) a JSON body."""
        body = await read_json(request, required=False)
        return parse_page(self._params(request), body)

    async def _listing(self, request: Request, kind: str, key: str, parent: str | None = None) -> Response:
        page = await self._page(request)
        items, total = self.store.list(kind, parent=parent, offset=page.offset, limit=page.count)
        return ok({key: [self._present(kind, i) for i in items], "pagination": page_output(page, total)})

    def _present(self, kind: str, item: dict[str, Any]) -> dict[str, Any]:
        if kind == DESTINATION:
            metadata = catalog.destination(item["metadataId"]) or {"id": item["metadataId"]}
            shown = {k: val for k, val in item.items() if k != "metadataId"}
            shown["metadata"] = metadata
            return shown
        if kind == SOURCE:
            metadata = catalog.source(item["metadataId"]) or {"id": item["metadataId"]}
            shown = {k: val for k, val in item.items() if k != "metadataId"}
            shown["metadata"] = metadata
            return shown
        return item
