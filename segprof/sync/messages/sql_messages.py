"""Messages built where the data is: a mapping compiled to one SQL expression per changed row.

Owns `compile_message_sql`: for a mapping whose settings and column types it can express exactly
in the warehouse's SQL, an expression that yields the row's finished message as JSON text (and
NULL for a row it cannot vouch for), so the engine only streams bytes into batches. It covers the
common shape — Send Identify, Send Group and Send Track with fields taken from columns (plain or
`@excludeWhenNull`), the record's identifier and literal values — over text, integer, boolean,
floating, decimal, date and timestamp columns. Everything else returns None and the engine builds
messages in Python, as it does for the rows the expression leaves NULL (a record Segment would
reject, a timestamp outside years 1000–9999, a change without an origin): one resolver stays the
judge of what Segment would send, and this module only ever agrees with it (tests compare the two
on every value type the encoder handles).

Must never guess: a setting, type or row it cannot express exactly is left to the Python path.
Only DuckDB SQL is written here; other warehouses use the Python path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from segprof.sync.messages.actions import action_id
from segprof.sync.messages.encode import js_key_order
from segprof.warehouses.base import ColumnInfo
from segprof.warehouses.managed_schema import CHECKSUM_COLUMN, ID_COLUMN, KIND_COLUMN, ORIGIN_COLUMN

MESSAGE_COLUMN = "__segprof_message"
MESSAGE_ID_COLUMN = "__segprof_message_id"

_INTEGER = re.compile(r"^(U?TINYINT|U?SMALLINT|U?INTEGER|U?BIGINT|INT[1248]?|LONG|SHORT)$")
_DECIMAL = re.compile(r"^(DECIMAL|NUMERIC)(\(\d+,\s*\d+\))?$")
_COLUMN_PATH = re.compile(r"""^\$\.properties(?:\.([^.\[\]'"]+)|\[(?:'([^']+)'|"([^"]+)")\])$""")
_IDENTIFIER_PATH = "$.__segment_id"

# the message's keys in the order Segment's destination writes them (`perform` of each action)
_IDENTIFY_ORDER = ("userId", "anonymousId", "groupId", "messageId", "traits", "timestamp")
_TRACK_ORDER = ("userId", "anonymousId", "timestamp", "event", "messageId")
_FIELD_KEYS = {
    "user_id": "userId",
    "anonymous_id": "anonymousId",
    "group_id": "groupId",
    "event_name": "event",
}
_STRING_FIELDS = ("user_id", "anonymous_id", "group_id", "event_name")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _json_text(value: Any) -> str:
    """A JSON literal as SQL text."""
    return _lit(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


@dataclass(frozen=True)
class _Value:
    """A value as SQL: its JSON text, whether it is null, and rows it cannot be trusted on."""

    json: str  # SQL expression of JSON text, for a non-null value
    is_null: str  # SQL condition
    unsafe: str | None = None  # SQL condition: leave the row to the Python path


def _timestamp_json(expr: str) -> tuple[str, str]:
    # ISO-8601 in UTC with milliseconds, or microseconds when finer ones are set (as `iso_timestamp`)
    text = (
        f"CASE WHEN microsecond({expr}) % 1000 = 0 THEN strftime({expr}, '%Y-%m-%dT%H:%M:%S.%gZ') "
        f"ELSE strftime({expr}, '%Y-%m-%dT%H:%M:%S.%fZ') END"
    )
    return f"('\"' || {text} || '\"')", f"(year({expr}) NOT BETWEEN 1000 AND 9999)"


def _column_value(column: ColumnInfo) -> _Value | None:
    """The JSON of one model column's value as `encode.events_from_batch` would give it."""
    ref = f"m.{_q(column.name)}"
    kind = column.type.upper().strip()
    null = f"({ref} IS NULL)"
    if kind in ("VARCHAR", "TEXT", "STRING") or kind.startswith("VARCHAR("):
        return _Value(f"to_json({ref})", null)
    if kind in ("BOOLEAN", "BOOL"):
        return _Value(f"(CASE WHEN {ref} THEN 'true' ELSE 'false' END)", null)
    if _INTEGER.match(kind):
        return _Value(f"CAST({ref} AS VARCHAR)", null)
    if kind in ("DOUBLE", "FLOAT", "REAL", "FLOAT8", "FLOAT4"):
        as_double = f"CAST({ref} AS DOUBLE)"
        # a non-finite number is null, as JSON has no word for it
        return _Value(f"to_json({as_double})", f"({ref} IS NULL OR NOT isfinite({as_double}))")
    if _DECIMAL.match(kind):
        # the exact digits: read as a JSON number they give the value the Python path gives
        return _Value(f"CAST({ref} AS VARCHAR)", null)
    if kind == "DATE":
        return _Value(
            f"('\"' || strftime({ref}, '%Y-%m-%d') || '\"')", null, f"(year({ref}) NOT BETWEEN 1000 AND 9999)"
        )
    if kind == "TIMESTAMP":
        text, unsafe = _timestamp_json(ref)
        return _Value(text, null, unsafe)
    if kind in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        text, unsafe = _timestamp_json(f"timezone('UTC', {ref})")
        return _Value(text, null, unsafe)
    return None


def _string_value(column: ColumnInfo) -> tuple[str, str] | None:
    """(SQL text, SQL condition it is present) of a column mapped to a string field, as AJV coerces
    it and `removeEmptyValues` drops null and ''."""
    ref = f"m.{_q(column.name)}"
    kind = column.type.upper().strip()
    if kind in ("VARCHAR", "TEXT", "STRING") or kind.startswith("VARCHAR("):
        return ref, f"({ref} IS NOT NULL AND {ref} <> '')"
    if _INTEGER.match(kind):
        return f"CAST({ref} AS VARCHAR)", f"({ref} IS NOT NULL)"
    if kind in ("BOOLEAN", "BOOL"):
        return f"(CASE WHEN {ref} THEN 'true' ELSE 'false' END)", f"({ref} IS NOT NULL)"
    return None


class _Unsupported(Exception):
    """The mapping has a shape this module does not express; the Python path builds it."""


class _Compiler:
    def __init__(self, columns: Sequence[ColumnInfo]) -> None:
        self.columns = {c.name: c for c in columns}
        self.unsafe: list[str] = []

    def column_of(self, setting: Any) -> ColumnInfo | None:
        """The column a `{"@path": "$.properties.X"}` setting reads, or None for the identifier path."""
        if (
            not isinstance(setting, Mapping)
            or set(setting) != {"@path"}
            or not isinstance(setting["@path"], str)
        ):
            raise _Unsupported
        path = setting["@path"].strip()
        if path == _IDENTIFIER_PATH:
            return None
        match = _COLUMN_PATH.match(path)
        name = match and (match.group(1) or match.group(2) or match.group(3))
        if not name or name not in self.columns:
            raise _Unsupported
        return self.columns[name]

    def unwrap(self, setting: Any) -> tuple[Any, bool]:
        """(inner setting, whether nulls are left out)."""
        if isinstance(setting, Mapping) and set(setting) == {"@excludeWhenNull"}:
            return setting["@excludeWhenNull"], True
        return setting, False

    def string_field(self, setting: Any) -> tuple[str, str]:
        """(SQL text, SQL presence condition) of a top-level string field."""
        inner, _ = self.unwrap(setting)
        if isinstance(inner, str) and not inner.startswith("@"):
            if not inner:
                return "NULL", "FALSE"
            return _lit(inner), "TRUE"
        column = self.column_of(inner)
        if column is None:
            return f"c.{ID_COLUMN}", f"(c.{ID_COLUMN} <> '')"
        found = _string_value(column)
        if found is None:
            raise _Unsupported
        return found

    def timestamp_field(self, setting: Any) -> tuple[str, str]:
        """(SQL JSON, SQL presence condition): a date or timestamp column (always date-like) or a
        number."""
        inner, _ = self.unwrap(setting)
        column = self.column_of(inner)
        if column is None:
            raise _Unsupported  # an identifier's text would need the date-like check
        kind = column.type.upper().strip()
        textual = kind in ("VARCHAR", "TEXT", "STRING", "BOOLEAN", "BOOL") or kind.startswith("VARCHAR(")
        value = None if textual else _column_value(column)
        if value is None:
            raise _Unsupported
        if value.unsafe:
            self.unsafe.append(value.unsafe)
        return value.json, f"(NOT {value.is_null})"

    def object_field(self, setting: Any) -> str:
        """SQL JSON of a traits or properties object written key by key."""
        if not isinstance(setting, Mapping) or any(str(k).startswith("@") for k in setting):
            raise _Unsupported
        parts = []
        for key in js_key_order(setting):
            inner, exclude_null = self.unwrap(setting[key])
            name = _json_text(str(key)) + " || ':' || "
            if isinstance(inner, Mapping):
                column = self.column_of(inner)
                if column is None:
                    parts.append(f"{name}to_json(c.{ID_COLUMN})")
                    continue
                value = _column_value(column)
                if value is None:
                    raise _Unsupported
                if value.unsafe:
                    self.unsafe.append(value.unsafe)
                if exclude_null:
                    parts.append(f"CASE WHEN NOT {value.is_null} THEN {name}{value.json} END")
                else:
                    parts.append(f"{name}(CASE WHEN {value.is_null} THEN 'null' ELSE {value.json} END)")
            elif isinstance(inner, list):
                raise _Unsupported
            elif inner is None and exclude_null:
                continue
            elif (isinstance(inner, str) and inner.startswith("@")) or (
                isinstance(inner, float) and inner != inner
            ):
                raise _Unsupported
            else:
                parts.append(_json_text(str(key)) + " || ':' || " + _json_text(inner))
        body = f"concat_ws(',', {', '.join(parts)})" if parts else "''"
        return f"('{{' || {body} || '}}')"


def _message_id_sql(mapping_id: str) -> str:
    """`ids.message_id` with an origin, in SQL: the same text hashed the same way."""
    sep = "chr(31)"
    text = (
        f"{_lit(str(mapping_id))} || {sep} || c.{ORIGIN_COLUMN} || {sep} || c.{ID_COLUMN} || {sep} || "
        f"c.{KIND_COLUMN} || {sep} || coalesce(c.{CHECKSUM_COLUMN}, '')"
    )
    return f"('segprof-' || sha256({text}))"


@dataclass(frozen=True)
class MessageSQL:
    """Two expressions over the stream's `c` (changes) and `m` (model) relations."""

    message_id: str  # the change's messageId (NULL without an origin)
    message: Callable[[str], str]  # given the messageId expression: the message's JSON, or NULL


def compile_message_sql(
    action: str, settings: Mapping[str, Any], columns: Sequence[ColumnInfo], mapping_id: str, dialect: str
) -> MessageSQL | None:
    """The mapping as SQL, or None where the Python path must build its messages."""
    if dialect != "duckdb":
        return None
    try:
        return _compile(action_id(action), settings, columns, mapping_id)
    except _Unsupported:
        return None


def _compile(
    action: str, settings: Mapping[str, Any], columns: Sequence[ColumnInfo], mapping_id: str
) -> MessageSQL:
    if action not in ("sendIdentify", "sendGroup", "sendTrack"):
        raise _Unsupported
    allowed = {
        "engage_space",
        *_STRING_FIELDS,
        "timestamp",
        "traits" if action != "sendTrack" else "properties",
    }
    if action != "sendTrack":
        allowed.discard("event_name")
    if set(settings) - allowed:
        raise _Unsupported  # consent, message_id or a field the action does not declare
    compiler = _Compiler(columns)
    present: dict[str, tuple[str, str]] = {}  # message key → (SQL JSON, SQL presence)
    for field in _STRING_FIELDS:
        if field in settings:
            text, cond = compiler.string_field(settings[field])
            present[_FIELD_KEYS[field]] = (f"to_json({text})", cond)
    if "timestamp" in settings:
        present["timestamp"] = compiler.timestamp_field(settings["timestamp"])
    object_key = "properties" if action == "sendTrack" else "traits"
    obj = compiler.object_field(settings[object_key]) if object_key in settings else "'{}'"

    def has(key: str) -> str:
        return present[key][1] if key in present else "FALSE"

    ok = [f"c.{ORIGIN_COLUMN} IS NOT NULL", f"({has('userId')} OR {has('anonymousId')})"]
    if action == "sendGroup":
        ok.append(has("groupId"))
    if action == "sendTrack":
        ok.append(has("event"))
    ok += [f"NOT coalesce({u}, FALSE)" for u in compiler.unsafe]
    order = _TRACK_ORDER if action == "sendTrack" else _IDENTIFY_ORDER
    kind = {"sendIdentify": "identify", "sendGroup": "group", "sendTrack": "track"}[action]

    def message(message_id: str) -> str:
        parts = []
        for key in order:
            if key == "messageId":
                parts.append(f"'\"messageId\":' || to_json({message_id})")
            elif key == "traits":
                parts.append(f"'\"traits\":' || {obj}")
            elif key in present:
                json_sql, cond = present[key]
                parts.append(f"CASE WHEN {cond} THEN {_lit(json.dumps(key) + ':')} || {json_sql} END")
        tail = ['\'"integrations":{"All":false}\'']
        if action == "sendTrack":
            tail += [f"'\"properties\":' || {obj}", '\'"context":{"consent":{}}\'', '\'"type":"track"\'']
        else:
            tail += [f'\'"type":"{kind}"\'', '\'"context":{"consent":{}}\'']
        body = f"concat_ws(',', {', '.join(parts + tail)})"
        return f"CASE WHEN {' AND '.join(ok)} THEN '{{' || {body} || '}}' END"

    return MessageSQL(message_id=_message_id_sql(mapping_id), message=message)


__all__ = ["MESSAGE_COLUMN", "MESSAGE_ID_COLUMN", "MessageSQL", "compile_message_sql"]


def message_bytes(messages: Any) -> list[bytes]:
    """The messages of an Arrow text column (no NULLs) as JSON bytes. Arrow lays text and binary out
    alike, so its buffers are read as binary: no re-encoding, and no `pyarrow.compute` (an import
    that would cost a small run more than its messages)."""
    import pyarrow as pa  # here: a run with nothing to send never loads Arrow

    kinds = {pa.string(): pa.binary(), pa.large_string(): pa.large_binary()}
    binary = kinds.get(messages.type)
    if binary is None:  # a text layout of another kind (e.g. a view): encode each message
        return [text.encode() for text in messages.to_pylist()]
    buffers = messages.buffers()
    return pa.Array.from_buffers(binary, len(messages), buffers, 0, messages.offset).to_pylist()
