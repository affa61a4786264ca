"""Error and position types shared by every layer.

Owns: `Location` (where in a user's file something is) and `SegprofError`, the one exception
the CLI turns into a clear message and exit code 1. Must never hold or print a secret: callers
build messages from names and addresses, not from credential values.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based line and column inside a file (the path as the user would write it)."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        if self.col <= 0:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.col}"


class SegprofError(Exception):
    """A failure caused by the user's input or environment, reported without a traceback.

    `address` names the resource (e.g. `mapping.identify_users`); `location` the file position.
    """

    def __init__(
        self,
        message: str,
        *,
        address: str | None = None,
        location: Location | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.address = address
        self.location = location
        self.hint = hint

    def __str__(self) -> str:
        prefix = ""
        if self.location is not None:
            prefix = f"{self.location}: "
        if self.address:
            prefix += f"{self.address}: "
        text = f"{prefix}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text
