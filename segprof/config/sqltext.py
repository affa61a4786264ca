"""A model's SQL text together with where each of its characters sits in the user's files.

Owns turning a position inside the SQL text (1-based line/col, as the SQL analyser reports it)
back into the file, line and column the user edits, for inline YAML scalars (plain, quoted,
literal `|`, folded `>`) and for `.sql` files. Must never read files or parse SQL itself.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from segprof.config.yamltree import YScalar
from segprof.errors import Location


@dataclass(frozen=True)
class SqlText:
    """SQL and its origin; `line`/`col` are those of the first SQL character in `file`."""

    text: str
    file: str
    line: int
    col: int
    # (offset in text, file line, file col) at the start of each source line's content
    segments: tuple[tuple[int, int, int], ...]

    def location(self, line: int, col: int) -> Location:
        """The file position of a 1-based line/column inside the SQL text."""
        offset = _offset(self.text, line, col)
        if not self.segments:
            return Location(self.file, self.line, self.col)
        starts = [segment[0] for segment in self.segments]
        index = max(bisect.bisect_right(starts, offset) - 1, 0)
        start, file_line, file_col = self.segments[index]
        return Location(self.file, file_line, file_col + max(offset - start, 0))

    @classmethod
    def from_file(cls, text: str, file: str) -> SqlText:
        segments: list[tuple[int, int, int]] = []
        offset = 0
        for number, line in enumerate(text.split("\n"), start=1):
            segments.append((offset, number, 1))
            offset += len(line) + 1
        first = len(text) - len(text.lstrip())
        line = text.count("\n", 0, first) + 1
        col = first - (text.rfind("\n", 0, first) + 1) + 1
        return cls(text, file, line, col, tuple(segments))

    @classmethod
    def from_scalar(cls, scalar: YScalar, source: str) -> SqlText:
        value = str(scalar.value)
        raw = source[scalar.start : scalar.end] if scalar.end > scalar.start else ""
        raw_lines = raw.split("\n")
        first_line, first_col = scalar.loc.line, scalar.loc.col
        segments: list[tuple[int, int, int]] = []
        pos = 0
        quoted = scalar.style in ("'", '"')
        for number, line in enumerate(raw_lines):
            if scalar.style in ("|", ">"):
                if number == 0:
                    continue  # the indicator line
                content = line.lstrip(" ")
                col = len(line) - len(content) + 1
            elif number == 0:
                content, col = line, first_col
                if quoted:
                    content, col = content[1:], col + 1
            else:
                content = line.lstrip(" \t")
                col = len(line) - len(content) + 1
            content = content.rstrip(" \t\r")
            if quoted and number == len(raw_lines) - 1 and content.endswith(scalar.style or ""):
                content = content[:-1]
            if not content:
                continue
            # text from each source line appears, in order, in the value (folding only changes breaks)
            probe = content[: max(1, min(len(content), 24))]
            found = value.find(probe, pos)
            if found < 0:
                found = pos
            segments.append((found, first_line + number, col))
            pos = found + len(content) if found + len(content) <= len(value) else found + 1
        if not segments:
            segments.append((0, first_line, first_col))
        lead = len(value) - len(value.lstrip())
        start = cls(value, scalar.loc.file, 0, 0, tuple(segments)).location(*_line_col(value, lead))
        return cls(value, scalar.loc.file, start.line, start.col, tuple(segments))


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _offset(text: str, line: int, col: int) -> int:
    index = 0
    for _ in range(max(line, 1) - 1):
        found = text.find("\n", index)
        if found < 0:
            break
        index = found + 1
    return min(index + max(col, 1) - 1, len(text))
