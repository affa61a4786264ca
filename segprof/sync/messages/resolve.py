"""Segment's mapping language, resolved against one event.

Owns: `resolve` (a mapping value → its value for an event, with `UNDEFINED` for "no value"),
`transform` (resolve a whole settings object and drop the undefined keys, as Segment's
mapping-kit `transform` does), and the JavaScript value rules the directives depend on
(truthiness, `String(x)`, path lookup). Supported directives: `@path`, `@template`,
`@literal`, `@excludeWhenNull`, `@if`, `@case`, `@replace`, `@json`, `@flatten`, `@merge`,
`@transform`, `@arrayPath`. Any other directive (such as `@liquid`) is a `MappingError` naming it.

Must never: read a warehouse, send anything, or mutate the mapping or the event it is given.
"""

from __future__ import annotations

import decimal
import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from segprof.errors import SegprofError
from segprof.sync.messages.encode import dumps_text, js_ordered
from segprof.sync.messages.js_numbers import js_number_str


class _Undefined:
    """JavaScript's `undefined`: a key whose value is undefined disappears from the message."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Any = _Undefined()

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


# --- JavaScript value rules --------------------------------------------------------------------


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness (objects and arrays are truthy even when empty)."""
    if value is UNDEFINED or value is None or value is False:
        return False
    if type(value) is dict:
        return True
    if isinstance(value, str):
        return value != ""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | decimal.Decimal):
        return value == value and value != 0  # NaN is falsy
    return True


def js_type_name(value: Any) -> str:
    """`Object.prototype.toString` type name, lower-cased, as Segment's errors print it."""
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float | decimal.Decimal):
        return "number"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__.lower()


def js_string(value: Any) -> str:
    """JavaScript's `String(value)`."""
    if isinstance(value, str):
        return value
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float | decimal.Decimal):
        return js_number_str(value)
    if isinstance(value, Mapping):
        return "[object Object]"
    if isinstance(value, list | tuple):
        return ",".join("" if v is None or v is UNDEFINED else js_string(v) for v in value)
    return str(value)


_JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def js_trim(text: str) -> str:
    """`String.prototype.trim`."""
    return text.strip(_JS_WHITESPACE)


def _is_object(value: Any) -> bool:
    # `type(...) is dict` first: the ABC check is slow and nearly every value is a plain dict.
    return type(value) is dict or isinstance(value, Mapping)


def _is_array(value: Any) -> bool:
    return type(value) is list or isinstance(value, tuple)


# --- path lookup (mapping-kit `get`) -----------------------------------------------------------

_PATH_SPLIT = re.compile(r"""\[(?="|'|\d)|\.|(?<="|'|\d)\]+""")
_QUOTES = re.compile(r"""['"]""")


def _index(container: Any, key: str) -> Any:
    if type(container) is dict or isinstance(container, Mapping):
        return container.get(key, UNDEFINED)
    if isinstance(container, list | tuple):
        if key == "length":
            return len(container)
        if key.isdigit() and (key == "0" or key[0] != "0"):
            i = int(key)
            return container[i] if i < len(container) else UNDEFINED
        return UNDEFINED
    if isinstance(container, str):
        units = container.encode("utf-16-le")
        if key == "length":
            return len(units) // 2
        if key.isdigit() and (key == "0" or key[0] != "0"):
            i = int(key)
            if i < len(units) // 2:
                return units[2 * i : 2 * i + 2].decode("utf-16-le", errors="surrogatepass")
        return UNDEFINED
    return UNDEFINED


def get_path(obj: Any, path: str | None) -> Any:
    """Segment's `get(obj, path)`: `a.b`, `a[0]`, `a['k']`; a falsy value part-way ends the walk.

    As in JavaScript's `prev && prev[key]`, walking through `null`, `0`, `''` or `false` returns
    that value itself rather than undefined.
    """
    if path == "" or path == ".":
        return obj
    if path is None or path is UNDEFINED:
        return UNDEFINED
    return _walk(obj, _split_path(path))


@functools.lru_cache(maxsize=4096)
def _split_path(path: str) -> tuple[str, ...]:
    return tuple(_QUOTES.sub("", p) for p in _PATH_SPLIT.split(path) if p)


# --- templates ---------------------------------------------------------------------------------

_TRIPLE = re.compile(r"\{\{\{([^}]+)\}\}\}")
_DOUBLE = re.compile(r"\{\{([^}]+)\}\}")


def render_template(template: str, data: Any) -> str:
    """`{{a.b}}` (and `{{{a.b}}}`) placeholders replaced by `String(value)`, missing/null → ''."""

    def replace(match: re.Match[str]) -> str:
        value = get_path(data, js_trim(match.group(1)))
        if value is None or value is UNDEFINED:
            return ""
        return js_string(value)

    return _DOUBLE.sub(replace, _TRIPLE.sub(replace, template))


# --- directives --------------------------------------------------------------------------------


def _is_directive(value: Any) -> bool:
    if not _is_object(value):
        return False
    keys = list(value)
    if not any(isinstance(k, str) and k.startswith("@") for k in keys):
        return False
    return all(isinstance(k, str) and (k.startswith("@") or k == "_metadata") for k in keys)


def _require_object(opts: Any, message: str, name: str) -> Mapping[str, Any]:
    if not _is_object(opts):
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


# Values that hold no object entries, so no null or undefined to clean out.
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _d_exclude_when_null(value: Any, payload: Any) -> Any:
    return _exclude_null(resolve(value, payload))


def _exclude_null(value: Any) -> Any:
    # `@excludeWhenNull` applied to an already resolved value.
    return UNDEFINED if value is None else _clean_nulls(value)


