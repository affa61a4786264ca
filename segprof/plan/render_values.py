"""Attribute values as a reviewer reads them, shared by the text and Markdown renderers.

Owns: laying a value out in lines that fit a width without ever cutting it (a long object opens
one key per line, a multi-line string is shown whole), the unified line diff of a changed
multi-line string (a model's query), and naming a referenced resource by its address. Plain
text only: no markup, no colour. Must never hide part of a value a reviewer must approve.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from segprof.plan.model import UNKNOWN, FieldChange


def scalar_text(value: Any) -> str:
    """One value as JSON text, in full (non-ASCII kept readable)."""
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def is_multiline(value: Any) -> bool:
    return isinstance(value, str) and "\n" in value.rstrip("\n")


def value_lines(value: Any, width: int) -> list[str]:
    """`value` as lines of at most about `width` characters where it can be split, never cut.

    A multi-line string becomes a here-document (`<<EOT` … `EOT`); an object or list whose JSON
    does not fit opens one entry per line, nested values indented by two spaces.
    """
    if is_multiline(value):
        return ["<<EOT", *value.rstrip("\n").split("\n"), "EOT"]
    flat = scalar_text(value)
    if len(flat) <= width or not isinstance(value, dict | list) or not value:
        return [flat]
    inner = max(width - 2, 20)
    lines: list[str] = []
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        lines.append("{")
        for i, (key, item) in enumerate(items):
            sub = value_lines(item, inner - len(json.dumps(str(key))) - 2)
            comma = "," if i < len(items) - 1 else ""
            lines.append(
                f"  {json.dumps(str(key), ensure_ascii=False)}: {sub[0]}" + ("" if len(sub) > 1 else comma)
            )
            lines.extend(f"  {line}" for line in sub[1:-1])
            if len(sub) > 1:
                lines.append(f"  {sub[-1]}{comma}")
        lines.append("}")
    else:
        lines.append("[")
        for i, item in enumerate(value):
            sub = value_lines(item, inner)
            comma = "," if i < len(value) - 1 else ""
            lines.extend(f"  {line}" for line in sub[:-1])
            lines.append(f"  {sub[-1]}{comma}")
        lines.append("]")
    return lines


@dataclass
class DiffLine:
    sign: str  # "+" added, "-" removed, " " context, "@" a hunk header
    text: str


def line_diff(before: str, after: str, context: int = 3) -> list[DiffLine]:
    """A unified diff of two multi-line strings: the changed lines with `context` lines around."""
    result: list[DiffLine] = []
    old, new = before.rstrip("\n").split("\n"), after.rstrip("\n").split("\n")
    for line in difflib.unified_diff(old, new, n=context, lineterm=""):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            result.append(DiffLine("@", line))
        else:
            result.append(DiffLine(line[:1] or " ", line[1:]))
    return result


def is_text_change(fc: FieldChange) -> bool:
    """A change best read as a line diff: both sides strings, at least one spanning lines."""
    return (
        isinstance(fc.before, str)
        and isinstance(fc.after, str)
        and not fc.sensitive
        and (is_multiline(fc.before) or is_multiline(fc.after))
    )


def side_text(value: Any, address: str | None) -> str:
    """A referenced resource by its address (`model.users`) instead of its opaque id."""
    if address is None:
        return scalar_text(value)
    if value == UNKNOWN:
        return f"{address} (known after apply)"
    return address
