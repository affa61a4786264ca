"""Finding and reading a project's YAML files safely.

Owns the file discovery rules (`discover`), the size and encoding checks on each file (`read_file`),
and blanking out over-long values before parsing so a huge query cannot slow the parser. Must
never parse YAML, execute SQL, touch the network, or put a file's contents in a diagnostic.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from segprof.config.diagnostic import Diagnostic, error
from segprof.config.yamltree import YMap, decode
from segprof.errors import Location

PROJECT_FILE = "segprof.yaml"
MAX_QUERY_CHARS = 65_535
MAX_FILE_BYTES = 16 * 1024 * 1024
_LONG_KEY = re.compile(r"^( *)(?:- +)?([A-Za-z_][\w-]*) *: *(.*)$")


@dataclass
class File:
    rel: str
    path: Path
    text: str
    root: YMap | None
    defused: set[int]  # lines whose over-long value was blanked before parsing


def discover(root: Path) -> list[Path]:
    """segprof.yaml, then every other *.yaml / *.yml below the folder (hidden folders skipped)."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or not name.endswith((".yaml", ".yml")):
                continue
            path = Path(folder) / name
            if path == root / PROJECT_FILE:
                continue
            found.append(path)
    return [root / PROJECT_FILE, *found]


def _defuse_long_values(text: str, rel: str) -> tuple[str, set[int], list[Diagnostic]]:
    """Blank out values longer than Segment's query limit before parsing, so a multi-megabyte
    query costs milliseconds instead of seconds; the length is reported at its key."""
    if len(text) <= MAX_QUERY_CHARS:
        return text, set(), []
    lines = text.split("\n")
    defused: set[int] = set()
    diagnostics: list[Diagnostic] = []
    index = 0
    while index < len(lines):
        match = _LONG_KEY.match(lines[index])
        if not match:
            index += 1
            continue
        indent, key, rest = len(match.group(1)), match.group(2), match.group(3)
        length = len(rest)
        end = index + 1
        if rest[:1] in ("|", ">") or (rest == "" and key == "query"):
            while end < len(lines) and (
                not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip(" ")) > indent
            ):
                length += len(lines[end]) + 1
                end += 1
        if length > MAX_QUERY_CHARS:
            col = lines[index].index(key) + 1
            code = "sql.too_long" if key == "query" else "yaml.value_too_long"
            diagnostics.append(
                error(
                    code,
                    f"`{key}` is about {length:,} characters long; "
                    f"Segment accepts at most {MAX_QUERY_CHARS:,}",
                    Location(rel, index + 1, col),
                    hint="move logic into a view in the warehouse and select from it",
                )
            )
            prefix = lines[index][: len(lines[index]) - len(rest)]
            lines[index] = prefix + '""'
            for blank in range(index + 1, end):
                lines[blank] = ""
            defused.add(index + 1)
        index = max(end, index + 1)
    return "\n".join(lines), defused, diagnostics


def read_file(path: Path, rel: str, diagnostics: list[Diagnostic]) -> tuple[str, set[int]] | None:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            diagnostics.append(
                error(
                    "yaml.file_too_large",
                    f"file is {size:,} bytes; segprof reads at most 16 MiB",
                    Location(rel),
                )
            )
            return None
        data = path.read_bytes()
    except OSError as exc:
        diagnostics.append(error("yaml.unreadable", f"cannot read file: {exc.strerror}", Location(rel)))
        return None
    text, problems = decode(data, rel)
    diagnostics.extend(problems)
    if text is None:
        return None
    text, defused, problems = _defuse_long_values(text, rel)
    diagnostics.extend(problems)
    return text, defused
