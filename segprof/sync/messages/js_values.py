"""JavaScript's values as Segment's mapping language sees them, and its path lookup.

Owns: `UNDEFINED` (JavaScript's `undefined`), the value rules the directives depend on
(truthiness, `String(x)`, `trim`, type names, which values are objects and arrays), mapping-kit's
path lookup (`get_path`: `a.b`, `a[0]`, `a['k']`) and its `{{path}}` templates.

Must never: read a warehouse, send anything, or mutate a value it is given.
"""

from __future__ import annotations

import decimal
import functools
import re
from collections.abc import Mapping
from typing import Any

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


def is_object(value: Any) -> bool:
    """A JavaScript object: any mapping."""
    # `type(...) is dict` first: the ABC check is slow and nearly every value is a plain dict.
    return type(value) is dict or isinstance(value, Mapping)


def is_array(value: Any) -> bool:
    """A JavaScript array: a list or a tuple."""
    return type(value) is list or isinstance(value, tuple)


# Values that hold no object entries, so no null or undefined to clean out.
SCALARS = frozenset({str, int, float, bool, type(None)})


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
    return walk(obj, split_path(path))


@functools.lru_cache(maxsize=4096)
def split_path(path: str) -> tuple[str, ...]:
    """The keys of a path (`a[0].b` → `a`, `0`, `b`), as mapping-kit splits it."""
    return tuple(_QUOTES.sub("", p) for p in _PATH_SPLIT.split(path) if p)


def walk(event: Any, parts: tuple[str, ...]) -> Any:
    """`get_path` with the path already split (`split_path`)."""
    current = event
    for key in parts:
        if type(current) is dict:
            current = current.get(key, UNDEFINED)
            continue
        if not js_truthy(current):
            return current
        current = _index(current, key)
    return current


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


__all__ = [
    "SCALARS",
    "UNDEFINED",
    "get_path",
    "is_array",
    "is_object",
    "js_string",
    "js_trim",
    "js_truthy",
    "js_type_name",
    "render_template",
    "split_path",
    "walk",
]
