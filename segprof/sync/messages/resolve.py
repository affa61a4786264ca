"""Segment's mapping language, resolved against one event.

Owns: `resolve` (a mapping value → its value for an event, with `UNDEFINED` for "no value"),
`transform` (resolve a whole settings object and drop the undefined keys, as Segment's
mapping-kit `transform` does), and the directives. Supported directives: `@path`, `@template`,
`@literal`, `@excludeWhenNull`, `@if`, `@case`, `@replace`, `@json`, `@flatten`, `@merge`,
`@transform`, `@arrayPath`. Any other directive (such as `@liquid`) is a `MappingError` naming it.
The JavaScript value rules the directives depend on (truthiness, `String(x)`, path lookup) are
in `segprof.sync.messages.js_values`; settings compiled once per mapping in
`segprof.sync.messages.compiled`.

Must never: read a warehouse, send anything, or mutate the mapping or the event it is given.
"""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Mapping
from typing import Any

from segprof.errors import SegprofError
from segprof.sync.messages.encode import dumps_text, js_ordered
from segprof.sync.messages.js_values import (
    SCALARS,
    UNDEFINED,
    get_path,
    is_array,
    is_object,
    js_string,
    js_truthy,
    js_type_name,
    render_template,
)

SUPPORTED_DIRECTIVES = (
    "@path",
    "@template",
    "@literal",
    "@excludeWhenNull",
    "@if",
    "@case",
    "@replace",
    "@json",
    "@flatten",
    "@merge",
    "@transform",
    "@arrayPath",
)
_ROOT_DIRECTIVE_KEY = "__segment_internal_directive"
MAX_REPLACE_LENGTH = 10


class MappingError(SegprofError):
    """A mapping that Segment's mapping language cannot resolve (bad or unsupported directive)."""

    def __init__(self, message: str, *, directive: str | None = None) -> None:
        super().__init__(message)
        self.directive = directive


# --- directives --------------------------------------------------------------------------------


def is_directive(value: Any) -> bool:
    """An object whose keys are all directives (`@…`, besides `_metadata`)."""
    if not is_object(value):
        return False
    keys = list(value)
    if not any(isinstance(k, str) and k.startswith("@") for k in keys):
        return False
    return all(isinstance(k, str) and (k.startswith("@") or k == "_metadata") for k in keys)


def _require_object(opts: Any, message: str, name: str) -> Mapping[str, Any]:
    if not is_object(opts):
        raise MappingError(message, directive=name)
    return opts


def _d_path(value: Any, payload: Any) -> Any:
    path = resolve(value, payload)
    if not isinstance(path, str):
        raise MappingError(f"@path: expected string, got {js_type_name(path)}", directive="@path")
    return get_path(payload, path.replace("$.", "", 1))


def _d_template(value: Any, payload: Any) -> Any:
    template = resolve(value, payload)
    if not isinstance(template, str):
        raise MappingError(f"@template: expected string, got {js_type_name(template)}", directive="@template")
    return render_template(template, payload)


def _d_literal(value: Any, payload: Any) -> Any:
    return resolve(value, payload)


def _d_exclude_when_null(value: Any, payload: Any) -> Any:
    return exclude_null(resolve(value, payload))


def exclude_null(value: Any) -> Any:
    """`@excludeWhenNull` applied to an already resolved value."""
    return UNDEFINED if value is None else _clean_nulls(value)


def _clean_nulls(value: Any) -> Any:
    if type(value) in SCALARS or not is_object(value):
        return value
    return {k: (UNDEFINED if v is None else _clean_nulls(v) if is_object(v) else v) for k, v in value.items()}


