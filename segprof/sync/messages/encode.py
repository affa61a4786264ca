"""JSON encoding of warehouse values and of the messages built from them.

Owns: turning values read from a warehouse (Python values from DuckDB or psycopg, or whole Arrow
record batches) into JSON-ready values for the event a mapping resolves against, the JSON text
of a message (`dumps`), and JavaScript's number-to-text rule that Segment's (JavaScript) code
applies whenever it turns a number into a string.

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
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

_UTC = dt.UTC


# --- numbers as JavaScript writes them -------------------------------------------------------


class ExactNumber(float):
    """A decimal a double cannot hold exactly: acts as the nearest float, keeps its exact text."""

    __slots__ = ("text",)

    def __new__(cls, text: str) -> ExactNumber:
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return (ExactNumber, (self.text,))


def js_number_str(value: float | int | decimal.Decimal) -> str:
    """`String(n)` for a JavaScript number (ints and Decimals are written exactly, see module doc)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return decimal_text(value)
    if type(value) is ExactNumber:
        return value.text
    text = repr(value)
    if value == 0:
        return "0"
    if "e" not in text and "n" not in text:  # plain digits: JavaScript only drops a trailing ".0"
        return text[:-2] if text.endswith(".0") else text
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    # repr gives the shortest round-trip digits (as JavaScript does); only the layout differs.
    sign = "-" if value < 0 else ""
    digits_repr = repr(abs(value))
    if "e" in digits_repr:
        mant, _, exp_s = digits_repr.partition("e")
        exponent = int(exp_s)
        digits = mant.replace(".", "")
        point = 1 + exponent
    else:
        int_part, _, frac_part = digits_repr.partition(".")
        if frac_part == "0":
            frac_part = ""
        if int_part == "0":
            stripped = frac_part.lstrip("0")
            point = -(len(frac_part) - len(stripped))
            digits = stripped
        else:
            digits = int_part + frac_part
            point = len(int_part)
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    n = point
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    exp = f"e+{e}" if e >= 0 else f"e-{-e}"
    if k == 1:
        return sign + digits + exp
    return sign + digits[0] + "." + digits[1:] + exp


def decimal_text(value: decimal.Decimal) -> str:
    """Exact, shortest plain text of a finite Decimal (`12.30` → `12.3`, `1E+2` → `100`)."""
    if value == 0:
        return "0"
    return format(_strip_zeros(value), "f")


def _strip_zeros(value: decimal.Decimal) -> decimal.Decimal:
    # Exact: Decimal.normalize() would round to the context's 28 digits.
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    trimmed = list(digits)
    while exponent < 0 and len(trimmed) > 1 and trimmed[-1] == 0:
        trimmed.pop()
        exponent += 1
    return decimal.Decimal((sign, tuple(trimmed), exponent))


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


def _decimal_value(value: decimal.Decimal) -> int | float | None:
    if not value.is_finite():
        return None
    stripped = _strip_zeros(value)
    if stripped.as_tuple().exponent >= 0:  # type: ignore[operator]
        return int(stripped)
    text = format(stripped, "f")
    number = float(text)
    if js_number_str(number) == text:
        return number
    return ExactNumber(text)


