"""Where things sit in a dbt project's own files, for diagnostics that point at the dbt change.

Owns finding, by reading the model's SQL text and its properties (.yml) file, the line of a
model's final select list, the line that renames a column (`first_name as given_name`), and the
lines that document a model or one of its columns. Must never parse Jinja or run dbt: these are
text searches, and a place not found falls back to the file's first line.
"""

from __future__ import annotations

import re
from pathlib import Path

_SELECT = re.compile(r"^\s*(?:\)\s*)?select\b", re.IGNORECASE)


def select_line(raw_code: str) -> int:
    """The line of the model's last top-level `select` (where its output columns are listed)."""
    found = 1
    for number, line in enumerate(raw_code.split("\n"), start=1):
        if _SELECT.match(line):
            found = number
    return found


def rename_of(raw_code: str, column: str) -> tuple[int, str] | None:
    """(line, new name) where the model selects `column AS other`, or None."""
    pattern = re.compile(r"(?<![\w.])" + re.escape(column) + r"\b\s+as\s+[\"`]?(\w+)", re.IGNORECASE)
    for number, line in enumerate(raw_code.split("\n"), start=1):
        match = pattern.search(line)
        if match and match.group(1).lower() != column.lower():
            return number, match.group(1)
    return None


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError):
        return []


def _name_line(name: str) -> re.Pattern[str]:
    return re.compile(r"^(\s*)-\s*name:\s*[\"']?" + re.escape(name) + r"[\"']?\s*(#.*)?$")


def yml_model_line(path: Path, model: str) -> int:
    """The `- name: <model>` line of a properties file (1 when not found)."""
    pattern = _name_line(model)
    for number, line in enumerate(_read_lines(path), start=1):
        if pattern.match(line):
            return number
    return 1


def yml_column_line(path: Path, model: str, column: str) -> int:
    """The `- name: <column>` line inside the model's block, else the model's own line."""
    lines = _read_lines(path)
    start = yml_model_line(path, model)
    model_match = _name_line(model).match(lines[start - 1]) if 0 < start <= len(lines) else None
    indent = len(model_match.group(1)) if model_match else -1
    pattern = _name_line(column)
    for number in range(start + 1, len(lines) + 1):
        line = lines[number - 1]
        other = re.match(r"^(\s*)-\s*name:", line)
        if other and len(other.group(1)) <= indent:
            break  # the next model's block
        if pattern.match(line):
            return number
    return start
