"""Mappings compiled once per mapping: the sync engine's fast path through the mapping language.

Owns: `compile_mapping` (a mapping → a function of the event equal to `resolve`) and
`compile_transform` (the same for `transform`), so settings are walked once per mapping
instead of once per record.

Must never: give a result that differs from `resolve` and `transform` for any mapping or event;
read a warehouse or send anything.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from segprof.sync.messages.js_values import (
    SCALARS,
    UNDEFINED,
    get_path,
    is_object,
    js_type_name,
    split_path,
    walk,
)
from segprof.sync.messages.resolve import (
    MappingError,
    exclude_null,
    is_directive,
    mapping_to_process,
    remove_undefined,
    resolve,
)

Compiled = Callable[[Any], Any]


def compile_mapping(mapping: Any) -> Compiled:
    """`mapping` turned into a function of the event, equal to `lambda e: resolve(mapping, e)`.

    For the sync engine: settings are walked once per mapping instead of once per record.
    """
    if type(mapping) is dict or isinstance(mapping, Mapping):
        if is_directive(mapping):
            path = mapping.get("@path") if len(mapping) == 1 else None
            if type(path) is str:
                parts = split_path(path.replace("$.", "", 1))
                if not parts or path.replace("$.", "", 1) in {"", "."}:
                    return lambda event: get_path(event, path.replace("$.", "", 1))
                return functools.partial(walk, parts=parts)
            if len(mapping) == 1 and "@excludeWhenNull" in mapping:
                # What our config compiles every column field to: worth a function of its own.
                return _compiled_exclude_when_null(compile_mapping(mapping["@excludeWhenNull"]))
            frozen = mapping
            return lambda event: resolve(frozen, event)
        items = [(key, compile_mapping(value)) for key, value in mapping.items()]
        return lambda event: {key: fn(event) for key, fn in items}
    if type(mapping) is list or isinstance(mapping, tuple):
        fns = [compile_mapping(value) for value in mapping]
        return lambda event: [fn(event) for fn in fns]
    return lambda _event: mapping


def _compile_defined(mapping: Any) -> Compiled:
    # Like compile_mapping, but the result already has undefined object entries removed.
    if (type(mapping) is dict or isinstance(mapping, Mapping)) and not is_directive(mapping):
        items = [(key, _compile_defined(value)) for key, value in mapping.items()]

        def build(event: Any) -> dict[str, Any]:
            out = {}
            for key, fn in items:
                value = fn(event)
                if value is not UNDEFINED:
                    out[key] = value
            return out

        return build
    if type(mapping) is dict and len(mapping) == 1 and type(mapping.get("@path")) is str:
        return compile_mapping(mapping)  # a path returns event values, which hold no undefined
    fn = compile_mapping(mapping)

    def defined(event: Any) -> Any:
        value = fn(event)
        # Only containers can hold undefined entries; most values are plain scalars.
        return value if type(value) in SCALARS else remove_undefined(value)

    return defined


def _compiled_exclude_when_null(inner: Compiled) -> Compiled:
    """`{"@excludeWhenNull": inner}` as `_d_exclude_when_null` resolves it, with `inner` compiled."""
    return lambda event: exclude_null(inner(event))


def compile_transform(mapping: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """`transform` with the settings compiled once (see `compile_mapping`)."""
    if not is_object(mapping):
        raise MappingError(f"mapping must be an object, got {js_type_name(mapping)}")
    fn = _compile_defined(mapping_to_process(mapping))

    def run(event: Mapping[str, Any]) -> dict[str, Any]:
        if not is_object(event):
            raise MappingError(f"data must be an object, got {js_type_name(event)}")
        cleaned = fn(event)
        return cleaned if isinstance(cleaned, dict) else {}

    return run


__all__ = [
    "Compiled",
    "compile_mapping",
    "compile_transform",
]