def encode_value(value: Any) -> Any:
    """One warehouse value (from DuckDB's or psycopg's Python API) as a JSON-ready value."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return _decimal_value(value)
    if isinstance(value, dt.datetime):
        return iso_timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.replace(tzinfo=None).isoformat() if value.tzinfo is None else value.isoformat()
    if isinstance(value, dt.timedelta):
        return iso_duration(value)
    if isinstance(value, Mapping):
        return {_key_text(k): encode_value(v) for k, v in value.items()}
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
        return _interval_text(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return encode_value(value.item())
    return str(value)


def _key_text(key: Any) -> str:
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


# --- Arrow fast path ---------------------------------------------------------------------------


def _opaque_value(type_name: str, raw: bytes) -> Any:
    if type_name == "hugeint":
        return int.from_bytes(raw, "little", signed=True)
    if type_name == "uhugeint":
        return int.from_bytes(raw, "little", signed=False)
    return base64.b64encode(raw).decode("ascii")


def _interval_text(value: Any) -> str:
    # Arrow MonthDayNano (months, days, nanoseconds) as an ISO-8601 duration.
    months, days, nanos = value.months, value.days, value.nanoseconds
    out = "P"
    if months:
        out += f"{months}M"
    if days:
        out += f"{days}D"
    if nanos:
        return out + iso_duration(dt.timedelta(microseconds=nanos // 1000))[1:]
    return out if out != "P" else "PT0S"


def _arrow_column(arr: pa.Array | pa.ChunkedArray, *, json_text: bool = False) -> list[Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    typ = arr.type
    if isinstance(typ, pa.BaseExtensionType):
        ext_name = typ.extension_name
        storage = arr.storage
        if ext_name == "arrow.json":
            return [None if v is None else json.loads(v) for v in storage.to_pylist()]
        if ext_name == "arrow.uuid":
            return [None if v is None else str(uuid.UUID(bytes=v)) for v in storage.to_pylist()]
        if ext_name == "arrow.bool8":
            return [None if v is None else v != 0 for v in storage.to_pylist()]
        if ext_name == "arrow.opaque":
            type_name = getattr(typ, "type_name", "")
            return [None if v is None else _opaque_value(type_name, v) for v in storage.to_pylist()]
        return _arrow_column(storage, json_text=json_text)
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_string_view(typ):
        values = arr.to_pylist()
        if json_text:
            return [None if v is None else json.loads(v) for v in values]
        return values
    if pa.types.is_boolean(typ) or pa.types.is_integer(typ):
        return arr.to_pylist()
    if pa.types.is_floating(typ):
        if len(arr) and pc.any(pc.invert(pc.is_finite(arr))).as_py():
            arr = pc.if_else(pc.is_finite(arr), arr, pa.scalar(None, typ))
        return arr.to_pylist()
    if pa.types.is_timestamp(typ):
        return _timestamp_texts(arr)
    if pa.types.is_date(typ):
        return arr.cast(pa.string()).to_pylist()
    if pa.types.is_decimal(typ):
        return [None if v is None else _decimal_value(v) for v in arr.to_pylist()]
    if pa.types.is_dictionary(typ):
        return _arrow_column(arr.dictionary_decode(), json_text=json_text)
    if pa.types.is_interval(typ):
        return [None if v is None else _interval_text(v) for v in arr.to_pylist()]
    if pa.types.is_map(typ):
        return [None if v is None else {_key_text(k): encode_value(x) for k, x in v} for v in arr.to_pylist()]
    if pa.types.is_null(typ):
        return [None] * len(arr)
    return [None if v is None else encode_value(v) for v in arr.to_pylist()]


def _timestamp_texts(arr: pa.Array) -> list[str | None]:
    # Vectorised: Arrow's %S writes seconds with the unit's fraction; trim it to milliseconds
    # when nothing finer is set (as `toISOString` writes), then add the zone.
    import pyarrow as pa
    import pyarrow.compute as pc

    unit = arr.type.unit
    text = pc.strftime(arr.cast(pa.timestamp(unit, "UTC")), format="%Y-%m-%dT%H:%M:%S")
    if unit == "s":
        text = pc.binary_join_element_wise(text, ".000Z", "")
        return text.to_pylist()
    if unit == "ns":
        text = pc.replace_substring_regex(text, pattern=r"(\.\d{3})000000$", replacement=r"\1")
        text = pc.replace_substring_regex(text, pattern=r"(\.\d{6})000$", replacement=r"\1")
    elif unit == "us":
        text = pc.replace_substring_regex(text, pattern=r"(\.\d{3})000$", replacement=r"\1")
    return pc.binary_join_element_wise(text, "Z", "").to_pylist()


def batch_columns(batch: pa.RecordBatch | pa.Table, json_columns: Iterable[str] = ()) -> dict[str, list[Any]]:
    """Every column of an Arrow batch as a list of JSON-ready values (column-at-a-time).

    JSON columns are recognised by Arrow's `arrow.json` type (DuckDB with
    `arrow_lossless_conversion`); text columns named in `json_columns` are parsed as JSON too.
    """
    as_json = set(json_columns)
    return {
        name: _arrow_column(batch.column(i), json_text=name in as_json)
        for i, name in enumerate(batch.schema.names)
    }


def events_from_batch(
    batch: pa.RecordBatch | pa.Table,
    *,
    identifier: str,
    kind: str | None = None,
    kind_column: str | None = None,
    exclude: Iterable[str] = (),
    json_columns: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Arrow rows → the events mappings resolve against, one per row.

    `identifier` names the model's unique identifier column. The record kind (`new`, `updated`,
    `deleted`) is either fixed (`kind`) or read per row from `kind_column`. Columns in `exclude`
    (and `kind_column`) are engine bookkeeping and stay out of `properties`.
    """
    if (kind is None) == (kind_column is None):
        raise ValueError("give exactly one of kind or kind_column")
    columns = batch_columns(batch, json_columns)
    skip = set(exclude)
    if kind_column is not None:
        skip.add(kind_column)
    names = [n for n in columns if n not in skip]
    raw_ids = columns[identifier]
    ids = raw_ids if all(type(v) is str for v in raw_ids) else [identifier_text(v) for v in raw_ids]
    kinds: Sequence[Any] = columns[kind_column] if kind_column is not None else [kind] * len(ids)
    rows = zip(*(columns[n] for n in names), strict=True) if names else ([()] * len(ids))
    return [
        {"event": k, "__segment_id": i, "properties": dict(zip(names, row, strict=True))}
        for k, i, row in zip(kinds, ids, rows, strict=True)
    ]


__all__: Sequence[str] = (
    "ExactNumber",
    "batch_columns",
    "decimal_text",
    "dumps",
    "dumps_text",
    "encode_row",
    "encode_value",
    "events_from_batch",
    "identifier_text",
    "iso_duration",
    "iso_timestamp",
    "js_number_str",
    "record_event",
)
