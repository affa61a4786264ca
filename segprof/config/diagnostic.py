"""Diagnostics: one problem found in a project, with a stable code and a place.

Owns the `Diagnostic` value shared by loading and validation. Must never hold a secret value:
messages are built from names, keys and positions only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from segprof.errors import Location

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Diagnostic:
    """A problem in the user's project: `code` is a stable string such as `schema.unknown_key`."""

    severity: Severity
    code: str
    message: str
    location: Location | None = None
    address: str | None = None
    hint: str | None = None
    #: A second place the problem comes from (the model line that renamed a mapped column).
    related: Location | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location
        return (loc.file if loc else "", loc.line if loc else 0, loc.col if loc else 0, self.code)

    def to_json(self) -> dict[str, object]:
        loc = self.location
        data: dict[str, object] = {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "file": loc.file if loc else None,
            "line": loc.line if loc else None,
            "col": loc.col if loc else None,
            "address": self.address,
        }
        if self.hint:
            data["hint"] = self.hint
        if self.related is not None:
            data["related"] = {"file": self.related.file, "line": self.related.line, "col": self.related.col}
        return data


def error(
    code: str,
    message: str,
    location: Location | None = None,
    *,
    address: str | None = None,
    hint: str | None = None,
    related: Location | None = None,
) -> Diagnostic:
    return Diagnostic("error", code, message, location, address, hint, related)


def warning(
    code: str,
    message: str,
    location: Location | None = None,
    *,
    address: str | None = None,
    hint: str | None = None,
) -> Diagnostic:
    return Diagnostic("warning", code, message, location, address, hint)
