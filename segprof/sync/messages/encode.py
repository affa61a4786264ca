"""JSON encoding of warehouse values and of the messages built from them.

Owns: turning values read from a warehouse (Python values from DuckDB or psycopg) into JSON-ready
values for the event a mapping resolves against, and the JSON text of a message (`dumps`), as
JavaScript's `JSON.stringify` writes it. Numbers are written by `segprof.sync.messages.js_numbers`;
whole Arrow record batches take the column-at-a-time path of `segprof.sync.messages.arrow_events`.

Must never: reach a warehouse or the network, or drop information silently where a lossless
JSON form exists.

Decisions (users see these in their payloads):
- Timestamps become ISO-8601 in UTC with a `Z` suffix (`2024-05-01T10:00:00.000Z`); zone-aware
  values are converted to UTC, naive ones are *taken to be UTC already*. Milliseconds are always
  written (as JavaScript's `toISOString` does); finer precision is kept when present.
- Dates are `YYYY-MM-DD`; times `HH:MM:SS[.ffffff]`; intervals ISO-8601 durations (`P1DT2H`).
- Decimals stay exact: integral ones become ints; others become floats when the float's text is
  the decimal's text (`12.30` → `12.3`), else an `ExactNumber` (a float that remembers its exact
  digits): `dumps` writes those digits, and a plain `json.dumps` still works (nearest double).
- Integers beyond 2^53 stay exact JSON numbers. Segment's code is JavaScript and would round them
  to the nearest double; writing the exact digits loses nothing (any IEEE reader rounds them to
  that same double) and keeps numeric traits numeric, whereas a string would change their type.
- Bytes become base64 text; UUIDs their canonical text; NaN and ±Infinity become null (JSON has
  no spelling for them); JSON/STRUCT/MAP/LIST columns become objects and arrays.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import ipaddress
import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from segprof.sync.messages.js_numbers import ExactNumber, decimal_text, decimal_value, js_number_str

_UTC = dt.UTC


# --- JSON text ---------------------------------------------------------------------------------


_DIGITS = frozenset("0123456789")


def js_key_order(obj: Mapping[str, Any]) -> list[str]:
    # JavaScript objects list array-index keys first, ascending, then the rest in insertion order.
    keys = list(obj)
    for k in keys:
        if k and k[0] in _DIGITS:
            break
    else:
        return keys
    index_keys = [k for k in keys if _is_array_index(k)]
    if not index_keys:
        return keys
    index_keys.sort(key=int)
    return index_keys + [k for k in keys if not _is_array_index(k)]


def js_ordered(value: Any) -> Any:
    """A copy of a JSON value with every object's keys in JavaScript's order."""
    if type(value) is dict or isinstance(value, Mapping):
        return {k: js_ordered(value[k]) for k in js_key_order(value)}
    if type(value) is list or isinstance(value, tuple):
        return [js_ordered(v) for v in value]
    return value


def _is_array_index(key: str) -> bool:
    return key.isdigit() and key.isascii() and (key == "0" or key[0] != "0") and int(key) < 4294967295


_encode_str = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring


def _write(value: Any, out: list[str], undefined: object) -> None:
    t = type(value)
    if t is str:
        out.append(_encode_str(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif t is int:
        out.append(str(value))
    elif t is dict or isinstance(value, Mapping):
        out.append("{")
        first = True
        for key, item in value.items():
            if item is undefined:
                continue
            if first:
                first = False
            else:
                out.append(",")
            out.append(_encode_str(key if type(key) is str else str(key)))
            out.append(":")
            _write(item, out, undefined)
        out.append("}")
    elif t is list or t is tuple:
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(None if item is undefined else item, out, undefined)
        out.append("]")
    elif t is float:
        out.append(js_number_str(value) if math.isfinite(value) else "null")
    elif t is ExactNumber:
        out.append(value.text)
    elif isinstance(value, str):
        out.append(_encode_str(str(value)))
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, decimal.Decimal):
        out.append(decimal_text(value) if value.is_finite() else "null")
    else:
        _write(encode_value(value), out, undefined)


def dumps_text(value: Any, *, undefined: object = None) -> str:
    """Compact JSON text, as JavaScript's `JSON.stringify` writes it (number text, escapes).

    Objects are written in their dict order (`build_message` already returns JavaScript's key
    order; use `js_ordered` first for other values whose keys may look like array indexes).
    Non-JSON Python values (Decimal, datetime, bytes, …) are encoded by `encode_value` first.
    Entries equal to `undefined` (a sentinel) are left out of objects and become null in arrays.
    """
    out: list[str] = []
    _write(value, out, undefined if undefined is not None else object())
    return "".join(out)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(value: Any) -> bytes:
    """UTF-8 JSON bytes of a message, exactly what goes on the wire."""
    text = dumps_text(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (half of an emoji cut by a path like `$.name.0`): escape it as
        # JavaScript's JSON.stringify does, so the bytes stay valid UTF-8.
        return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text).encode("utf-8")


# --- warehouse values → JSON-ready values ------------------------------------------------------


def iso_timestamp(value: dt.datetime) -> str:
    """ISO-8601 UTC text with `Z`; naive values are taken to be UTC."""
    value = value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)
    micro = value.microsecond
    base = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )
    if micro % 1000 == 0:
        return f"{base}.{micro // 1000:03d}Z"
    return f"{base}.{micro:06d}Z"


def iso_duration(value: dt.timedelta) -> str:
    """ISO-8601 duration text of a timedelta (`P1DT2H3M4.5S`)."""
    total_us = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if total_us < 0 else ""
    total_us = abs(total_us)
    days, rem = divmod(total_us, 86_400_000_000)
    hours, rem = divmod(rem, 3_600_000_000)
    minutes, rem = divmod(rem, 60_000_000)
    seconds, micros = divmod(rem, 1_000_000)
    out = f"{sign}P"
    if days:
        out += f"{days}D"
    time_part = ""
    if hours:
        time_part += f"{hours}H"
    if minutes:
        time_part += f"{minutes}M"
    if seconds or micros:
        sec = str(seconds) if not micros else f"{seconds}.{micros:06d}".rstrip("0")
        time_part += f"{sec}S"
    if time_part:
        out += "T" + time_part
    if out in {"P", "-P"}:
        out = "PT0S"
    return out


def interval_text(value: Any) -> str:
    """Arrow MonthDayNano (months, days, nanoseconds) as an ISO-8601 duration."""
    months, days, nanos = value.months, value.days, value.nanoseconds
    out = "P"
    if months:
        out += f"{months}M"
    if days:
        out += f"{days}D"
    if nanos:
        return out + iso_duration(dt.timedelta(microseconds=nanos // 1000))[1:]
    return out if out != "P" else "PT0S"


def encode_value(value: Any) -> Any:
    """One warehouse value (from DuckDB's or psycopg's Python API) as a JSON-ready value."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return decimal_value(value)
    if isinstance(value, dt.datetime):
        return iso_timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.replace(tzinfo=None).isoformat() if value.tzinfo is None else value.isoformat()
    if isinstance(value, dt.timedelta):
        return iso_duration(value)
    if isinstance(value, Mapping):
        return {key_text(k): encode_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [encode_value(v) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return encode_value(value.value)
    if isinstance(value, ipaddress._BaseAddress | ipaddress._BaseNetwork):
        return str(value)
    if all(hasattr(value, a) for a in ("months", "days", "nanoseconds")):  # Arrow MonthDayNano
        return interval_text(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return encode_value(value.item())
    return str(value)


def key_text(key: Any) -> str:
    """A map key as the text of a JSON object key."""
    if isinstance(key, str):
        return key
    encoded = encode_value(key)
    if isinstance(encoded, str):
        return encoded
    if isinstance(encoded, bool):
        return "true" if encoded else "false"
    if isinstance(encoded, int | float | decimal.Decimal):
        return js_number_str(encoded)
    if encoded is None:
        return "null"
    return dumps_text(encoded)


def encode_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A warehouse row (column → value) with every value encoded."""
    return {str(k): encode_value(v) for k, v in row.items()}


def record_event(kind: str, record_id: Any, row: Mapping[str, Any]) -> dict[str, Any]:
    """The event a mapping resolves against for one changed record (see `segprof.sync.messages.payloads`).

    `__segment_id` is the record's identifier as text, as Segment's record state keeps it.
    """
    return {"event": kind, "__segment_id": identifier_text(record_id), "properties": encode_row(row)}


def identifier_text(record_id: Any) -> str:
    """The identifier value as the text Segment keeps for `__segment_id`."""
    encoded = encode_value(record_id)
    if isinstance(encoded, str):
        return encoded
    if encoded is None:
        return ""
    if isinstance(encoded, bool | int | float | decimal.Decimal):
        return js_number_str(encoded)
    return dumps_text(encoded)


__all__: Sequence[str] = (
    "dumps",
    "dumps_text",
    "encode_row",
    "encode_value",
    "identifier_text",
    "interval_text",
    "iso_duration",
    "iso_timestamp",
    "js_key_order",
    "js_ordered",
    "key_text",
    "record_event",
)
