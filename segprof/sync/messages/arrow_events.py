"""Arrow record batches → the events mappings resolve against, a column at a time.

Owns: the fast path from whole Arrow batches (DuckDB's, Spark's, …) to JSON-ready values, one
column at a time, with the same results as `encode_value` row by row (the decisions in
`segprof.sync.messages.encode`), and `events_from_batch`, which turns those rows into events.

Must never: reach a warehouse or the network, or give a value another form than `encode_value`
would give it.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from segprof.sync.messages.encode import encode_value, identifier_text, interval_text, key_text
from segprof.sync.messages.js_numbers import decimal_value

if TYPE_CHECKING:
    import pyarrow as pa


def _opaque_value(type_name: str, raw: bytes) -> Any:
    if type_name == "hugeint":
        return int.from_bytes(raw, "little", signed=True)
    if type_name == "uhugeint":
        return int.from_bytes(raw, "little", signed=False)
    return base64.b64encode(raw).decode("ascii")


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
        return [None if v is None else decimal_value(v) for v in arr.to_pylist()]
    if pa.types.is_dictionary(typ):
        return _arrow_column(arr.dictionary_decode(), json_text=json_text)
    if pa.types.is_interval(typ):
        return [None if v is None else interval_text(v) for v in arr.to_pylist()]
    if pa.types.is_map(typ):
        return [None if v is None else {key_text(k): encode_value(x) for k, x in v} for v in arr.to_pylist()]
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
    "batch_columns",
    "events_from_batch",
)
