"""The error the workspace client raises for any failed call.

Owns: `WorkspaceError`, a `SegprofError` carrying the HTTP status, the API's error type and the
offending input field, built from Segment's `{"errors": [...]}` envelope. Must never carry the
request, its headers, or any secret: messages are scrubbed before they get here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from segprof.errors import SegprofError


@dataclass(frozen=True)
class ApiErrorDetail:
    """One entry of the API's `errors` array."""

    type: str | None = None
    message: str | None = None
    field: str | None = None
    status: int | None = None
    data: Any = None

    def describe(self) -> str:
        text = self.message or self.type or "error"
        if self.field:
            text = f"{text} (field {self.field})"
        return text


def parse_error_details(body: object) -> list[ApiErrorDetail]:
    """Read `{"errors": [...]}`; anything else yields no details (callers fall back to status)."""
    if not isinstance(body, dict):
        return []
    errors = body.get("errors")
    if not isinstance(errors, list):
        return []
    details = []
    for item in errors:
        if not isinstance(item, dict):
            continue
        status = item.get("status")
        details.append(
            ApiErrorDetail(
                type=item.get("type") if isinstance(item.get("type"), str) else None,
                message=str(item["message"]) if item.get("message") is not None else None,
                field=str(item["field"]) if item.get("field") is not None else None,
                status=status if isinstance(status, int) else None,
                data=item.get("data"),
            )
        )
    return details


class WorkspaceError(SegprofError):
    """A call to the workspace failed; `status` is the HTTP status (None for network failures)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        details: list[ApiErrorDetail] | None = None,
        method: str | None = None,
        path: str | None = None,
        address: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, address=address, hint=hint)
        self.status = status
        self.details = details or []
        self.method = method
        self.path = path
        #: What was created before the failure, when a multi-call operation failed half-way
        #: (a subscription created whose schedule PATCH then failed): callers record its id.
        self.resource: Any = None

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def fields(self) -> list[str]:
        return [d.field for d in self.details if d.field]
