"""The difference of two messages, leaf by leaf, as a plan preview shows it.

Owns `diff_messages` and how a value is cut for display. Pure: must never read a warehouse or
build a message (the operations layer builds both messages and calls this).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from segprof.plan.model import PayloadChange

VALUE_CHARS = 200  # each value shown is cut to this many characters, with an ellipsis


def diff_messages(before: dict[str, Any], after: dict[str, Any]) -> list[PayloadChange]:
    """Leaf-by-leaf differences of two messages (new order first, then what was removed)."""
    old, new = dict(leaves(before)), dict(leaves(after))
    out: list[PayloadChange] = []
    for path, value in new.items():
        if path not in old:
            out.append(PayloadChange(path, "added", after=bounded(value)))
        elif not same_json(old[path], value):
            out.append(PayloadChange(path, "changed", before=bounded(old[path]), after=bounded(value)))
    for path, value in old.items():
        if path not in new:
            out.append(PayloadChange(path, "removed", before=bounded(value)))
    return out


def leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every leaf; lists and empty objects are leaves."""
    if isinstance(value, dict) and (value or not prefix):
        for key, item in value.items():
            yield from leaves(item, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values: `1` and `true`, or `1` and `"1"`, are different payloads."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def bounded(value: Any) -> Any:
    """The value, or its text cut to `VALUE_CHARS` with an ellipsis when longer."""
    if isinstance(value, str):
        return value if len(value) <= VALUE_CHARS else value[: VALUE_CHARS - 1] + "…"
    if isinstance(value, list | dict):
        text = json.dumps(value, ensure_ascii=False, default=str)
        return value if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"
    return value
