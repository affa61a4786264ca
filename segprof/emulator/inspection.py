"""The emulator's own endpoints under `/emulator/v1/`: received messages, profiles, faults.

Owns: reading what the Tracking API received (arrival order, dedup outcome, `after` cursor or
pagination; `DELETE` forgets it all, dedup memory included), materialised profiles, and the
fault-injection admin endpoint. Guarded by the same bearer token as the Public API when one is
set. Must never change workspace state.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from segprof.emulator import profiles
from segprof.emulator.faults import FaultConfig, FaultInjector
from segprof.emulator.pagination import decode_cursor, encode_cursor, query_params
from segprof.emulator.problem import ApiError, bad_request, invalid, not_found, unauthorized
from segprof.emulator.store import Store

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
Handler = Callable[[Request], Awaitable[Response]]


class Inspection:
    def __init__(
        self, store: Store, *, token: str | None, injector: Callable[[], FaultInjector | None]
    ) -> None:
        self.store = store
        self.token = token
        self._injector = injector

    def routes(self) -> list[Route]:
        return [
            Route("/emulator/v1/messages", self._guard(self.messages), methods=["GET", "DELETE"]),
            Route("/emulator/v1/profiles/{profile_id:path}", self._guard(self.profile), methods=["GET"]),
            Route("/emulator/v1/faults", self._guard(self.faults), methods=["GET", "POST", "DELETE"]),
        ]

    def _guard(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                if self.token is not None:
                    scheme, _, given = request.headers.get("authorization", "").partition(" ")
                    if scheme.lower() != "bearer" or not hmac.compare_digest(
                        given.strip().encode(), self.token.encode()
                    ):
                        raise unauthorized()
                return await handler(request)
            except ApiError as err:
                return err.response()

        return endpoint

    async def messages(self, request: Request) -> Response:
        if request.method == "DELETE":
            return JSONResponse({"data": {"deleted": self.store.clear_messages()}})
        params = query_params(request.scope.get("query_string", b""))
        after = 0
        if params.get("after"):
            try:
                after = int(params["after"])
            except ValueError:
                raise invalid("after", '"after" must be a message sequence number') from None
        cursor = params.get("pagination.cursor") or params.get("pagination[cursor]")
        if cursor:
            after = decode_cursor(cursor, "pagination.cursor")
        limit_text = params.get("limit") or params.get("pagination.count") or params.get("pagination[count]")
        limit = DEFAULT_LIMIT
        if limit_text:
            try:
                limit = int(limit_text)
            except ValueError:
                raise invalid("limit", '"limit" must be a number') from None
            if not 1 <= limit <= MAX_LIMIT:
                raise invalid("limit", f'"limit" must be between 1 and {MAX_LIMIT}')
        rows, total = self.store.list_messages(after, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        items = [
            {"seq": seq, "outcome": outcome, **({"reason": note} if note else {}), "message": message}
            for seq, outcome, note, message in rows
        ]
        last = rows[-1][0] if rows else after
        return JSONResponse(
            {
                "data": {
                    "messages": items,
                    "after": last,
                    "pagination": {
                        "current": encode_cursor(after),
                        "next": encode_cursor(last) if more else None,
                        "totalEntries": total,
                    },
                }
            }
        )

    async def profile(self, request: Request) -> Response:
        ident = request.path_params["profile_id"]
        kind = request.query_params.get("kind")
        if kind not in (None, "user", "group"):
            raise invalid("kind", '"kind" must be one of [user, group]')
        found: dict[str, Any] | None = None
        if kind in (None, "user"):
            found = profiles.user_profile(self.store, ident)
        if found is None and kind in (None, "group"):
            found = profiles.group_profile(self.store, ident)
        if found is None:
            raise not_found("Profile", ident)
        return JSONResponse({"data": {"profile": found}})

    async def faults(self, request: Request) -> Response:
        injector = self._injector()
        if injector is None:
            raise ApiError(404, "not-found", "fault injection is not available on this app")
        if request.method == "POST":
            raw = await request.body()
            try:
                data = json.loads(raw or b"{}")
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise bad_request("The request body is not valid JSON") from None
            try:
                injector.configure(FaultConfig.from_json(data))
            except (ValueError, TypeError) as err:
                raise invalid("faults", str(err)) from None
        elif request.method == "DELETE":
            injector.configure(None)
        return JSONResponse({"data": {"faults": injector.config.to_json()}})
