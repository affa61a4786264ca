"""The error envelope of the emulated Public API.

Owns: `ApiError`, raised anywhere in a handler and rendered as Segment's
`{"errors": [{type, message, field?, data?, status?}]}` body. Must never put a secret value into a
message: messages name fields, not their contents.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


class ApiError(Exception):
    """A Public API failure with Segment's error shape."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        field: str | None = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.field = field
        self.data = data
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        if self.data is not None:
            error["data"] = self.data
        return {"errors": [error]}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def invalid(field: str, message: str) -> ApiError:
    """422 `input-validation` naming the offending input path."""
    return ApiError(422, "input-validation", message, field=field)


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, "not-found", f"{what} with id {ident!r} not found")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "bad-request", message)


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "Unauthorized: the token is missing, invalid or lacks permission")