def _clean_nulls(value: Any) -> Any:
    if type(value) in _SCALARS or not _is_object(value):
        return value
    return {
        k: (UNDEFINED if v is None else _clean_nulls(v) if _is_object(v) else v) for k, v in value.items()
    }


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
    if _is_array(value):
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
    if _is_array(value):
        return list(value)
    return [value]


def _d_array_path(data: Any, payload: Any) -> Any:
    if not _is_array(data):
        raise MappingError(f"@arrayPath expected array, got {js_type_name(data)}", directive="@arrayPath")
    path = data[0] if len(data) > 0 else UNDEFINED
    item_shape = data[1] if len(data) > 1 else UNDEFINED
    root = get_path(payload, path.replace("$.", "", 1)) if isinstance(path, str) else resolve(path, payload)
    if (_is_object(root) or _is_array(root)) and _is_object(item_shape) and len(item_shape) > 0:
        return [resolve(item_shape, item) for item in _arrify(root)]
    return root


def _flatten(value: Any, prefix: str, separator: str, ignore_arrays: bool) -> dict[str, Any]:
    if _is_object(value) or (not ignore_arrays and _is_array(value)):
        entries = value.items() if _is_object(value) else ((str(i), v) for i, v in enumerate(value))
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
    if not _is_array(opts["objects"]):
        raise MappingError(
            f"@merge: expected opts.array, got {js_type_name(opts['objects'])}", directive="@merge"
        )
    objects = [resolve(v, payload) for v in opts["objects"]]
    if direction == "left":
        objects.reverse()
    merged: dict[str, Any] = {}
    for source in objects:
        if _is_object(source):
            merged.update(source)
        elif _is_array(source):
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
    if not _is_object(opts["apply"]):
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
    if not _is_object(mapping) and not _is_array(mapping):
        return mapping
    if _is_directive(mapping):
        return _run_directive(mapping, event)
    if _is_array(mapping):
        return [resolve(v, event) for v in mapping]
    return {key: resolve(value, event) for key, value in mapping.items()}


Compiled = Callable[[Any], Any]


def compile_mapping(mapping: Any) -> Compiled:
    """`mapping` turned into a function of the event, equal to `lambda e: resolve(mapping, e)`.

    For the sync engine: settings are walked once per mapping instead of once per record.
    """
    if type(mapping) is dict or isinstance(mapping, Mapping):
        if _is_directive(mapping):
            path = mapping.get("@path") if len(mapping) == 1 else None
            if type(path) is str:
                parts = _split_path(path.replace("$.", "", 1))
                if not parts or path.replace("$.", "", 1) in {"", "."}:
                    return lambda event: get_path(event, path.replace("$.", "", 1))
                return functools.partial(_walk, parts=parts)
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
    if (type(mapping) is dict or isinstance(mapping, Mapping)) and not _is_directive(mapping):
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
        return value if type(value) in _SCALARS else remove_undefined(value)

    return defined


def _compiled_exclude_when_null(inner: Compiled) -> Compiled:
    """`{"@excludeWhenNull": inner}` as `_d_exclude_when_null` resolves it, with `inner` compiled."""
    return lambda event: _exclude_null(inner(event))


def _walk(event: Any, parts: tuple[str, ...]) -> Any:
    current = event
    for key in parts:
        if type(current) is dict:
            current = current.get(key, UNDEFINED)
            continue
        if not js_truthy(current):
            return current
        current = _index(current, key)
    return current


def compile_transform(mapping: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """`transform` with the settings compiled once (see `compile_mapping`)."""
    if not _is_object(mapping):
        raise MappingError(f"mapping must be an object, got {js_type_name(mapping)}")
    fn = _compile_defined(_mapping_to_process(mapping))

    def run(event: Mapping[str, Any]) -> dict[str, Any]:
        if not _is_object(event):
            raise MappingError(f"data must be an object, got {js_type_name(event)}")
        cleaned = fn(event)
        return cleaned if isinstance(cleaned, dict) else {}

    return run


def remove_undefined(value: Any) -> Any:
    """Drop undefined object entries, recursively (arrays keep their length, as in Segment)."""
    if _is_array(value):
        return [remove_undefined(v) for v in value]
    if _is_object(value):
        return {k: remove_undefined(v) for k, v in value.items() if v is not UNDEFINED}
    return value


def _mapping_to_process(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    if _ROOT_DIRECTIVE_KEY not in mapping:
        return mapping
    customer = {k: v for k, v in mapping.items() if k != _ROOT_DIRECTIVE_KEY}
    root = mapping[_ROOT_DIRECTIVE_KEY]
    if not _is_object(root) or len(root) > 1:
        raise MappingError("The root mapping must only have a single directive object")
    name = next(iter(root), None)
    inner = root[name] if name is not None else None
    if not _is_object(inner):
        raise MappingError("The root directive must be an object")
    return {name: {**inner, "mapping": customer}}


def transform(mapping: Mapping[str, Any], event: Mapping[str, Any]) -> dict[str, Any]:
    """A whole settings object resolved for `event`, undefined entries dropped (mapping-kit `transform`)."""
    if not _is_object(event):
        raise MappingError(f"data must be an object, got {js_type_name(event)}")
    if not _is_object(mapping):
        raise MappingError(f"mapping must be an object, got {js_type_name(mapping)}")
    resolved = resolve(_mapping_to_process(mapping), event)
    cleaned = remove_undefined(resolved)
    if not isinstance(cleaned, dict):
        return {}
    return cleaned