def _d_if(opts: Any, payload: Any) -> Any:
    opts = _require_object(opts, '@if requires an object with an "exists" key', "@if")
    exists = opts.get("exists", UNDEFINED)
    blank = opts.get("blank", UNDEFINED)
    if not js_truthy(exists) and not js_truthy(blank):
        raise MappingError('@if requires an "exists" key or a "blank" key', directive="@if")
    condition = False
    if exists is not UNDEFINED:
        value = resolve(exists, payload)
        condition = value is not UNDEFINED and value is not None
    elif blank is not UNDEFINED:
        value = resolve(blank, payload)
        condition = value is not UNDEFINED and value is not None and not _loose_equals_empty_string(value)
    then = opts.get("then", UNDEFINED)
    otherwise = opts.get("else", UNDEFINED)
    if condition and then is not UNDEFINED:
        return resolve(then, payload)
    if not condition and js_truthy(otherwise):
        return resolve(otherwise, payload)
    return UNDEFINED


def _loose_equals_empty_string(value: Any) -> bool:
    # JavaScript `value == ''`.
    if isinstance(value, str):
        return value == ""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float | decimal.Decimal):
        return value == 0
    if is_array(value):
        return js_string(value) == ""
    return False


def _d_case(opts: Any, payload: Any) -> Any:
    opts = _require_object(opts, '@case requires an object with a "operator" key', "@case")
    if not js_truthy(opts.get("operator", UNDEFINED)):
        raise MappingError('@case requires a "operator" key', directive="@case")
    operator = opts["operator"]
    if not js_truthy(opts.get("value", UNDEFINED)):
        return UNDEFINED
    value = resolve(opts["value"], payload)
    if isinstance(value, str):
        if operator == "lower":
            return value.lower()
        if operator == "upper":
            return value.upper()
        raise MappingError('operator key should have a value of "lower" or "upper"', directive="@case")
    return value


