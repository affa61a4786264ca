"""Keeping secret attribute values out of everything segprof prints or writes.

Owns: walking dotted attribute paths, replacing secret values with `(sensitive)` for display or
with a one-way fingerprint for state and plan files (so a rotated secret still shows as a change).
Must never return or store the secret value itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from segprof.plan.model import SENSITIVE

FINGERPRINT_PREFIX = "sha256:"


def fingerprint(value: Any) -> str:
    digest = hashlib.sha256(repr(value).encode("utf-8")).hexdigest()
    return f"{FINGERPRINT_PREFIX}{digest[:16]}"


def _apply(attributes: dict[str, Any], paths: Iterable[str], replace) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A copy with the values at `paths` replaced; only the dicts along those paths are copied."""
    result = dict(attributes)
    for path in paths:
        parts = path.split(".")
        node: Any = result
        for part in parts[:-1]:
            child = node.get(part) if isinstance(node, dict) else None
            if not isinstance(child, dict):
                node = None
                break
            node[part] = dict(child)
            node = node[part]
        if isinstance(node, dict) and node.get(parts[-1]) is not None:
            node[parts[-1]] = replace(node[parts[-1]])
    return result


def redact_for_display(attributes: dict[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    return _apply(attributes, paths, lambda _value: SENSITIVE)


def redact_for_storage(attributes: dict[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    return _apply(attributes, paths, fingerprint)


def path_is_sensitive(path: str, sensitive: Iterable[str]) -> bool:
    return any(path == p or path.startswith(p + ".") for p in sensitive)
