"""Positions inside a SQL text: character offset ↔ 1-based (line, column).

Owns the one line-splitting rule used for every position segprof reports in SQL, matching
sqlglot's tokenizer: `\\n`, `\\r\\n` and a lone `\\r` each end a line. Columns count characters
(not bytes), so a tab or a multi-byte UTF-8 character is one column. Must never guess: an offset
outside the text is clamped to its end.
"""

from __future__ import annotations

import re
from bisect import bisect_right

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class LineIndex:
    """Maps offsets in one text to (line, col) and back."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts = [0] + [m.end() for m in _LINE_BREAK.finditer(text)]

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, col) of the character at `offset` (0-based)."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1

    def offset(self, line: int, col: int) -> int:
        """0-based offset of the 1-based (line, col)."""
        line = max(1, min(line, len(self._starts)))
        return min(self._starts[line - 1] + max(col, 1) - 1, len(self.text))


def position_of(text: str, offset: int) -> tuple[int, int]:
    """(line, col) of one offset without building a full index (cheap for huge texts)."""
    offset = max(0, min(offset, len(text)))
    head = text[:offset]
    line_start = max(head.rfind("\n"), head.rfind("\r")) + 1
    line = 1 + head.count("\n") + head.count("\r") - head.count("\r\n")
    return line, offset - line_start + 1