def _js_replacement(replacement: str, match: re.Match[str], subject: str) -> str:
    # JavaScript replacement patterns for a pattern without capture groups.
    out: list[str] = []
    i = 0
    while i < len(replacement):
        ch = replacement[i]
        if ch == "$" and i + 1 < len(replacement):
            nxt = replacement[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "&":
                out.append(match.group(0))
                i += 2
                continue
            if nxt == "`":
                out.append(subject[: match.start()])
                i += 2
                continue
            if nxt == "'":
                out.append(subject[match.end() :])
                i += 2
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _perform_replace(value: str, pattern: str, replacement: str, is_global: bool, ignorecase: bool) -> str:
    if len(pattern) > MAX_REPLACE_LENGTH:
        raise MappingError(
            f'@replace requires a "pattern" less than {MAX_REPLACE_LENGTH} characters', directive="@replace"
        )
    if len(replacement) > MAX_REPLACE_LENGTH:
        raise MappingError(
            f'@replace requires a "replacement" less than {MAX_REPLACE_LENGTH} characters',
            directive="@replace",
        )
    regex = re.compile(re.escape(pattern), re.IGNORECASE if ignorecase else 0)
    return regex.sub(lambda m: _js_replacement(replacement, m, value), value, count=0 if is_global else 1)


def _d_replace(opts: Any, payload: Any) -> Any:
    opts = _require_object(opts, '@replace requires an object with a "pattern" key', "@replace")
    if not js_truthy(opts.get("pattern", UNDEFINED)):
        raise MappingError('@replace requires a "pattern" key', directive="@replace")
    pattern = opts["pattern"]
    replacement = opts.get("replacement")
    replacement = "" if replacement is None else replacement
    pattern2 = opts.get("pattern2", UNDEFINED)
    replacement2 = opts.get("replacement2")
    if js_truthy(pattern2) and replacement2 is None:
        replacement2 = ""
    ignorecase = opts.get("ignorecase")
    ignorecase = False if ignorecase is None else ignorecase
    is_global = opts.get("global")
    is_global = True if is_global is None else is_global
    if not js_truthy(opts.get("value", UNDEFINED)):
        return UNDEFINED
    value = resolve(opts["value"], payload)
    if isinstance(value, bool | int | float | decimal.Decimal):
        value = js_string(value)
    if not (
        isinstance(value, str)
        and isinstance(pattern, str)
        and isinstance(replacement, str)
        and isinstance(ignorecase, bool)
        and isinstance(is_global, bool)
    ):
        return ""
    new_value = _perform_replace(value, pattern, replacement, is_global, ignorecase)
    if js_truthy(pattern2) and isinstance(pattern2, str) and isinstance(replacement2, str):
        new_value = _perform_replace(new_value, pattern2, replacement2, is_global, ignorecase)
    return new_value


def _arrify(value: Any) -> list[Any]:
    if value is UNDEFINED or value is None:
        return []
    if is_array(value):
        return list(value)
    return [value]


def _d_array_path(data: Any, payload: Any) -> Any:
    if not is_array(data):
        raise MappingError(f"@arrayPath expected array, got {js_type_name(data)}", directive="@arrayPath")
    path = data[0] if len(data) > 0 else UNDEFINED
    item_shape = data[1] if len(data) > 1 else UNDEFINED
    root = get_path(payload, path.replace("$.", "", 1)) if isinstance(path, str) else resolve(path, payload)
    if (is_object(root) or is_array(root)) and is_object(item_shape) and len(item_shape) > 0:
        return [resolve(item_shape, item) for item in _arrify(root)]
    return root


def _flatten(value: Any, prefix: str, separator: str, ignore_arrays: bool) -> dict[str, Any]:
    if is_object(value) or (not ignore_arrays and is_array(value)):
        entries = value.items() if is_object(value) else ((str(i), v) for i, v in enumerate(value))
        out: dict[str, Any] = {}
        for key, item in entries:
            new_key = f"{prefix}{separator}{key}" if prefix else key
            out.update(_flatten(item, new_key, separator, ignore_arrays))
        return out
    return {prefix: value}


def _d_flatten(opts: Any, payload: Any) -> Any:
    opts = _require_object(opts, '@flatten requires an object with a "separator" key', "@flatten")
    if not js_truthy(opts.get("separator", UNDEFINED)):
        raise MappingError('@flatten requires a "separator" key', directive="@flatten")
    separator = resolve(opts["separator"], payload)
    if not isinstance(separator, str):
        raise MappingError("@flatten requires a string separator", directive="@flatten")
    value = resolve(opts.get("value", UNDEFINED), payload)
    return _flatten(value, "", separator, js_truthy(opts.get("omitArrays", UNDEFINED)))


def _d_json(opts: Any, payload: Any) -> Any:
    opts = _require_object(opts, '@json requires an object with a "value" key', "@json")
    if not js_truthy(opts.get("mode", UNDEFINED)):
        raise MappingError('@json requires a "mode" key', directive="@json")
    if not js_truthy(opts.get("value", UNDEFINED)):
        raise MappingError('@json requires a "value" key', directive="@json")
    value = resolve(opts["value"], payload)
    mode = opts["mode"]
    if mode == "encode":
        if value is UNDEFINED:
            return UNDEFINED
        return dumps_text(js_ordered(value), undefined=UNDEFINED)
    if mode == "decode":
        if isinstance(value, str):
            try:
                return json.loads(value, parse_constant=lambda _c: _raise_json())
            except ValueError:
                return value
        return value
    return UNDEFINED


def _raise_json() -> Any:
    raise ValueError("not JSON")


def _d_merge(opts: Any, payload: Any) -> Any:
    opts = _require_object(
        opts, '@merge requires an object with an "objects" key and a "direction" key', "@merge"
    )
    if not js_truthy(opts.get("direction", UNDEFINED)):
        raise MappingError('@merge requires a "direction" key', directive="@merge")
    direction = resolve(opts["direction"], payload)
    if not js_truthy(opts.get("objects", UNDEFINED)):
        raise MappingError('@merge requires a "objects" key', directive="@merge")
    if not is_array(opts["objects"]):
        raise MappingError(
            f"@merge: expected opts.array, got {js_type_name(opts['objects'])}", directive="@merge"
        )
    objects = [resolve(v, payload) for v in opts["objects"]]
    if direction == "left":
        objects.reverse()
    merged: dict[str, Any] = {}
    for source in objects:
        if is_object(source):
            merged.update(source)
        elif is_array(source):
            merged.update((str(i), v) for i, v in enumerate(source))
        elif isinstance(source, str):
            merged.update((str(i), ch) for i, ch in enumerate(source))
    return merged


def _d_transform(opts: Any, payload: Any) -> Any:
    opts = _require_object(
        opts, '@transform requires an object with an "apply" key and a "mapping" key', "@transform"
    )
    if not js_truthy(opts.get("mapping", UNDEFINED)):
        raise MappingError('@transform requires a "mapping" key', directive="@transform")
    if not js_truthy(opts.get("apply", UNDEFINED)):
        raise MappingError('@transform requires a "apply" key', directive="@transform")
    if not is_object(opts["apply"]):
        raise MappingError('@transform "apply" key should be an object', directive="@transform")
    new_payload = transform(opts["apply"], payload)
    return resolve(opts["mapping"], new_payload)


_DIRECTIVES = {
    "@path": _d_path,
    "@template": _d_template,
    "@literal": _d_literal,
    "@excludeWhenNull": _d_exclude_when_null,
    "@if": _d_if,
    "@case": _d_case,
    "@replace": _d_replace,
    "@json": _d_json,
    "@flatten": _d_flatten,
    "@merge": _d_merge,
    "@transform": _d_transform,
    "@arrayPath": _d_array_path,
}


def _run_directive(obj: Mapping[str, Any], payload: Any) -> Any:
    name = next(k for k in obj if k.startswith("@"))
    fn = _DIRECTIVES.get(name)
    if fn is None:
        supported = ", ".join(SUPPORTED_DIRECTIVES)
        raise MappingError(
            f"mapping directive {name} is not supported (supported: {supported})",
            directive=name,
        )
    return fn(obj[name], payload)


# --- entry points ------------------------------------------------------------------------------


def resolve(mapping: Any, event: Any) -> Any:
    """The value of one mapping (any JSON value, possibly holding directives) for `event`.

    Returns `UNDEFINED` where Segment's value would be undefined; objects may hold `UNDEFINED`
    values (use `transform`, or `remove_undefined`, to drop them as Segment does).
    """
    if type(mapping) is dict and len(mapping) == 1:
        path = mapping.get("@path")
        if type(path) is str:  # the common case: a column or the record id
            return get_path(event, path.replace("$.", "", 1))
    if not is_object(mapping) and not is_array(mapping):
        return mapping
    if is_directive(mapping):
        return _run_directive(mapping, event)
    if is_array(mapping):
        return [resolve(v, event) for v in mapping]
    return {key: resolve(value, event) for key, value in mapping.items()}


def remove_undefined(value: Any) -> Any:
    """Drop undefined object entries, recursively (arrays keep their length, as in Segment)."""
    if is_array(value):
        return [remove_undefined(v) for v in value]
    if is_object(value):
        return {k: remove_undefined(v) for k, v in value.items() if v is not UNDEFINED}
    return value


def mapping_to_process(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    """The settings with a root directive (`__segment_internal_directive`) applied to the rest."""
    if _ROOT_DIRECTIVE_KEY not in mapping:
        return mapping
    customer = {k: v for k, v in mapping.items() if k != _ROOT_DIRECTIVE_KEY}
    root = mapping[_ROOT_DIRECTIVE_KEY]
    if not is_object(root) or len(root) > 1:
        raise MappingError("The root mapping must only have a single directive object")
    name = next(iter(root), None)
    inner = root[name] if name is not None else None
    if not is_object(inner):
        raise MappingError("The root directive must be an object")
    return {name: {**inner, "mapping": customer}}


def transform(mapping: Mapping[str, Any], event: Mapping[str, Any]) -> dict[str, Any]:
    """A whole settings object resolved for `event`, undefined entries dropped (mapping-kit `transform`)."""
    if not is_object(event):
        raise MappingError(f"data must be an object, got {js_type_name(event)}")
    if not is_object(mapping):
        raise MappingError(f"mapping must be an object, got {js_type_name(mapping)}")
    resolved = resolve(mapping_to_process(mapping), event)
    cleaned = remove_undefined(resolved)
    if not isinstance(cleaned, dict):
        return {}
    return cleaned
