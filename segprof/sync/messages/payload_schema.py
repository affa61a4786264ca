"""The framework steps Segment's actions-core runs on a payload before an action's `perform`.

Owns: removing empty values (`removeEmptyValues` at the root) and schema validation as AJV does
it for actions-core (type coercion, removal of undeclared fields, required fields, the
`date-like` format), with Segment's error texts (`SCHEMA_VALIDATION_FAILED`).

Must never: resolve a mapping, build the message, or change a value AJV would leave alone.
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from segprof.sync.messages.actions import Field, PayloadError
from segprof.sync.messages.date_like import is_date_like
from segprof.sync.messages.js_values import js_string, js_trim


def remove_empty_values(payload: dict[str, Any], fields: tuple[Field, ...]) -> dict[str, Any]:
    """actions-core `removeEmptyValues` at the root: null (unless allowed) and '' are dropped.

    Objects and arrays are returned untouched (none of these fields declares inner properties).
    """
    by_key = {f.key: f for f in fields}
    out: dict[str, Any] = {}
    for key, value in payload.items():
        field = by_key.get(key)
        if field is not None:
            if value is None and not field.allow_null:
                continue
            if value == "" and isinstance(value, str):
                continue
        out[key] = value
    return out


def _human_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float | decimal.Decimal):
        return "a number"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return "undefined"


def _humanize_types(types: tuple[str, ...]) -> str:
    if len(types) == 1:
        return types[0]
    if len(types) == 2:
        return f"{types[0]} or {types[1]}"
    return f"{', '.join(types[:-1])}, or {types[-1]}"


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool)


def _matches(value: Any, types: tuple[str, ...]) -> bool:
    for t in types:
        if (
            (t == "string" and isinstance(value, str))
            or (t == "number" and _is_number(value))
            or (t == "null" and value is None)
            or (t == "object" and isinstance(value, Mapping))
        ):
            return True
    return False


_UNCOERCED = object()


def _coerce(value: Any, types: tuple[str, ...]) -> Any:
    """AJV `coerceTypes: 'array'` for a value whose type does not match; `_UNCOERCED` if it can't."""
    for t in types:
        if t == "string":
            if isinstance(value, bool) or _is_number(value):
                return js_string(value)
            if value is None:
                return ""
        elif t == "number":
            if isinstance(value, bool):
                return int(value)
            if value is None:
                return 0
            if isinstance(value, str) and value and _js_number_text(value) is not None:
                return _js_number_text(value)
        elif t == "null" and (value == "" or (value == 0 and not isinstance(value, bool)) or value is False):
            return None
    return _UNCOERCED


def _js_number_text(text: str) -> float | int | None:
    # JavaScript `+text` for a string that equals its own numeric value loosely (`text == +text`).
    stripped = js_trim(text)
    try:
        number = float(stripped) if stripped else 0.0
    except ValueError:
        return None
    if math.isnan(number):
        return None
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


@dataclass
class _AjvError:
    message: str


def _type_error(field: Field, data: Any) -> _AjvError:
    expected = _humanize_types(field.json_types)
    return _AjvError(f"{field.label} must be {_article(expected)} {expected} but it was {_human_type(data)}.")


def validate_schema(payload: dict[str, Any], fields: tuple[Field, ...]) -> dict[str, Any]:
    """AJV as actions-core configures it: coerce, drop undeclared keys, check required and formats.

    Raises `PayloadError` (`SCHEMA_VALIDATION_FAILED`) with every error joined, as Segment does.
    """
    errors: list[_AjvError] = []
    for field in fields:
        if field.required and field.key not in payload:
            errors.append(_AjvError(f"The root value is missing the required field '{field.key}'."))
    out: dict[str, Any] = {}
    declared = {f.key for f in fields}
    for field in fields:
        if field.key not in payload:
            continue
        value = payload[field.key]
        types = field.json_types
        if not _matches(value, types):
            coerced: Any = _UNCOERCED
            if isinstance(value, list | tuple) and len(value) == 1 and field.type != "object":
                value = value[0]
                # AJV's generated check for a lone element only works for single-type fields; for
                # union types (datetime, allowNull) the element goes on to plain coercion.
                if len(types) == 1 and _matches(value, types):
                    coerced = value
            if coerced is _UNCOERCED and field.type != "object":
                coerced = _coerce(value, types)
            if coerced is _UNCOERCED:
                errors.append(_type_error(field, value))
                continue
            value = coerced
        if field.type == "datetime" and isinstance(value, str) and not is_date_like(value):
            errors.append(_AjvError(f"{field.label} must be a valid date-like string but it was not."))
            continue
        out[field.key] = value
    if errors:
        raise PayloadError(
            "SCHEMA_VALIDATION_FAILED", " ".join(e.message for e in errors), name="AggregateAjvError"
        )
    # Keep the payload's own key order for the declared keys (removeAdditional drops the rest).
    return {k: out[k] for k in payload if k in declared and k in out}


__all__ = [
    "remove_empty_values",
    "validate_schema",
]
